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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/05_attention.ipynb)

# %% [markdown]
# # 05 · Attention from scratch
#
# A recurrent network squeezes the whole past into one state vector. **Attention** lets each
# position look back at every earlier position directly and take a weighted average of what
# it finds there, with weights that depend on the content. It is the centre of the
# Transformer and of every GPT.
#
# **What you will build**, in NumPy, each piece proved equal to PyTorch:
#
# 0. first, why: the fixed-vector bottleneck of a recurrent encoder, measured;
# 1. averaging the past with one matrix product, then *weighted* averaging, then queries,
#    keys and values;
# 2. scaled dot-product attention, worked by hand on a two-token example;
# 3. why the scores are divided by $\sqrt{d_k}$;
# 4. causal and padding masks (and what a fully masked row must do);
# 5. multi-head attention (with its output projection) and cross-attention, and what
#    attention costs against recurrence, timed;
# 6. positions: attention alone ignores order, sinusoidal and learned position embeddings;
# 7. the backward pass of attention, with a gradient check;
# 8. parity with `torch.nn.functional.scaled_dot_product_attention` and
#    `torch.nn.MultiheadAttention`;
# 9. real attention patterns of a small Transformer trained on Shakespeare, in the
#    **AttentionExplorer** widget.
#
# **Prerequisites**: chapter 02 (softmax, backprop by hand, gradient checking) and chapter 04
# (a PyTorch language model on Shakespeare).
#
# **Time on a laptop CPU**: about a minute (36 s measured with `make times` on one core of a 2-core server; most of it
# training the small model); seconds in fast mode, which loads the same model from a checkpoint that
# ships with `lmlib`.

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

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import lmlib
from lmlib.scratch import attention as A

lmlib.setup()

# %% [markdown]
# ## 0. From seq2seq to attention: one vector is a bottleneck
#
# In 2014 neural translation read the source sentence with a recurrent **encoder** and
# handed the decoder one thing: the encoder's final state, a fixed vector (Sutskever et al.,
# 2014; Cho et al., 2014). Whatever the length of the sentence, everything the decoder needs
# must fit in those numbers and survive the encoder's steps. Two measurements show why that
# breaks:
#
# - **fading**: read `T` random inputs of 8 numbers with a 32-unit RNN (chapter 03's, with
#   PyTorch's initialisation) and ask the best linear read-out to recover the *first* input
#   from the final state `h_T`. The fraction of its variance recovered (R² on held-out
#   sequences) collapses after a few steps;
# - **capacity**: even a perfect encoder cannot keep `T·8` numbers in 32; for random
#   inputs, a linear code of 32 numbers keeps at most a fraction `32 / (8T)` of their variance.
#
# Bahdanau et al. (2014) kept **every** encoder state and let the decoder take a fresh,
# content-weighted average of them at each output step: that is attention. The first input
# then stays one step away, in `h_1`.

# %%
from lmlib.scratch.rnn import RNN

d_in, H_enc, N = 8, 32, 4000
encoder = RNN(d_in, H_enc, rng=0)
rng0 = np.random.default_rng(0)


def r2_recall(features, target):
    # R² of the least-squares linear read-out of target from features: fit on one half of
    # the sequences, scored on the other
    fit, test = slice(0, N // 2), slice(N // 2, N)
    X_ = np.c_[features, np.ones(N)]
    coef, *_ = np.linalg.lstsq(X_[fit], target[fit], rcond=None)
    err = ((X_[test] @ coef - target[test]) ** 2).sum()
    return 1 - err / ((target[test] - target[test].mean(0)) ** 2).sum()


lengths = [1, 2, 4, 8, 16, 32]
from_last, from_first = [], []
for T_ in lengths:
    xs = rng0.standard_normal((T_, N, d_in))
    hs, _ = encoder.forward(xs)
    from_last.append(r2_recall(hs[-1], xs[0]))    # the fixed vector of seq2seq
    from_first.append(r2_recall(hs[0], xs[0]))    # attention can read every state, h_1 too
    print(f"T = {T_:2d}: R² of x_1 from h_T {from_last[-1]:+.3f}, from h_1 {from_first[-1]:.3f}")
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.semilogx(lengths, from_last, "o-", base=2, label="from the final state h_T (seq2seq)")
ax.semilogx(lengths, from_first, "s-", base=2, label="from h_1, kept for attention")
ax.semilogx(lengths, np.minimum(1, H_enc / (d_in * np.array(lengths))), "k--", base=2,
            label="capacity: 32 / (8T), all inputs")
ax.set(xlabel="sequence length T", ylabel="R² of the recovered input",
       title="what one fixed vector keeps of the past")
ax.legend(fontsize=8)
plt.show()
assert from_last[0] > 0.9 and from_last[-1] < 0.1 and min(from_first) > 0.9

# %% [markdown]
# ## 1. Averaging the past with a matrix
#
# Take a sequence of $T$ vectors $x_1, \dots, x_T$ (rows of a $(T, C)$ matrix). The simplest
# way to let position $t$ know about its past is to average $x_1, \dots, x_t$. A loop does it:

# %%
rng = np.random.default_rng(0)
T, C = 5, 3
x = rng.standard_normal((T, C))

avg_loop = np.zeros_like(x)
for t in range(T):
    avg_loop[t] = x[: t + 1].mean(axis=0)

# %% [markdown]
# The same thing is one matrix product: a lower-triangular matrix whose row $t$ holds
# $1/(t+1)$ in its first $t+1$ columns. Row $t$ of `W @ x` is then exactly the average of
# the first $t+1$ rows of `x`.

# %%
W = np.tril(np.ones((T, T)))
W = W / W.sum(axis=1, keepdims=True)
avg_matmul = W @ x
print(np.round(W, 3))
np.testing.assert_allclose(avg_matmul, avg_loop)  # check yourself: identical

# %% [markdown]
# ## 2. From averaging to *weighted* averaging
#
# The same matrix comes out of a softmax: give every allowed pair $(t, s \le t)$ a score of 0
# and every future pair a score of $-\infty$; the softmax of each row is then uniform over the
# past. Attention keeps this recipe but lets the **scores depend on the content**, so that a
# position can give more weight to the past positions that matter to it.

# %%
scores = np.zeros((T, T))
scores[~A.causal_mask(T)] = -np.inf           # the future is forbidden
W_soft = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
np.testing.assert_allclose(W_soft, W)          # check yourself: the same averaging matrix

scores = rng.standard_normal((T, T))           # content-dependent scores (random here)
scores[~A.causal_mask(T)] = -np.inf
W_data = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)

fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
for ax, M, title in zip(axes, (W_soft, W_data), ("uniform average of the past",
                                                 "weighted average (scores from data)")):
    im = ax.imshow(M, cmap="viridis", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("position looked at (s)")
    ax.set_ylabel("position t")
    ax.grid(False)
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()

# %% [markdown]
# ## 3. Queries, keys and values
#
# Where do the scores come from? Each position emits three vectors, made from its input by
# three learned linear maps:
#
# - a **query** $q_t = x_t W_Q$: *what am I looking for?*
# - a **key** $k_s = x_s W_K$: *what do I contain?*
# - a **value** $v_s = x_s W_V$: *what do I hand over if chosen?*
#
# The score of position $t$ for position $s$ is the dot product $q_t \cdot k_s$; the softmax
# of a row of scores gives the weights; the output is the weighted average of the values.
# For all positions at once, with $Q$, $K$, $V$ the stacked rows:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V$$
#
# where $d_k$ is the width of queries and keys (section 5 explains the $\sqrt{d_k}$).
#
# ## 4. A worked example, every intermediate
#
# Two tokens, $d_k = 3$, and (to keep the arithmetic small) the queries, keys and values all
# equal to the inputs: $Q = K = V = \begin{bmatrix} 0.1 & 0.2 & 0.3 \\ 0.4 & 0.5 & 0.6 \end{bmatrix}$.

# %%
Q = K = V = np.array([[0.1, 0.2, 0.3],
                      [0.4, 0.5, 0.6]])
d_k = Q.shape[-1]

S = Q @ K.T
print("1. scores Q K^T:\n", S)                       # 0.14, 0.32 / 0.32, 0.77
S_scaled = S / math.sqrt(d_k)
print(f"2. divided by sqrt(d_k) = {math.sqrt(d_k):.4f}:\n", np.round(S_scaled, 4))
E = np.exp(S_scaled - S_scaled.max(axis=1, keepdims=True))
print("3. exp(score - row max):\n", np.round(E, 4))
print("4. row sums:", np.round(E.sum(axis=1), 4))
weights = E / E.sum(axis=1, keepdims=True)
print("5. weights (softmax of each row):\n", np.round(weights, 4))
out = weights @ V
print("6. output = weights @ V:\n", np.round(out, 4))

# %%
# check yourself: the numbers of the worked example
np.testing.assert_allclose(weights, [[0.474, 0.526], [0.4354, 0.5646]], atol=5e-4)
np.testing.assert_allclose(out, [[0.2578, 0.3578, 0.4578], [0.2694, 0.3694, 0.4694]], atol=5e-5)

# %% [markdown]
# > **Myth vs fact.** *Myth:* several popular write-ups work this example and report uniform
# > weights, 0.5 and 0.5, "because the two tokens are treated alike".
# > *Fact:* a softmax gives equal weights only when the scores of a row are equal, and here
# > they are not: token 1 scores 0.14 against itself and 0.32 against token 2, token 2 scores
# > 0.32 and 0.77. Both tokens lean towards token 2, whose key is longer. The weights are
# > [[0.474, 0.526], [0.4354, 0.5646]] and the outputs [[0.2578, 0.3578, 0.4578],
# > [0.2694, 0.3694, 0.4694]]. Uniform weights would give both tokens the plain average
# > [0.25, 0.35, 0.45], which is not what attention computes.

# %%
print("row 1 scores equal?", np.isclose(S_scaled[0, 0], S_scaled[0, 1]))
uniform_out = np.full((2, 2), 0.5) @ V
print("what uniform weights would output:", uniform_out[0])
assert not np.allclose(weights, 0.5, atol=0.01)       # the myth is false
assert not np.allclose(out, uniform_out, atol=1e-3)

# %% [markdown]
# ### Building it: scaled dot-product attention
#
# Now the general function: any number of leading (batch, head) axes, an optional boolean
# `mask` where `True` means *may attend*. Masked scores become $-\infty$ before the softmax,
# so their weights are exactly 0.

# %%
def attention(q, k, v, mask=None):
    """q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v) -> out (..., T_q, d_v), weights."""
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])   # (..., T_q, T_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)           # for numerical safety
    w = np.exp(scores)
    w = w / w.sum(axis=-1, keepdims=True)
    return w @ v, w


