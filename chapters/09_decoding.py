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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/09_decoding.ipynb)

# %% [markdown]
# # 09 · Decoding: from a distribution to text
#
# A trained language model gives, at every step, a probability for each possible next token.
# Which token we actually pick decides the text people see, and the same model can sound
# dull, mad or fine depending on that choice.
#
# **What you will build:** greedy decoding (and see why it loops), beam search (and see why
# it is rarely used for open text, and what a stop token and length normalisation do to
# it), sampling with a temperature, top-k, top-p (nucleus) and min-p filters, the repetition
# penalty; the quality/diversity trade-off, measured; a KV cache that makes generation
# faster, measured; and the `SamplingExplorer` widget to play with every knob.
#
# **Prerequisites:** chapter 07 (the GPT and its shipped checkpoint); chapter 05 for the
# attention maths of the KV cache.
#
# **Time on a laptop CPU:** under a minute (41 s measured with `make times` on one core of a 2-core server; no training: the
# model is the shipped one).

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
import copy
import statistics
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import lmlib.sampling as S
from lmlib.data import shakespeare
from lmlib.pretrained import load_pretrained
from lmlib.viz.sampling import next_token_table

# %% [markdown]
# The model: the Shakespeare GPT that ships with the course (4 layers, 4 heads, 128
# dimensions, a context of 128 characters), trained in chapter 07.

# %%
model, tok = load_pretrained("shakespeare-gpt")
model.eval()
_, _, val_ids = shakespeare()
BLOCK = model.config.block_size
print(f"the shipped GPT: {model.num_params():,} parameters, block size {BLOCK}, "
      f"vocabulary {tok.vocab_size}")


def next_logits(text_or_ids):
    """The model's logits (V,) for the token after a text (or a list of ids)."""
    ids = tok.encode(text_or_ids) if isinstance(text_or_ids, str) else text_or_ids
    with torch.no_grad():
        logits, _ = model(torch.tensor([list(ids)[-BLOCK:]]))
    return logits[0, -1].double()


# %% [markdown]
# ## 1. The next-token distribution
#
# Give the model a prompt; it returns one logit per character of the vocabulary, and the
# softmax turns them into probabilities. Everything in this chapter is about what to do with
# this one vector, again and again, one token at a time.

# %%
PROMPT = "ROMEO:\nI will "
logits = next_logits(PROMPT)
probs = torch.softmax(logits, dim=-1)
assert abs(float(probs.sum()) - 1) < 1e-9
lmlib.viz.plot_next_token(logits, tok, rows=15, context=PROMPT)
plt.show()

# %% [markdown]
# ## 2. Greedy decoding and its loops
#
# The simplest rule: always take the most likely token. Here it is by hand. The context is
# cropped to the last `block_size` tokens because the model has learned position embeddings
# for no more positions than that.

# %%
def greedy(model, ids, n_new):
    ids = list(ids)
    with torch.no_grad():
        for _ in range(n_new):
            logits, _ = model(torch.tensor([ids[-BLOCK:]]))
            ids.append(int(logits[0, -1].argmax()))
    return ids


N_GREEDY = 120 if lmlib.FAST else 400
prompt_ids = list(tok.encode(PROMPT))
greedy_ids = greedy(model, prompt_ids, N_GREEDY)
print(tok.decode(greedy_ids))

# %% [markdown]
# **Check yourself:** the library's `generate` with `temperature=0` is the same loop.

# %%
assert greedy_ids == S.generate(model, prompt_ids, N_GREEDY, temperature=0, use_cache=False)

# %% [markdown]
# Greedy text soon **repeats itself**: once a phrase is the most likely continuation of its
# own context, it stays that. We measure it with **distinct-n**, the share of the text's
# n-grams that are different (1 = no repeats). Greedy against sampling (explained in
# section 4), over a sliding window:

# %%
def loop_period(ids, max_period=80):
    """The shortest period p with which the end of ids repeats (the last 2p tokens are
    twice the same p tokens), or None."""
    for p in range(1, max_period + 1):
        if len(ids) >= 2 * p and ids[-p:] == ids[-2 * p:-p]:
            return p
    return None


