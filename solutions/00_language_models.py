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
# ## Exercise 1: perplexity from log-probabilities
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
# ## Exercise 2: the entropy of a distribution
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
assert math.isclose(entropy_bits(np.array([0.5, 0.25, 0.25])), 1.5)
print("entropy: correct")

# %% [markdown]
# ## Exercise 3: a unigram model with add-k smoothing
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
np.testing.assert_allclose(unigram(np.array([2, 2]), 4, k=0.5), [0.5 / 4, 0.5 / 4, 2.5 / 4, 0.5 / 4])
print("unigram: correct")

# %% [markdown]
# ## Exercise 4: bits per character of Shakespeare
#
# Fit your add-k unigram (k = 1) on the Shakespeare **train** ids and return its loss on the
# **val** ids in **bits** per character. (Reference: 3.3473 nats, so about 4.83 bits.)

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
bits = unigram_bits_per_char(train_ids, val_ids, tok.vocab_size)
assert abs(bits - 3.3473 / math.log(2)) < 0.01, f"expected about 4.829 bits/char, got {bits:.4f}"
print(f"unigram on Shakespeare val: {bits:.4f} bits/char: correct")