q, k, v = rng.standard_normal((2, 4, 6, 8)), rng.standard_normal((2, 4, 6, 8)), rng.standard_normal((2, 4, 6, 5))
mine = attention(q, k, v, A.causal_mask(6))
lib = A.scaled_dot_product_attention(q, k, v, A.causal_mask(6))
np.testing.assert_allclose(mine[0], lib[0])   # check yourself: equal to lmlib's version
np.testing.assert_allclose(mine[1], lib[1])
print("out", lib[0].shape, "weights", lib[1].shape)

# %% [markdown]
# ## 5. Why divide by $\sqrt{d_k}$?
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, the dot product
# $q \cdot k = \sum_{i=1}^{d_k} q_i k_i$ is a sum of $d_k$ terms of variance 1: its variance is
# $d_k$. Wide heads therefore produce large scores, and a softmax of large scores
# **saturates**: almost all the weight lands on one key, the gradient through the other
# weights vanishes, and learning stalls. Dividing by $\sqrt{d_k}$ brings the variance back
# to 1 whatever the width. The entropy of the weights measures the saturation: $\ln T_k$ for
# uniform weights, 0 for a one-hot row.

# %%
def entropy(w):
    return -(w * np.log(np.clip(w, 1e-30, None))).sum(-1)


n_keys, trials = 32, 400
dims = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
var_dot, ent_raw, ent_scaled = [], [], []
for d in dims:
    q = rng.standard_normal((trials, 1, d))
    k = rng.standard_normal((trials, n_keys, d))
    s = (q @ np.swapaxes(k, -1, -2))[:, 0]                      # (trials, n_keys)
    var_dot.append(s.var())
    softmax = lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)
    ent_raw.append(entropy(softmax(s)).mean())
    ent_scaled.append(entropy(softmax(s / math.sqrt(d))).mean())

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
axes[0].loglog(dims, var_dot, "o-", label="measured")
axes[0].loglog(dims, dims, "k--", alpha=0.5, label="$d_k$")
axes[0].set(xlabel="$d_k$", ylabel="variance of $q \\cdot k$", title="scores grow with the width")
axes[0].legend()
axes[1].semilogx(dims, ent_raw, "o-", label="softmax($q \\cdot k$)")
axes[1].semilogx(dims, ent_scaled, "s-", label="softmax($q \\cdot k / \\sqrt{d_k}$)")
axes[1].axhline(math.log(n_keys), color="k", ls="--", alpha=0.5, label=f"uniform: ln {n_keys}")
axes[1].set(xlabel="$d_k$", ylabel="entropy of the weights (nats)",
            title=f"saturation over {n_keys} keys")
axes[1].legend(fontsize=8)
plt.show()

# %%
# check yourself: the variance grows like d_k; unscaled weights saturate, scaled ones do not
assert 0.8 * 512 < var_dot[-1] < 1.2 * 512
assert ent_raw[-1] < 0.5 < 2.0 < ent_scaled[-1]
assert max(ent_scaled) - min(ent_scaled[2:]) < 0.5   # roughly constant once d_k >= 4

# %% [markdown]
# ## 6. Masks
#
# A boolean mask says, for every (query, key) pair, whether the query **may attend** to the
# key (`True`) or not (`False`). Two masks come up all the time:
#
# - the **causal mask** of a language model: position $t$ may look at positions $\le t$ only,
#   so that predicting token $t+1$ never peeks at it;
# - the **padding mask** of a batch of sequences of different lengths: nobody attends to the
#   padding positions at the end of the shorter sequences.
#
# They combine with `&`, and broadcasting puts them on every head: a `(B, 1, 1, T_k)` padding
# mask and a `(T, T)` causal mask both broadcast to the scores' `(B, H, T_q, T_k)`.

