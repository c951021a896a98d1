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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/07_gpt.ipynb)

# %% [markdown]
# # 07 · Exercises: GPT in PyTorch
#
# Fill in each function where it says `# YOUR CODE HERE`, then run the **check** cell under
# it. A check prints `correct` when your code is right and stops with an error saying what
# is wrong otherwise.

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

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.models import GPT, GPTConfig
from lmlib.train import TrainConfig, lr_at

# %% [markdown]
# ## Exercise 1: counting parameters, with and without weight tying (core, 15 min)
#
# Return the number of parameters of a GPT with vocabulary `V`, context `T`, `L` blocks of
# width `C` (biases everywhere, as in GPT-2): token embedding (V × C), position embedding
# (T × C), `L` blocks (each: two LayerNorms with gain and shift; `c_attn` C → 3C;
# `c_proj` C → C; `c_fc` C → 4C; `c_proj` 4C → C), a final LayerNorm, and a head (C → V,
# no bias) that is a *separate* matrix when `tied=False` and the token embedding itself
# when `tied=True`.

# %%
def gpt_params(V: int, T: int, L: int, C: int, tied: bool = True) -> int:
    ### BEGIN SOLUTION
    block = 4 * C + (3 * C * C + 3 * C) + (C * C + C) + (4 * C * C + 4 * C) + (4 * C * C + C)
    n = V * C + T * C + L * block + 2 * C
    return n if tied else n + V * C
    ### END SOLUTION


# %% tags=["check"]
# Check: parameter count
for args in ((65, 64, 4, 128), (65, 256, 6, 384), (50257, 1024, 12, 768)):
    if args[0] > 1000:  # GPT-2 small: 124,439,808 parameters with tying
        want = 124_439_808
    else:
        want = GPT(GPTConfig(args[0], args[1], args[2], 4, args[3])).num_params()
    assert gpt_params(*args) == want, f"{args}: got {gpt_params(*args):,}, expected {want:,}"
    assert gpt_params(*args, tied=False) == want + args[0] * args[3], "untied adds one V x C head"
print("parameter count: correct; GPT-2 small untied would have",
      f"{gpt_params(50257, 1024, 12, 768, tied=False):,}")

# %% [markdown]
# ## Exercise 2: warm-up, then cosine decay (core, 15 min)
#
# Return the learning rate of update `step` (0-based) of a run of `steps` updates: for
# `step < warmup` it rises linearly, `lr * (step + 1) / warmup`; after that it follows a
# half cosine from `lr` (at `step = warmup`) down to `min_lr` (at `step = steps - 1`):
# `min_lr + 0.5 (lr - min_lr)(1 + cos(pi * progress))`, `progress` going from 0 to 1.

# %%
def learning_rate(step: int, steps: int, lr: float, min_lr: float, warmup: int) -> float:
    ### BEGIN SOLUTION
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - 1 - warmup)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))
    ### END SOLUTION


# %% tags=["check"]
# Check: schedule
cfg = TrainConfig(steps=500, lr=3e-3, min_lr=3e-4, warmup=50)
for s in (0, 10, 49, 50, 51, 200, 499):
    got = learning_rate(s, 500, 3e-3, 3e-4, 50)
    assert math.isclose(got, lr_at(s, cfg), rel_tol=1e-9), f"step {s}: {got} vs {lr_at(s, cfg)}"
print("schedule: correct")

# %% [markdown]
# ## Exercise 3: one training step (core, 10 min)
#
# Do one update of `model` on the batch `(x, y)`: the forward pass returns
# `(logits, loss)`; clear the old gradients, backpropagate, clip the global gradient norm
# to `clip` (`torch.nn.utils.clip_grad_norm_`), and step the optimizer. Return the loss as a
# Python float.

# %%
def train_step(model, optimizer, x, y, clip=1.0) -> float:
    ### BEGIN SOLUTION
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item()
    ### END SOLUTION


# %% tags=["check"]
# Check: training step
def fresh():
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    return m, torch.optim.AdamW(m.parameters(), lr=1e-2)


xb = torch.randint(0, 11, (4, 8), generator=torch.Generator().manual_seed(1))
yb = (xb + 1) % 11
m1, o1 = fresh()
m2, o2 = fresh()
losses = [train_step(m1, o1, xb, yb, clip=0.5) for _ in range(3)]
assert isinstance(losses[0], float), "return loss.item(), a Python float"
for _ in range(3):  # the reference
    _, loss = m2(xb, yb)
    o2.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m2.parameters(), 0.5)
    o2.step()