sampled_ids = S.generate(model, prompt_ids, N_GREEDY, seed=0)
window = 60
for name, ids in (("greedy", greedy_ids), ("sampled, T = 1", sampled_ids)):
    new = ids[len(prompt_ids):]
    curve = [S.distinct_n(new[i:i + window], 4) for i in range(0, len(new) - window + 1, 5)]
    plt.plot(range(window, len(new) + 1, 5), curve, label=name)
plt.xlabel("position in the generated text")
plt.ylabel(f"distinct 4-grams in the last {window}")
plt.title("greedy decoding falls into loops")
plt.legend()
plt.show()
period = loop_period(greedy_ids)
print(f"greedy text ends in a loop of period {period}" if period else
      "no exact loop at the end of this greedy text")
if not lmlib.FAST:
    assert S.distinct_n(greedy_ids[-200:], 4) < S.distinct_n(sampled_ids[-200:], 4)

# %% [markdown]
# ## 3. Beam search, and why open text rarely uses it
#
# Greedy takes the best token at each step, which is not the best *sequence*: a token that
# looks slightly worse now can open a much likelier future. **Beam search** keeps the
# `beam_width` best partial sequences (by total log-probability), extends each by every
# token, and keeps the best `beam_width` of those, and so on. With width 1 it is greedy.
#
# `lmlib.sampling.beam_search(model, prompt_ids, beam_width, max_new_tokens,
# length_penalty=1.0)` does that (you write your own in the exercises). Below: the
# log-probability per token of what each width finds, against real text and a sample:

# %%
def logprob(ids, start):
    """Total log-probability the model gives to ids[start:], each token given the ones
    before it (at most BLOCK of them)."""
    ids = torch.tensor(ids)
    total = 0.0
    with torch.no_grad():
        # tokens 1 .. BLOCK-1: one pass over the first block (position t-1 predicts token t)
        lp = F.log_softmax(model(ids[None, :BLOCK])[0][0].double(), dim=-1)
        for t in range(max(start, 1), min(len(ids), BLOCK)):
            total += float(lp[t - 1, ids[t]])
        # later tokens: one window of the BLOCK tokens before each, all in one batch
        later = list(range(max(start, BLOCK), len(ids)))
        if later:
            windows = torch.stack([ids[t - BLOCK:t] for t in later])         # (N, BLOCK)
            lp = F.log_softmax(model(windows)[0][:, -1].double(), dim=-1)    # (N, V)
            total += float(lp[torch.arange(len(later)), ids[later]].sum())
    return total


N_BEAM = 30 if lmlib.FAST else 80
widths = [1, 2, 4] if lmlib.FAST else [1, 2, 4, 8]
beams = {w: S.beam_search(model, prompt_ids, w, N_BEAM) for w in widths}
beam_lp = [logprob(beams[w], len(prompt_ids)) / N_BEAM for w in widths]
human = list(val_ids[1000:1000 + len(prompt_ids) + N_BEAM])
samp = S.generate(model, prompt_ids, N_BEAM, seed=1)
plt.plot(widths, beam_lp, "o-", label="beam search")
plt.axhline(logprob(human, len(prompt_ids)) / N_BEAM, color="C2", ls="--",
            label="real Shakespeare (val text)")
plt.axhline(logprob(samp, len(prompt_ids)) / N_BEAM, color="C1", ls=":", label="sampled, T = 1")
plt.xscale("log", base=2)
plt.xlabel("beam width")
plt.ylabel("log-probability per token")
plt.title("beam search finds likelier text than real text is")
plt.legend()
plt.show()
for w, lp in zip(widths, beam_lp):
    print(f"width {w}: {lp:.3f} nats/token  {tok.decode(beams[w][len(prompt_ids):])!r}")
human_lp = logprob(human, len(prompt_ids)) / N_BEAM
sample_lp = logprob(samp, len(prompt_ids)) / N_BEAM
print(f"real text: {human_lp:.3f}, sampled at T = 1: {sample_lp:.3f} nats/token")
best_width = widths[int(np.argmax(beam_lp))]
print(f"the likeliest continuation came from width {best_width}; "
      f"the widths in increasing order {'do' if beam_lp == sorted(beam_lp) else 'do NOT'} "
      f"give increasing log-probabilities")
