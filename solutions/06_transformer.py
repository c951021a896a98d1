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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/06_transformer.ipynb)

# %% [markdown]
# # 06 · Exercises: the Transformer block
#
# Fill in each function where it says `# YOUR CODE HERE`, then run the **check** cell under
# it. A check prints `correct` when your code is right and stops with an error saying what
# is wrong otherwise. NumPy only inside the functions; the checks compare with PyTorch.

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
import numpy as np
import torch
import torch.nn.functional as F

from lmlib.models.gpt import Block, GPTConfig
from lmlib.scratch.attention import causal_mask

# %% [markdown]
# ## Exercise 1: LayerNorm forward
#
# Normalise each position of `x` (shape `(..., C)`) over its `C` features, then scale and
# shift: $y = \gamma \dfrac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta$, with the mean $\mu$
# and the *biased* variance $\sigma^2$ (divide by $C$) over the last axis.

# %%
def layer_norm(x, gamma, beta, eps=1e-5):
    """x (..., C), gamma (C,), beta (C,) -> (..., C)."""
    ### BEGIN SOLUTION
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta
    ### END SOLUTION


# %% tags=["check"]
# Check: LayerNorm forward
rng = np.random.default_rng(0)
x = rng.normal(2.0, 3.0, size=(2, 5, 6))
g, b = rng.normal(size=6), rng.normal(size=6)
want = F.layer_norm(torch.tensor(x), (6,), torch.tensor(g), torch.tensor(b)).numpy()
got = layer_norm(x, g, b)
assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                           err_msg="not equal to torch's layer_norm: biased variance? eps inside the sqrt?")
print("LayerNorm forward: correct")

# %% [markdown]
# ## Exercise 2: LayerNorm backward
#
# Given `dy` $= \partial L/\partial y$, return `dx`, `dgamma`, `dbeta`. With
# $\hat x = (x-\mu)\,r$, $r = 1/\sqrt{\sigma^2+\epsilon}$ and $g = dy\cdot\gamma$:
#
# $$dx = r\,\big(g - \operatorname{mean}(g) - \hat x\,\operatorname{mean}(g\,\hat x)\big),\qquad
#   d\gamma = \sum dy\,\hat x,\qquad d\beta = \sum dy,$$
#
# means over the features, sums over every position (all axes but the last).

# %%
def layer_norm_backward(dy, x, gamma, eps=1e-5):
    """dy, x (..., C), gamma (C,) -> (dx (..., C), dgamma (C,), dbeta (C,))."""
    ### BEGIN SOLUTION
    mu = x.mean(axis=-1, keepdims=True)
    r = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    xhat = (x - mu) * r
    gg = dy * gamma
    dx = r * (gg - gg.mean(-1, keepdims=True) - xhat * (gg * xhat).mean(-1, keepdims=True))
    C = x.shape[-1]
    return dx, (dy * xhat).reshape(-1, C).sum(0), dy.reshape(-1, C).sum(0)
    ### END SOLUTION


# %% tags=["check"]
# Check: LayerNorm backward
dy = rng.normal(size=x.shape)
xt = torch.tensor(x, requires_grad=True)
gt = torch.tensor(g, requires_grad=True)
bt = torch.tensor(b, requires_grad=True)
F.layer_norm(xt, (6,), gt, bt).backward(torch.tensor(dy))
dx, dg, db = layer_norm_backward(dy, x, g)
np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-9, err_msg="dbeta is wrong")
np.testing.assert_allclose(dg, gt.grad.numpy(), rtol=1e-9, err_msg="dgamma is wrong")
np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg="dx is wrong")
print("LayerNorm backward: correct")

# %% [markdown]
# ## Exercise 3: causal self-attention, GPT-2 style
#
# `P` holds the weights of one attention layer in PyTorch's layout (`(out, in)`, used as
# `x @ W.T + b`): `c_attn.weight` (3C, C) makes queries, keys and values at once (in that
# order along the output), `c_proj.weight` (C, C) mixes the heads. For `x` (B, T, C):
# split q, k, v into `n_head` heads of width `C // n_head`, attend with the causal mask
# (`softmax(q k^T / sqrt(d))`, future positions get weight 0), put the heads back side by
# side and apply `c_proj`. Return the output (B, T, C).