for p1, p2 in zip(m1.parameters(), m2.parameters()):
    torch.testing.assert_close(p1, p2, msg="the weights differ from the reference after 3 steps "
                               "(zero the gradients? clip before the step?)")
assert losses[2] < losses[0], "the loss should fall on a repeated batch"
print("training step: correct")

# %% [markdown]
# ## Exercise 4: a causal self-attention module in PyTorch (core, 25 min)
#
# Write the attention of GPT-2 as an `nn.Module` with the *explicit* computation (no
# `F.scaled_dot_product_attention`): `c_attn` (C → 3C) makes q, k, v; split into
# `n_head` heads; scores `q k^T / sqrt(d)`; positions in the future set to `-inf`
# (`masked_fill`); softmax; weighted sum of the values; heads side by side; `c_proj`.
# Return the output (B, T, C) and the attention weights (B, H, T, T).

# %%
class MyCausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        ### BEGIN SOLUTION
        B, T, C = x.shape
        d = C // self.n_head
        q, k, v = (a.view(B, T, self.n_head, d).transpose(1, 2)
                   for a in self.c_attn(x).split(C, dim=2))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        att = F.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y), att
        ### END SOLUTION


# %% tags=["check"]
# Check: attention module
torch.manual_seed(0)
mine = MyCausalSelfAttention(32, 4)
ref = GPT(GPTConfig(vocab_size=5, block_size=16, n_layer=1, n_head=4, n_embd=32)).transformer.h[0].attn
ref.load_state_dict(mine.state_dict())
xs = torch.randn(2, 9, 32)
with torch.no_grad():
    y, w = mine(xs)
    y_ref, w_ref = ref(xs, return_attention=True)
assert w.shape == (2, 4, 9, 9), f"weights of shape {tuple(w.shape)}, expected (2, 4, 9, 9)"
torch.testing.assert_close(w, w_ref, msg="attention weights differ (scale? mask?)")
torch.testing.assert_close(y, y_ref, msg="outputs differ (merging the heads?)")
torch.testing.assert_close(y, F.scaled_dot_product_attention(
    *(a.view(2, 9, 4, 8).transpose(1, 2) for a in mine.c_attn(xs).split(32, 2)),
    is_causal=True).transpose(1, 2).reshape(2, 9, 32) @ mine.c_proj.weight.T + mine.c_proj.bias)
print("attention module: correct (equal to the fused kernel too)")


# %% [markdown]
# ## Exercise 5: GPT-2's initialisation and the residual stream (core, 25 min)
#
# Every block *adds* two outputs to the residual stream (attention's `c_proj`, then the
# MLP's `c_proj`). If each addition has the same variance, the stream's variance grows with
# the number of additions, $2L$ for $L$ blocks. GPT-2 therefore draws the weights of these two
# projections with a standard deviation $0.02/\sqrt{2L}$ instead of $0.02$.
#
# Write `init_gpt_(model)`, which re-initialises a `lmlib.models.GPT` **in place** as GPT-2
# does: every `Linear` weight and both embeddings from $\mathcal N(0, 0.02^2)$, except the
# weights whose name ends in `c_proj.weight`, from $\mathcal N(0, (0.02/\sqrt{2\,L})^2)$ with
# $L$ = `model.config.n_layer`; every bias 0; LayerNorm gains 1 and shifts 0. Keep the head
# tied to the token embedding (use `model.named_parameters()`, which lists the tied matrix
# once, and change tensors in place with `torch.nn.init`).

# %%
@torch.no_grad()
def init_gpt_(model) -> None:
    ### BEGIN SOLUTION
    residual_std = 0.02 / math.sqrt(2 * model.config.n_layer)
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(p, mean=0.0, std=residual_std)
        elif p.dim() == 2:  # the other Linear weights and the two embeddings
            nn.init.normal_(p, mean=0.0, std=0.02)
        elif name.endswith(".bias"):
            nn.init.zeros_(p)
        else:  # LayerNorm gains
            nn.init.ones_(p)
    ### END SOLUTION