assert beams[1] == S.generate(model, prompt_ids, N_BEAM, temperature=0, use_cache=False)
if not lmlib.FAST:
    assert min(beam_lp) > human_lp + 0.1      # every width finds likelier text than real text
    assert max(beam_lp) > sample_lp + 0.2     # the best beam is far likelier than a sample
    assert max(beam_lp[1:]) > beam_lp[0]      # some wider beam beats greedy

# %% [markdown]
# Real text is *less* likely, token by token, than what beam search finds at any width:
# people do not write the most probable next word, they write something informative.
# Maximising likelihood gives bland, repetitive text (Holtzman et al., 2020, "The Curious
# Case of Neural Text Degeneration"). Beam search shines where there is one right answer
# (translation, speech recognition); for open text we **sample**.
#
# A wider beam is not guaranteed to find a likelier text: beam search throws away every
# partial sequence outside its current top `beam_width`, and a wider beam keeps *different*
# partial sequences, which can lead somewhere worse. The gap between what a search returns
# and the truly most likely text is called **search error**; only an exhaustive search
# (65^80 sequences here) would be free of it. Read the printout above: whether the widths
# line up in order depends on the prompt.
#
# ### A stop token, and length normalisation
#
# So far every beam ran for exactly `N_BEAM` tokens. Real decoders stop at an end token
# (here: the end of the line, `"\n"`), so the hypotheses that finish have **different
# lengths**, and comparing them by total log-probability is unfair: every token adds a
# negative log-probability, so the total favours short hypotheses. **Length
# normalisation** divides the total by `n_new ** alpha` (`length_penalty` in lmlib and
# Hugging Face): `alpha = 0` is the raw total, `alpha = 1` the mean per token. Here are the
# finished hypotheses of one search (width 8, stop at a newline), their raw totals, and
# which one each `alpha` picks:

# %%
NL = tok.stoi["\n"]
hyps = S.beam_search(model, prompt_ids, 8, 40 if lmlib.FAST else 60, length_penalty=1.0,
                     stop_ids=[NL], return_all=True)
n_new = np.array([len(h) - len(prompt_ids) for h, _ in hyps])
total = np.array([score * n for (_, score), n in zip(hyps, n_new)])   # undo the / n_new
alphas = [0.0, 0.5, 1.0, 2.0]
picked = {a: int(np.argmax(total / n_new ** a)) for a in alphas}
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.scatter(n_new, total, color="gray", label="finished hypotheses")
for a, m in zip(alphas, "os^D"):
    i = picked[a]
    ax.scatter(n_new[i], total[i], s=140, marker=m, facecolors="none", edgecolors=f"C{alphas.index(a)}",
               linewidths=2, label=f"picked with alpha = {a}")
ax.set_xlabel("new tokens (the stop token included)")
ax.set_ylabel("total log-probability")
ax.set_title("length normalisation decides between short and long hypotheses")
ax.legend(fontsize=8)
plt.show()
for a in alphas:
    i = picked[a]
    print(f"alpha = {a}: {n_new[i]:2d} tokens, total {total[i]:7.2f}  "
          f"{tok.decode(hyps[i][0][len(prompt_ids):])!r}")
lengths_picked = [n_new[picked[a]] for a in alphas]
assert lengths_picked == sorted(lengths_picked)   # a larger alpha never picks a shorter one
if not lmlib.FAST:
    assert len(set(n_new)) > 1 and lengths_picked[0] < lengths_picked[-1]

# %% [markdown]
# With `alpha = 0` the search prefers the hypothesis that stops soonest; raising `alpha`
# lets longer ones win (for a fixed set of hypotheses the picked length can only grow with
# `alpha`, which the cell asserts). Hugging Face's default is `length_penalty=1.0`.

# %% [markdown]
# ## 4. Sampling and the temperature
#
# Sampling draws the next token from the distribution: likely tokens come often, unlikely
# ones sometimes. The **temperature** `T` reshapes the distribution first.
#
# > **Myth:** "the temperature scales the probabilities".
# > **Fact:** it divides the **logits**, before the softmax: `softmax(z / T)`. Dividing the
# > probabilities by `T` would change nothing at all: the softmax's normalisation would undo
# > it. `T < 1` sharpens the distribution, `T > 1` flattens it, and as `T → 0` sampling
# > tends to greedy decoding.

# %%
def my_temperature(logits, T):
    return logits / T


