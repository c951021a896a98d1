# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/01_ngram.ipynb)

# %% [markdown]
# # Chapter 01 exercises: N-gram language models
#
# Seven exercises (1–5 are independent; 7 uses 6). Write your code where it says `# YOUR CODE HERE`, then run the
# check cell below it: it prints "correct" or fails with a hint. Every check compares your
# answer with `lmlib.ngram.NGramLM` or with numbers worked out by hand.

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
from collections import Counter

import numpy as np

from lmlib.data import names, names_stream
from lmlib.ngram import NGramLM

ntok, words_train, words_dev, words_test = names()
V = ntok.vocab_size  # 27: '.' is id 0, 'a'..'z' are ids 1..26
s_train, s_dev, s_test = (names_stream(w, ntok) for w in (words_train, words_dev, words_test))
# each a stream .emma.olivia. ... with '.' between and around the names

# %% [markdown]
# ## Exercise 1: count bigrams (core, 10 min)
#
# Write `count_bigrams(ids, V)` that returns the `(V, V)` integer matrix `N` with `N[a, b]`
# = how often token `b` directly follows token `a` in the stream `ids`. No Python loop over
# the tokens: encode each pair as one integer `a * V + b` and count with `np.bincount`.

# %%
def count_bigrams(ids, V):
    """(V, V) counts of consecutive pairs in the stream ``ids`` of shape (N,)."""
    ### BEGIN SOLUTION
    ids = np.asarray(ids)
    return np.bincount(ids[:-1] * V + ids[1:], minlength=V * V).reshape(V, V)
    ### END SOLUTION


# %% tags=["check"]
# Check: count bigrams
small = count_bigrams(np.array([0, 1, 0, 1, 2, 0]), 3)  # a b a b c a: ab twice, ba, bc, ca
assert small.shape == (3, 3), f"expected shape (3, 3), got {small.shape}"
assert small.sum() == 5, f"a stream of 6 tokens has 5 consecutive pairs, you counted {small.sum()}"
np.testing.assert_array_equal(small, [[0, 2, 0], [1, 0, 1], [1, 0, 0]],
                              err_msg="N[a, b] counts b directly after a (row: current, column: next)")
N = count_bigrams(s_train, V)
assert N.shape == (V, V), f"expected shape {(V, V)}, got {N.shape}"
pairs = Counter(zip(s_train[:-1].tolist(), s_train[1:].tolist()))
assert all(N[a, b] == c for (a, b), c in pairs.items()), "a count differs from a plain Counter"
assert N.sum() == len(s_train) - 1
print("count bigrams: correct")

# %% [markdown]
# ## Exercise 2: add-k probabilities (core, 10 min)
#
# Turn a `(V, V)` count matrix into the add-k bigram model:
#
# $$P(b \mid a) = \frac{N[a, b] + k}{\sum_{b'} N[a, b'] + kV}$$

# %%
def add_k_probs(N, k):
    """(V, V) matrix of P(next = b | current = a) with add-k smoothing; rows sum to 1."""
    ### BEGIN SOLUTION
    N = np.asarray(N, dtype=float)
    return (N + k) / (N.sum(axis=1, keepdims=True) + k * N.shape[1])
    ### END SOLUTION


# %% tags=["check"]
# Check: add-k probabilities
counts = np.bincount(s_train[:-1] * V + s_train[1:], minlength=V * V).reshape(V, V)
for k in (1.0, 0.1):
    P = add_k_probs(counts, k)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, err_msg="each row must sum to 1")
    lm = NGramLM(2, "add-k", k=k).fit(s_train, V)
    np.testing.assert_allclose(P, np.stack([lm.next_token_probs([a]) for a in range(V)]),
                               err_msg=f"differs from NGramLM(2, 'add-k', k={k})")
np.testing.assert_allclose(add_k_probs(np.array([[2, 0], [0, 0]]), 0.5), [[5 / 6, 1 / 6], [0.5, 0.5]],
                           err_msg="(N[a, b] + k) / (row sum + kV); a row never seen is uniform")
