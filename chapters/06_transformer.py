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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/06_transformer.ipynb)

# %% [markdown]
# # 06 · The Transformer block
#
# **What you will build:** the remaining pieces of a GPT, by hand in NumPy, each proved
# equal to PyTorch: **LayerNorm** (forward *and* backward, with a gradient check), the
# **GELU feed-forward** block, the **residual paths** that tie them to attention, and the
# whole **pre-LN block** of GPT-2. Then you stack blocks into a complete GPT forward pass in
# NumPy that reproduces a trained PyTorch GPT's logits to 1e-4 and writes the same text.
# On the way: pre-LN vs post-LN (where GPT-2 put the LayerNorm, and an experiment that
# shows what it changes), how BERT, GPT and the original Transformer differ (encoder,
# decoder, both), and what goes wrong when a model without the causal mask writes text.
#
# **Prerequisites:** chapter 05 (scaled dot-product attention, masks, multi-head
# attention: `lmlib.scratch.attention`), chapter 02 (backprop by hand, gradient checks).
#
# **Time on a laptop CPU:** about a minute (62 CPU-seconds measured 2026-12-01 in full mode,
# one thread, on a heavily loaded 2-core server; the pre-LN/post-LN experiment and the
# encoder experiment train small models).

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

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.models.gpt import GPT, Block, GPTConfig
from lmlib.scratch import transformer as T
from lmlib.scratch.attention import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)

# %% [markdown]
# ## 1. Where we are
#
# Chapter 05 gave us attention: every position mixes the values of the positions it may
# see, weighted by how well its query matches their keys. A Transformer **block** wraps
# that in three more ideas:
#
# ```
#          x ───────────────┐                   x ────────────────┐
#          │                │                   │                 │
#     LayerNorm (ln_1)      │              LayerNorm (ln_2)       │
#          │                │                   │                 │
#   causal self-attention   │             feed-forward (MLP)      │
#          │                │                   │                 │
#          └──── + ◄────────┘                   └───── + ◄────────┘
# ```
#
# - **LayerNorm** keeps the numbers entering each sub-layer at a steady scale;
# - the **feed-forward** block (a small MLP applied to each position on its own) does the
#   per-token computation, where attention did the mixing *between* positions;
# - **residual paths** (`x + ...`) let each sub-layer add a correction to a stream that
#   flows unchanged from the embeddings to the output, which is what makes deep stacks
#   trainable.
#
# GPT-2 stacks such blocks (12 in the smallest GPT-2, 4 in our Shakespeare model). We
# build each piece now.

# %% [markdown]
# ## 2. LayerNorm, forward
#
# For one position with features $x \in \mathbb{R}^C$:
#
# $$\mu = \frac{1}{C}\sum_i x_i, \qquad \sigma^2 = \frac{1}{C}\sum_i (x_i - \mu)^2, \qquad
#   \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y_i = \gamma_i \hat x_i + \beta_i.$$
#
# Each position is normalised *over its own features* (BatchNorm, by contrast, normalises
# each feature over the batch, which does not suit sequences of any length or batch size 1).
# The learned gain $\gamma$ (`weight`) and shift $\beta$ (`bias`) let the network undo the
# normalisation where that helps. $\epsilon = 10^{-5}$ avoids a division by zero. Note the
# variance divides by $C$, not $C - 1$.