z = logits.numpy()
p = S.softmax(z)
p_over_T = (p / 0.5) / (p / 0.5).sum()              # the myth: divide the probabilities
p_T = S.softmax(my_temperature(z, 0.5))             # the fact: divide the logits
print(f"max |p/T renormalised - p| = {np.abs(p_over_T - p).max():.2e}  (nothing changed)")
print(f"max |softmax(z/T) - p|     = {np.abs(p_T - p).max():.3f}  (sharper)")
assert np.allclose(p_over_T, p) and not np.allclose(p_T, p)
np.testing.assert_allclose(p_T, p ** 2 / (p ** 2).sum())  # softmax(z/T) is p^(1/T), renormalised
np.testing.assert_allclose(my_temperature(z, 0.7), S.apply_temperature(z, 0.7))

# %% [markdown]
# **T → 0 tends to greedy**, numerically: the probability of the argmax goes to 1.

# %%
best = int(np.argmax(z))
for T in [2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.01]:
    pT = S.softmax(my_temperature(z, T))
    print(f"T = {T:<5} P(argmax {tok.itos[best]!r}) = {pT[best]:.6f}")
assert S.softmax(my_temperature(z, 0.01))[best] > 0.999
assert S.sample(z, temperature=0) == best

# %% [markdown]
# The **entropy** of the distribution (in nats: 0 = certain, ln V = uniform) as a function
# of T, for a context where the model is sure and one where it is not:

# %%
def entropy(p):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


# find a confident and an unsure position in some real text
text_ids = list(val_ids[:300])
with torch.no_grad():
    all_logits = model(torch.tensor([text_ids[:BLOCK]]))[0][0].double().numpy()  # (T, V)
ents = np.array([entropy(S.softmax(row)) for row in all_logits])
at = {"peaked": int(ents[10:].argmin()) + 10, "flat": int(ents[10:].argmax()) + 10}
contexts = {name: all_logits[t] for name, t in at.items()}
Ts = np.logspace(np.log10(0.05), np.log10(5), 40)
for name, row in contexts.items():
    ctx = tok.decode(text_ids[at[name] - 15:at[name] + 1])
    plt.plot(Ts, [entropy(S.softmax(row / T)) for T in Ts], label=f"{name}: after {ctx!r}")
plt.axhline(np.log(tok.vocab_size), color="gray", ls=":", label="uniform (ln V)")
plt.xscale("log")
plt.xlabel("temperature T")
plt.ylabel("entropy (nats)")
plt.title("entropy of the next-token distribution grows with T")
plt.legend(fontsize=8)
plt.show()
for row in contexts.values():
    curve = [entropy(S.softmax(row / T)) for T in Ts]
    assert all(a <= b + 1e-9 for a, b in zip(curve, curve[1:]))

# %% [markdown]
# ## 5. Top-k, top-p and min-p
#
# High temperatures bring out the long tail of unlikely tokens, each rare but many of them
# together likely enough to derail a text. Filters cut the tail before sampling (the cut
# tokens get logit `-inf`, probability 0), then the rest is renormalised:
#
# - **top-k:** keep the k most likely tokens (a fixed number, whatever the shape);
# - **top-p (nucleus):** keep the smallest set of most likely tokens whose probability adds
#   up to at least p (adapts: few tokens when the model is sure, many when not);
# - **min-p:** keep the tokens whose probability is at least p times the top one's.
#
# By hand, for one vector of logits:

# %%
def my_top_k(z, k):
    kth = np.sort(z)[-k]                       # the k-th largest logit
    return np.where(z < kth, -np.inf, z)       # ties with it are kept


def my_top_p(z, p):
    order = np.argsort(z, kind="stable")[::-1]  # most likely first (ties: higher id first)
    probs = S.softmax(z)[order]
    above = np.cumsum(probs) - probs            # mass of the tokens ranked above each one
    keep = np.zeros(len(z), dtype=bool)
    keep[order[above < p]] = True              # keep while the mass above is below p
    return np.where(keep, z, -np.inf)


def my_min_p(z, p):
    probs = S.softmax(z)
    return np.where(probs < p * probs.max(), -np.inf, z)