# %% tags=["check"]
# Check: GPT-2 initialisation
torch.manual_seed(0)
gpt = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=12, n_head=4, n_embd=256))
with torch.no_grad():
    for p in gpt.parameters():
        p.fill_(0.5)  # garbage: init_gpt_ must set every tensor
init_gpt_(gpt)
assert gpt.lm_head.weight is gpt.transformer.wte.weight, "the head must stay tied to wte"
want_proj = 0.02 / math.sqrt(2 * 12)
for name, p in gpt.named_parameters():
    if name.endswith("c_proj.weight"):
        assert abs(p.std().item() / want_proj - 1) < 0.05, \
            f"{name}: std {p.std().item():.5f}, expected 0.02 / sqrt(2 n_layer) = {want_proj:.5f}"
    elif p.dim() == 2:
        assert abs(p.std().item() / 0.02 - 1) < 0.05, f"{name}: std {p.std().item():.5f}, expected 0.02"
        assert abs(p.mean().item()) < 2e-3, f"{name}: mean {p.mean().item():.4f}, expected 0"
    elif name.endswith(".bias"):
        assert torch.all(p == 0), f"{name}: biases start at 0"
    else:
        assert torch.all(p == 1), f"{name}: LayerNorm gains start at 1"
deep = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=48, n_head=4, n_embd=128))
init_gpt_(deep)
idx = torch.randint(0, 65, (8, 32), generator=torch.Generator().manual_seed(0))
stds = deep.residual_stds(idx)  # the residual stream's std after each block
print(f"48 blocks: residual stream std {stds[0]:.4f} after block 1, {stds[-1]:.4f} after block 48")
assert stds[-1] < 2.5 * stds[0], "the residual stream grows with depth: scale the c_proj weights"
print("GPT-2 initialisation: correct")


# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** Why $0.02/\sqrt{2L}$ and not $0.02/\sqrt{L}$? Predict how the
# standard deviation of the residual stream after the last block changes, at
# initialisation, when you go from 12 to 48 blocks with and without the scaling.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Each block adds two branches to the stream (attention and MLP), so $L$
# blocks make $2L$ additions; if the additions are roughly independent their variances add,
# and scaling each projection's std by $1/\sqrt{2L}$ keeps the total variance they add
# independent of depth. With the scaling the stream's std barely changes from 12 to 48
# blocks; without it the added variance grows about linearly with $L$, so the std grows
# about like $\sqrt{L}$ (roughly doubling from 12 to 48 blocks).
#
# **Rubric (2 points).** 1 point for "two residual additions per block, variances add";
# 1 point for the prediction (flat with scaling, growing like the square root of depth
# without).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** The same model scored on the whole val split gets a lower loss
# when windows slide by half a window than with consecutive, non-overlapping windows
# (chapter 07 prints both). Explain why, and say which number you may compare with
# nanoGPT's reported val loss.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** With non-overlapping windows the first positions of every window have
# almost no context (position 0 predicts from one character), so their losses are high;
# sliding by T/2 and scoring only the newest half gives every character at least T/2
# characters of context. nanoGPT averages over windows whose context runs from 0 to T−1
# (random or non-overlapping windows have that expectation), so its number compares with
# the non-overlapping score, not with the sliding one.
#
# **Rubric (2 points).** 1 point for the context argument; 1 point for matching nanoGPT to
# the non-overlapping protocol.
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** On val positions whose 6-character context never occurs in
# training, chapter 07 measures the 6-gram Kneser–Ney model *ahead* of the shipped GPT.
# Give one reason why an n-gram can win exactly where one expects a network to generalise
# better, and one change that might let the GPT win there.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Kneser–Ney backs off to the longest context it has seen (5, 4, ...
# characters), with lower-order estimates built from counts over a whole megabyte that it
# keeps exactly, so an unseen 6-character context is handled by a well-estimated shorter
# one; the small GPT has to compress everything into 0.8M parameters, and unseen contexts
# are where its train–val gap (over-fitting to seen strings) shows most. More data, more
# regularisation (dropout), a larger model trained longer, or a longer context could all
# help; which one does is an experiment, not a given.
#
# **Rubric (2 points).** 1 point for back-off to well-estimated shorter contexts (or a
# capacity / over-fitting argument); 1 point for a concrete, testable change.
# ### END SOLUTION