print("add-k probabilities: correct")

# %% [markdown]
# ## Exercise 3: perplexity of a held-out string (core, 10 min)
#
# Given a bigram probability matrix `P` (shape `(V, V)`) and a name such as `"olivia"`,
# compute the perplexity of the stream `.olivia.` under the model: every character after
# the first `.` (including the closing `.`) is predicted from the one before it, and
#
# $$\text{perplexity} = \exp\Big(-\frac{1}{T}\sum_{t=1}^{T} \log P(x_t \mid x_{t-1})\Big)$$

# %%
def bigram_perplexity(P, word):
    """Perplexity of ``.word.`` under the bigram matrix P (V, V)."""
    ### BEGIN SOLUTION
    ids = ntok.encode("." + word + ".")
    return float(np.exp(-np.mean(np.log(P[ids[:-1], ids[1:]]))))
    ### END SOLUTION


# %% tags=["check"]
# Check: perplexity of a held-out string
lm = NGramLM(2, "kneser-ney").fit(s_train, V)
P_kn = np.stack([lm.next_token_probs([a]) for a in range(V)])
for word in ["olivia", "zyx", words_dev[0]]:
    expected = lm.perplexity(ntok.encode("." + word + "."))
    got = bigram_perplexity(P_kn, word)
    assert abs(got - expected) < 1e-9 * expected, (
        f"{word!r}: got {got}, expected {expected}: exp of the mean natural-log loss over the "
        f"T = len(word) + 1 characters after the first '.', the closing '.' included")
assert abs(bigram_perplexity(np.full((V, V), 1 / V), "ab") - V) < 1e-9, \
    "a uniform model has perplexity V"
print("perplexity: correct")

# %% [markdown]
# ## Exercise 4: sampling with a given rng (core, 10 min)
#
# Sample one name from a bigram matrix `P`: start with the boundary token (id 0), then
# repeatedly draw the next id with `rng.choice(V, p=P[current])` (exactly one call per
# character), stopping when the boundary token is drawn again. Return the name as a string
# without the dots. The same `rng` state must give the same name.

# %%
def sample_name(P, rng):
    """One name drawn from the bigram matrix P (V, V) with the numpy Generator ``rng``."""
    ### BEGIN SOLUTION
    out, current = [], 0
    while True:
        current = int(rng.choice(V, p=P[current]))
        if current == 0:
            return "".join(out)
        out.append(ntok.itos[current])
    ### END SOLUTION


# %% tags=["check"]
# Check: sampling with a given rng
lm = NGramLM(2, "add-k", k=1.0).fit(s_train, V)
P = np.stack([lm.next_token_probs([a]) for a in range(V)])
deterministic = np.zeros((V, V))
deterministic[0, 1], deterministic[1, 2], deterministic[2, 0] = 1, 1, 1   # . -> a -> b -> .
assert sample_name(deterministic, np.random.default_rng(0)) == "ab", \
    "with P[., a] = P[a, b] = P[b, .] = 1 the name is 'ab': draw from the row P[current], and return the characters between the two '.', without the dots"
got = [sample_name(P, np.random.default_rng(seed)) for seed in range(20)]
assert got == [sample_name(P, np.random.default_rng(seed)) for seed in range(20)], \
    "the same seed must give the same name"
# NGramLM.sample draws each token with rng.choice(V, p=...) too: the same seed, the same name
expected = []
for seed in range(20):
    ids = lm.sample(100, np.random.default_rng(seed), context=[0])
    expected.append(ntok.decode(ids[:np.argmax(ids == 0)]))
assert got == expected, (f"got {got[:5]}..., expected {expected[:5]}...: start from '.', draw "
                          f"exactly one rng.choice(V, p=P[current]) per character")
print("sampling: correct")

