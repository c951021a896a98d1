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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/05_attention.ipynb)

# %% [markdown]
# # 05 · Attention: exercises
#
# Five exercises on the pieces of chapter 05. Write your code where it says
# `# YOUR CODE HERE` (and delete the `raise NotImplementedError()`), then run the check cell
# below it. The exercises are independent: each check compares your function with the
# canonical version in `lmlib.scratch.attention` (which you may read, but try without it).

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
import math

import numpy as np

import lmlib
from lmlib.scratch import attention as A

lmlib.setup()
rng = np.random.default_rng(0)

# %% [markdown]
# ## Exercise 1: scaled dot-product attention
#
# Write `attention(q, k, v)` for arrays `q` `(..., T_q, d)`, `k` `(..., T_k, d)`,
# `v` `(..., T_k, d_v)`:
#
# $$\mathrm{weights} = \mathrm{softmax}\!\left(\frac{q k^\top}{\sqrt{d}}\right), \qquad
#   \mathrm{out} = \mathrm{weights}\; v$$
#
# with the softmax over the last axis (the keys). Subtract each row's maximum before `np.exp`
# so that large scores do not overflow. Return `(out, weights)`. Hint: `np.swapaxes(k, -1, -2)`
# transposes the last two axes whatever the leading ones.

# %%
def attention(q, k, v):
    """q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v) -> (out (..., T_q, d_v),
    weights (..., T_q, T_k))."""
    ### BEGIN SOLUTION
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights
    ### END SOLUTION


# %% tags=["check"]
# Check: scaled dot-product attention
x = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
out, w = attention(x, x, x)
np.testing.assert_allclose(w, [[0.474, 0.526], [0.4354, 0.5646]], atol=5e-4)
np.testing.assert_allclose(out, [[0.2578, 0.3578, 0.4578], [0.2694, 0.3694, 0.4694]], atol=5e-5)
q, k, v = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 7, 4)), rng.standard_normal((2, 3, 7, 2))
for mine, ref in zip(attention(q, k, v), A.scaled_dot_product_attention(q, k, v)):
    np.testing.assert_allclose(mine, ref, rtol=1e-10)
big = 1000 * rng.standard_normal((4, 8))
assert np.isfinite(attention(big, big, big)[0]).all(), "subtract the row maximum before exp"
print("attention: correct")

# %% [markdown]
# ## Exercise 2: the causal mask
#
# (a) Write `causal_mask(T)`: a boolean `(T, T)` array whose entry `[i, j]` is `True` when
# query `i` may attend to key `j`, that is when `j <= i`.
#
# (b) Write `causal_attention(q, k, v)` for `q`, `k`, `v` of shape `(T, d)`: like attention,
# but the scores of forbidden pairs are set to `-np.inf` before the softmax (use
# `np.where(mask, scores, -np.inf)`), so that their weights are exactly 0.

# %%
def causal_mask(T):
    ### BEGIN SOLUTION
    return np.tril(np.ones((T, T), dtype=bool))
    ### END SOLUTION