rng = np.random.default_rng(0)
for _ in range(200):
    x = rng.normal(size=12) * rng.uniform(0.5, 4)
    k, p = int(rng.integers(1, 13)), float(rng.uniform(0.05, 0.95))
    np.testing.assert_array_equal(my_top_k(x, k), S.top_k_filter(x, k))
    np.testing.assert_array_equal(my_top_p(x, p), S.top_p_filter(x, p))
    np.testing.assert_array_equal(my_min_p(x, p), S.min_p_filter(x, p))
    # the library also works on torch tensors, with the same result
    np.testing.assert_array_equal(S.top_p_filter(torch.tensor(x), p).numpy(), my_top_p(x, p))
print("the hand-written filters equal lmlib.sampling's (NumPy and torch)")

# %% [markdown]
# What each keeps, on the peaked and on the flat distribution found above (blue: kept and
# renormalised; grey: before filtering; red dashes: the cut-off):

# %%
filters = [dict(top_k=5), dict(top_p=0.9), dict(min_p=0.1)]
fig, axes = plt.subplots(2, 3, figsize=(12, 7), layout="constrained")
for r, (name, row) in enumerate(contexts.items()):
    for c, f in enumerate(filters):
        lmlib.viz.plot_next_token(row, tok, rows=10, ax=axes[r, c], **f)
        axes[r, c].set_title(f"{name}: " + axes[r, c].get_title().split(": ")[-1], fontsize=8)
plt.show()
n_kept = {}
for name, row in contexts.items():
    for f in filters:
        [(knob, value)] = f.items()
        n_kept[name, knob] = next_token_table(row, **f)["n_kept"]
        print(f"{name:>6}, {knob} = {value}: {n_kept[name, knob]:2d} tokens kept")
assert n_kept["peaked", "top_k"] == n_kept["flat", "top_k"] == 5
assert n_kept["peaked", "top_p"] <= n_kept["flat", "top_p"]

# %% [markdown]
# Top-k keeps five tokens on both, too many for the peaked case and maybe too few for the
# flat one; top-p and min-p adapt to the shape. On ties: top-k keeps every token tied with
# the k-th, as Hugging Face does; lmlib's top-p ranks equal logits by id (a stable sort, see
# the `lmlib.sampling` docstring), while Hugging Face's sort is not stable, so which of
# several equal logits it keeps at the boundary is unspecified. Without ties the two agree.
#
# ## 6. The repetition penalty
#
# The CTRL paper (Keskar et al., 2019) discourages repeats by dividing the logit of every
# token that already occurred by a `penalty > 1`. That only works for positive logits: a
# negative logit divided by the penalty moves *up*, towards 0, and the token becomes *more*
# likely. Hugging Face's `RepetitionPenaltyLogitsProcessor` fixes the sign: divide a
# positive logit, **multiply** a negative one. `lmlib.sampling.repetition_penalty` follows
# Hugging Face (you write it yourself in the exercises). Two tokens that already occurred,
# one with a positive and one with a negative logit:

# %%
demo = np.array([2.0, -2.0, 0.0, 1.0])      # tokens 0 and 1 occurred before
ctrl = demo.copy()
ctrl[[0, 1]] /= 1.3                          # CTRL: divide, whatever the sign
hf = S.repetition_penalty(demo, [0, 1], 1.3)
for name, row in (("no penalty", demo), ("CTRL's rule", ctrl), ("sign-aware", hf)):
    print(f"{name:12s} P(token 0) = {S.softmax(row)[0]:.3f}   P(token 1) = {S.softmax(row)[1]:.3f}")
assert S.softmax(ctrl)[1] > S.softmax(demo)[1] > S.softmax(hf)[1]

# %% [markdown]
# Under CTRL's rule the repeated token 1 became *more* likely; under the sign-aware rule
# both repeated tokens lose probability. The penalty on greedy decoding:

# %%
penalised = S.generate(model, prompt_ids, N_GREEDY, temperature=0, repetition_penalty=1.3)
print(tok.decode(penalised))
print(f"distinct 4-grams: greedy {S.distinct_n(greedy_ids[len(prompt_ids):], 4):.2f}, "
      f"greedy + penalty 1.3 {S.distinct_n(penalised[len(prompt_ids):], 4):.2f}")