# %%
T = 6
causal = A.causal_mask(T)
lengths = np.array([6, 4])                                    # sequence 1 is padded by 2
padding = np.arange(T)[None, :] < lengths[:, None]            # (B, T_k)
both = causal & padding[:, None, :]                           # (B, T_q, T_k)

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, m, title in zip(axes, (causal, both[0], both[1]),
                        ("causal", "causal & padding, seq 0 (length 6)",
                         "causal & padding, seq 1 (length 4)")):
    ax.imshow(m, cmap="Greys_r", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.grid(False)
plt.show()

# %% [markdown]
# What should a query do when **every** key is masked (a row of `False`)? The softmax of a
# row of $-\infty$ is $0/0$, NaN, and one NaN spreads through the whole network in the next
# matrix product. There is nothing to average, so the only sensible output is the empty
# average, **zero**: `lmlib` gives such a row zero weights, a zero output and zero
# gradients, and so does PyTorch's fused `torch.nn.functional.scaled_dot_product_attention`
# (in PyTorch 2.13, which this course pins). The module `torch.nn.MultiheadAttention` does
# **not**: it returns NaN for that row (the cell below shows both). In practice these rows
# appear for padding *queries*, whose outputs are then ignored by the loss, but a NaN is
# not ignored: it spreads through the next products and the backward pass.

# %%
x = rng.standard_normal((T, 4))
mask = A.causal_mask(T).copy()
mask[2] = False                                               # query 2 may look at nothing
out, w = A.scaled_dot_product_attention(x, x, x, mask)
print("weights of the fully masked row:", w[2], " output:", out[2])
assert np.isfinite(out).all() and np.all(w[2] == 0) and np.all(out[2] == 0)
with np.errstate(invalid="ignore", divide="ignore"):
    naive_out, _ = attention(x, x, x, mask)                   # our first version
print("the naive softmax gives:", naive_out[2])
assert np.isnan(naive_out[2]).all()

tx = torch.tensor(x)[None]                                    # (1, T, 4)
fused = F.scaled_dot_product_attention(tx, tx, tx, attn_mask=torch.tensor(mask))
module = torch.nn.MultiheadAttention(4, 1, batch_first=True, dtype=torch.float64)
with torch.no_grad():
    mod_out, _ = module(tx, tx, tx, attn_mask=torch.tensor(~mask))   # True = may NOT attend
print(f"torch {torch.__version__}: F.scaled_dot_product_attention row 2 = "
      f"{fused[0, 2].numpy()}, nn.MultiheadAttention row 2 = {mod_out[0, 2].numpy()}")
assert torch.all(fused[0, 2] == 0) and torch.isnan(mod_out[0, 2]).all()

# %% [markdown]
# ## 7. Multi-head attention
#
# One attention head computes one weighted average per position: one kind of relation
# ("which earlier letter is the previous one?", "where did this word start?"). Multi-head
# attention runs $H$ heads side by side on slices of width $d = D / H$, and mixes their
# outputs with one more linear map, the **output projection** $W_O$:
#
# $$\mathrm{MHA}(X) = \mathrm{concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W_O, \qquad
#   \mathrm{head}_h = \mathrm{Attention}(X W_Q^{(h)}, X W_K^{(h)}, X W_V^{(h)})$$
#
# No loop over heads is needed: compute all queries with one $(D, D)$ matrix, then
# **split** the last axis into $H$ slices with a reshape and move the head axis forward;
# after attention, **merge** them back.

# %%
B, T, D, H = 2, 5, 12, 3
X = rng.standard_normal((B, T, D))
q_all = X @ rng.standard_normal((D, D))                       # (B, T, D): every head's queries
split = q_all.reshape(B, T, H, D // H).transpose(0, 2, 1, 3)  # (B, H, T, d)
merged = split.transpose(0, 2, 1, 3).reshape(B, T, D)         # (B, T, D)
print("split:", split.shape, " merged:", merged.shape)
np.testing.assert_array_equal(split[:, 1], q_all[..., 4:8])   # head 1 = columns 4..7
np.testing.assert_array_equal(merged, q_all)
np.testing.assert_array_equal(split, A.split_heads(q_all, H)) # check yourself: as in lmlib
np.testing.assert_array_equal(A.merge_heads(split), q_all)

# %% [markdown]
# `lmlib.scratch.attention.MultiHeadAttention` puts the pieces together (projections, split,
# attention, merge, output projection) with a hand-written backward. It returns the output
# and the per-head weights `(B, H, T_q, T_k)`.

# %%
mha = A.MultiHeadAttention(n_embd=D, n_head=H, rng=np.random.default_rng(1))
y, w = mha(X, mask=A.causal_mask(T))
print(mha, "->", y.shape, w.shape)
assert y.shape == (B, T, D) and w.shape == (B, H, T, T)
np.testing.assert_allclose(w.sum(-1), 1.0)

# %% [markdown]
# Two things the shapes say, and some write-ups get wrong:
#
# - self-attention gives **one output vector per position**, `(B, T, D)`, not one vector
#   for the whole sequence: each position takes its own weighted average;
# - multi-head attention is **not a bare concatenation** of the heads. If it were, head `h`
#   would own the output columns `h·d … (h+1)·d − 1`, and silencing it would change only
#   those. Because of $W_O$, every output column reads every head: silence head 1 (zero its
#   rows of $W_O$) and all `D` output columns change.

# %%
d_head = D // H
saved = mha.params["w_o"].copy()
mha.params["w_o"][:, d_head:2 * d_head] = 0.0  # head 1's rows of W_O (stored transposed, (out, in))
y_without_1, _ = mha(X, mask=A.causal_mask(T))
mha.params["w_o"] = saved
changed = np.abs(y - y_without_1).max(axis=(0, 1)) > 1e-12     # (D,) which columns moved
print(f"silencing head 1 changes {changed.sum()} of the {D} output columns "
      f"(a bare concatenation would change {d_head})")
assert changed.all()

# %% [markdown]
# ### Cross-attention
#
# In self-attention, queries, keys and values all come from the same sequence. In
# **cross-attention** the queries come from one sequence and the keys and values from
# another: in the original encoder–decoder Transformer, each position of the sentence being
# written (decoder) looks at every position of the sentence being translated (encoder). The
# weights are then $(T_q, T_k)$ with $T_q \ne T_k$ in general, and no causal mask is needed:
# the whole source is known. (GPT, decoder-only, has no cross-attention; chapter 06 returns to
# this.)

# %%
decoder_states = rng.standard_normal((1, 3, D))               # 3 target positions
encoder_states = rng.standard_normal((1, 7, D))               # 7 source positions
y, w = mha(decoder_states, encoder_states, encoder_states)
print("output", y.shape, " weights", w.shape, "(B, H, T_q, T_k)")
assert y.shape == (1, 3, D) and w.shape == (1, H, 3, 7)

fig, axes = plt.subplots(1, H, figsize=(9, 2.2))
for h, ax in enumerate(axes):
    ax.imshow(w[0, h], cmap="viridis", vmin=0, vmax=1)
    ax.set(title=f"head {h}", xlabel="source (encoder) position", ylabel="target")
    ax.grid(False)
plt.show()

# %% [markdown]
# ### What attention costs, against recurrence
#
# For `T` positions of width `d`, one self-attention layer computes `T²` scores of `d`
# multiply-adds each and as many weighted sums: about `2·T²·d` operations (plus `3·T·d²` for
# the projections), **all positions at once**, and any position reaches any other in **one**
# step. A recurrent layer does `T` matrix-vector products of `d²` each, `T·d²`, but **one
# after the other**: step `t` needs step `t − 1`, and a signal from position 1 reaches
# position `T` after `T` steps. So attention does more arithmetic once `2T > d`, but in
# parallel and with a path of length 1. Timed here in NumPy on one thread (CPU seconds,
# median of 5): the attention part of one layer, against chapter 03's RNN layer, `d = 64`.

# %%
import time

d_cost = 64
Ts = [64, 128, 256, 512] if lmlib.FAST else [64, 128, 256, 512, 1024]
rnn_layer = RNN(d_cost, d_cost, rng=0)


def cpu_ms(fn, repeats=5):
    runs = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        runs.append(time.process_time() - t0)
    return 1e3 * float(np.median(runs))


attn_ms, rnn_ms = [], []
for T_ in Ts:
    xc = rng.standard_normal((T_, d_cost))
    m_ = A.causal_mask(T_)
    attn_ms.append(cpu_ms(lambda xc=xc, m_=m_: A.scaled_dot_product_attention(xc, xc, xc, m_)))
    rnn_ms.append(cpu_ms(lambda xc=xc: rnn_layer.forward(xc[:, None])))
    print(f"T = {T_:4d}: attention {attn_ms[-1]:7.2f} ms ({2 * T_ * T_ * d_cost:>11,} mult-adds, "
          f"1 step), RNN {rnn_ms[-1]:6.2f} ms ({T_ * d_cost * d_cost:>9,} mult-adds, {T_} steps)")
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.loglog(Ts, attn_ms, "o-", base=2, label="attention, T² · d, parallel")
ax.loglog(Ts, rnn_ms, "s-", base=2, label="RNN, T · d², sequential")
ax.set(xlabel="sequence length T", ylabel="CPU ms (one thread)", title=f"cost of one layer, d = {d_cost}")
ax.legend(fontsize=8)
plt.show()
attn_growth, rnn_growth = attn_ms[-1] / attn_ms[-3], rnn_ms[-1] / rnn_ms[-3]
print(f"T x 4 (from {Ts[-3]} to {Ts[-1]}): attention time x {attn_growth:.1f}, "
      f"RNN time x {rnn_growth:.1f}")

# %% [markdown]
# **Check yourself:** in full mode, multiplying `T` by 4 multiplies attention's time by more
# than 6 (quadratic: 16 in theory) and the RNN's by less than 8 (linear: 4 in theory).

# %%
if not lmlib.FAST:
    assert attn_growth > 6 and rnn_growth < 8, (attn_growth, rnn_growth)

# %% [markdown]
# ## 8. Positions
#
# Attention treats its input as a **set**: permute the positions, and the outputs are
# permuted the same way, nothing else changes (the operation is *permutation-equivariant*).
# "dog bites man" and "man bites dog" would look alike. Proof by experiment:

# %%
x = rng.standard_normal((6, 4))
perm = np.array([3, 0, 5, 1, 4, 2])
out, _ = A.scaled_dot_product_attention(x, x, x)
out_perm, _ = A.scaled_dot_product_attention(x[perm], x[perm], x[perm])
np.testing.assert_allclose(out_perm, out[perm], atol=1e-12)   # check yourself: same rows, permuted
print("attention of the permuted input == permuted attention of the input")

# %% [markdown]
# So order has to be put into the vectors themselves: add a **position embedding** $p_t$ to
# each token embedding. Two common choices:
#
# - **learned**: a table of $T_{\max}$ trainable vectors (GPT-2, and the model we train below);
# - **sinusoidal** ("Attention Is All You Need"): fixed, column pairs
#   $p_{t,2i} = \sin(t\,\omega_i)$, $p_{t,2i+1} = \cos(t\,\omega_i)$ with
#   $\omega_i = 10000^{-2i/d}$: fast waves in the first columns, slow ones in the last. The
#   dot product $p_t \cdot p_s = \sum_i \cos((t - s)\,\omega_i)$ depends only on the distance
#   $t - s$.

# %%
pe = A.sinusoidal_positions(128, 64)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), width_ratios=[1.4, 1])
im = axes[0].imshow(pe.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
axes[0].set(xlabel="position t", ylabel="column", title="sinusoidal positions (128 x 64)")
axes[0].grid(False)
fig.colorbar(im, ax=axes[0])
axes[1].plot(pe @ pe[40], label="$p_t \\cdot p_{40}$")
axes[1].axvline(40, color="k", ls="--", alpha=0.4)
axes[1].set(xlabel="position t", title="similarity to position 40")
axes[1].legend()
plt.show()

# %%
# check yourself: the formula, and the dot product depends only on the distance
t, i = 9, 5
np.testing.assert_allclose(pe[t, 2 * i], math.sin(t / 10000 ** (2 * i / 64)))
np.testing.assert_allclose(pe[t, 2 * i + 1], math.cos(t / 10000 ** (2 * i / 64)))
np.testing.assert_allclose(pe[10] @ pe[17], pe[50] @ pe[57])

# %% [markdown]
# ## 9. The backward pass of attention
#
# With $S = Q K^\top / \sqrt{d}$, $P = \mathrm{softmax}(S)$ (row by row) and $O = P V$, and
# $dO = \partial L / \partial O$ coming from above:
#
# $$dV = P^\top dO, \qquad dP = dO\, V^\top, \qquad
#   dS_{ij} = P_{ij}\Big(dP_{ij} - \sum_{j'} dP_{ij'} P_{ij'}\Big), \qquad
#   dQ = \frac{dS\, K}{\sqrt d}, \qquad dK = \frac{dS^\top Q}{\sqrt d}.$$
#
# The middle one is the softmax's Jacobian applied to each row (chapter 02). Masked entries
# have $P_{ij} = 0$, hence $dS_{ij} = 0$: the mask needs no special case in the backward.

# %%
from lmlib.scratch.gradcheck import numerical_gradient  # chapter 02's central differences


def attention_backward(dout, q, k, v, w):
    """Gradients of attention(q, k, v) for one head: q (T_q, d), k (T_k, d), v (T_k, d_v)."""
    scale = 1 / math.sqrt(q.shape[-1])
    dv = w.T @ dout
    dw = dout @ v.T
    ds = w * (dw - (dw * w).sum(axis=-1, keepdims=True))
    return scale * ds @ k, scale * ds.T @ q, dv




q, k, v = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
dout = rng.standard_normal((5, 3))
mask = A.causal_mask(5)
loss = lambda: float((A.scaled_dot_product_attention(q, k, v, mask)[0] * dout).sum())
out, w = A.scaled_dot_product_attention(q, k, v, mask)
grads = attention_backward(dout, q, k, v, w)
for name, g, x_ in zip("qkv", grads, (q, k, v)):
    num = numerical_gradient(loss, x_)
    rel = np.abs(g - num).max() / max(np.abs(num).max(), 1e-12)
    print(f"d{name}: max relative error {rel:.1e}")
    assert rel < 1e-6                                          # check yourself: gradient check
for mine, lib in zip(grads, A.scaled_dot_product_attention_backward(dout, q, k, v, w)):
    np.testing.assert_allclose(mine, lib)                      # equal to lmlib's backward

# %% [markdown]
# ## 10. Parity with PyTorch
#
# PyTorch has both pieces: `torch.nn.functional.scaled_dot_product_attention` (the fused
# function; its boolean `attn_mask` also means *may attend*) and `torch.nn.MultiheadAttention`
# (the module). Careful: the module's boolean `attn_mask` means the **opposite**, `True` =
# *may not* attend, so we pass `~mask`. Everything in float64, values and gradients.

# %%
Bq, Hq, Tq, dq_ = 2, 3, 7, 8
q, k, v = (rng.standard_normal((Bq, Hq, Tq, dq_)) for _ in range(3))
pad = (np.arange(Tq)[None, :] < np.array([7, 5])[:, None])[:, None, None, :]
for name, m in (("no mask", None), ("causal", A.causal_mask(Tq)),
                ("causal & padding", A.causal_mask(Tq) & pad)):
    ours, _ = A.scaled_dot_product_attention(q, k, v, m)
    theirs = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                            attn_mask=None if m is None else torch.tensor(m))
    err = np.abs(ours - theirs.numpy()).max()
    print(f"{name:18s} max |difference| = {err:.1e}")
    assert err < 1e-12

