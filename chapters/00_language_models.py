# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/00_language_models.ipynb)

# %% [markdown]
# # 00 · What is a language model?
#
# **What you will build:** the yardstick of the whole course. You will write down what a
# language model *is* (a probability distribution over text), check the chain rule that
# every model from n-grams to GPT uses, turn our two corpora into tokens, and measure the
# two simplest models there are, *uniform* and *unigram*, with cross-entropy and perplexity.
# Every later chapter reports its models in exactly these units, on exactly these splits.
#
# **Prerequisites:** Python and a little NumPy; logarithms and probabilities.
#
# **Time on a laptop CPU:** a few seconds (3 s measured with `make times`, docs/notebook_times.json).

# %%
# Colab only: install the course library (lmlib) once. Elsewhere this does nothing.
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("lmlib") is None:
    # --no-deps keeps Colab's own torch, ipywidgets and ipykernel; then what lmlib adds
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    course = "https://github.com/ngrams-to-gpt/ngrams-to-gpt"
    subprocess.run(pip + ["--no-deps", f"lmlib @ git+{course}@main"], check=True)
    subprocess.run(pip + ["numpy>=1.24", "matplotlib>=3.7", "anywidget>=0.9", "tqdm>=4.60",
                          "safetensors>=0.4"], check=True)
    importlib.invalidate_caches()
    print(f"Colab: installed lmlib from {course}; the corpora download on first use.")

# %%
import lmlib

lmlib.setup()

# %%
import math
from itertools import product

import matplotlib.pyplot as plt
import numpy as np

from lmlib import data, metrics

# %% [markdown]
# ## 1. A model of text is a probability distribution
#
# A language model assigns a probability $P(x)$ to every sequence of tokens
# $x = (x_1, \dots, x_T)$. Probabilities of whole texts are tiny and there are
# astronomically many texts, so no model stores them. Instead every model in this course
# factorises $P(x)$ with the **chain rule of probability**:
#
# $$P(x_1, \dots, x_T) = \prod_{t=1}^{T} P(x_t \mid x_1, \dots, x_{t-1}).$$
#
# So a language model only has to answer one question, again and again: *given the text so
# far, how likely is each possible next token?* That is next-token prediction, and
# sampling from it one token at a time is how every model here writes text.
#
# Let us check the chain rule on a distribution small enough to write out in full: all
# strings of three letters from `{a, b}`, each with some made-up probability.

# %%
rng = np.random.default_rng(0)
strings = ["".join(s) for s in product("ab", repeat=3)]
joint = dict(zip(strings, rng.dirichlet(np.ones(len(strings)))))


def prefix_prob(prefix: str) -> float:
    """P(x_1..x_k = prefix): add up the joint over every string that starts with it."""
    return sum(p for s, p in joint.items() if s.startswith(prefix))


def chain_rule(s: str) -> float:
    """P(s) as a product of next-token conditionals P(x_t | x_<t)."""
    prob = 1.0
    for t in range(len(s)):
        prob *= prefix_prob(s[: t + 1]) / prefix_prob(s[:t])
    return prob


for s in strings[:3]:
    print(f"P({s}) = {joint[s]:.4f}   chain rule: {chain_rule(s):.4f}")

# %% [markdown]
# **Check yourself.** The product of conditionals equals the joint probability for every
# string: the chain rule is *exact*, not an approximation.

# %%
for s in strings:
    assert math.isclose(chain_rule(s), joint[s], rel_tol=1e-12)

# %% [markdown]
# > **Myth vs fact.** *Myth:* "language models assume each word depends only on the few
# > words before it." *Fact:* the chain rule above conditions on the **whole** past and is
# > exact for any distribution. An **n-gram model** adds the *Markov assumption*,
# > $P(x_t \mid x_{<t}) \approx P(x_t \mid x_{t-n+1}, \dots, x_{t-1})$, and that is an
# > approximation. Neural models (chapters 02 to 07) relax it by conditioning on longer and
# > longer contexts.
#
# The cell below makes the same distribution *Markov* (each letter conditioned on the
# previous one only) and shows that the probabilities change: the approximation is the
# model's choice, not a law of probability.

# %%
def markov_prob(s: str) -> float:
    """P(s) under a bigram (first-order Markov) approximation of `joint`."""
    prob = prefix_prob(s[0])
    for t in range(1, len(s)):
        pair = sum(p for x, p in joint.items() if x[t - 1 : t + 1] == s[t - 1 : t + 1])
        single = sum(p for x, p in joint.items() if x[t - 1] == s[t - 1])
        prob *= pair / single
    return prob


gap = max(abs(markov_prob(s) - joint[s]) for s in strings)
print(f"largest |Markov - exact| over the 8 strings: {gap:.4f}")
assert gap > 1e-3  # the Markov model is a different distribution
assert math.isclose(sum(markov_prob(s) for s in strings), 1.0)  # ...but still a distribution