# %%
def causal_self_attention(x, P, n_head):
    """x (B, T, C) -> (B, T, C)."""
    ### BEGIN SOLUTION
    B, T, C = x.shape
    d = C // n_head
    qkv = x @ P["c_attn.weight"].T + P["c_attn.bias"]
    q, k, v = (a.reshape(B, T, n_head, d).transpose(0, 2, 1, 3) for a in np.split(qkv, 3, -1))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)             # (B, H, T, T)
    scores = np.where(causal_mask(T), scores, -np.inf)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    y = (w @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    return y @ P["c_proj.weight"].T + P["c_proj.bias"]
    ### END SOLUTION


# %% tags=["check"]
# Check: causal self-attention
cfg = GPTConfig(vocab_size=10, block_size=16, n_layer=1, n_head=4, n_embd=16)
torch.manual_seed(0)
block = Block(cfg).double().eval()
with torch.no_grad():
    for p in block.parameters():
        p.add_(0.2 * torch.randn_like(p))
P = {k[len("attn."):]: v.numpy() for k, v in block.state_dict().items() if k.startswith("attn.")}
xa = rng.normal(size=(2, 7, 16))
with torch.no_grad():
    want = block.attn(torch.tensor(xa))[0].numpy()
got = causal_self_attention(xa, P, 4)
assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11,
                           err_msg="not equal to GPT's CausalSelfAttention (heads? mask? scale?)")
print("causal self-attention: correct")

# %% [markdown]
# ## Exercise 4: the pre-LN block
#
# Put it together as GPT-2 does: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`, where
# `mlp(h) = c_proj(gelu(c_fc(h)))` with the tanh form of GELU,
# $\tfrac12 h\,(1+\tanh(\sqrt{2/\pi}\,(h + 0.044715 h^3)))$. `P` holds the whole block's
# weights (`ln_1.weight`, `attn.c_attn.weight`, `mlp.c_fc.weight`, ...). You may use your
# `layer_norm` and `causal_self_attention`.

# %%
def block_forward(x, P, n_head):
    """x (B, T, C) -> (B, T, C)."""
    ### BEGIN SOLUTION
    attn_p = {k[len("attn."):]: v for k, v in P.items() if k.startswith("attn.")}
    x = x + causal_self_attention(layer_norm(x, P["ln_1.weight"], P["ln_1.bias"]), attn_p, n_head)
    h = layer_norm(x, P["ln_2.weight"], P["ln_2.bias"]) @ P["mlp.c_fc.weight"].T + P["mlp.c_fc.bias"]
    h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h ** 3)))
    return x + h @ P["mlp.c_proj.weight"].T + P["mlp.c_proj.bias"]
    ### END SOLUTION


# %% tags=["check"]
# Check: pre-LN block
Pall = {k: v.numpy() for k, v in block.state_dict().items()}
with torch.no_grad():
    want = block(torch.tensor(xa))[0].numpy()
got = block_forward(xa, Pall, 4)
np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11,
                           err_msg="not equal to GPT's Block: x + attn(ln_1(x)), then x + mlp(ln_2(x))")
print("pre-LN block: correct")

# %% [markdown]
# ## Exercise 5: how many parameters in a block?
#
# Count the parameters of one GPT block of width `C` with biases: two LayerNorms (gain and
# shift each), `c_attn` (C → 3C), attention `c_proj` (C → C), `c_fc` (C → 4C) and
# `mlp.c_proj` (4C → C). Return the number as an int. (For large C it is about $12C^2$.)

# %%
def block_params(C: int) -> int:
    ### BEGIN SOLUTION
    return 2 * 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (4 * C * C + 4 * C) + (4 * C * C + C)
    ### END SOLUTION


# %% tags=["check"]
# Check: block parameters
for C in (16, 128, 768):
    want = sum(p.numel() for p in Block(GPTConfig(10, 8, 1, 4, C)).parameters())
    assert block_params(C) == want, f"C={C}: got {block_params(C)}, the Block has {want}"
print("block parameters: correct (GPT-2 small: 12 blocks of", f"{block_params(768):,})")