# %%
D, H, Tm = 16, 4, 9
torch.manual_seed(0)
ref = torch.nn.MultiheadAttention(D, H, batch_first=True).double()
with torch.no_grad():
    ref.in_proj_bias.normal_()                                 # non-zero biases, to test them
    ref.out_proj.bias.normal_()
mha = A.MultiHeadAttention.from_torch(ref)                     # copy the weights into NumPy
X = rng.standard_normal((2, Tm, D))
mask = A.causal_mask(Tm)
ours, our_w = mha(X, mask=mask)
tX = torch.tensor(X, requires_grad=True)
theirs, their_w = ref(tX, tX, tX, attn_mask=torch.tensor(~mask), average_attn_weights=False)
dY = rng.standard_normal(ours.shape)
dX = mha.backward(dY)
(theirs * torch.tensor(dY)).sum().backward()
checks = {
    "output": (ours, theirs.detach().numpy()),
    "weights": (our_w, their_w.detach().numpy()),
    "d input": (dX, tX.grad.numpy()),
    "d W_o": (mha.grads["w_o"], ref.out_proj.weight.grad.numpy()),
    "d W_q": (mha.grads["w_q"], ref.in_proj_weight.grad.numpy()[:D]),
    "d b_v": (mha.grads["b_v"], ref.in_proj_bias.grad.numpy()[2 * D:]),
}
for name, (a, b) in checks.items():
    print(f"{name:8s} max |difference| = {np.abs(a - b).max():.1e}")
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)   # check yourself