# %% [markdown]
# ## 2. Tokens: our two corpora, one character at a time
#
# A model reads *tokens*, not text. Until chapter 08 (tokenization) our tokens are single
# characters. The course uses two corpora, always with the same splits so that every
# number in every chapter is comparable:
#
# * **names.txt**: 32,033 first names; the vocabulary is the 26 letters plus `.`, a boundary
#   token that marks where a name starts and ends. Split 80/10/10 into train/dev/test with
#   one fixed, seeded shuffle.
# * **Tiny Shakespeare**: 1,115,394 characters of plays; 65 distinct characters. The first
#   90% is for training and the last 10% for validation.
#
# (`lmlib.data` finds the files in `LMLIB_DATA_DIR`, or downloads them once with a checksum.)

# %%
names_tok, names_train, names_dev, names_test = data.names()
shakes_tok, shakes_train, shakes_val = data.shakespeare()

n_names = len(names_train) + len(names_dev) + len(names_test)
n_chars = len(shakes_train) + len(shakes_val)
print(f"names:       {n_names:,} names = {len(names_train):,} / {len(names_dev):,} / "
      f"{len(names_test):,} ({len(names_train) / n_names:.0%} / {len(names_dev) / n_names:.0%} / "
      f"{len(names_test) / n_names:.0%}), vocabulary {names_tok.vocab_size}")
print(f"Shakespeare: {n_chars:,} characters = {len(shakes_train):,} / {len(shakes_val):,} "
      f"({len(shakes_train) / n_chars:.0%} / {len(shakes_val) / n_chars:.0%}), "
      f"vocabulary {shakes_tok.vocab_size}")
print("a few names:", names_train[:6])
print(repr(shakes_tok.decode(shakes_train[:120])))

# %% [markdown]
# A tokenizer maps text to integer ids and back. For names the text is one stream with a
# `.` between names and at each end: the model must learn where names begin and end.

# %%
names_train_ids = data.names_stream(names_train, names_tok)
names_dev_ids = data.names_stream(names_dev, names_tok)
print(names_tok.decode(names_train_ids[:30]), "->", names_train_ids[:10], "...")

assert names_tok.decode(names_tok.encode("emma.")) == "emma."
assert shakes_tok.vocab_size == 65 and names_tok.vocab_size == 27

# %% [markdown]
# How often does each character occur? The frequencies are far from uniform, which is
# already something a model can exploit.

# %%
fig, axes = plt.subplots(2, 1, figsize=(10, 5.5))
for ax, tok, ids, title in [
    (axes[0], names_tok, names_train_ids, "names (train)"),
    (axes[1], shakes_tok, shakes_train, "Tiny Shakespeare (train)"),
]:
    freq = np.bincount(ids, minlength=tok.vocab_size) / len(ids)
    order = np.argsort(-freq)
    labels = [{" ": "sp", "\n": "\\n"}.get(tok.itos[i], tok.itos[i]) for i in order]
    ax.bar(range(tok.vocab_size), freq[order], color="tab:blue")
    ax.set_xticks(range(tok.vocab_size), labels, fontsize=7)
    ax.set_ylabel("frequency")
    ax.set_title(f"{title}: characters by frequency")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Measuring a model: cross-entropy and perplexity
#
# How good is a model? Give it held-out text it never saw and ask how surprised it is. If
# the model gives probability $p_t = P(x_t \mid x_{<t})$ to each token that actually came,
# its **cross-entropy** (average negative log-likelihood) is
#
# $$L = -\frac{1}{N} \sum_{t=1}^{N} \ln p_t \quad \text{nats per token.}$$
#
# Lower is better; 0 would mean the model was certain and right every time. With $\log_2$
# instead of $\ln$ the unit is **bits**: divide by $\ln 2$. Bits per character is also the
# size a compressor driven by the model would need for the text.
#
# **Perplexity** is $e^{L}$: the model is as surprised as if it chose uniformly among
# $e^{L}$ tokens at each step. A perplexity of 27 on names would mean "no better than
# guessing among all 27 characters".

# %%
def cross_entropy(p_targets: np.ndarray) -> float:
    """Mean negative log-likelihood (nats) of the probabilities given to the actual tokens."""
    return float(-np.mean(np.log(p_targets)))


p = np.array([0.5, 0.25, 0.125, 0.9])
print(f"L = {cross_entropy(p):.4f} nats = {cross_entropy(p) / math.log(2):.4f} bits, "
      f"perplexity {math.exp(cross_entropy(p)):.3f}")

# the same as the library's version, which later chapters use
assert math.isclose(cross_entropy(p), metrics.nll(p))
assert math.isclose(metrics.to_bits(metrics.nll(p)), cross_entropy(p) / math.log(2))