# %% [markdown]
# The penalty raises distinct-4, but read the text: with **characters** as tokens, almost
# every letter has "already occurred" after a line, so the penalty hits nearly all of them
# alike and the loops change shape rather than vanish (or the model is pushed towards rare
# characters). The rule was designed for word-level tokens; on characters, sampling (next
# section) does much better than any penalty on greedy decoding.
#
# ## 7. The quality/diversity trade-off
#
# Low temperature: safe, repetitive text. High temperature: varied text that stops making
# sense. We measure both sides for several temperatures: **quality** as the model's own
# loss (at T = 1) on the text it sampled (lower = text the model finds more plausible), and
# **diversity** as distinct-8 (8 characters: a word or two) over all the samples of one
# temperature together, so that samples that repeat each other count as repetitive too.

# %%
def own_loss(ids, start):
    """Mean cross-entropy (nats/token) of the model at T = 1 on ids[start:]."""
    return -logprob(ids, start) / (len(ids) - start)


temps = [0.3, 0.7, 1.0, 1.5] if lmlib.FAST else [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0]
n_samples, length = (3, 60) if lmlib.FAST else (6, 200)
quality, diversity = [], []
for T in temps:
    outs = [S.generate(model, prompt_ids, length, temperature=T, seed=s) for s in range(n_samples)]
    quality.append(statistics.mean(own_loss(o, len(prompt_ids)) for o in outs))
    diversity.append(S.distinct_n([o[len(prompt_ids):] for o in outs], 8))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
ax1.plot(temps, quality, "o-", label="model's loss on its samples")
ax1.set_xlabel("temperature")
ax1.set_ylabel("nats / token (lower: more plausible)")
ax1b = ax1.twinx()
ax1b.plot(temps, diversity, "s-", color="C1", label="distinct-8")
ax1b.set_ylabel("distinct-8 (higher: more varied)")
ax1.legend(loc="upper left", fontsize=8)
ax1b.legend(loc="lower right", fontsize=8)
ax1.set_title("both grow with T")
ax2.plot(diversity, quality, "o-")
for T, d, q in zip(temps, diversity, quality):
    ax2.annotate(f"T={T}", (d, q), fontsize=8, xytext=(3, 3), textcoords="offset points")
ax2.set_xlabel("diversity (distinct-8)")
ax2.set_ylabel("loss on own samples")
ax2.set_title("the trade-off: more variety costs plausibility")
plt.show()
n_real = 5 if lmlib.FAST else 40          # windows of real text, spread over the val split
real = statistics.mean(own_loss(list(val_ids[i:i + len(prompt_ids) + length]), len(prompt_ids))
                       for i in range(0, n_real * 2500, 2500))
at_1 = quality[temps.index(1.0)]
print(f"the model's loss on its own samples at T = 1: {at_1:.3f} nats/token; "
      f"on real text ({n_real} val windows, same lengths): {real:.3f}")
if not lmlib.FAST:
    assert quality[0] < quality[-1] and diversity[0] < diversity[-1]
    assert at_1 < real - 0.05  # its own samples are likelier to it than real text

# %% [markdown]
# Even at T = 1 the model's loss on its own samples is *below* its loss on real text (the
# cell prints both). That is expected: on its own samples the average loss estimates the
# **entropy** of the model's distribution, on real text the **cross-entropy** between the
# data and the model, which is that entropy's counterpart for the data plus the mismatch
# between the two (a KL divergence). A perfect model would close the gap; ours does not.
# Lower temperatures give text the model finds even more likely; higher ones, less likely.
# In practice one starts a little below T = 1 and adds a top-p or min-p filter, then reads
# the samples.
#
# ## 8. The KV cache
#
# Each step of the loops above runs the model on the whole context, although only one
# token is new. In attention, a position's **key** and **value** depend only on that
# position and the ones before it (causal mask), so they never change once computed. Keep
# them, and each step only has to compute the new token's query, key and value and attend
# over the stored keys: one position through the network instead of up to `block_size`.

# %%
steps = np.arange(1, 501)
plt.plot(steps, np.cumsum(np.minimum(steps, BLOCK)), label="no cache: the whole context")
plt.plot(steps, steps, label="KV cache: one position per step")
plt.xlabel("tokens generated")
plt.ylabel("positions run through the network (total)")
plt.title(f"work per token (block size {BLOCK})")
plt.legend()
plt.show()

