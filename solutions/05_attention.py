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
# Seven exercises on the pieces of chapter 05, and three written questions. Write your code
# where it says `# YOUR CODE HERE` (and delete the `raise NotImplementedError()`), then run
# the check cell below it. The exercises are independent: each check compares your function
# with PyTorch or with the canonical version in `lmlib.scratch.attention` (which you may
# read, but try without it). Exercises 6 and 7 are the chapter's build-it tasks: multi-head
# attention equal to `torch.nn.MultiheadAttention`, and finding a previous-token head in a
# trained model.
#
# | exercise | level | minutes |
# |---|---|---|
# | 1. scaled dot-product attention | core | 10 |
# | 2. the causal mask | core | 10 |
# | 3. splitting and merging heads | core | 10 |
# | 4. sinusoidal positions | core | 10 |
# | 5. the backward pass of one head | stretch | 30 |
# | 6. multi-head attention with a key-padding mask, equal to PyTorch | core | 35 |
# | 7. find the previous-token head of a trained model | core | 15 |

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
# ## Exercise 1: scaled dot-product attention (core, 10 min)
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
np.testing.assert_allclose(w, [[0.474, 0.526], [0.4354, 0.5646]], atol=5e-4,
                           err_msg="the worked example's weights: softmax over the keys (last "
                                   "axis) of q k^T / sqrt(d)")
np.testing.assert_allclose(out, [[0.2578, 0.3578, 0.4578], [0.2694, 0.3694, 0.4694]], atol=5e-5)
q, k, v = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 7, 4)), rng.standard_normal((2, 3, 7, 2))
for mine, ref in zip(attention(q, k, v), A.scaled_dot_product_attention(q, k, v)):
    np.testing.assert_allclose(mine, ref, rtol=1e-10,
                               err_msg="differs from lmlib's attention on batched heads")
big = 1000 * rng.standard_normal((4, 8))
assert np.isfinite(attention(big, big, big)[0]).all(), "subtract the row maximum before exp"
print("attention: correct")

# %% [markdown]
# ## Exercise 2: the causal mask (core, 10 min)
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
np.testing.assert_array_equal(m, A.causal_mask(5),
                              err_msg="query i may attend to keys j <= i (itself included)")
q, k, v = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
out, w = causal_attention(q, k, v)
ref_out, ref_w = A.scaled_dot_product_attention(q, k, v, A.causal_mask(6))
assert np.all(w[np.triu_indices(6, 1)] == 0), "no weight on the future"
np.testing.assert_allclose(w, ref_w, rtol=1e-10, err_msg="the causal weights differ from lmlib's")
np.testing.assert_allclose(out, ref_out, rtol=1e-10)
np.testing.assert_allclose(out[0], v[0])  # the first position can only see itself
print("causal mask: correct")

# %% [markdown]
# ## Exercise 3: splitting and merging heads (core, 10 min)
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
np.testing.assert_array_equal(h[:, 2], x[..., 8:12],
                              err_msg="head 2 must hold the columns 8..11 of every position")
np.testing.assert_array_equal(h, A.split_heads(x, 3))
assert np.shape(merge_heads(h)) == (2, 5, 12), "merge_heads: (B, H, T, d) -> (B, T, H*d)"
np.testing.assert_array_equal(merge_heads(h), x, err_msg="merge_heads must undo split_heads")
np.testing.assert_array_equal(merge_heads(split_heads(x, 4)), x,
                              err_msg="merge_heads must undo split_heads")
print("split and merge heads: correct")

# %% [markdown]
# ## Exercise 4: sinusoidal positions (core, 10 min)
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
np.testing.assert_allclose(pe[0], np.tile([0.0, 1.0], 8),
                           err_msg="position 0: sin(0) = 0 in the even columns, cos(0) = 1 in "
                                   "the odd ones")
np.testing.assert_allclose(pe, A.sinusoidal_positions(50, 16), atol=1e-12,
                           err_msg="the frequencies differ: omega_i = 10000^(-2i/d)")
np.testing.assert_allclose(pe[3] @ pe[10], pe[30] @ pe[37], atol=1e-9)  # only the distance matters
print("sinusoidal positions: correct")

# %% [markdown]
# ## Exercise 5: the backward pass of one attention head (stretch, 30 min)
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


