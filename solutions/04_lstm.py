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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/04_lstm.ipynb)

# %% [markdown]
# # Chapter 04 exercises: LSTM
#
# Five exercises, each independent. Write your code where it says `YOUR CODE HERE`, then run
# the check cell below it.

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

from lmlib.scratch.lstm import LSTM

# %% [markdown]
# ## Exercise 1: the LSTM gates
#
# Write `lstm_gates(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)` returning the four gate
# activations `(i, f, g, o)`, each `(B, H)`, in PyTorch's layout: compute
# `a = x_t W_ih^T + b_ih + h_prev W_hh^T + b_hh` `(B, 4H)`, cut it into four blocks of `H`
# columns in the order input, forget, cell, output; apply sigmoid to `i, f, o` and tanh to
# `g`.

# %%
def lstm_gates(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    ### BEGIN SOLUTION
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
    ai, af, ag, ao = np.split(a, 4, axis=1)
    sig = lambda z: 1 / (1 + np.exp(-z))
    return sig(ai), sig(af), np.tanh(ag), sig(ao)
    ### END SOLUTION


# %% tags=["check"]
# Check: lstm gates
torch.manual_seed(0)
cell = torch.nn.LSTMCell(3, 4, dtype=torch.float64)
x_t = torch.randn(2, 3, dtype=torch.float64)
h_prev, c_prev = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
i, f, g, o = lstm_gates(x_t.numpy(), h_prev.numpy(), *(p.detach().numpy() for p in
                        (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)))
h_ref, c_ref = cell(x_t, (h_prev, c_prev))
np.testing.assert_allclose(f * c_prev.numpy() + i * g, c_ref.detach().numpy(), atol=1e-12)
np.testing.assert_allclose(o * np.tanh(f * c_prev.numpy() + i * g), h_ref.detach().numpy(),
                           atol=1e-12)
print("lstm gates: correct")

# %% [markdown]
# ## Exercise 2: one LSTM step backward, checked against PyTorch
#
# For one step, `c = f*c_prev + i*g` and `h = o*tanh(c)`. Given the gates `(i, f, g, o)`,
# `c_prev`, `c`, and the incoming gradients `dh`, `dc` (both `(B, H)`), return
# `(da, dc_prev)`: `da` `(B, 4H)` is the gradient w.r.t. the pre-activations `a` (blocks in
# the order i, f, g, o), `dc_prev` the gradient w.r.t. `c_prev`.
#
# Hints: the total gradient on `c` is `dc + dh*o*(1 - tanh(c)**2)`; `σ'(a) = σ(1-σ)`,
# `tanh'(a) = 1 - tanh²`.

# %%
def lstm_step_backward(dh, dc, gates, c_prev, c):
    ### BEGIN SOLUTION
    i, f, g, o = gates
    tc = np.tanh(c)
    dc = dc + dh * o * (1 - tc ** 2)
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g ** 2), dh * tc * o * (1 - o)], axis=1)
    return da, dc * f
    ### END SOLUTION