# %%
def layer_norm_forward(x, gamma, beta, eps=1e-5):
    """x (..., C) -> y (..., C), plus what the backward pass needs."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    return gamma * xhat + beta, (xhat, rstd, gamma)


rng = np.random.default_rng(0)
x = rng.normal(loc=3.0, scale=5.0, size=(2, 4, 8))   # (B, T, C), far from mean 0, std 1
gamma, beta = rng.normal(size=8), rng.normal(size=8)
y, cache = layer_norm_forward(x, gamma, beta)
xhat = cache[0]
print("per-position mean of xhat:", np.abs(xhat.mean(-1)).max().round(12),
      "| variance:", xhat.var(-1).min().round(6), "to", xhat.var(-1).max().round(6))

# %% [markdown]
# **Check yourself:** each position of $\hat x$ has mean 0 and variance 1, and the result
# equals PyTorch's `F.layer_norm` and the library's `lmlib.scratch.transformer.LayerNorm`.

# %%
assert np.allclose(xhat.mean(-1), 0) and np.allclose(xhat.var(-1), 1, atol=1e-4)
y_torch = F.layer_norm(torch.tensor(x), (8,), torch.tensor(gamma), torch.tensor(beta)).numpy()
np.testing.assert_allclose(y, y_torch, rtol=1e-12, atol=1e-12)
ln = T.LayerNorm(8)
ln.params["weight"], ln.params["bias"] = gamma, beta
np.testing.assert_allclose(y, ln(x), rtol=1e-12, atol=1e-12)

# %% [markdown]
# ## 3. LayerNorm, backward
#
# Given $g_y = \partial L / \partial y$, the parameter gradients are sums over every
# position: $\partial L/\partial\gamma = \sum g_y \hat x$ and $\partial L/\partial\beta = \sum g_y$.
# The input gradient is the interesting one, because $\mu$ and $\sigma$ depend on *every*
# feature of the position. Write $g = g_y \gamma$ (the gradient reaching $\hat x$). Going back
# through $\hat x = (x - \mu)\,r$ with $r = 1/\sqrt{\sigma^2+\epsilon}$, and using
# $\partial\mu/\partial x_j = 1/C$ and $\partial\sigma^2/\partial x_j = 2(x_j-\mu)/C$, the
# terms collect into one line:
#
# $$\frac{\partial L}{\partial x} = r\left(g - \operatorname{mean}(g) - \hat x \,\operatorname{mean}(g \hat x)\right),$$
#
# with both means over the $C$ features. The two subtractions remove the parts of $g$ that
# would change the mean or the scale of $\hat x$, which the normalisation undoes anyway.

# %%
def layer_norm_backward(dy, cache):
    """dy (..., C) -> dx (..., C), dgamma (C,), dbeta (C,)."""
    xhat, rstd, gamma = cache
    C = xhat.shape[-1]
    dgamma = (dy * xhat).reshape(-1, C).sum(0)
    dbeta = dy.reshape(-1, C).sum(0)
    g = dy * gamma
    dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    return dx, dgamma, dbeta


dy = rng.normal(size=y.shape)
dx, dgamma, dbeta = layer_norm_backward(dy, cache)

# %% [markdown]
# **Gradient check.** The loss $L = \sum y \cdot dy$ has exactly $dy$ as its gradient with
# respect to $y$, so central differences of $L$ must match our $dx$, $d\gamma$, $d\beta$.

# %%
from lmlib.scratch.gradcheck import numerical_gradient  # chapter 02's central differences

loss = lambda: float((layer_norm_forward(x, gamma, beta)[0] * dy).sum())
for name, ours, wrt in (("dx", dx, x), ("dgamma", dgamma, gamma), ("dbeta", dbeta, beta)):
    num = numerical_gradient(loss, wrt)
    rel = np.abs(ours - num).max() / np.abs(num).max()
    print(f"{name:7s} max relative error {rel:.2e}")
    assert rel < 1e-7

# %% [markdown]
# **Check yourself:** the same gradients from PyTorch's autograd, and from the library's
# `LayerNorm.backward`.

# %%
xt = torch.tensor(x, requires_grad=True)
gt = torch.tensor(gamma, requires_grad=True)
bt = torch.tensor(beta, requires_grad=True)
F.layer_norm(xt, (8,), gt, bt).backward(torch.tensor(dy))
np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=1e-9, atol=1e-12)
np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=1e-9, atol=1e-12)
ln(x)
np.testing.assert_allclose(dx, ln.backward(dy), rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(dgamma, ln.grads["weight"], rtol=1e-10, atol=1e-12)
print("LayerNorm backward: equal to PyTorch autograd and to lmlib")

# %% [markdown]
# ## 4. GELU and the feed-forward block
#
# The feed-forward block widens each position to $4C$ features, applies a non-linearity,
# and projects back to $C$: `c_proj(gelu(c_fc(x)))`. GPT-2 uses **GELU**,
# $x\,\Phi(x)$ with $\Phi$ the standard normal CDF, in its tanh approximation
#
# $$\operatorname{gelu}(x) \approx \tfrac12 x\left(1 + \tanh\!\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right)\right).$$
#
# Unlike ReLU it is smooth, and slightly negative for small negative inputs.

# %%
def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


grid = np.linspace(-4, 4, 401)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(grid, np.maximum(grid, 0), "--", label="ReLU")
ax.plot(grid, gelu(grid), label="GELU (tanh form)")
ax.plot(grid, F.gelu(torch.tensor(grid)).numpy(), ":", label=r"exact $x\,\Phi(x)$")
ax.set_xlabel("x")
ax.legend()
ax.set_title("GELU: a smooth ReLU")
plt.show()

# %% [markdown]
# **Check yourself:** equal to PyTorch's `GELU(approximate="tanh")` and within $10^{-3}$ of
# the exact form; then the feed-forward block equals GPT's `MLP` module.

# %%
np.testing.assert_allclose(gelu(grid), F.gelu(torch.tensor(grid), approximate="tanh").numpy(),
                           rtol=1e-12, atol=1e-14)
assert np.abs(gelu(grid) - F.gelu(torch.tensor(grid)).numpy()).max() < 1e-3
np.testing.assert_allclose(gelu(grid), T.gelu(grid))

tiny = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=4, n_embd=32)
torch.manual_seed(0)
block = Block(tiny).double().eval()
with torch.no_grad():
    for p in block.parameters():  # move every weight off its initial value
        p.add_(0.1 * torch.randn_like(p))
P = {k: v.numpy() for k, v in block.state_dict().items()}  # name -> array, PyTorch layout


def linear(x, W, b):
    """nn.Linear stores W as (out, in): y = x W^T + b."""
    return x @ W.T + b


def feed_forward(x, P):
    h = gelu(linear(x, P["mlp.c_fc.weight"], P["mlp.c_fc.bias"]))       # (B, T, 4C)
    return linear(h, P["mlp.c_proj.weight"], P["mlp.c_proj.bias"])     # (B, T, C)


x = rng.normal(size=(2, 10, 32))
with torch.no_grad():
    np.testing.assert_allclose(feed_forward(x, P), block.mlp(torch.tensor(x)).numpy(),
                               rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(feed_forward(x, P), T.feed_forward(x, P))
print("feed-forward: equal to PyTorch and to lmlib")

# %% [markdown]
# ## 5. Residual paths, and the block
#
# GPT-2's attention makes queries, keys and values with one matrix (`c_attn`, $C \to 3C$),
# splits them into heads, attends causally with chapter 05's function, merges the heads and
# mixes them with `c_proj`. The block then adds each sub-layer's output to its input:
#
# $$x \leftarrow x + \operatorname{attn}(\operatorname{ln_1}(x)), \qquad x \leftarrow x + \operatorname{mlp}(\operatorname{ln_2}(x)).$$

# %%
def causal_self_attention(x, P, n_head):
    B, Tn, C = x.shape
    q, k, v = np.split(linear(x, P["attn.c_attn.weight"], P["attn.c_attn.bias"]), 3, axis=-1)
    q, k, v = split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)
    heads, weights = scaled_dot_product_attention(q, k, v, causal_mask(Tn))  # (B, H, T, d)
    return linear(merge_heads(heads), P["attn.c_proj.weight"], P["attn.c_proj.bias"]), weights


def block_forward(x, P, n_head):
    """The pre-LN block of GPT-2. x (B, T, C) -> (B, T, C)."""
    ln1 = T.layer_norm(x, P["ln_1.weight"], P["ln_1.bias"])
    x = x + causal_self_attention(ln1, P, n_head)[0]
    ln2 = T.layer_norm(x, P["ln_2.weight"], P["ln_2.bias"])
    return x + feed_forward(ln2, P)


with torch.no_grad():
    ref = block(torch.tensor(x))[0].numpy()
np.testing.assert_allclose(block_forward(x, P, 4), ref, rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(block_forward(x, P, 4), T.block_forward(x, P, 4)[0])
print("the NumPy block equals the PyTorch block (float64, to 1e-10)")

# %% [markdown]
# > **Myth:** "the residual connection is `LayerNorm(out + out)`" (a formula that circulates
# > in blog posts and generated tutorials).
# >
# > **Fact:** the residual adds the sub-layer's *input* to its output:
# > `LayerNorm(x + Sublayer(x))` in the original Transformer (**post-LN**) or
# > `x + Sublayer(LayerNorm(x))` in GPT-2 and almost every model since (**pre-LN**).
#
# The myth is not a harmless typo. LayerNorm does not care about the scale of its input, so
# `LayerNorm(out + out) = LayerNorm(2 out) ≈ LayerNorm(out)`: the "residual" adds nothing,
# and the block's input $x$ survives only through the sub-layer. The proof:

# %%
out = feed_forward(x, P)
w1, b1 = P["ln_1.weight"], P["ln_1.bias"]
myth = T.layer_norm(out + out, w1, b1)
print("max |LayerNorm(out + out) - LayerNorm(out)| =",
      np.abs(myth - T.layer_norm(out, w1, b1)).max().round(6))
post_ln = T.layer_norm(x + out, w1, b1)            # the original Transformer
pre_ln = x + feed_forward(T.layer_norm(x, w1, b1), P)  # GPT-2
assert np.allclose(myth, T.layer_norm(out, w1, b1), atol=1e-4)  # the input is gone
assert not np.allclose(post_ln, T.layer_norm(out, w1, b1), atol=1e-2)  # here it is not
assert not np.allclose(pre_ln, T.layer_norm(out, w1, b1), atol=1e-2)   # nor here

# %% [markdown]
# The difference between the two correct forms shows when the sub-layer has nothing to
# add (its output projection at zero, as it nearly is at initialisation): the pre-LN
# block passes its input through **unchanged**, the post-LN block still normalises it.

# %%
P_zero = dict(P, **{"mlp.c_proj.weight": np.zeros_like(P["mlp.c_proj.weight"]),
                    "mlp.c_proj.bias": np.zeros_like(P["mlp.c_proj.bias"])})
pre_zero = x + feed_forward(T.layer_norm(x, w1, b1), P_zero)
post_zero = T.layer_norm(x + feed_forward(x, P_zero), w1, b1)
print("pre-LN, empty sub-layer: max |out - x| =", np.abs(pre_zero - x).max())
print("post-LN, empty sub-layer: max |out - x| =", np.abs(post_zero - x).max().round(3))
np.testing.assert_array_equal(pre_zero, x)      # an identity path
assert np.abs(post_zero - x).max() > 0.5        # renormalised at every block

# %% [markdown]
# A residual path also gives the gradient a direct route: $\partial(x + f(x))/\partial x = I + f'(x)$,
# so even when $f'$ is small, the identity carries the signal back through every block.

# %% [markdown]
# ## 6. Pre-LN vs post-LN
#
# The original Transformer normalised *after* the residual addition (post-LN). GPT-2 moved
# the norm to the start of each branch (pre-LN) and added one final LayerNorm (`ln_f`),
# leaving a clean identity path from the embeddings to the output. The GPT-2 paper states
# the change without giving a reason; it only likens it to a pre-activation residual
# network (Radford et al., 2019, section 2.3, *Language Models are Unsupervised Multitask
# Learners*). A later analysis
# explains why it helps (Xiong et al., 2020, *On Layer Normalization in the Transformer
# Architecture*): in post-LN the residual stream itself passes through a LayerNorm in every
# block, the gradients at initialisation are large near the output, and post-LN models need
# a careful learning-rate warm-up to train at all.
#
# The experiment: the same 6-layer GPT, once with pre-LN blocks, once with post-LN blocks,
# trained on Shakespeare with the course trainer at the same learning rate, **without
# warm-up**.

# %%
from lmlib.data import shakespeare
from lmlib.train import train


class PostLNBlock(Block):
    """The original Transformer's order: LayerNorm after each residual addition."""

    def forward(self, x, return_attention=False):
        a, att = self.attn(x, return_attention)
        x = self.ln_1(x + a)
        x = self.ln_2(x + self.mlp(x))
        return x, att