# %% [markdown]
# ## Exercise 6: multi-head attention with a key-padding mask, equal to PyTorch (core, 35 min)
#
# Build the whole multi-head self-attention layer, as `torch.nn.MultiheadAttention` computes
# it. `x` is `(B, T, D)`; `params` holds four `(D, D)` matrices used as `x @ W` and four
# biases `(D,)`: `w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o`. With `n_head` heads of width
# `d = D / n_head`:
#
# 1. `q = x @ w_q + b_q` (and `k`, `v` likewise), each split into heads, `(B, H, T, d)`
#    (head `h` takes the columns `h*d ... (h+1)*d - 1`);
# 2. scores `q k^T / sqrt(d)`, `(B, H, T, T)`; a key that is **padding** gets `-inf`, so
#    weight 0. `pad` is a boolean `(B, T)` array, `True` where position `t` of sequence `b`
#    is padding (PyTorch's `key_padding_mask` convention) or `None`;
# 3. softmax over the keys, weighted sum of the values, heads merged back to `(B, T, D)`;
# 4. the **output projection**: `out = merged @ w_o + b_o`. Multi-head attention is not a
#    bare concatenation of heads: `W_O` mixes them.
#
# Return `(out (B, T, D), weights (B, H, T, T))`. No loops over heads.

