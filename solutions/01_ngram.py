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
# Five independent exercises. Write your code where it says `# YOUR CODE HERE`, then run the
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
s_train = names_stream(words_train, ntok)  # .emma.olivia. ... : '.' between and around names

# %% [markdown]
# ## Exercise 1: count bigrams
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
np.testing.assert_array_equal(small, [[0, 2, 0], [1, 0, 1], [1, 0, 0]])
N = count_bigrams(s_train, V)
assert N.shape == (V, V), f"expected shape {(V, V)}, got {N.shape}"
pairs = Counter(zip(s_train[:-1].tolist(), s_train[1:].tolist()))
assert all(N[a, b] == c for (a, b), c in pairs.items()), "a count differs from a plain Counter"
assert N.sum() == len(s_train) - 1
print("count bigrams: correct")

# %% [markdown]
# ## Exercise 2: add-k probabilities
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
np.testing.assert_allclose(add_k_probs(np.array([[2, 0], [0, 0]]), 0.5), [[5 / 6, 1 / 6], [0.5, 0.5]])
print("add-k probabilities: correct")

# %% [markdown]
# ## Exercise 3: perplexity of a held-out string
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
    assert abs(got - expected) < 1e-9 * expected, f"{word!r}: got {got}, expected {expected}"
assert abs(bigram_perplexity(np.full((V, V), 1 / V), "ab") - V) < 1e-9, \
    "a uniform model has perplexity V"
print("perplexity: correct")

# %% [markdown]
# ## Exercise 4: sampling with a given rng
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
got = [sample_name(P, np.random.default_rng(seed)) for seed in range(20)]
assert got == [sample_name(P, np.random.default_rng(seed)) for seed in range(20)], \
    "the same seed must give the same name"
# NGramLM.sample draws each token with rng.choice(V, p=...) too: the same seed, the same name
expected = []
for seed in range(20):
    ids = lm.sample(100, np.random.default_rng(seed), context=[0])
    expected.append(ntok.decode(ids[:np.argmax(ids == 0)]))
assert got == expected, f"got {got[:5]}..., expected {expected[:5]}..."
deterministic = np.zeros((V, V))
deterministic[0, 1], deterministic[1, 2], deterministic[2, 0] = 1, 1, 1   # . -> a -> b -> .
assert sample_name(deterministic, np.random.default_rng(0)) == "ab"
print("sampling: correct")

# %% [markdown]
# ## Exercise 5: Kneser–Ney continuation counts
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
np.testing.assert_array_equal(continuation_counts(np.array([0, 1, 0, 1, 2, 0]), 4), [2, 1, 1, 0])
cont = continuation_counts(s_train, V)
distinct = set(zip(s_train[:-1].tolist(), s_train[1:].tolist()))
brute = [sum(1 for _, b in distinct if b == w) for w in range(V)]
np.testing.assert_array_equal(cont, brute)
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