tok, train_ids, val_ids = shakespeare()
cfg6 = GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=6, n_head=4, n_embd=64)
steps = 10 if lmlib.FAST else 300
curves = {}
for name in ("pre-LN (GPT-2)", "post-LN (original)"):
    torch.manual_seed(0)
    model = GPT(cfg6)
    if name.startswith("post"):
        model.transformer.h = nn.ModuleList([PostLNBlock(cfg6) for _ in range(6)])
        model.transformer.ln_f = nn.Identity()  # post-LN already ends with a LayerNorm
    curves[name] = train(model, train_ids, val_ids, steps=steps, batch_size=16, block_size=64,
                         lr=3e-3, warmup=0, eval_interval=max(1, steps // 6), eval_batches=4,
                         progress=False, plot=False)

fig, ax = plt.subplots()
for name, h in curves.items():
    ax.plot(h.steps, h.val_loss, "o-", label=name)
ax.axhline(3.35, color="grey", ls=":", label="unigram (3.35)")
ax.set_xlabel("step")
ax.set_ylabel("val loss")
ax.set_title("same model, same learning rate (3e-3), no warm-up")
ax.legend()
plt.show()

# %%
pre, post = (curves[k].val_loss[-1] for k in curves)
print(f"final val loss: pre-LN {pre:.3f}, post-LN {post:.3f}")
if not lmlib.FAST:
    assert pre < post - 0.3  # measured: pre-LN 2.42, post-LN stuck at 3.36 (unigram level)

# %% [markdown]
# The post-LN model stalls at the unigram level: it predicts character frequencies and
# nothing more. With a warm-up and a lower learning rate it trains (try it: `warmup=100`),
# which is why warm-up was essential for the original Transformer. The pre-LN model needs
# no such care (we still use a short warm-up in chapter 07).

# %% [markdown]
# ## 7. Encoder, decoder, or both
#
# Three families use the same blocks and differ in their masks and their connections:

# %%
def draw_stack(ax, x0, title, layers, color):
    ax.text(x0 + 0.5, 5.45, title, ha="center", fontsize=9, weight="bold")
    for i, (label, c) in enumerate(layers):
        ax.add_patch(plt.Rectangle((x0, 0.35 + 0.9 * i), 1.0, 0.7, color=c or color, alpha=0.85))
        ax.text(x0 + 0.5, 0.7 + 0.9 * i, label, ha="center", va="center", fontsize=7.5)


fig, ax = plt.subplots(figsize=(9, 4))
emb, ffn = ("embeddings", "#dddddd"), ("feed-forward", "#f6d5a8")
draw_stack(ax, 0.0, "BERT: encoder only", [emb, ("self-attention\nno mask", "#a8d5f6"),
                                           ffn, ("[MASK] prediction", "#dddddd")], None)
draw_stack(ax, 1.8, "GPT: decoder only", [emb, ("causal\nself-attention", "#b6e3b6"), ffn,
                                          ("next-token head", "#dddddd")], None)
draw_stack(ax, 3.6, "Transformer: encoder", [emb, ("self-attention\nno mask", "#a8d5f6"), ffn,
                                              ("memory", "#dddddd")], None)
draw_stack(ax, 4.9, "+ decoder", [emb, ("causal\nself-attention", "#b6e3b6"),
                                   ("cross-attention\nQ: decoder, K,V: memory", "#e8b6e8"),
                                   ffn, ("next-token head", "#dddddd")], None)
ax.annotate("", xy=(4.9, 2.3), xytext=(4.6, 3.05), arrowprops=dict(arrowstyle="->", lw=1.5))
ax.set_xlim(-0.2, 6.1)
ax.set_ylim(0, 5.8)
ax.axis("off")
ax.set_title("each coloured box is repeated N times (one stack of blocks)", fontsize=9)
plt.show()

# %% [markdown]
# > **Myth:** "GPT is a Transformer encoder-decoder" / "GPT uses cross-attention".
# >
# > **Fact:** GPT is **decoder-only**: a stack of blocks with *causal* self-attention and no
# > cross-attention (there is nothing to attend across to). BERT is **encoder-only**:
# > self-attention with no causal mask, so every position sees both directions; it is
# > trained to fill in masked tokens, not to continue text. The original Transformer (for
# > translation) has both, joined by cross-attention.
#
# In code the difference between the two self-attentions is one argument, the mask:

# %%
mha = MultiHeadAttention(n_embd=32, n_head=4, rng=np.random.default_rng(1))
seq = rng.normal(size=(1, 8, 32))
enc_out, enc_w = mha(seq)                           # BERT-style: no mask
dec_out, dec_w = mha(seq, mask=causal_mask(8))      # GPT-style: causal

fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
for ax, w, title in ((axes[0], enc_w, "encoder (BERT): mask=None"),
                     (axes[1], dec_w, "decoder (GPT): causal_mask(8)")):
    ax.imshow(w[0, 0], cmap="Blues", vmin=0)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    ax.grid(False)
plt.show()

# %% [markdown]
# **Check yourself:** change the last token. In the encoder every position's output
# changes; in the decoder the first seven do not (that is what lets GPT be trained on every
# position of a text at once, and generate one token at a time).

# %%
seq2 = seq.copy()
seq2[0, -1] += 1.0
enc2, _ = mha(seq2)
dec2, _ = mha(seq2, mask=causal_mask(8))
assert not np.allclose(enc_out[0, :7], enc2[0, :7])
np.testing.assert_allclose(dec_out[0, :7], dec2[0, :7])
memory = rng.normal(size=(1, 5, 32))  # e.g. the encoder's output for a 5-token source
cross_out, cross_w = mha(seq, memory, memory)  # queries from the decoder, keys/values from memory
print("cross-attention weights:", cross_w.shape, "(B, H, T_decoder, T_encoder)")
assert cross_w.shape == (1, 4, 8, 5)

# %% [markdown]
# ### An encoder asked to write text
#
# Some tutorials train a Transformer *without* the causal mask on next-token prediction
# and then sample from it. What goes wrong? Position $t$ of a training window must predict
# token $t+1$, and without the mask that token is *in the window*: attention can simply
# copy it. Train two small GPTs the same way, one causal and one with the mask removed
# (`GPTConfig(causal=False)`, lmlib's switch), and look at three things: the training loss,
# the loss at each position of a val window, and what each model writes.
# (Exercise 6 has you build the mask-free attention and measure the leak yourself.)

# %%
leak_steps = 30 if lmlib.FAST else 300
leak_runs = {}
for causal in (True, False):
    torch.manual_seed(0)
    m = GPT(GPTConfig(tok.vocab_size, block_size=16, n_layer=1, n_head=4, n_embd=64,
                      causal=causal))
    h = train(m, train_ids[:100_000], val_ids, steps=leak_steps, batch_size=16, block_size=16,
              lr=3e-3, warmup=10, eval_interval=max(1, leak_steps // 6), eval_batches=4,
              progress=False, plot=False)
    leak_runs["causal" if causal else "no mask"] = (m.eval(), h)

starts = np.random.default_rng(0).integers(0, len(val_ids) - 17, size=256)
xv = torch.as_tensor(np.stack([val_ids[s:s + 16] for s in starts]))
yv = torch.as_tensor(np.stack([val_ids[s + 1:s + 17] for s in starts]))
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
per_pos = {}
for name, (m, h) in leak_runs.items():
    with torch.no_grad():
        logits = m(xv)[0]
    per_pos[name] = F.cross_entropy(logits.transpose(1, 2), yv, reduction="none").mean(0).numpy()
    axes[0].plot(h.steps, h.train_loss, "o-", label=name)
    axes[1].plot(range(16), per_pos[name], "o-", label=name)
axes[0].set_xlabel("step")
axes[0].set_ylabel("train loss (fixed batches)")
axes[1].set_xlabel("position in the window (its target is the next character)")
axes[1].set_ylabel("val loss")
axes[1].set_title("the last target lies outside the window", fontsize=9)
for ax in axes:
    ax.legend()
plt.show()
for name, (_, h) in leak_runs.items():
    print(f"{name:8s} train loss {h.train_loss[-1]:.3f} | val loss at positions 0-14 "
          f"{per_pos[name][:-1].mean():.3f}, at position 15 {per_pos[name][-1]:.3f}")

# %% [markdown]
# The model without the mask drives its loss towards zero at every position but the last:
# there it has to *predict*, because its target is the first character after the window.
# Generation only ever uses that last position (the next character has not been written
# yet), so the model's impressive training loss says nothing about what it will write:

# %%
prompt_ids = torch.as_tensor(tok.encode("ROMEO:\n"))[None]
for name, (m, _) in leak_runs.items():
    text = tok.decode(m.generate(prompt_ids, 120, temperature=0.8,
                                 generator=torch.Generator().manual_seed(0))[0])
    print(f"----- {name} -----\n{text}\n")
if not lmlib.FAST:
    enc, dec = per_pos["no mask"], per_pos["causal"]
    assert leak_runs["no mask"][1].train_loss[-1] < leak_runs["causal"][1].train_loss[-1] - 1.0
    assert enc[:-1].mean() < dec[:-1].mean() - 1.0   # copying the visible next character
    assert enc[-1] > enc[:-1].mean() + 1.0           # the last position has nothing to copy

# %% [markdown]
# ## 8. A whole GPT forward pass in NumPy
#
# Stack the pieces: token embedding + position embedding, $L$ blocks, a final LayerNorm,
# and a head that reuses the token-embedding matrix (weight tying), all in float32 like the
# PyTorch model. We use the GPT that ships with the course (trained in chapter 07) when it
# is there, so that the text is Shakespeare-like; a random model proves the same equality.

# %%
from lmlib.models.gpt import ASSET
from lmlib.data import CharTokenizer

if ASSET.is_file():
    gpt, extra = lmlib.load_checkpoint(ASSET)
    tok = CharTokenizer("".join(extra["itos"]))
    print(f"the shipped GPT: {gpt.num_params():,} parameters, trained {extra['step']} steps")
else:  # a random GPT of the same shape: the equalities below hold all the same
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(tok.vocab_size, 128, 4, 4, 128)).eval()
    print("no shipped checkpoint found: using a random GPT")
config = gpt.config
params = {k: v.detach().numpy().astype(np.float32) for k, v in gpt.state_dict().items()}
print(f"{len(params)} arrays, e.g. transformer.h.0.attn.c_attn.weight "
      f"{params['transformer.h.0.attn.c_attn.weight'].shape}")


# %%
def gpt_forward(params, ids, config):
    """ids (T,) -> logits (T, V), float32."""
    Tn = len(ids)
    x = params["transformer.wte.weight"][ids] + params["transformer.wpe.weight"][:Tn]  # (T, C)
    x = x[None]                                                                      # (1, T, C)
    for i in range(config.n_layer):
        block_params = {k[len(f"transformer.h.{i}."):]: v for k, v in params.items()
                        if k.startswith(f"transformer.h.{i}.")}
        x = block_forward(x, block_params, config.n_head)
    x = T.layer_norm(x, params["transformer.ln_f.weight"], params["transformer.ln_f.bias"])
    return (x @ params["transformer.wte.weight"].T)[0]  # the tied head: (T, V)


prompt = "ROMEO:\nWhat light through yonder window breaks?"
ids = tok.encode(prompt)
ours = gpt_forward(params, ids, config)
with torch.no_grad():
    theirs = gpt(torch.as_tensor(ids)[None])[0][0].numpy()
print("logits", ours.shape, ours.dtype, "| max |NumPy - PyTorch| =", np.abs(ours - theirs).max())

# %% [markdown]
# **Check yourself:** the logits agree to 1e-4 (float32 rounding only), and equal the
# library's `lmlib.scratch.gpt.gpt_forward`.

# %%
from lmlib.scratch.gpt import gpt_forward as lib_gpt_forward

np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
np.testing.assert_allclose(ours, lib_gpt_forward(params, ids, config)[0], atol=1e-5, rtol=0)

# %% [markdown]
# And the real test of a language model: the greedy continuation (always the most likely
# next character) is the same text from NumPy and from PyTorch.

# %%
n_new = 40 if lmlib.FAST else 200
seq_np = list(ids)
for _ in range(n_new):
    logits = gpt_forward(params, np.array(seq_np[-config.block_size:]), config)
    seq_np.append(int(logits[-1].argmax()))
seq_torch = gpt.generate(torch.as_tensor(ids)[None], n_new, top_k=1)[0].tolist()
print(tok.decode(seq_np))
assert seq_np == seq_torch
print("\nthe same", n_new, "characters from NumPy and from PyTorch")

# %% [markdown]
# ## Summary
#
# - **LayerNorm** normalises each position over its features; its backward is
#   $r\,(g - \bar g - \hat x\,\overline{g\hat x})$, checked against finite differences and
#   autograd.
# - The **feed-forward** block (C → 4C → C with GELU) works on each position alone;
#   attention mixes positions.
# - **Residual paths** add the sub-layer's input back: `x + Sublayer(LayerNorm(x))`
#   (pre-LN, GPT-2) or `LayerNorm(x + Sublayer(x))` (post-LN), never `LayerNorm(out + out)`.
# - **Pre-LN** trains without warm-up where post-LN stalls.
# - **Encoder vs decoder** is a mask (and cross-attention for encoder-decoder models).
#   Trained on next-token prediction without the mask, a model copies the visible next
#   token: its training loss collapses, and its generated text is poor.
# - A **whole GPT** is embeddings, blocks, a final LayerNorm and a tied head: 40 lines of
#   NumPy that reproduce PyTorch's logits to 1e-4 and its text exactly.
#
# **Next:** chapter 07 trains this GPT in PyTorch. **Exercises:**
# `exercises/06_transformer.ipynb` (LayerNorm forward and backward, a causal self-attention
# block, a pre-LN block, counting a block's parameters, a block that sees the future).
