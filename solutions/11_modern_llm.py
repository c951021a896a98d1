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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/11_modern_llm.ipynb)

# %% [markdown]
# # 11 · From GPT-2 to a modern LLM: exercises
#
# Three exercises on the pieces of chapter 11, then written questions. Write your code where it says
# `# YOUR CODE HERE` (and delete the `raise NotImplementedError()`), then run the check cell
# below it. The exercises are independent; each check compares your function with the
# canonical version in `lmlib.scratch.llama` (which you may read, but try without it).

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
import numpy as np

import lmlib
import lmlib.scratch.llama as L
from lmlib.scratch import attention as A
from lmlib.scratch.gradcheck import numerical_gradient

lmlib.setup()
rng = np.random.default_rng(0)

# %% [markdown]
# ## Exercise 1: RoPE on queries and keys (core, 25 min)
#
# (a) Write `rope(x, base=10000.0)` for `x` of shape `(..., T, d)`: rotate position `t`
# (`0 … T-1`) of every head by RoPE in the **half layout** of Hugging Face's Llama. Pair
# `i` (for `i < d/2`) is features `i` and `i + d/2`; call them `a` and `b`. Pair `i` at
# position `t` turns by the angle
#
# $$\phi_{t,i} = t\,\theta_i,\qquad \theta_i = \text{base}^{-2i/d},$$
#
# that is `a' = a cos φ − b sin φ` and `b' = a sin φ + b cos φ`, and the output puts all the
# `a'` first, then all the `b'`.
#
# (b) Write `rope_attention(q, k, v)` for `q`, `k`, `v` of shape `(H, T, d)`: causal attention
# (`A.scaled_dot_product_attention` with `A.causal_mask(T)`) after RoPE. Which of the three
# should be rotated? (Positions should change which keys a query looks at, not what the
# values say.) Return the output `(H, T, d)`.

