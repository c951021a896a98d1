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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/10_finetuning.ipynb)

# %% [markdown]
# # 10 · Exercises: pre-training and fine-tuning
#
# Fill in each function where it says `# YOUR CODE HERE`, then run the **check** cell under
# it. A check cell prints `correct` when your code is right and stops with an error that
# tells you what is wrong otherwise. The exercises use a small random GPT so that they run
# in seconds; everything works the same on the pre-trained one
# (`lmlib.load_pretrained("shakespeare-gpt")`).

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
import torch
import torch.nn as nn

import lmlib.finetune as ft
from lmlib.models import GPT, GPTConfig


def small_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()


# a right-padded batch: three texts of lengths 5, 12 and 9, junk in the padding
torch.manual_seed(1)
idx = torch.randint(0, 65, (3, 12))
mask = torch.arange(12)[None, :] < torch.tensor([5, 12, 9])[:, None]  # (3, 12), True = real

# %% [markdown]
# ## Exercise 1: a classification head with mean pooling
#
# Complete `MeanPoolClassifier`: the GPT body gives features `h` of shape (B, T, C)
# (use `ft.hidden_states(self.gpt, idx)`); average them over the **real** positions only
# (`mask` is True there), then apply the Linear `self.head` (C → K). Return the logits
# (B, K). Padding must not change the answer.

# %%
class MeanPoolClassifier(nn.Module):
    def __init__(self, gpt, n_classes):
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.n_embd, n_classes)

    def forward(self, idx, mask):
        """idx (B, T) token ids, mask (B, T) bool -> logits (B, n_classes)."""
        ### BEGIN SOLUTION
        h = ft.hidden_states(self.gpt, idx)                       # (B, T, C)
        m = mask.unsqueeze(-1).to(h.dtype)                        # (B, T, 1)
        pooled = (h * m).sum(1) / m.sum(1)                        # (B, C)
        return self.head(pooled)
        ### END SOLUTION


# %% tags=["check"]
# Check: a classification head
mine = MeanPoolClassifier(small_gpt(), n_classes=4)
ref = ft.GPTClassifier(mine.gpt, n_classes=4, pool="mean")
ref.head.load_state_dict(mine.head.state_dict())
with torch.no_grad():
    out = mine(idx, mask)
    assert out.shape == (3, 4), f"expected logits of shape (3, 4), got {tuple(out.shape)}"
    torch.testing.assert_close(out, ref(idx, mask=mask)[0], atol=1e-5, rtol=0)
    alone = mine(idx[:1, :5], mask[:1, :5])
    torch.testing.assert_close(out[:1], alone, atol=1e-5, rtol=0,
                               msg="the padded text must get the logits it gets alone")
print("a classification head: correct")

# %% [markdown]
# ## Exercise 2: freezing parameters
#
# Make only the **last `n_last` blocks**, the final LayerNorm `ln_f` and the classifier's
# `head` trainable: set `requires_grad` to False on every other parameter of `clf`
# (a `ft.GPTClassifier`) and to True on these. Return `clf`.

# %%
def train_only_the_top(clf, n_last=1):
    ### BEGIN SOLUTION
    for p in clf.parameters():
        p.requires_grad = False
    top = list(clf.gpt.transformer.h[-n_last:]) + [clf.gpt.transformer.ln_f, clf.head]
    for module in top:
        for p in module.parameters():
            p.requires_grad = True
    return clf
    ### END SOLUTION


# %% tags=["check"]
# Check: freezing parameters
clf = train_only_the_top(ft.GPTClassifier(small_gpt(), 3), n_last=1)
trainable = {n for n, p in clf.named_parameters() if p.requires_grad}
assert "head.weight" in trainable and "gpt.transformer.ln_f.weight" in trainable
assert any(n.startswith("gpt.transformer.h.1.") for n in trainable), "the last block must train"
assert not any(n.startswith("gpt.transformer.h.0.") for n in trainable), "block 0 must be frozen"
assert "gpt.transformer.wte.weight" not in trainable, "the embeddings must be frozen"
expected = ft.configure(ft.GPTClassifier(small_gpt(), 3), "last", n_last=1)
assert trainable == {n for n, p in expected.named_parameters() if p.requires_grad}
# one training step moves the top and nothing else
before = {n: p.detach().clone() for n, p in clf.named_parameters()}
opt = torch.optim.SGD([p for p in clf.parameters() if p.requires_grad], lr=0.1)
clf(idx, torch.tensor([0, 1, 2]), mask=mask)[1].backward()
opt.step()
moved = {n for n, p in clf.named_parameters() if not torch.equal(p, before[n])}
assert moved and moved <= trainable, f"frozen parameters moved: {sorted(moved - trainable)[:3]}"
print("freezing parameters: correct")