# %% [markdown]
# ## Exercise 5: Kneser–Ney continuation counts (stretch, 20 min)
#
# Kneser–Ney's lowest order does not use how often a token occurs but in how many distinct
# contexts: $N_{1+}(\bullet\, w)$ = the number of distinct tokens that appear directly before
# `w` in the stream. Write `continuation_counts(ids, V)` returning this for every token,
# shape `(V,)` (0 for a token never preceded by anything). Then the continuation
# probability is $N_{1+}(\bullet\, w) / \sum_{w'} N_{1+}(\bullet\, w')$.
#
# Hint: the distinct bigrams are `np.unique(ids[:-1] * V + ids[1:])`; each distinct bigram
# ending in `w` contributes one distinct left neighbour of `w`.

# %%
def continuation_counts(ids, V):
    """(V,) array: for each token w, how many distinct tokens precede it in ``ids``."""
    ### BEGIN SOLUTION
    ids = np.asarray(ids)
    distinct_pairs = np.unique(ids[:-1] * V + ids[1:])
    return np.bincount(distinct_pairs % V, minlength=V)
    ### END SOLUTION


# %% tags=["check"]
# Check: Kneser-Ney continuation counts
# a b a b c a: a is preceded by {b, c}, b by {a}, c by {b}
np.testing.assert_array_equal(continuation_counts(np.array([0, 1, 0, 1, 2, 0]), 4), [2, 1, 1, 0],
                              err_msg="count the DISTINCT tokens that precede each w (0 if none)")
cont = continuation_counts(s_train, V)
distinct = set(zip(s_train[:-1].tolist(), s_train[1:].tolist()))
brute = [sum(1 for _, b in distinct if b == w) for w in range(V)]
np.testing.assert_array_equal(cont, brute, err_msg="count the DISTINCT tokens that precede each w")
# with them, the Kneser-Ney bigram model of NGramLM is reproduced by hand:
# P(b | a) = (max(N[a, b] - D, 0) + D * N1+(a .) * P_cont(b)) / N[a].sum()
D = 0.75
N = np.bincount(s_train[:-1] * V + s_train[1:], minlength=V * V).reshape(V, V)
p_cont = np.maximum(cont - D, 0) / cont.sum() + D * np.count_nonzero(cont) / cont.sum() / V
lm = NGramLM(2, "kneser-ney", discount=D).fit(s_train, V)
for a in (0, 1, 26):
    expected = (np.maximum(N[a] - D, 0) + D * np.count_nonzero(N[a]) * p_cont) / N[a].sum()
    np.testing.assert_allclose(lm.next_token_probs([a]), expected)
print("continuation counts: correct")

# %% [markdown]
# ## Exercise 6: a Jelinek–Mercer trigram model of names (core, 30 min)
#
# The bigram can only see one character back. A **trigram** sees two, but most pairs of
# characters are followed by few distinct characters in training, so maximum likelihood is
# hopeless on dev. **Jelinek–Mercer interpolation** mixes all orders with fixed weights
# $\lambda_0 + \lambda_1 + \lambda_2 + \lambda_3 = 1$:
#
# $$P(c \mid a\,b) = \frac{\lambda_0}{V} + \lambda_1 P_{\text{ML}}(c) + \lambda_2 P_{\text{ML}}(c \mid b)
#   + \lambda_3 P_{\text{ML}}(c \mid a\,b)$$
#
# where $P_{\text{ML}}$ are the maximum-likelihood estimates from the counts of the training
# stream: $P_{\text{ML}}(c) = c(c)/N$ (every token of the stream counted),
# $P_{\text{ML}}(c \mid b) = c(b\,c)/c(b\,\bullet)$ and
# $P_{\text{ML}}(c \mid a\,b) = c(a\,b\,c)/c(a\,b\,\bullet)$. For a context never followed by
# anything in training, take $P_{\text{ML}}(\cdot \mid \text{context})$ to be uniform, $1/V$.
#
# Write `jelinek_mercer(ids, V, lambdas)` returning the dense `(V, V, V)` array with
# `P[a, b, c]` $= P(c \mid a\,b)$ (27³ = 19,683 numbers: small enough for names), and
# `trigram_loss(P, ids)`, the mean negative log-probability (nats) of every token `ids[t]`,
# `t >= 2`, given `ids[t-2], ids[t-1]`. Refuse `lambdas` that are not 4 non-negative numbers
# summing to 1 with a `ValueError` that names `lambdas`. No Python loop over the tokens:
# count with `np.bincount` as in exercise 1.