# %%
def rope(x, base=10000.0):
    """x (..., T, d) -> x rotated by positions 0..T-1, pairs (i, i + d/2)."""
    ### BEGIN SOLUTION
    T, d = x.shape[-2:]
    theta = base ** (-np.arange(0, d, 2) / d)          # (d/2,) one speed per pair
    angle = np.arange(T)[:, None] * theta              # (T, d/2)
    cos, sin = np.cos(angle), np.sin(angle)
    a, b = x[..., :d // 2], x[..., d // 2:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    ### END SOLUTION


def rope_attention(q, k, v):
    """q, k, v (H, T, d) -> causal attention output (H, T, d) with RoPE."""
    ### BEGIN SOLUTION
    q, k = rope(q), rope(k)
    out, _ = A.scaled_dot_product_attention(q, k, v, A.causal_mask(q.shape[-2]))
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: RoPE
T, d = 6, 8
one = np.zeros((T, d))
one[:, 1] = 1.0                                         # only feature 1: pair (1, 5)
out = rope(one)
assert out.shape == (T, d), f"rope must keep the shape (T, d) = {(T, d)}, got {out.shape}"
assert np.allclose(np.delete(out, [1, 5], axis=-1), 0), \
    "wrong pairing: feature i pairs with feature i + d/2 (the half layout), not its neighbour"
np.testing.assert_allclose(out[0], one[0], atol=1e-12,
                           err_msg="position 0 must not be turned (angle 0)")
np.testing.assert_allclose(np.arctan2(out[:, 5], out[:, 1]), np.arange(T) * 10000 ** (-2 / d),
                           atol=1e-10, err_msg="wrong angles: position t turns pair i by "
                                               "t * base ** (-2i / d)")
x = rng.standard_normal((2, 3, 9, 16))
np.testing.assert_allclose(rope(x), L.rope(x, layout="half"), atol=1e-10,
                           err_msg="rope differs from lmlib.scratch.llama.rope")
np.testing.assert_allclose(rope(x, base=500.0), L.rope(x, base=500.0), atol=1e-10,
                           err_msg="rope must use its base argument")
print("RoPE: correct")

# %% tags=["check"]
# Check: RoPE attention
q, k, v = (rng.standard_normal((2, 7, 8)) for _ in range(3))
out = rope_attention(q, k, v)
mask = A.causal_mask(7)
ref = A.scaled_dot_product_attention(L.rope(q), L.rope(k), v, mask)[0]
values_turned = A.scaled_dot_product_attention(L.rope(q), L.rope(k), L.rope(v), mask)[0]
assert not np.allclose(out, values_turned), \
    "rotate q and k, not v: positions enter through the scores, the values carry content"
for name, wrong in (("k", (L.rope(q), k)), ("q", (q, L.rope(k)))):
    assert not np.allclose(out, A.scaled_dot_product_attention(*wrong, v, mask)[0]), \
        f"rotate q and k: {name} was not rotated"
np.testing.assert_allclose(out, ref, atol=1e-10,
                           err_msg="rope_attention: causal attention of rope(q), rope(k), v")
print("RoPE attention: correct")

# %% [markdown]
# ## Exercise 2: `repeat_kv` and grouped-query attention (core, 15 min)
#
# (a) Write `repeat_kv(kv, n_rep)`: `(B, H_kv, T, d) -> (B, H_kv * n_rep, T, d)`, where the
# key/value head `j` serves the query heads `j * n_rep, …, (j + 1) * n_rep - 1` (so heads
# come out as `0, 0, 1, 1, …` for `n_rep = 2`, not `0, 1, 0, 1, …`).
#
# (b) Write `grouped_query_attention(q, k, v)` for `q` `(B, H, T, d)` and `k`, `v`
# `(B, H_kv, T, d)`: repeat the keys and the values so that every query head has its group's
# head, then causal attention (`A.scaled_dot_product_attention` with `A.causal_mask(T)`).
# Return the output `(B, H, T, d)`.

# %%
def repeat_kv(kv, n_rep):
    ### BEGIN SOLUTION
    return np.repeat(kv, n_rep, axis=1)
    ### END SOLUTION


def grouped_query_attention(q, k, v):
    ### BEGIN SOLUTION
    n_rep = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
    out, _ = A.scaled_dot_product_attention(q, k, v, A.causal_mask(q.shape[2]))
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: repeat_kv
kv = rng.standard_normal((2, 3, 5, 4))
out = repeat_kv(kv, 2)
assert out.shape == (2, 6, 5, 4), \
    f"repeat_kv: (B, H_kv, T, d) -> (B, H_kv * n_rep, T, d) = (2, 6, 5, 4), got {out.shape}"
assert np.array_equal(out[:, 1], kv[:, 0]) and np.array_equal(out[:, 2], kv[:, 1]), \
    "kv head j serves query heads j*n_rep ... (j+1)*n_rep - 1: order 0, 0, 1, 1, ... " \
    "(np.repeat, not np.tile)"
np.testing.assert_array_equal(out, L.repeat_kv(kv, 2))
np.testing.assert_array_equal(repeat_kv(kv, 1), kv)
print("repeat_kv: correct")

# %% tags=["check"]
# Check: grouped-query attention
for H, H_kv in ((4, 2), (8, 2), (6, 1), (3, 3)):
    q = rng.standard_normal((2, H, 6, 4))
    k, v = rng.standard_normal((2, 2, H_kv, 6, 4))
    try:
        out = grouped_query_attention(q, k, v)
    except ValueError as err:
        raise AssertionError(f"H={H}, H_kv={H_kv}: keys and values must both be repeated "
                             f"H // H_kv = {H // H_kv} times to give H heads ({err})") from None
    assert out.shape == q.shape, f"the output has the queries' shape {q.shape}, got {out.shape}"
    # multi-head attention whose key/value heads are copies: query head h uses kv head
    # h // (H // H_kv)
    copies = [h // (H // H_kv) for h in range(H)]
    mha = A.scaled_dot_product_attention(q, k[:, copies], v[:, copies], A.causal_mask(6))[0]
    np.testing.assert_allclose(out, mha, atol=1e-10, err_msg=(
        f"H={H}, H_kv={H_kv}: grouped-query attention must equal causal multi-head attention "
        f"whose kv heads are copies (query head h uses kv head h // (H // H_kv))"))
print("grouped-query attention: correct")

# %% [markdown]
# ## Exercise 3: the RMSNorm backward (core, 20 min)
#
# `y = x * r * weight` with `r = 1 / sqrt(mean(x ** 2) + eps)`, the mean over the last axis
# `C`, for `x` of shape `(..., C)` and `weight` `(C,)`. Given `dout = dL/dy`, return
# `(dx, dweight)`. Write `g = dout * weight`; then
#
# $$\frac{\partial L}{\partial x} = r\Big(g - x\, r^2\, \operatorname{mean}(g \odot x)\Big),
# \qquad \frac{\partial L}{\partial \text{weight}} = \sum_{\text{positions}} \text{dout}\odot x\, r$$
#
# (the second term of `dx` is there because `r` depends on every `x_j`:
# `dr/dx_j = -r^3 x_j / C`). `dweight` has the shape of `weight`: sum over every axis but
# the last.

# %%
def rms_norm_backward(dout, x, weight, eps=1e-6):
    """dout, x (..., C), weight (C,) -> (dx (..., C), dweight (C,))."""
    ### BEGIN SOLUTION
    r = 1.0 / np.sqrt(np.mean(x ** 2, axis=-1, keepdims=True) + eps)
    g = dout * weight
    dx = r * (g - x * r ** 2 * np.mean(g * x, axis=-1, keepdims=True))
    dweight = np.sum(dout * x * r, axis=tuple(range(x.ndim - 1)))
    return dx, dweight
    ### END SOLUTION


# %% tags=["check"]
# Check: RMSNorm backward
x = rng.standard_normal((2, 3, 5))
w = rng.standard_normal(5)
dout = rng.standard_normal((2, 3, 5))
dx, dw = rms_norm_backward(dout, x, w)
assert dx.shape == x.shape, f"dx must have the shape of x {x.shape}, got {np.shape(dx)}"
assert np.shape(dw) == w.shape, \
    f"dweight must have the shape of weight {w.shape}: sum over every position, got {np.shape(dw)}"


def loss():
    return float(np.sum(L.rms_norm(x, w) * dout))


np.testing.assert_allclose(dw, numerical_gradient(loss, w), atol=1e-7, err_msg=(
    "dweight is wrong: it is the sum over positions of dout * x * r"))
np.testing.assert_allclose(dx, numerical_gradient(loss, x), atol=1e-7, err_msg=(
    "dx is wrong: g = dout * weight, and r depends on every x_j (the second term, with a "
    "mean over C)"))
print("RMSNorm backward: correct (equal to central differences)")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** A model has 32 query heads of width 128 and 32 layers. Going
# from 32 to 8 key/value heads, by what factor does its KV cache shrink, and by roughly what
# factor do its attention parameters shrink? Why do the two factors differ?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The cache holds one key and one value vector per kv head, layer and
# token: it shrinks by exactly 32 / 8 = 4. The attention parameters are `q_proj` and `o_proj`
# (each C × C, unchanged) plus `k_proj` and `v_proj` (each C × C before, C × C/4 after): from
# 4 C² to 2.5 C², a factor of 1.6, and the whole model (with its feed-forward layers and
# embeddings) shrinks much less. The cache depends only on the keys and values; the
# parameters also include the queries and the output projection, which GQA leaves alone.
#
# **Rubric (2 points).** 1 point for the factor 4 for the cache; 1 point for the smaller
# parameter saving with the reason (only `k_proj`/`v_proj` shrink; `q_proj`, `o_proj` and
# the MLP do not).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** The chapter trained a Llama at context 64 and scored it on
# windows of 128: it ran, but its loss was worse than on windows of 64. Why can a model with
# RoPE run on longer windows at all, when the GPT cannot, and why does that not make it
# good at them?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** RoPE has no parameters per position: the rotation angles are computed
# from the position by a formula, so nothing in the weights limits the length, while the
# GPT's learned table `wpe` has one trained row per position and none beyond 64. But the
# Llama's heads learned what to do with the offsets and angles seen in training (offsets up
# to 63); at longer windows queries meet keys at offsets, and rotations, they never saw, and
# their scores there are not trained, so the loss rises. Longer contexts need training (or
# fine-tuning) at that length, possibly with the rotation stretched (position
# interpolation, NTK scaling, YaRN).
#
# **Rubric (2 points).** 1 point for "the angles come from a formula, no table, no
# parameters per position"; 1 point for "offsets/angles beyond the trained ones were never
# learned; it needs training at the length".
# ### END SOLUTION