# %% [markdown]
# **By hand.** Here is the whole GPT forward pass for ONE new token, from the model's
# weights, with a cache that holds, per layer, the keys and values of the earlier
# positions. The maths is chapter 05's attention, with `q` of length 1.

# %%
def forward_one(model, token, pos, cache):
    """Logits (V,) for `token` at position `pos`; appends its keys/values to `cache`
    (a list per layer of [K, V], each (H, pos, d))."""
    tr, H = model.transformer, model.config.n_head
    x = tr.wte.weight[token] + tr.wpe.weight[pos]             # (C,)
    for layer, block in enumerate(tr.h):
        h = block.ln_1(x)
        q, k, v = block.attn.c_attn(h).split(model.config.n_embd)
        q, k, v = (t.view(H, -1) for t in (q, k, v))            # (H, d) each
        K = torch.cat([cache[layer][0], k[:, None]], dim=1)      # (H, pos + 1, d)
        V = torch.cat([cache[layer][1], v[:, None]], dim=1)
        cache[layer] = [K, V]
        att = torch.softmax((K @ q[:, :, None])[..., 0] / q.shape[-1] ** 0.5, dim=-1)  # (H, pos+1)
        y = (att[:, :, None] * V).sum(1).reshape(-1)            # (C,) heads side by side
        x = x + block.attn.c_proj(y)
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(tr.ln_f(x))


model64 = copy.deepcopy(model).double()  # float64, so that only the maths can differ
H, d = model.config.n_head, model.config.n_embd // model.config.n_head
ids = list(val_ids[:64])
cache = [[torch.zeros(H, 0, d, dtype=torch.float64)] * 2 for _ in model.transformer.h]
with torch.no_grad():
    by_hand = torch.stack([forward_one(model64, ids[t], t, cache) for t in range(len(ids))])
    full = model64(torch.tensor([ids]))[0][0]
err = (by_hand - full).abs().max().item()
print(f"one token at a time with the cache vs the full forward pass: max |diff| = {err:.1e}")
assert err < 1e-10

# %% [markdown]
# The GPT of `lmlib` has the same thing built in: `model.forward_cached(idx, past_kv)` runs
# only the new positions and returns the cache for the next call, and `generate` uses it
# (`use_cache=True`, the default). The cached and uncached logits agree to 1e-5:

# %%
with torch.no_grad():
    first, past = model64.forward_cached(torch.tensor([ids[:40]]))  # the prompt at once
    steps = []
    for t in ids[40:]:                                               # then one at a time
        step_logits, past = model64.forward_cached(torch.tensor([[t]]), past)
        steps.append(step_logits[0, -1])
cached_logits = torch.cat([first[0], torch.stack(steps)])
print(f"cached vs full: max |diff| = {(cached_logits - full).abs().max():.1e}")
assert (cached_logits - full).abs().max() < 1e-5
n_same = BLOCK - len(prompt_ids)
cached = S.generate(model, prompt_ids, n_same, temperature=0, use_cache=True)
plain = S.generate(model, prompt_ids, n_same, temperature=0, use_cache=False)
assert cached == plain
print(f"greedy, {n_same} tokens: the same text token for token with and without the cache")

# %% [markdown]
# That holds **within the context**. Past `block_size` a model with learned positions
# cannot see further back: without the cache, `generate` re-runs the last `block_size`
# tokens at every step (a window sliding by one token); with it, the cache cannot drop its
# oldest position, so `generate` rebuilds it from the last `block_size // 2` tokens when it
# is full. The two paths then see different contexts and may pick different tokens:

# %%
n_long = 150 if lmlib.FAST else 300
long_cached = S.generate(model, prompt_ids, n_long, temperature=0, use_cache=True)
long_plain = S.generate(model, prompt_ids, n_long, temperature=0, use_cache=False)
differ = [i for i, (a, b) in enumerate(zip(long_cached, long_plain)) if a != b]
first_diff = differ[0] - len(prompt_ids) if differ else None
print(f"greedy, {n_long} new tokens: " + (f"the two paths differ from new token {first_diff} on"
                                          if differ else "the same tokens"))
assert not differ or differ[0] >= BLOCK  # never within the context