# %%
def jelinek_mercer(ids, V, lambdas):
    """(V, V, V) array P[a, b, c] = P(c | a b) of the interpolated trigram fitted on ``ids`` (N,)."""
    ### BEGIN SOLUTION
    lambdas = np.asarray(lambdas, dtype=float)
    if lambdas.shape != (4,) or (lambdas < 0).any() or abs(lambdas.sum() - 1) > 1e-9:
        raise ValueError(f"lambdas must be 4 non-negative weights summing to 1, got {lambdas}")
    ids = np.asarray(ids)
    c1 = np.bincount(ids, minlength=V)
    c2 = np.bincount(ids[:-1] * V + ids[1:], minlength=V**2).reshape(V, V)
    c3 = np.bincount((ids[:-2] * V + ids[1:-1]) * V + ids[2:], minlength=V**3).reshape(V, V, V)

    def mle(counts):                       # normalise the last axis; unseen contexts: uniform
        total = counts.sum(axis=-1, keepdims=True)
        return np.where(total > 0, counts / np.maximum(total, 1), 1 / V)

    l0, l1, l2, l3 = lambdas
    return l0 / V + l1 * mle(c1)[None, None, :] + l2 * mle(c2)[None, :, :] + l3 * mle(c3)
    ### END SOLUTION


def trigram_loss(P, ids):
    """Mean -ln P[ids[t-2], ids[t-1], ids[t]] over t >= 2 (nats per token)."""
    ### BEGIN SOLUTION
    ids = np.asarray(ids)
    return float(-np.mean(np.log(P[ids[:-2], ids[1:-1], ids[2:]])))
    ### END SOLUTION


# %% tags=["check"]
# Check: Jelinek-Mercer trigram
lam = (0.02, 0.08, 0.3, 0.6)
P3 = jelinek_mercer(s_train, V, lam)
assert P3.shape == (V, V, V), f"expected shape {(V, V, V)}, got {P3.shape}"
mle_models = [NGramLM(n, "mle").fit(s_train, V) for n in (1, 2, 3)]   # unseen context: uniform
unseen = [(a, b) for a in range(V) for b in range(V)
          if mle_models[2].next_token_probs([a, b]).max() == 1 / V]
assert unseen, "names have pairs that never occur (e.g. 'qx')"
for a, b in [(0, 1), (1, 0), (5, 13), (26, 26)] + unseen[:2]:
    expected = (lam[0] / V + lam[1] * mle_models[0].next_token_probs([])
                + lam[2] * mle_models[1].next_token_probs([b])
                + lam[3] * mle_models[2].next_token_probs([a, b]))
    np.testing.assert_allclose(
        P3[a, b], expected, rtol=1e-12,
        err_msg=f"P[{a}, {b}] = P(c | {ntok.itos[a]}{ntok.itos[b]}) must be λ0/V + λ1 P(c) + "
                f"λ2 P(c | b) + λ3 P(c | a b), with a uniform 1/V for a context never seen")
np.testing.assert_allclose(P3.sum(axis=-1), 1.0, err_msg="each P[a, b] must sum to 1 over c")
ref_loss = -np.mean(np.log(P3[s_dev[:-2], s_dev[1:-1], s_dev[2:]]))
assert abs(trigram_loss(P3, s_dev) - ref_loss) < 1e-12, \
    "score every t >= 2: ids[t] given ids[t-2], ids[t-1], mean of -ln P (nats)"
