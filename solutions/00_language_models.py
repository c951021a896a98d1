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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/00_language_models.ipynb)

# %% [markdown]
# # 00 · Exercises: what is a language model?
#
# Fill in each function where it says `# YOUR CODE HERE`, then run the **check** cell under
# it. A check cell prints `correct` when your code is right and stops with an error that
# tells you what is wrong otherwise. Use NumPy; no loops over tokens are needed.

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

import numpy as np

from lmlib import data

# %% [markdown]
# ## Exercise 1: perplexity from log-probabilities (core, 5 min)
#
# A model gave the actual tokens of a text the natural-log probabilities `logprobs`.
# Return its perplexity, $\exp\left(-\frac{1}{N}\sum_t \ln p_t\right)$.

# %%
def perplexity(logprobs: np.ndarray) -> float:
    """Perplexity from the log-probabilities (nats) of the actual tokens, shape (N,)."""
    ### BEGIN SOLUTION
    return float(np.exp(-np.mean(logprobs)))
    ### END SOLUTION


# %% tags=["check"]
# Check: perplexity
assert math.isclose(perplexity(np.log([0.5, 0.5, 0.5])), 2.0), "three tokens at p = 1/2: perplexity 2"
assert math.isclose(perplexity(np.log(np.full(10, 1 / 27))), 27.0), "uniform over 27: perplexity 27"
assert math.isclose(perplexity(np.log([0.5, 0.125])), 4.0), "geometric mean of 1/p"
print("perplexity: correct")

# %% [markdown]
# ## Exercise 2: the entropy of a distribution (core, 10 min)
#
# The entropy $H(p) = -\sum_i p_i \log_2 p_i$ (in **bits**) is the lowest cross-entropy any
# model can reach on text drawn from $p$. Terms with $p_i = 0$ count as 0. Return $H(p)$.

# %%
def entropy_bits(p: np.ndarray) -> float:
    """Entropy in bits of the distribution p, shape (V,); 0 log 0 counts as 0."""
    ### BEGIN SOLUTION
    p = np.asarray(p, dtype=np.float64)
    nonzero = p[p > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())
    ### END SOLUTION


# %% tags=["check"]
# Check: entropy
assert math.isclose(entropy_bits(np.array([0.5, 0.5])), 1.0), "a fair coin has 1 bit"
assert math.isclose(entropy_bits(np.full(8, 1 / 8)), 3.0), "uniform over 8: 3 bits"
assert entropy_bits(np.array([1.0, 0.0, 0.0])) == 0.0, "a certain outcome has 0 bits (and 0 log 0 = 0)"
assert math.isclose(entropy_bits(np.array([0.5, 0.25, 0.25])), 1.5), \
    "weight each surprisal -log2 p_i by its probability p_i (1.5 bits here)"
print("entropy: correct")

# %% [markdown]
# ## Exercise 3: a unigram model with add-k smoothing (core, 10 min)
#
# Count each token id in `ids` and return the smoothed probabilities
# $P(w) = \dfrac{\text{count}(w) + k}{N + kV}$ for all $V$ = `vocab_size` ids. With
# $k > 0$ no token gets probability zero, even one never seen in training.

# %%
def unigram(ids: np.ndarray, vocab_size: int, k: float = 1.0) -> np.ndarray:
    """Add-k unigram probabilities, shape (vocab_size,)."""
    ### BEGIN SOLUTION
    counts = np.bincount(ids, minlength=vocab_size)
    return (counts + k) / (counts.sum() + k * vocab_size)
    ### END SOLUTION


# %% tags=["check"]
# Check: unigram
p = unigram(np.array([0, 0, 1]), vocab_size=3, k=1.0)
assert p.shape == (3,), f"one probability per vocabulary entry, got shape {p.shape}"
np.testing.assert_allclose(p, [3 / 6, 2 / 6, 1 / 6], err_msg="(count + k) / (N + kV)")
np.testing.assert_allclose(unigram(np.array([2, 2]), 4, k=0.5), [0.5 / 4, 0.5 / 4, 2.5 / 4, 0.5 / 4],
                           err_msg="use the k you are given (here k = 0.5): (count + k) / (N + kV)")
np.testing.assert_allclose(unigram(np.array([1, 1]), 3, k=0.0), [0, 1, 0],
                           err_msg="k = 0 is the unsmoothed relative frequency count / N")
print("unigram: correct")