# %% tags=["check"]
# Check: lstm step backward
torch.manual_seed(1)
cell = torch.nn.LSTMCell(3, 4, dtype=torch.float64)
x_t = torch.randn(2, 3, dtype=torch.float64)
h_prev = torch.randn(2, 4, dtype=torch.float64)
c_prev = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
dh, dc = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
h, c = cell(x_t, (h_prev, c_prev))
((h * dh).sum() + (c * dc).sum()).backward()
W = [p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
a = x_t.numpy() @ W[0].T + W[2] + h_prev.numpy() @ W[1].T + W[3]
sig = lambda z: 1 / (1 + np.exp(-z))
gates = (sig(a[:, :4]), sig(a[:, 4:8]), np.tanh(a[:, 8:12]), sig(a[:, 12:]))
da, dc_prev = lstm_step_backward(dh.numpy(), dc.numpy(), gates, c_prev.detach().numpy(),
                                 c.detach().numpy())
# the weight gradient is da^T x (+ da^T h_prev): compare both with autograd
np.testing.assert_allclose(da.T @ x_t.numpy(), cell.weight_ih.grad.numpy(), atol=1e-10)
np.testing.assert_allclose(da.sum(0), cell.bias_hh.grad.numpy(), atol=1e-10)
np.testing.assert_allclose(dc_prev, c_prev.grad.numpy(), atol=1e-10)
print("lstm step backward: correct")

# %% [markdown]
# ## Exercise 3: truncated BPTT in PyTorch, with a detached state
#
# In PyTorch the state carried from one chunk to the next must be **detached**, or the
# next `backward()` would try to go back through the previous chunk's graph (already freed:
# an error; or, if kept, ever longer and slower). Write `tbptt_epoch(model, optimizer, ids,
# bptt, batch_size)` for `lmlib.models.LSTMLM`: cut the 1-D tensor `ids` into `batch_size`
# tracks (`ids[:n*B].view(B, n)`), then for each full chunk (`s = 0, bptt, 2*bptt, ...` while
# `s + bptt < n`) with `x = tracks[:, s:s+bptt]`, `y = tracks[:, s+1:s+1+bptt]`: `logits, state = model.run(x, state)`, cross-entropy loss,
# `zero_grad`, `backward`, `step`, and **detach** the state before the next chunk. Return
# the list of chunk losses (floats) and the final state.

# %%
def tbptt_epoch(model, optimizer, ids, bptt, batch_size):
    ### BEGIN SOLUTION
    n = len(ids) // batch_size
    tracks = ids[:n * batch_size].view(batch_size, n)
    state, losses = None, []
    for s in range(0, n - bptt, bptt):
        x, y = tracks[:, s:s + bptt], tracks[:, s + 1:s + 1 + bptt]
        logits, state = model.run(x, state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                                 y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = tuple(s_.detach() for s_ in state)
        losses.append(loss.item())
    return losses, state
    ### END SOLUTION


# %% tags=["check"]
# Check: truncated bptt with detached state
from lmlib.models import LSTMLM

torch.manual_seed(0)
pattern = torch.tensor([0, 1, 2, 3, 4, 1, 2, 3] * 200)
model = LSTMLM(vocab_size=5, n_embd=8, hidden_size=16)
opt = torch.optim.Adam(model.parameters(), lr=3e-2)
losses, state = None, None
for _ in range(4):
    losses, state = tbptt_epoch(model, opt, pattern, bptt=20, batch_size=8)
assert len(losses) == 9, len(losses)
assert all(s_.grad_fn is None and not s_.requires_grad for s_ in state), "detach the state"
assert state[0].shape == (1, 8, 16)
assert losses[-1] < 0.2, losses  # the pattern needs memory across 4 steps: learned
print("truncated bptt with detached state: correct")

# %% [markdown]
# ## Exercise 4: a long memory from the start (forget-gate bias)
#
# Write `set_forget_bias(lstm, value)` for a `torch.nn.LSTM` (any number of layers): for
# every layer `k`, set the forget-gate block of `bias_ih_l{k}` to `value` and of
# `bias_hh_l{k}` to 0 (in place, under `torch.no_grad()`), so that with zero input and
# state the forget gate is `σ(value)`.

# %%
def set_forget_bias(lstm, value):
    ### BEGIN SOLUTION
    H = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{k}")[H:2 * H] = value
            getattr(lstm, f"bias_hh_l{k}")[H:2 * H] = 0.0
    ### END SOLUTION


# %% tags=["check"]
# Check: forget bias
lstm = torch.nn.LSTM(3, 5, num_layers=2, dtype=torch.float64)
before_i = lstm.bias_ih_l1[:5].clone()
set_forget_bias(lstm, 3.0)
one = torch.nn.LSTM(3, 5, dtype=torch.float64)
with torch.no_grad():
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(one, f"{name}_l0").copy_(getattr(lstm, f"{name}_l0"))
_, _, cache = LSTM.from_torch(one).forward(np.zeros((1, 1, 3)))
np.testing.assert_allclose(cache["gates"][0, 0, 5:10], 1 / (1 + np.exp(-3.0)), atol=1e-12)
assert torch.equal(lstm.bias_ih_l1[:5], before_i), "only the forget block changes"
assert torch.all(lstm.bias_ih_l1[5:10] == 3.0) and torch.all(lstm.bias_hh_l1[5:10] == 0)
print("forget bias: correct")

# %% [markdown]
# ## Exercise 5: counting parameters
#
# Write `lstmlm_num_params(V, C, H, L)`: the number of parameters of
# `LSTMLM(vocab_size=V, n_embd=C, hidden_size=H, n_layer=L)` — an embedding `(V, C)`, `L`
# LSTM layers (the first reads `C` features, the others `H`; each has two weight matrices
# and two biases of `4H`), and a linear read-out `H -> V` with bias.

# %%
def lstmlm_num_params(V, C, H, L):
    ### BEGIN SOLUTION
    first = 4 * H * (C + H) + 8 * H
    rest = (L - 1) * (4 * H * (H + H) + 8 * H)
    return V * C + first + rest + H * V + V
    ### END SOLUTION


# %% tags=["check"]
# Check: parameter count
for args in [(65, 64, 384, 1), (27, 48, 256, 1), (10, 3, 7, 3)]:
    assert lstmlm_num_params(*args) == LSTMLM(*args).num_params(), args
print("parameter count: correct")