# %% [markdown]
# ## 11. Real attention patterns
#
# Random weights make random patterns. To see what attention *learns*, we train a small
# model on Tiny Shakespeare: characters in, next character out, 2 layers of 4 heads, 64
# dimensions, learned position embeddings, a context of 64 characters
# (the preset `"shakespeare-attention"`: a `lmlib.models.GPT`; its parameter count is printed
# below). It is not attention alone: each layer is a full pre-LayerNorm Transformer **block**,
# attention and then a small MLP, each with a residual connection, the block that chapter 06
# builds. Asked for its weights, it computes attention explicitly (PyTorch's fused function
# does not return them).
#
# In full mode the next cell trains it for 1,000 steps with the course trainer and prints the
# CPU seconds it took; in fast mode it loads the checkpoint that `lmlib` ships, the same model
# and schedule trained once by an earlier version of the course's loop.

# %%
from lmlib.data import shakespeare
from lmlib.presets import from_preset
from lmlib.scoring import score
from lmlib.train import train

tok, train_ids, val_ids = shakespeare()
if lmlib.FAST:
    model, _ = lmlib.load_pretrained("shakespeare-attention")
    print("loaded the shipped checkpoint")
    val_loss = score(model, val_ids[:20_000])   # fast mode: the start of val only
else:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    model, config = from_preset("shakespeare-attention", tok.vocab_size)
    history = train(model, train_ids, val_ids, config, plot=False)
    print(f"trained {config.steps:,} steps of {config.batch_size} x {config.block_size} "
          f"characters in {time.process_time() - cpu0:.0f} CPU s "
          f"({time.perf_counter() - wall0:.0f} s wall)")
    val_loss = score(model, val_ids)            # the course's protocol, the whole val split
    steps, losses = history.steps, history.train_loss
    plt.plot(steps, losses, "o-")
    plt.xlabel("step")
    plt.ylabel("train loss (nats/char)")
    plt.title("the attention model on Tiny Shakespeare")
    plt.show()
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
print(f"validation loss {val_loss:.3f} nats/char (uniform: {math.log(tok.vocab_size):.3f}, "
      f"chapter 01's bigram: 2.482)")