def causal_attention(q, k, v):
    ### BEGIN SOLUTION
    T = q.shape[0]
    scores = q @ k.T / math.sqrt(q.shape[-1])
    scores = np.where(causal_mask(T), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights
    ### END SOLUTION


# %% tags=["check"]
# Check: causal mask
m = causal_mask(5)
assert m.dtype == bool and m.shape == (5, 5), "a boolean (T, T) array"
np.testing.assert_array_equal(m, A.causal_mask(5))
q, k, v = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
out, w = causal_attention(q, k, v)
ref_out, ref_w = A.scaled_dot_product_attention(q, k, v, A.causal_mask(6))
np.testing.assert_allclose(w, ref_w, rtol=1e-10)
np.testing.assert_allclose(out, ref_out, rtol=1e-10)
assert np.all(w[np.triu_indices(6, 1)] == 0), "no weight on the future"
np.testing.assert_allclose(out[0], v[0])  # the first position can only see itself
print("causal mask: correct")

# %% [markdown]
# ## Exercise 3: splitting and merging heads
#
# Multi-head attention computes the queries of all $H$ heads with one matrix product, giving
# `(B, T, D)`, then splits the last axis into `H` slices of width `d = D // H`:
#
# - `split_heads(x, H)`: `(B, T, D) -> (B, H, T, d)`, where head `h` holds the columns
#   `h*d ... (h+1)*d - 1` (reshape to `(B, T, H, d)`, then move the head axis forward);
# - `merge_heads(x)`: `(B, H, T, d) -> (B, T, H*d)`, the inverse.
#
# Use only `reshape` and `transpose` (no loops).

# %%
def split_heads(x, n_heads):
    ### BEGIN SOLUTION
    B, T, D = x.shape
    return x.reshape(B, T, n_heads, D // n_heads).transpose(0, 2, 1, 3)
    ### END SOLUTION


def merge_heads(x):
    ### BEGIN SOLUTION
    B, H, T, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, H * d)
    ### END SOLUTION


# %% tags=["check"]
# Check: splitting and merging heads
x = rng.standard_normal((2, 5, 12))
h = split_heads(x, 3)
assert h.shape == (2, 3, 5, 4), f"expected (2, 3, 5, 4), got {h.shape}"
np.testing.assert_array_equal(h[:, 2], x[..., 8:12])
np.testing.assert_array_equal(h, A.split_heads(x, 3))
np.testing.assert_array_equal(merge_heads(h), x)
np.testing.assert_array_equal(merge_heads(split_heads(x, 4)), x)
print("split and merge heads: correct")

# %% [markdown]
# ## Exercise 4: sinusoidal positions
#
# Write `sinusoidal_positions(T, d)` (even `d`), the `(T, d)` matrix with
#
# $$p_{t, 2i} = \sin(t\,\omega_i), \qquad p_{t, 2i+1} = \cos(t\,\omega_i), \qquad
#   \omega_i = 10000^{-2i/d}$$
#
# for positions $t = 0, \dots, T-1$ and $i = 0, \dots, d/2 - 1$. Vectorise it: build a
# `(T, d/2)` matrix of angles with broadcasting, then fill the even and odd columns.

# %%
def sinusoidal_positions(T, d):
    ### BEGIN SOLUTION
    t = np.arange(T)[:, None]
    omega = 10000.0 ** (-np.arange(0, d, 2) / d)
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(t * omega)
    pe[:, 1::2] = np.cos(t * omega)
    return pe
    ### END SOLUTION


# %% tags=["check"]
# Check: sinusoidal positions
pe = sinusoidal_positions(50, 16)
assert pe.shape == (50, 16)
np.testing.assert_allclose(pe, A.sinusoidal_positions(50, 16), atol=1e-12)
np.testing.assert_allclose(pe[0], np.tile([0.0, 1.0], 8))            # position 0
np.testing.assert_allclose(pe[3] @ pe[10], pe[30] @ pe[37], atol=1e-9)  # only the distance matters
print("sinusoidal positions: correct")

# %% [markdown]
# ## Exercise 5: the backward pass of one attention head
#
# For one head with `q` `(T_q, d)`, `k` `(T_k, d)`, `v` `(T_k, d_v)`, the forward is
# $S = q k^\top / \sqrt d$, $P = \mathrm{softmax}(S)$ row by row, $O = P v$. Given
# `dout` $= \partial L / \partial O$ and the forward's weights $P$, return `(dq, dk, dv)`:
#
# $$dv = P^\top dO, \quad dP = dO\, v^\top, \quad
#   dS = P \odot \big(dP - \textstyle\sum_j (dP \odot P)_{:, j}\big), \quad
#   dq = dS\, k / \sqrt d, \quad dk = dS^\top q / \sqrt d$$
#
# (the sum runs over each row and broadcasts back). The check compares with a numerical
# gradient, so a mask in the forward (which makes some $P_{ij} = 0$) needs nothing special.

# %%
def attention_backward(dout, q, k, v, weights):
    """dout (T_q, d_v), q (T_q, d), k (T_k, d), v (T_k, d_v), weights (T_q, T_k)
    -> (dq, dk, dv) shaped like q, k, v."""
    ### BEGIN SOLUTION
    scale = 1.0 / math.sqrt(q.shape[-1])
    dv = weights.T @ dout
    dP = dout @ v.T
    dS = weights * (dP - (dP * weights).sum(axis=-1, keepdims=True))
    return scale * dS @ k, scale * dS.T @ q, dv
    ### END SOLUTION


# %% tags=["check"]
# Check: attention backward for one head
from lmlib.scratch.gradcheck import numerical_gradient


q, k, v = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
dout = rng.standard_normal((4, 2))
for mask in (None, np.tril(np.ones((4, 5), dtype=bool))):
    out, w = A.scaled_dot_product_attention(q, k, v, mask)
    grads = attention_backward(dout, q, k, v, w)
    loss = lambda m=mask: float((A.scaled_dot_product_attention(q, k, v, m)[0] * dout).sum())
    for name, g, x in zip(("dq", "dk", "dv"), grads, (q, k, v)):
        assert g.shape == x.shape, f"{name} must have shape {x.shape}, got {g.shape}"
        np.testing.assert_allclose(g, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{name} does not match the numerical gradient")
print("attention backward: correct")
