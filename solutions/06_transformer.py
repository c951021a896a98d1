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
import torch.nn as nn
import torch.nn.functional as F

from lmlib.models.gpt import GPT, Block, GPTConfig
from lmlib.scratch.attention import causal_mask

# %% [markdown]
# ## Exercise 1: LayerNorm forward (core, 10 min)
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
# ## Exercise 2: LayerNorm backward (core, 25 min)
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
# ## Exercise 3: causal self-attention, GPT-2 style (core, 20 min)
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
# ## Exercise 4: the pre-LN block (core, 15 min)
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
# ## Exercise 5: how many parameters in a block? (core, 10 min)
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


# %% [markdown]
# ## Exercise 6: a block that sees the future (core, 30 min)
#
# A GPT is trained on every position of a window at once: position $t$ predicts token
# $t+1$, and the causal mask is the only thing that stops it from reading that token. Take
# the mask away and find out what happens.
#
# **(a)** Write `SeeingSelfAttention`: GPT-2's attention (as in Exercise 3, but a PyTorch
# module with `c_attn` and `c_proj`) **without** the causal mask, so that every position
# attends to every position of the window, the later ones included. `forward(x,
# return_attention=False)` takes `x` (B, T, C) and returns `(y, att)`: the output (B, T, C)
# and the attention weights (B, H, T, T), like `lmlib.models.gpt.CausalSelfAttention`, so
# that it can replace the attention of a `Block`.

# %%
class SeeingSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x, return_attention=False):
        ### BEGIN SOLUTION
        B, T, C = x.shape
        d = C // self.n_head
        q, k, v = (a.view(B, T, self.n_head, d).transpose(1, 2)
                   for a in self.c_attn(x).split(C, dim=2))
        att = F.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)  # no mask: (B, H, T, T)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y), att
        ### END SOLUTION


def seeing_gpt(config):
    """A GPT whose blocks use SeeingSelfAttention instead of the causal attention."""
    model = GPT(config)
    for block in model.transformer.h:
        block.attn = SeeingSelfAttention(config.n_embd, config.n_head)
    return model


# %% tags=["check"]
# Check: attention without the mask
torch.manual_seed(0)
cfg_s = GPTConfig(vocab_size=11, block_size=12, n_layer=1, n_head=2, n_embd=16)
mine = SeeingSelfAttention(16, 2)
ref = GPT(GPTConfig(11, 12, 1, 2, 16, causal=False)).transformer.h[0].attn  # lmlib's encoder
ref.load_state_dict(mine.state_dict())
xs = torch.randn(3, 9, 16)
with torch.no_grad():
    y, w = mine(xs)
    y_ref, w_ref = ref(xs, return_attention=True)
assert tuple(w.shape) == (3, 2, 9, 9), f"weights of shape {tuple(w.shape)}, expected (3, 2, 9, 9)"
assert torch.all(w[:, :, 0, -1] > 0), "position 0 must attend to the last position: remove the causal mask"
assert torch.all(w[:, :, -1, 0] > 0), "the last position must still see the first: do not mask the past"
torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 9), msg="each row of weights must sum to 1 (softmax over the keys)")
torch.testing.assert_close(w, w_ref, msg="attention weights differ from lmlib's encoder (scale by 1/sqrt(d)?)")
torch.testing.assert_close(y, y_ref, msg="outputs differ from lmlib's encoder (merging the heads? c_proj?)")
print("attention without the mask: correct (equal to GPTConfig(causal=False))")

# %% [markdown]
# **(b)** Generation cannot show the model its own future: to write token $t+1$ it has
# only tokens $0..t$. Write `generation_logprobs(model, ids)`: for a 1-D tensor `ids` of
# length $T$, the log-probabilities (shape $(T-1, V)$) whose row $t$ is the model's
# distribution for token $t+1$ computed from **`ids[: t + 1]` alone**, as generation would
# (the last position of that prefix, `F.log_softmax`). For a causal GPT this equals one
# forward pass over all of `ids`; for the seeing GPT it does not.

# %%
@torch.no_grad()
def generation_logprobs(model, ids):
    """ids (T,) -> (T - 1, V): row t = log P(ids[t + 1] | ids[: t + 1])."""
    ### BEGIN SOLUTION
    rows = []
    for t in range(len(ids) - 1):
        logits, _ = model(ids[None, : t + 1])
        rows.append(F.log_softmax(logits[0, -1], dim=-1))
    return torch.stack(rows)
    ### END SOLUTION


# %% tags=["check"]
# Check: generation sees only the past
torch.manual_seed(1)
causal = GPT(GPTConfig(vocab_size=11, block_size=12, n_layer=2, n_head=2, n_embd=16)).eval()
seeing = seeing_gpt(GPTConfig(vocab_size=11, block_size=12, n_layer=2, n_head=2, n_embd=16)).eval()
ids = torch.randint(0, 11, (10,), generator=torch.Generator().manual_seed(2))
lp = generation_logprobs(causal, ids)
assert tuple(lp.shape) == (9, 11), f"shape {tuple(lp.shape)}, expected (T - 1, V) = (9, 11)"
torch.testing.assert_close(lp.exp().sum(-1), torch.ones(9), msg="rows must be log-probabilities (log_softmax)")
with torch.no_grad():
    full = F.log_softmax(causal(ids[None])[0][0, :-1], dim=-1)