one_hot = np.zeros((V, V, V))
one_hot[..., 0] = 1.0
assert trigram_loss(one_hot, np.array([0, 0, 0, 1])) == np.inf, \
    "score every t >= 2: ids[t] given ids[t-2], ids[t-1], mean of -ln P (nats)"
for bad in [(0.5, 0.5, 0.5, -0.5), (0.1, 0.2, 0.3), (0.25, 0.25, 0.25, 0.3)]:
    try:
        jelinek_mercer(s_train, V, bad)
    except ValueError as err:
        assert "lambdas" in str(err), f"the error should name lambdas: {err}"
    else:
        raise AssertionError(f"lambdas={bad} must be refused with a ValueError naming lambdas")
print(f"Jelinek-Mercer trigram, λ = {lam}: dev loss {trigram_loss(P3, s_dev):.4f}: correct")

# %% [markdown]
# ## Exercise 7: tune on dev, report test once (core, 20 min)
#
# Two smoothed trigram models now have knobs: add-k's `k` and Jelinek–Mercer's λ. Pick each
# knob by the **dev** loss over the grids below, and only then compute the **test** loss of
# the two chosen models, once. (The train loss would pick the least smoothing; the test
# split picks nothing: it only reports.)
#
# `tune_on_dev(train, dev)` returns `(best_k, best_lambdas, dev_losses)` with
# `dev_losses = {"add-k": {k: loss}, "jelinek-mercer": {lambdas: loss}}` over the whole
# grids; use `NGramLM(3, "add-k", k=k)` for add-k and your exercise 6 for Jelinek–Mercer.
# (Both exercises score the name *stream* as chapter 01's first sections do, so a name's
# first characters are predicted from the end of the previous name; the chapter's results
# table uses `lmlib.scoring.score`, which reads each name from a context of dots.)
# `test_losses(train, test, best_k, best_lambdas)` returns
# `{"add-k": loss, "jelinek-mercer": loss}` on the test stream (both scored on `t >= 2`).

# %%
K_GRID = [1.0, 0.3, 0.1, 0.03, 0.01]
LAMBDA_GRID = [(0.01, l1 / 100, l2 / 100, round(0.99 - l1 / 100 - l2 / 100, 2))
               for l1 in range(0, 35, 5) for l2 in range(0, 65, 5)]


def tune_on_dev(train, dev):
    """-> (best_k, best_lambdas, {"add-k": {k: dev loss}, "jelinek-mercer": {lambdas: dev loss}})."""
    ### BEGIN SOLUTION
    add_k = {k: NGramLM(3, "add-k", k=k).fit(train, V).cross_entropy(dev) for k in K_GRID}
    jm = {lam: trigram_loss(jelinek_mercer(train, V, lam), dev) for lam in LAMBDA_GRID}
    return min(add_k, key=add_k.get), min(jm, key=jm.get), {"add-k": add_k, "jelinek-mercer": jm}
    ### END SOLUTION


def test_losses(train, test, best_k, best_lambdas):
    """-> {"add-k": test loss, "jelinek-mercer": test loss} of the two tuned trigram models."""
    ### BEGIN SOLUTION
    return {"add-k": NGramLM(3, "add-k", k=best_k).fit(train, V).cross_entropy(test),
            "jelinek-mercer": trigram_loss(jelinek_mercer(train, V, best_lambdas), test)}
    ### END SOLUTION


# %% tags=["check"]
# Check: tune on dev, report test once
best_k, best_lambdas, dev_losses = tune_on_dev(s_train, s_dev)
ref_k = {k: NGramLM(3, "add-k", k=k).fit(s_train, V).cross_entropy(s_dev) for k in K_GRID}
mle_models = [NGramLM(n, "mle").fit(s_train, V) for n in (1, 2, 3)]
per_order = [m.log_probs(s_dev)[2 - i:] for i, m in enumerate(mle_models)]   # positions t >= 2
ref_jm = {lam: -np.mean(np.log(lam[0] / V + sum(l * np.exp(lp) for l, lp in zip(lam[1:], per_order))))
          for lam in LAMBDA_GRID}