# %% [markdown]
# **The speed-up**, measured within the context (from a one-token prompt, up to
# `block_size - 1` new tokens, so that both paths compute the same thing; median of a few
# runs):

# %%
def seconds(n, use_cache, repeats):
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        S.generate(model, [0], n, seed=0, use_cache=use_cache)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


lengths = [20, 60, 120] if lmlib.FAST else [16, 32, 64, 96, BLOCK - 1]
repeats = 1 if lmlib.FAST else 3
t_plain = [seconds(n, False, repeats) for n in lengths]
t_cache = [seconds(n, True, repeats) for n in lengths]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
ax1.plot(lengths, t_plain, "o-", label="no cache")
ax1.plot(lengths, t_cache, "o-", label="KV cache")
ax1.set_xlabel("new tokens")
ax1.set_ylabel("seconds")
ax1.legend()
ax2.plot(lengths, np.array(t_plain) / np.array(t_cache), "o-", color="C2")
ax2.set_xlabel("new tokens")
ax2.set_ylabel("speed-up (×)")
fig.suptitle("generation time with and without the KV cache")
plt.show()
speedup = t_plain[-1] / t_cache[-1]
print(f"speed-up at {lengths[-1]} tokens: {speedup:.1f}x (at {lengths[0]}: "
      f"{t_plain[0] / t_cache[0]:.1f}x)")
if not lmlib.FAST:
    assert speedup > 1.5 and speedup > t_plain[0] / t_cache[0]

# %% [markdown]
# The gain grows with the length (asserted above): without the cache every step costs a
# whole context; with it, one position (plus attention over the stored keys). For big models on a GPU the
# cache is what makes chat-length generation affordable; its price is memory,
# `2 × layers × positions × channels` numbers per sequence.
#
# ## 9. The SamplingExplorer
#
# Every knob of this chapter in one widget: move the temperature (log scale) and the
# filters and watch the pipeline table (logit → logit / T → probability → cumulative →
# kept → final probability, the cut-off as a red dashed line) and the entropy change;
# "sample N" draws N tokens with a seed and compares their histogram to the distribution;
# "step" samples a token, appends it and shows the next distribution, tinting each
# generated token by its probability. Impossible settings (say a negative top-k) are
# refused with a message.

# %%
explorer = lmlib.viz.SamplingExplorer(model, tok, "ROMEO:\n", top_p=0.95)
explorer

# %% [markdown]
# The widget needs a running kernel. Its static twin, `lmlib.viz.plot_next_token`, is what
# it shows on GitHub or in an exported notebook, and a histogram of samples is
# `lmlib.viz.plot_sampling`:

# %%
assert explorer.error is None
explorer.temperature.value = 0.7
explorer.step()
print(explorer)  # the one-line description the widget gives when it cannot run
lmlib.viz.plot_sampling(explorer.logits, tok, n=500, seed=0, temperature=0.7, top_p=0.95)
plt.show()

# %% [markdown]
# ## Summary
#
# - Greedy decoding takes the argmax and falls into loops; beam search finds text the model
#   finds likelier than real text, which is exactly the problem for open text. A wider beam
#   is not always better (search error); with a stop token, length normalisation decides
#   between short and long hypotheses.
# - Sampling draws from the distribution. The temperature divides the logits (not the
#   probabilities); T → 0 is greedy, large T is uniform, and entropy grows with T.
# - Top-k keeps a fixed number of tokens; top-p and min-p adapt to the distribution's
#   shape. The repetition penalty (CTRL's idea, Hugging Face's sign rule) makes seen tokens
#   less likely, a blunt tool on characters.
# - Quality and diversity pull against each other along the temperature; even at T = 1 the
#   model finds its own samples likelier than real text (entropy against cross-entropy).
# - The KV cache keeps each position's keys and values, so each new token costs one
#   position instead of the whole context: within the context, the same tokens, faster;
#   past `block_size` the cached path slides its window differently.
#
# **Exercises** (`exercises/09_decoding.ipynb`): temperature (core, 10 min), top-k (core,
# 10 min), top-p (core, 15 min), the greedy loop (core, 10 min), updating a KV cache for one
# step (core, 20 min), the repetition penalty (core, 15 min), beam search with a stop token
# and length normalisation (stretch, 45 min); three written questions.