torch.testing.assert_close(lp, full, msg="for a causal GPT, row t must equal the forward pass at "
                           "position t (the last position of ids[: t + 1])")
lp_seeing = generation_logprobs(seeing, ids)
for t in (0, 4, 8):  # change token t + 1 and everything after it: row t must not move
    other = ids.clone()
    other[t + 1:] = (other[t + 1:] + 3) % 11
    torch.testing.assert_close(generation_logprobs(seeing, other)[t], lp_seeing[t],
                               msg=f"row {t} changed when tokens {t + 1}.. changed: the prediction "
                               "of a token must not see that token or later ones")
print("generation sees only the past: correct")

# %% [markdown]
# **(c)** Now train a small seeing GPT and a causal one, the same way, and compare the loss
# in training (windows with their future) with the loss as generation meets it (your
# `generation_logprobs`). Run the cell; the check says what must come out.

# %% tags=["check"]
# Check: the future leaks
from lmlib.data import shakespeare
from lmlib.train import train

_, train_ids, val_ids = shakespeare()
cfg_leak = GPTConfig(vocab_size=65, block_size=16, n_layer=1, n_head=4, n_embd=64)
runs = {}
for name, make in (("causal", GPT), ("seeing", seeing_gpt)):
    torch.manual_seed(0)
    model = make(cfg_leak)
    h = train(model, train_ids[:100_000], val_ids, steps=300, batch_size=16, block_size=16,
              lr=3e-3, warmup=10, eval_interval=100, eval_batches=4, progress=False, plot=False)
    model.eval()
    text = torch.as_tensor(val_ids[:400])
    gen = torch.cat([generation_logprobs(model, w) for w in text.split(16)])  # 16-char windows
    targets = torch.cat([w[1:] for w in text.split(16)])
    runs[name] = dict(train=h.train_loss[-1],
                      generation=float(-gen[torch.arange(len(targets)), targets].mean()))
    print(f"{name:7s} train loss (windows) {runs[name]['train']:.3f} | "
          f"loss as in generation {runs[name]['generation']:.3f}")
assert runs["seeing"]["train"] < runs["causal"]["train"] - 1.0, \
    "the seeing GPT's training loss should collapse: is the mask really gone?"
assert runs["seeing"]["generation"] > runs["seeing"]["train"] + 1.0, \
    "generation should be far worse than training for the seeing GPT"
assert runs["seeing"]["generation"] > runs["causal"]["generation"], \
    "in generation the seeing GPT should lose to the causal one"
print("the future leaks: the seeing GPT copies the next token in training and cannot generate")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** The seeing GPT of Exercise 6 reaches a very low training loss.
# Why is its loss at the *last* position of each training window no better than a causal
# model's, and what does that tell you about the text it generates?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Position $t$ of a window predicts token $t+1$, which sits inside the
# window for every position but the last: the model learns to copy it through attention.
# The target of the last position is the first token *after* the window, so nothing can be
# copied there and the model must really predict. Generation always predicts from the last
# position of what has been written so far, the one place where the seeing model had no
# shortcut and (since it is only 1 of T positions) little training signal; its samples are
# therefore poor, and its training loss says nothing about them.
#
# **Rubric (2 points).** 1 point for locating the leak (targets of positions $< T-1$ are in
# the window, the last one's is not); 1 point for linking it to generation (generation only
# uses the last position / the copying shortcut is unavailable there).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** In chapter 06's experiment the post-LN GPT stalls at the
# unigram loss without warm-up while the pre-LN GPT trains. Predict what happens to the
# post-LN model with a 100-step warm-up and a learning rate ten times smaller, and explain
# which path the pre-LN block keeps free that the post-LN block does not.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** With warm-up and a smaller learning rate the post-LN model trains (its
# loss leaves the unigram plateau), because the first, poorly-estimated Adam steps are small.
# In a pre-LN block the residual stream $x \to x + f(\mathrm{LN}(x))$ has an identity path
# from the embeddings to the output, so gradients reach the early layers unchanged; in a
# post-LN block every residual addition passes through a LayerNorm, so the stream is
# renormalised at each layer and the gradient must pass through all of them (Xiong et al.,
# 2020, show the resulting large gradients near the output at initialisation).
#
# **Rubric (2 points).** 1 point for the prediction (it trains with warm-up / smaller lr);
# 1 point for the identity path of the residual stream in pre-LN versus a LayerNorm on the
# stream in post-LN.
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** BERT and GPT use the same blocks. Compare them: which can
# continue a text one token at a time, which sees context on both sides of a word, and
# what single change to the attention makes the difference?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** GPT (decoder-only, causal mask) continues text left to right: each
# position sees only the past, so it can be trained on every position at once and used
# for generation. BERT (encoder-only, no mask) sees both sides of every token, which suits
# understanding tasks (it is trained to fill in masked tokens), but it cannot generate
# left to right without the leak of Exercise 6. The difference is the attention mask (plus
# the training objective that goes with it).
#
# **Rubric (2 points).** 1 point for GPT = causal / generation and BERT = bidirectional /
# masked-token training; 1 point for naming the mask as the difference.
# ### END SOLUTION