assert set(dev_losses["add-k"]) == set(K_GRID) and set(dev_losses["jelinek-mercer"]) == set(LAMBDA_GRID), \
    "dev_losses must hold a dev loss for every k of K_GRID and every λ of LAMBDA_GRID"
for k in K_GRID:
    assert abs(dev_losses["add-k"][k] - ref_k[k]) < 1e-9, f"k = {k}: that is not the dev loss"
for lam in LAMBDA_GRID:
    assert abs(dev_losses["jelinek-mercer"][lam] - ref_jm[lam]) < 1e-9, f"λ = {lam}: that is not the dev loss"
assert best_k == min(ref_k, key=ref_k.get), f"k = {best_k} is not the k with the lowest dev loss"
assert best_lambdas == min(ref_jm, key=ref_jm.get), f"λ = {best_lambdas} is not the λ with the lowest dev loss"
final = test_losses(s_train, s_test, best_k, best_lambdas)
expected = {"add-k": NGramLM(3, "add-k", k=best_k).fit(s_train, V).cross_entropy(s_test),
            "jelinek-mercer": -np.mean(np.log(jelinek_mercer(s_train, V, best_lambdas)[
                s_test[:-2], s_test[1:-1], s_test[2:]]))}
for name in expected:
    assert abs(final[name] - expected[name]) < 1e-9, \
        f"{name}: {final[name]:.4f} is not the test loss of the model tuned on dev ({expected[name]:.4f})"
print(f"add-k:          k = {best_k}, dev {ref_k[best_k]:.4f}, test {final['add-k']:.4f}")
print(f"Jelinek-Mercer: λ = {best_lambdas}, dev {ref_jm[best_lambdas]:.4f}, "
      f"test {final['jelinek-mercer']:.4f}")
print("tune on dev, report test once: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** Why are `k` and λ chosen on dev, and the test loss computed only
# once, at the end? What would be wrong with choosing them on test, and what would choosing
# them on train pick?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** A knob chosen on a split is fitted to that split, so its loss there is
# optimistic. Choosing on test would make the reported test loss a selected minimum rather
# than an unbiased estimate of the loss on new text (and a later comparison with another
# model on the same test would be unfair). Choosing on train picks the least smoothing
# (k → 0, λ3 → its largest value): on its own text the model has seen every event, and
# smoothing only moves probability away from them. Dev is a held-out split spent on
# choices; test stays untouched until the end.
#
# **Rubric (2 points).** 1 point for "tuning on a split makes its loss optimistic / test
# must stay unbiased"; 1 point for "train would pick the least smoothing, because every
# event there was seen".
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** Interpolated Kneser–Ney and Jelinek–Mercer both mix a trigram
# with lower orders. Name the two ways in which Kneser–Ney's mix differs, and say which of
# the two makes the most difference for a context like `"qu"` followed by a character never
# seen after it.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** (1) The weight of the lower order is not a constant λ but depends on the
# context: $D\,N_{1+}(h\,\bullet)/c(h)$, large for a context followed by many distinct
# tokens or seen rarely, small for a frequent context with few continuations (like `"qu"`,
# almost always followed by a vowel). (2) The lower orders use continuation counts
# $N_{1+}(\bullet\,w)$ (in how many contexts $w$ appears) instead of raw frequencies. For an
# unseen continuation of `"qu"` the first matters most: Kneser–Ney gives it only the small
# mass freed by discounting the few seen continuations, while Jelinek–Mercer gives every
# context the same λ for the lower orders.
#
# **Rubric (2 points).** 1 point for naming both differences (context-dependent weight from
# discounting; continuation counts); 1 point for a justified choice for `"qu"`.
# ### END SOLUTION