# %% [markdown]
# ## Exercise 4: bits per character of Shakespeare (core, 10 min)
#
# Fit your add-k unigram (k = 1) on the **train** ids and return its loss on the **val**
# ids in **bits** per character. On Shakespeare every character of val also occurs in
# train, so k barely matters there (the check also tries a split where it does). Reference:
# 3.3473 nats, about 4.83 bits (measured by chapter 00 for the unsmoothed unigram).

# %%
tok, train_ids, val_ids = data.shakespeare()


def unigram_bits_per_char(train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int) -> float:
    """Validation cross-entropy in bits/char of an add-1 unigram fitted on train_ids."""
    ### BEGIN SOLUTION
    p = unigram(train_ids, vocab_size, k=1.0)
    return float(-np.mean(np.log2(p[val_ids])))
    ### END SOLUTION


# %% tags=["check"]
# Check: bits per character
# a val character never seen in train: only smoothing (k = 1) keeps the loss finite
tiny = unigram_bits_per_char(np.array([0, 0, 1]), np.array([2, 0]), 3)
assert np.isfinite(tiny), "a character unseen in train got probability 0: smooth with k = 1"
bits = unigram_bits_per_char(train_ids, val_ids, tok.vocab_size)
counts = np.bincount(train_ids, minlength=tok.vocab_size)
reference = -np.mean(np.log2((counts[val_ids] + 1) / (len(train_ids) + tok.vocab_size)))
assert not math.isclose(bits, reference * math.log(2), rel_tol=1e-6), \
    "this is the loss in nats: bits = nats / ln 2"
assert math.isclose(bits, reference, rel_tol=1e-9), \
    f"expected {reference:.6f} bits/char (add-1 unigram fitted on train, scored on val), got {bits:.6f}"
assert math.isclose(tiny, (math.log2(6) + 1) / 2), \
    f"train [0, 0, 1], val [2, 0]: P = (1/6, 3/6), expected {(math.log2(6) + 1) / 2:.4f} bits, got {tiny:.4f}"
print(f"unigram on Shakespeare val: {bits:.4f} bits/char: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** Why must a model be scored on text it was not fitted on? Name a
# model that would reach a loss near 0 on its own training text and still be useless on new
# text.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The loss on the training text rewards memorising: a model that stores the
# training text and predicts its next character with probability 1 (for example an n-gram
# model of very high order, or a lookup table of the whole text) is certain and right on
# every training position, so its loss is about 0, but on new text its contexts were never
# seen and it has nothing sensible to say (with maximum likelihood, probability 0 and an
# infinite loss). Held-out text measures what we want: how well the model predicts text it
# has not seen, i.e. how well it generalises.
#
# **Rubric (2 points).** 1 point for "training loss rewards memorising / overfitting, we
# want generalisation to new text"; 1 point for a concrete memorising model (a lookup table,
# a very high-order n-gram, a huge network trained long) with what happens on new text.
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** On Shakespeare, the unigram with k = 0 and the one with k = 1
# have almost the same val loss (they differ in the sixth decimal place). Predict what happens to
# the k = 0 model's loss on a val text that contains one character never seen in training,
# and explain why a single such character is enough.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** With k = 0 that character gets probability 0, so its term
# $-\ln p_t$ is infinite and the mean over all val positions is infinite too (perplexity
# infinite): the probability of the whole text is a product of the per-token probabilities
# (the chain rule), and one factor 0 makes the product 0. With k = 1 every character keeps a
# probability of at least $1/(N + V)$, so the loss stays finite and hardly moves when all
# val characters were seen (their counts are in the hundreds of thousands).
#
# **Rubric (2 points).** 1 point for "the loss becomes infinite"; 1 point for the reason
# (probability 0, log 0, the product of the chain rule / the mean of the logs).
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** A blog post says: "GPT-2 looks only at the previous 1,024 tokens,
# so it is just an n-gram model with n = 1,025." What is right and what is wrong about this?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Right: with a fixed context window the model does make a Markov
# assumption of order 1,024 (tokens further back cannot influence the prediction), as an
# n-gram model does. Wrong: an n-gram model estimates each context's distribution from the
# counts of that exact context, so almost every 1,024-token context is unseen and it must
# back off; a GPT computes its prediction with shared parameters from any context,
# including contexts it never saw, generalising through learned similarity. The difference
# is not the factorisation (both use the exact chain rule with a truncated history) but how
# the conditional distributions are estimated.
#
# **Rubric (2 points).** 1 point for "the fixed window is a Markov assumption of that order";
# 1 point for the difference in estimation (counts of exact contexts vs a parametric
# function that generalises to unseen contexts).
# ### END SOLUTION