# %%
def multi_head_attention(x, params, n_head, pad=None):
    ### BEGIN SOLUTION
    B, T, D = x.shape
    d = D // n_head
    heads = lambda a: a.reshape(B, T, n_head, d).transpose(0, 2, 1, 3)       # (B, H, T, d)
    q, k, v = (heads(x @ params[f"w_{n}"] + params[f"b_{n}"]) for n in "qkv")
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)                     # (B, H, T, T)
    if pad is not None:
        scores = np.where(pad[:, None, None, :], -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    merged = (weights @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
    return merged @ params["w_o"] + params["b_o"], weights
    ### END SOLUTION


# %% tags=["check"]
# Check: multi-head attention
import torch

D_, H_, T_ = 12, 3, 6
torch.manual_seed(0)
ref = torch.nn.MultiheadAttention(D_, H_, batch_first=True, dtype=torch.float64)
with torch.no_grad():
    ref.in_proj_bias.normal_()
    ref.out_proj.bias.normal_()
W_in = ref.in_proj_weight.detach().numpy()
mha_params = {f"w_{n}": W_in[i * D_:(i + 1) * D_].T for i, n in enumerate("qkv")}
mha_params |= {f"b_{n}": ref.in_proj_bias.detach().numpy()[i * D_:(i + 1) * D_]
               for i, n in enumerate("qkv")}
mha_params |= {"w_o": ref.out_proj.weight.detach().numpy().T,
               "b_o": ref.out_proj.bias.detach().numpy()}
X = rng.standard_normal((2, T_, D_))
pad = np.arange(T_)[None, :] >= np.array([6, 4])[:, None]      # sequence 1: 2 padding keys
for mask in (None, pad):
    out, w = multi_head_attention(X, mha_params, H_, mask)
    kpm = None if mask is None else torch.from_numpy(mask)
    theirs, their_w = ref(*(torch.from_numpy(X),) * 3, key_padding_mask=kpm,
                          average_attn_weights=False)
    assert np.shape(out) == (2, T_, D_), f"out must be (B, T, D) = (2, 6, 12), got {np.shape(out)}"
    assert np.shape(w) == (2, H_, T_, T_), f"weights must be (B, H, T, T), got {np.shape(w)}"
    if mask is not None:
        assert np.all(w[1, :, :, 4:] == 0), ("the padding keys (True in pad) must get weight 0, "
                                             "and only those")
    np.testing.assert_allclose(w, their_w.detach().numpy(), atol=1e-12,
                               err_msg="the attention weights differ from torch's: scale by "
                                       "sqrt(d) of one head, and give each head its own block "
                                       "of columns")
    np.testing.assert_allclose(out, theirs.detach().numpy(), atol=1e-12,
                               err_msg="the weights agree but the output differs: merge the "
                                       "heads back in order and apply the output projection "
                                       "w_o, b_o")
print("multi-head attention: correct")

# %% [markdown]
# ## Exercise 7: find the previous-token head of a trained model (core, 15 min)
#
# Chapter 05's small model, trained on Shakespeare, has a head that mostly looks at the
# character just before the query. Find it from the weights alone.
#
# - `previous_token_scores(attn)`: `attn` `(L, H, T, T)` (layer, head, query, key) ->
#   `(L, H)`, the weight that each head puts on key `t - 1`, averaged over the queries
#   `t = 1 ... T-1` (query 0 has no previous character);
# - `previous_token_head(attn)` -> `(layer, head)` of the largest score, as two ints.

# %%
def previous_token_scores(attn):
    ### BEGIN SOLUTION
    T = attn.shape[-1]
    t = np.arange(1, T)
    return attn[..., t, t - 1].mean(axis=-1)
    ### END SOLUTION


def previous_token_head(attn):
    ### BEGIN SOLUTION
    scores = previous_token_scores(attn)
    layer, head = np.unravel_index(np.argmax(scores), scores.shape)
    return int(layer), int(head)
    ### END SOLUTION


# %% tags=["check"]
# Check: previous-token head
import torch

from lmlib.data import shakespeare
from lmlib.viz.attention import head_scores

# a made-up model of 2 layers x 3 heads whose layer 1, head 0 copies the previous token
fake = np.tile(np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None], (2, 3, 1, 1))
fake[1, 0] = np.eye(5, k=-1)
fake[1, 0, 0, 0] = 1.0
s_fake = previous_token_scores(fake)
assert np.shape(s_fake) == (2, 3), f"one score per (layer, head): (2, 3), got {np.shape(s_fake)}"
np.testing.assert_allclose(s_fake[1, 0], 1.0,
                           err_msg="the previous-token head puts all its weight on key t - 1 "
                                   "(attn[..., t, t - 1] for queries t >= 1)")
np.testing.assert_allclose(s_fake, head_scores(fake)["previous"], atol=1e-12,
                           err_msg="average over the queries t = 1 ... T-1 only")
assert previous_token_head(fake) == (1, 0), (
    f"expected (layer, head) = (1, 0), got {previous_token_head(fake)}: unravel the argmax "
    f"with the (L, H) shape")
# the trained model of chapter 05
tok, _, val_ids = shakespeare()
trained, _ = lmlib.load_pretrained("shakespeare-attention")
attn = trained.attention_maps(torch.from_numpy(val_ids[1000:1064])).numpy()   # (L, H, T, T)
layer, head = previous_token_head(attn)
np.testing.assert_allclose(previous_token_scores(attn), head_scores(attn)["previous"], atol=1e-6)
assert previous_token_scores(attn)[layer, head] > 0.6
print(f"previous-token head: layer {layer}, head {head} "
      f"({previous_token_scores(attn)[layer, head]:.0%} of its weight on the previous character)")
print("previous-token head: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** a seq2seq translator of 2014 encodes the whole source sentence
# into one fixed vector, and the decoder reads only that vector. Explain why this becomes a
# bottleneck as sentences get longer, and how attention (Bahdanau et al., 2014) removes it.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The fixed vector has the same size whatever the length of the source,
# so a long sentence must be squeezed into as many numbers as a short one, and everything
# the decoder needs has to survive the encoder's many recurrent steps (information from the
# start of the sentence fades). Attention keeps one vector per source position and lets the
# decoder, at every output step, compute content-based weights over all of them and read a
# fresh weighted average: memory grows with the sentence, and each source word is one step
# away from each output step.
#
# **Rubric (2 points).** 1 point: a fixed-size vector for any length (capacity, and the
# information must survive many steps); 1 point: attention keeps all encoder states and
# computes a different weighted average per output step (path length 1).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** compare one self-attention layer with one recurrent layer on a
# sequence of `T` positions of width `d`: the number of multiply-adds, the number of steps
# that must run one after the other, and the longest path a signal travels from position 1
# to position `T`. For which `T` (relative to `d`) is attention the cheaper of the two?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Attention: the scores and the weighted sum cost about `T²·d`
# multiply-adds (plus `T·d²` for the projections), all positions at once, so O(1)
# sequential steps, and every position reaches every other in one step (path length 1).
# Recurrence: `T` steps of a `d × d` matrix product, `T·d²`, which must run one after the
# other (T sequential steps), and a signal from position 1 reaches position `T` after `T`
# steps. The `T²·d` term is smaller than `T·d²` when `T < d`; for long sequences (`T ≫ d`)
# attention costs more arithmetic, but it is parallel and has the short path.
#
# **Rubric (2 points).** 1 point for the costs (T²d vs Td², with T < d as the crossover);
# 1 point for sequential steps (1 vs T) and path length (1 vs T).
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** in a padded batch, a *query* whose every key is masked has
# nothing to average. Say what `torch.nn.MultiheadAttention`,
# `torch.nn.functional.scaled_dot_product_attention` and `lmlib` return for that row, why a
# NaN is dangerous during training even if that position's loss is ignored, and one way to
# avoid it.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The softmax of a row of `-inf` is `0/0`. `nn.MultiheadAttention` returns
# NaN for that row; `F.scaled_dot_product_attention` (PyTorch 2.13, as chapter 05 shows) and
# `lmlib` return zeros. A NaN is dangerous because it spreads: the next matrix product mixes
# it into other values, and in the backward pass `0 * NaN = NaN`, so even a position whose
# loss is masked can turn every gradient, and then every weight, into NaN. Ways out: never
# build a fully masked row (let padding queries attend to themselves or to the first
# token), or use a softmax that returns zeros for empty rows, and mask those outputs.
#
# **Rubric (2 points).** 1 point: NaN for nn.MultiheadAttention, zeros for the fused function
# and lmlib; 1 point: NaN propagates through later products and the backward even if the
# loss ignores it, with one remedy.
# ### END SOLUTION