# %% [markdown]
# ## Exercise 3: the LoRA forward
#
# A LoRA layer keeps a frozen Linear (weight `W` (d_out, d_in), bias `b` (d_out,)) and adds a
# low-rank update: `y = x W^T + b + (alpha / r) * x A^T B^T` with `A` (r, d_in) and
# `B` (d_out, r). Write it for `x` of shape (..., d_in). Tip: compute `x A^T` first; never
# form the (d_out, d_in) product `B A` in the forward pass.

# %%
def lora_forward(x, W, b, A, B, alpha):
    ### BEGIN SOLUTION
    r = A.shape[0]
    return x @ W.T + b + (alpha / r) * ((x @ A.T) @ B.T)
    ### END SOLUTION


# %% tags=["check"]
# Check: the LoRA forward
torch.manual_seed(0)
layer = ft.LoRALinear(nn.Linear(6, 9), r=2, alpha=4.0)
x = torch.randn(3, 5, 6)
W, b, A, B = layer.base.weight, layer.base.bias, layer.lora_A, layer.lora_B
with torch.no_grad():
    torch.testing.assert_close(lora_forward(x, W, b, A, B, 4.0), layer.base(x),
                               msg="with B = 0 the layer must equal the frozen Linear")
    B.normal_()
    torch.testing.assert_close(lora_forward(x, W, b, A, B, 4.0), layer(x))
    torch.testing.assert_close(lora_forward(x, W, b, A, B, 8.0) - layer.base(x),
                               2 * (layer(x) - layer.base(x)), msg="the update scales with alpha / r")
print("the LoRA forward: correct")

# %% [markdown]
# ## Exercise 4: counting trainable parameters
#
# (a) `count_trainable(model)`: the number of parameters with `requires_grad`; a tensor that
# two modules share (a tied weight) counts **once** (`model.parameters()` already yields
# each tensor once). (b) `lora_count(d_in, d_out, r, n_layers)`: how many numbers LoRA of
# rank `r` trains on `n_layers` Linear layers of shape d_in → d_out.

# %%
def count_trainable(model):
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    ### END SOLUTION


def lora_count(d_in, d_out, r, n_layers):
    ### BEGIN SOLUTION
    return n_layers * r * (d_in + d_out)
    ### END SOLUTION


# %% tags=["check"]
# Check: counting trainable parameters
gpt = small_gpt()
assert count_trainable(gpt) == gpt.num_params(), "the tied lm_head / wte matrix counts once"
assert count_trainable(nn.Linear(10, 3)) == 33
probe = ft.configure(ft.GPTClassifier(small_gpt(), 5), "probe")
assert count_trainable(probe) == 32 * 5 + 5, "a linear probe trains only the head"
body = small_gpt()
ft.apply_lora(body, r=4, alpha=8, targets=("c_attn",))
assert count_trainable(body) == ft.trainable_parameters(body)
assert lora_count(32, 96, 4, 2) == count_trainable(body), "c_attn is 32 -> 96, in 2 blocks"
assert lora_count(768, 2304, 8, 12) == 294_912  # GPT-2 small, LoRA r=8 on c_attn
print("counting trainable parameters: correct")

# %% [markdown]
# ## Exercise 5: merging LoRA into the weight
#
# After training, LoRA's update can be folded into the frozen weight so that the layer is a
# plain Linear again: return the merged weight `W + (alpha / r) B A` (shape (d_out, d_in)).

# %%
def merged_weight(W, A, B, alpha):
    ### BEGIN SOLUTION
    return W + (alpha / A.shape[0]) * (B @ A)
    ### END SOLUTION


# %% tags=["check"]
# Check: merging LoRA
torch.manual_seed(2)
layer = ft.LoRALinear(nn.Linear(6, 9), r=3, alpha=6.0)
with torch.no_grad():
    layer.lora_B.normal_()
    Wm = merged_weight(layer.base.weight, layer.lora_A, layer.lora_B, 6.0)
    assert Wm.shape == (9, 6)
    x = torch.randn(4, 6)
    torch.testing.assert_close(x @ Wm.T + layer.base.bias, layer(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(Wm, layer.merged().weight)
print("merging LoRA: correct")