# %%
if not lmlib.FAST:
    assert val_loss < 2.05   # the full run reaches about 1.96
assert val_loss < 2.2

# %% [markdown]
# Now take 64 characters of validation text, run the model, and collect the weights of every
# layer and head: an `(L, H, T, T)` array. `head_scores` measures, for each head, how much
# weight goes on average to the previous character, to the character itself and to the first
# one.

# %%
from lmlib.viz import AttentionExplorer, plot_attention
from lmlib.viz.attention import head_scores

snippet = val_ids[1000:1064]
tokens = list(tok.decode(snippet))
attn = model.attention_maps(torch.from_numpy(snippet)).numpy()   # (L, H, T, T)
scores = head_scores(attn)
print("".join(tokens))
print("attention maps:", attn.shape)

fig, ax = plt.subplots(figsize=(8, 3))
labels = [f"L{l}H{h}" for l in range(attn.shape[0]) for h in range(attn.shape[1])]
xs = np.arange(len(labels))
for i, (key, name) in enumerate((("previous", "the previous character"), ("self", "itself"),
                                 ("first", "the first character"))):
    ax.bar(xs + (i - 1) * 0.27, scores[key].ravel(), width=0.27, label=f"weight on {name}")
ax.set_xticks(xs, labels)
ax.set_ylabel("mean weight")
ax.set_title("what each head looks at (averaged over queries)")
ax.legend(fontsize=8)
plt.show()

layer_p, head_p = np.unravel_index(scores["previous"].argmax(), scores["previous"].shape)
print(f"previous-token head: layer {layer_p}, head {head_p} "
      f"({scores['previous'][layer_p, head_p]:.0%} of its weight on the previous character)")
assert scores["previous"].max() > 0.5   # check yourself: a clear previous-token head