# %% [markdown]
# ### The uniform model
#
# The simplest model ignores the text: every token gets probability $1/V$. Its loss is
# $-\ln(1/V) = \ln V$ on any text, so it is the baseline any model must beat:
# $\ln 27 = 3.2958$ on names and $\ln 65 = 4.1744$ on Shakespeare.

# %%
uniform_names = cross_entropy(np.full(len(names_dev_ids) - 1, 1 / names_tok.vocab_size))
uniform_shakes = cross_entropy(np.full(len(shakes_val), 1 / shakes_tok.vocab_size))
print(f"uniform: names {uniform_names:.4f}, Shakespeare {uniform_shakes:.4f} nats/char")

assert round(uniform_names, 4) == 3.2958
assert round(uniform_shakes, 4) == 4.1744

# %% [markdown]
# ### The unigram model
#
# One step up: count how often each token occurs in the **training** split and predict
# those frequencies every time, whatever came before. No context at all, yet it already
# beats uniform by a lot, because `e` and space are common and `Z` is rare.
#
# For names we score every token after the opening `.`; the first `.` is given.

# %%
def unigram_probs(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Relative frequency of each token id in `ids`: shape (vocab_size,)."""
    counts = np.bincount(ids, minlength=vocab_size)
    return counts / counts.sum()


names_unigram = unigram_probs(names_train_ids[1:], names_tok.vocab_size)
shakes_unigram = unigram_probs(shakes_train, shakes_tok.vocab_size)

unigram_names_dev = cross_entropy(names_unigram[names_dev_ids[1:]])
unigram_shakes_val = cross_entropy(shakes_unigram[shakes_val])
unigram_shakes_train = cross_entropy(shakes_unigram[shakes_train])
print(f"unigram: names dev {unigram_names_dev:.4f}, Shakespeare val {unigram_shakes_val:.4f} "
      f"(train {unigram_shakes_train:.4f}) nats/char")

# %% [markdown]
# **Check yourself.** The reference numbers: unigram 2.8210 on names dev and 3.3473 on
# Shakespeare val. Validation loss is a little above training loss (3.3091): the model was
# fitted on the training text.

# %%
assert abs(unigram_names_dev - 2.821) < 0.005
assert abs(unigram_shakes_val - 3.3473) < 0.0005
assert unigram_shakes_train < unigram_shakes_val

# %% [markdown]
# The loss is also the length of the text in bits. Here is what each model would need to
# store the Shakespeare validation text, against 8 bits per character for plain ASCII:

# %%
n = len(shakes_val)
sizes = {
    "ASCII (8 bits/char)": 8 * n,
    "uniform over 65": metrics.to_bits(uniform_shakes) * n,
    "unigram": metrics.to_bits(unigram_shakes_val) * n,
}
fig, ax = plt.subplots(figsize=(7, 2.4))
ax.barh(list(sizes), [b / 8 / 1024 for b in sizes.values()], color=["grey", "tab:orange", "tab:blue"])
ax.set_xlabel("KiB to encode the 111,540 validation characters")
ax.invert_yaxis()
plt.show()

# %% [markdown]
# ### Sampling shows what a model knows
#
# A model is also a generator: draw each token from its next-token distribution. The
# unigram model knows the letters' frequencies and nothing else, and it shows.

# %%
sample_rng = np.random.default_rng(0)
ids = sample_rng.choice(shakes_tok.vocab_size, size=200, p=shakes_unigram)
print(shakes_tok.decode(ids))

# %% [markdown]
# ## 4. Results so far
#
# Loss in nats per character (lower is better). Every chapter adds rows to this table,
# always on the same splits.

# %%
results = {
    "uniform": (uniform_names, uniform_shakes),
    "unigram": (unigram_names_dev, unigram_shakes_val),
}
print(f"{'model':<10} {'names dev':>10} {'Shakespeare val':>16} {'perplexity (Sh.)':>17}")
for model, (a, b) in results.items():
    print(f"{model:<10} {a:>10.4f} {b:>16.4f} {metrics.perplexity(b):>17.2f}")

# %% [markdown]
# ## 5. Seventy years of language models, in one picture
#
# Everything this course builds has a history, and two popular write-ups get it wrong.
#
# > **Myth vs fact.** *Myth:* "n-gram language models became mainstream in the early 2000s."
# > *Fact:* Shannon estimated letter and word n-gram models of English in 1948 (Shannon, "A
# > Mathematical Theory of Communication", Bell System Technical Journal 27), and n-gram
# > models were the core of IBM's speech recognisers from the 1970s (Jelinek, "Continuous
# > speech recognition by statistical methods", Proc. IEEE 64(4), 1976); Kneser–Ney smoothing
# > dates from 1995 (Kneser & Ney, ICASSP 1995).
# >
# > *Myth:* "large language models trace back to BERT (2018)." *Fact:* GPT-1, a decoder-only
# > Transformer pre-trained as a language model and then fine-tuned, came first (Radford et
# > al., "Improving Language Understanding by Generative Pre-Training", OpenAI, June 2018),
# > four months before BERT (Devlin et al., arXiv:1810.04805, October 2018). Pre-training a
# > language model and fine-tuning it is older than both (Dai & Le, "Semi-supervised Sequence
# > Learning", NeurIPS 2015; ULMFiT, Howard & Ruder, arXiv:1801.06146, January 2018; ELMo,
# > Peters et al., arXiv:1802.05365, February 2018).
#
# The timeline below lists each step with its reference; the chapter that builds it is in
# brackets.

# %%
# (year + month / 12, what, reference, chapter of this course)
history = [
    (1948.5, "Shannon: n-gram models of English", "Shannon, Bell Syst. Tech. J. 27 (1948)", "01"),
    (1951.0, "Shannon: entropy of English by prediction", "Shannon, Bell Syst. Tech. J. 30 (1951)", "00"),
    (1976.3, "n-gram LMs in speech recognition at IBM", "Jelinek, Proc. IEEE 64(4) (1976)", "01"),
    (1995.4, "Kneser-Ney smoothing", "Kneser & Ney, ICASSP (1995)", "01"),
    (1997.9, "LSTM", "Hochreiter & Schmidhuber, Neural Computation 9(8) (1997)", "04"),
    (2000.8, "LSTM forget gate", "Gers, Schmidhuber & Cummins, Neural Computation 12(10) (2000)", "04"),
    (2003.2, "neural (MLP) language model", "Bengio et al., JMLR 3 (2003)", "02"),
    (2010.7, "recurrent neural network LM", "Mikolov et al., Interspeech (2010)", "03"),
    (2014.7, "seq2seq; attention (Bahdanau)", "Sutskever et al., NeurIPS 2014; arXiv:1409.0473", "05"),
    (2015.9, "pre-train an LM, then fine-tune", "Dai & Le, NeurIPS (2015)", "10"),
    (2017.5, "the Transformer", "Vaswani et al., NeurIPS (2017)", "06"),
    (2018.0, "ULMFiT", "Howard & Ruder, arXiv:1801.06146", "10"),
    (2018.1, "ELMo", "Peters et al., arXiv:1802.05365", "10"),
    (2018.45, "GPT-1", "Radford et al., OpenAI (June 2018)", "07"),
    (2018.8, "BERT", "Devlin et al., arXiv:1810.04805 (October 2018)", "06"),
    (2019.1, "GPT-2", "Radford et al., OpenAI (February 2019)", "07"),
    (2020.05, "scaling laws", "Kaplan et al., arXiv:2001.08361", "07"),
    (2020.4, "GPT-3", "Brown et al., arXiv:2005.14165", "07"),
    (2022.2, "compute-optimal scaling (Chinchilla)", "Hoffmann et al., arXiv:2203.15556", "07"),
]

fig, ax = plt.subplots(figsize=(11, 6.5))
for i, (year, what, ref, chapter) in enumerate(history):
    ax.plot(year, i, "o", color="tab:blue" if chapter in ("00", "01") else "tab:orange")
    ax.text(year + 0.8, i, f"{what}  [ch {chapter}]   {ref}", va="center", fontsize=8)
ax.set_xlim(1945, 2060)
ax.set_xticks(range(1950, 2030, 10))
ax.set_yticks([])
ax.invert_yaxis()
ax.set_xlabel("year")
ax.set_title("language models: counting (blue), then neural networks (orange)")
plt.show()

# check yourself: the order of the two myths
when = {what: year for year, what, *_ in history}
assert when["n-gram LMs in speech recognition at IBM"] < 2000
assert when["GPT-1"] < when["BERT"] and when["pre-train an LM, then fine-tune"] < when["GPT-1"]

# %% [markdown]
# ## Summary
#
# * A language model is a probability distribution over token sequences; the chain rule
#   turns it, exactly, into a sequence of next-token predictions.
# * N-gram models add the Markov assumption (a short context); that is the approximation.
# * We measure models by cross-entropy on held-out text, in nats (or bits) per token, and by
#   perplexity $e^L$. Uniform: $\ln V$. Unigram: 2.8210 (names dev) and 3.3473
#   (Shakespeare val).
# * Language models are older than neural networks: Shannon measured n-gram models of
#   English in 1948, speech recognisers used them from the 1970s, and GPT-1 came before BERT.
#
# **Next:** chapter 01 conditions on the previous characters: n-gram models.
#
# **Exercises:** `exercises/00_language_models.ipynb` (perplexity from log-probabilities,
# the entropy of a distribution, a unigram model with smoothing, bits per character).