# other heads: which key does each head of the last layer look at most, summed over queries?
last = attn[-1]                                                    # (H, T, T)
for h in range(last.shape[0]):
    top = int(last[h].sum(axis=0)[1:].argmax()) + 1                # skip key 0 (seen by all)
    print(f"layer {attn.shape[0] - 1}, head {h}: most-attended key {top} {tokens[top]!r} "
          f"(entropy {scores['entropy'][-1, h]:.2f} nats)")

# %% [markdown]
# A **previous-token head** stands out: most of its weight (the share printed above) sits
# on the diagonal just below the main one. It copies "which character came just before" into each position, the
# same information a bigram model uses, and the second layer can combine it with what other
# heads gather (broader heads that average over the current word or the last few
# characters). In our run, for example, the heads of layer 1 draw vertical stripes: many
# queries look back at the same key, such as the line break or the last space, which tells
# a position where its line or word began. Explore all of them below: pick a layer and a head (or click a thumbnail),
# point at a cell to read its weight, and hover or click a character to see its weights
# tinted over the text. Grey cells are masked (the future).

# %%
explorer = AttentionExplorer(attn, tokens)     # starts on layer 0, head 0
explorer.add_class("ch05-shakespeare")
explorer

# %% [markdown]
# Its **static twin**, `plot_attention`, draws the same thing with matplotlib. It is also what
# the widget shows when no kernel is running (on GitHub, in an untrusted or exported
# notebook): the PNG of this figure and a line of text.

# %%
plot_attention(attn, tokens, layer=int(layer_p), head=int(head_p))
plt.show()
plot_attention(attn, tokens, layer=1)
plt.show()

# %% [markdown]
# ### Learned positions
#
# The model's position embeddings were learned from scratch. The cosine similarity between
# them shows what it learned: neighbouring positions got similar vectors, a band along the
# diagonal, much like the distance structure that the sinusoidal encoding builds in by hand.

# %%
P = model.transformer.wpe.weight.detach().numpy()
P = P / np.linalg.norm(P, axis=1, keepdims=True)
plt.figure(figsize=(4, 3.4))
plt.imshow(P @ P.T, cmap="RdBu_r", vmin=-1, vmax=1)
plt.colorbar(label="cosine similarity")
plt.title("learned position embeddings")
plt.xlabel("position")
plt.ylabel("position")
plt.grid(False)
plt.show()

# %% [markdown]
# ### 256 positions: attention from positions alone
#
# The explorer stays responsive for long sequences (`tests/test_browser.py` checks that the
# front end redraws a $T = 256$ explorer in under 200 ms in headless Chromium). Here attention is computed from sinusoidal position vectors only, with each of
# four "heads" using a different band of columns: fast waves give sharp, local patterns with
# echoes further back; slow waves give broad ones.

# %%
T_long = 256
pe = A.sinusoidal_positions(T_long, 64)
bands = [(0, 16), (16, 32), (32, 48), (48, 64)]
pos_attn = np.stack([
    A.scaled_dot_product_attention(pe[:, lo:hi], pe[:, lo:hi], pe[:, lo:hi],
                                   A.causal_mask(T_long), scale=1.0)[1]
    for lo, hi in bands])                                   # (4, 256, 256)
long_tokens = list(tok.decode(val_ids[:T_long]))
long_explorer = AttentionExplorer(pos_attn, long_tokens)
long_explorer.add_class("ch05-positions")
long_explorer

# %%
plot_attention(pos_attn, long_tokens)
plt.show()

# %% [markdown]
# ## Summary
#
# - Attention is a weighted average of value vectors, with weights from a softmax of
#   query·key scores; averaging the past is the special case of equal scores.
# - Dividing the scores by $\sqrt{d_k}$ keeps their variance at 1 and stops the softmax from
#   saturating as heads get wider.
# - Masks (`True` = may attend) enforce causality and ignore padding; a fully masked row
#   gives zeros, not NaN.
# - Multi-head attention is one reshape away from single-head attention, plus the output
#   projection $W_O$ that mixes the heads; it gives one vector per position.
#   Cross-attention takes queries from one sequence and keys/values from another.
# - A recurrent encoder's single vector loses the early inputs; attention keeps every state
#   and reaches any position in one step, at a cost that grows like $T^2$ (timed above).
# - Attention ignores order unless positions are added to the inputs.
# - Our NumPy attention (forward and backward) matches PyTorch in float64 (section 10's
#   asserts: the function to 1e-12, the module to a relative 1e-9).
# - A two-layer Transformer trained for 1,000 steps already has a clear previous-token head.
#
# **Exercises**: `exercises/05_attention.ipynb` — scaled dot-product attention (core, 10 min),
# the causal mask (core, 10 min), splitting and merging heads (core, 10 min), sinusoidal
# positions (core, 10 min), the backward of one head (stretch, 30 min), multi-head attention
# with a key-padding mask equal to PyTorch (core, 35 min), finding the previous-token head of
# the trained model (core, 15 min); and three written questions.
#
# **Next**: chapter 06 wraps attention into the Transformer block (LayerNorm, feed-forward,
# residual paths) and assembles a whole GPT forward pass in NumPy.
