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
# Seven exercises, each independent, and three written questions. Write your code where it
# says `YOUR CODE HERE`, then run the check cell below it. Exercises 6 and 7 (a GRU in NumPy,
# equal to `torch.nn.GRU`) are the chapter's build-it task.
#
# | exercise | level | minutes |
# |---|---|---|
# | 1. the LSTM gates | core | 10 |
# | 2. one LSTM step backward | core | 20 |
# | 3. truncated BPTT in PyTorch, with a detached state | core | 25 |
# | 4. the forget-gate bias | core | 10 |
# | 5. counting parameters | core | 10 |
# | 6. a GRU cell | core | 20 |
# | 7. a GRU layer, forward and backward | stretch | 45 |

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
# ## Exercise 1: the LSTM gates (core, 10 min)
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
assert all(np.shape(a) == (2, 4) for a in (i, f, g, o)), "each gate is (B, H) = (2, 4)"
assert np.all(np.abs(g) < 1) and np.all(g.min() < 0), "g is a tanh: values in (-1, 1)"
np.testing.assert_allclose(f * c_prev.numpy() + i * g, c_ref.detach().numpy(), atol=1e-12,
                           err_msg="c = f*c_prev + i*g differs from torch.nn.LSTMCell: check "
                                   "the block order (i, f, g, o) and both biases")
np.testing.assert_allclose(o * np.tanh(f * c_prev.numpy() + i * g), h_ref.detach().numpy(),
                           atol=1e-12, err_msg="h = o*tanh(c) differs: check the output gate")
print("lstm gates: correct")

# %% [markdown]
# ## Exercise 2: one LSTM step backward, checked against PyTorch (core, 20 min)
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
assert np.shape(da) == (2, 16), f"da must have shape (B, 4H) = (2, 16), got {np.shape(da)}"
blocks = ("input", "forget", "cell", "output")
for j, name in enumerate(blocks):
    np.testing.assert_allclose((da.T @ x_t.numpy())[4 * j:4 * j + 4],
                               cell.weight_ih.grad.numpy()[4 * j:4 * j + 4], atol=1e-10,
                               err_msg=f"the {name} block of da is wrong")
np.testing.assert_allclose(da.sum(0), cell.bias_hh.grad.numpy(), atol=1e-10)
np.testing.assert_allclose(dc_prev, c_prev.grad.numpy(), atol=1e-10,
                           err_msg="dc_prev is wrong: the memory's gradient goes back through "
                                   "f, with the total dc (dc + dh*o*(1 - tanh(c)^2))")
print("lstm step backward: correct")

# %% [markdown]
# ## Exercise 3: truncated BPTT in PyTorch, with a detached state (core, 25 min)
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
import torch.nn.functional as F_

from lmlib.models import LSTMLM

torch.manual_seed(0)
pattern = torch.tensor([0, 1, 2, 3, 4, 1, 2, 3] * 200)
model = LSTMLM(vocab_size=5, n_embd=8, hidden_size=16)
# 1. with a learning rate of 0 the weights stay put, so the chunks must give exactly the
# losses and the final state of ONE pass over each whole track
try:
    losses, state = tbptt_epoch(model, torch.optim.SGD(model.parameters(), lr=0.0), pattern,
                                bptt=20, batch_size=8)
except RuntimeError as err:  # backward into the previous chunk's graph
    raise AssertionError(f"backward() reached into an earlier chunk: detach the state "
                         f"before the next chunk ({err})") from None
assert len(losses) == 9, (f"one loss per full chunk of bptt = 20: 9 chunks of tracks of 200, "
                          f"got {len(losses)}")
tracks = pattern.view(8, 200)
with torch.no_grad():
    logits_all, state_all = model.run(tracks[:, :180])
for j in range(9):
    lj = F_.cross_entropy(logits_all[:, 20 * j:20 * j + 20].reshape(-1, 5),
                          tracks[:, 20 * j + 1:20 * j + 21].reshape(-1)).item()
    assert abs(losses[j] - lj) < 1e-5, (f"chunk {j}: loss {losses[j]:.5f}, one pass over the "
                                        f"track gives {lj:.5f}: carry the state from chunk "
                                        f"to chunk (and read x = tracks[:, s:s+bptt])")
for mine, ref in zip(state, state_all):
    np.testing.assert_allclose(mine.detach().numpy(), ref.numpy(), atol=1e-5,
                               err_msg="the final state must be the state after the last "
                                       "chunk: carry the state")
# 2. the gradient of the last chunk stops at its start (the state was detached)
grads = [p_.grad.clone() for p_ in model.parameters()]
with torch.no_grad():
    _, start = model.run(tracks[:, :160])
model.zero_grad()
logits_last, _ = model.run(tracks[:, 160:180], start)
F_.cross_entropy(logits_last.reshape(-1, 5), tracks[:, 161:181].reshape(-1)).backward()
for mine, (name, p_) in zip(grads, model.named_parameters()):
    np.testing.assert_allclose(mine.numpy(), p_.grad.numpy(), atol=1e-5,
                               err_msg=f"{name}: the last chunk's gradient must stop at the "
                                       f"chunk boundary: detach the state")
# 3. and it learns: the pattern needs memory across 4 steps
torch.manual_seed(0)
model = LSTMLM(vocab_size=5, n_embd=8, hidden_size=16)
opt = torch.optim.Adam(model.parameters(), lr=3e-2)
for _ in range(4):
    losses, state = tbptt_epoch(model, opt, pattern, bptt=20, batch_size=8)
assert losses[-1] < 0.2, losses
print("truncated bptt with detached state: correct")

# %% [markdown]
# ## Exercise 4: a long memory from the start, the forget-gate bias (core, 10 min)
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
np.testing.assert_allclose(cache["gates"][0, 0, 5:10], 1 / (1 + np.exp(-3.0)), atol=1e-12,
                           err_msg="with zero input the forget gate must be sigmoid(3): "
                                   "bias_ih's forget block 3, bias_hh's forget block 0")
assert torch.equal(lstm.bias_ih_l1[:5], before_i), "only the forget block changes"
assert torch.all(lstm.bias_ih_l1[5:10] == 3.0) and torch.all(lstm.bias_hh_l1[5:10] == 0), (
    "every layer: layer 1's forget block must be set too")
print("forget bias: correct")

# %% [markdown]
# ## Exercise 5: counting parameters (core, 10 min)
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
    got, want = lstmlm_num_params(*args), LSTMLM(*args).num_params()
    assert got == want, f"parameter count for (V, C, H, L) = {args}: got {got}, expected {want}"

print("parameter count: correct")


# %% [markdown]
# ## Exercise 6: a GRU cell (core, 20 min)
#
# The **gated recurrent unit** (Cho et al., 2014) keeps one state `h` and two gates. In
# PyTorch's layout the `3H` rows of `W_ih`, `W_hh` and of both biases are three blocks in the
# order reset `r`, update `z`, new `n`:
#
# $$r = \sigma(x W_{ir}^\top + b_{ir} + h W_{hr}^\top + b_{hr}), \qquad
#   z = \sigma(x W_{iz}^\top + b_{iz} + h W_{hz}^\top + b_{hz})$$
# $$n = \tanh\big(x W_{in}^\top + b_{in} + r \odot (h W_{hn}^\top + b_{hn})\big), \qquad
#   h' = (1 - z) \odot n + z \odot h$$
#
# Note where `b_hn` sits: **inside** the product with `r`. Write
# `gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)` returning `h'` `(B, H)`.

# %%
def gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    ### BEGIN SOLUTION
    sig = lambda a: 1 / (1 + np.exp(-a))
    xr, xz, xn = np.split(x_t @ W_ih.T + b_ih, 3, axis=1)
    hr, hz, hn = np.split(h_prev @ W_hh.T + b_hh, 3, axis=1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h_prev
    ### END SOLUTION


# %% tags=["check"]
# Check: gru cell
torch.manual_seed(2)
gcell = torch.nn.GRUCell(3, 4, dtype=torch.float64)
with torch.no_grad():
    gcell.bias_hh.normal_()                  # a large b_hn, so its place matters
x_t, h_prev = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
Wg = [p_.detach().numpy() for p_ in (gcell.weight_ih, gcell.weight_hh, gcell.bias_ih,
                                     gcell.bias_hh)]
mine = gru_step(x_t.numpy(), h_prev.numpy(), *Wg)
assert np.shape(mine) == (2, 4), f"h' must have shape (B, H) = (2, 4), got {np.shape(mine)}"
np.testing.assert_allclose(mine, gcell(x_t, h_prev).detach().numpy(), atol=1e-12,
                           err_msg="h' differs from torch.nn.GRUCell: check the block order "
                                   "(r, z, n), where b_hn sits, and which side z keeps")
print("gru cell: correct")

# %% [markdown]
# ## Exercise 7: a GRU layer, forward and backward (stretch, 45 min)
#
# Now the whole layer over a sequence, and backpropagation through time by hand, in
# PyTorch's layout (a `params` dict with `weight_ih` `(3H, I)`, `weight_hh` `(3H, H)`,
# `bias_ih`, `bias_hh` `(3H,)`).
#
# - `gru_forward(x, h0, p)`: `x` `(T, B, I)`, `h0` `(B, H)` -> `(hs, cache)`, `hs`
#   `(T, B, H)`; keep in `cache` what the backward needs (the gates, `h W_hn^T + b_hn`, ...).
# - `gru_backward(dhs, cache, p)` -> `(grads, dx, dh0)`: `dhs` `(T, B, H)` is the loss
#   gradient on every state from above; `grads` has the keys of `p`.
#
# Go through one step's lines in reverse. With `dh` the total gradient on `h'` (from above
# and from step `t+1`): `dn = dh (1 - z)`, `dz = dh (h - n)`, and `h` gets `dh z` directly.
# Through the tanh and the sigmoids, then the two matrix products: the input side sees the
# pre-activation gradients `[dr, dz, dn]`, the hidden side `[dr, dz, dn ⊙ r]` (because `r`
# multiplies `h W_hn^T + b_hn`), and the gradient on `r` is `dn ⊙ (h W_hn^T + b_hn)` before
# its sigmoid. The weights are shared by every step: their gradients are sums over time.

# %%
def gru_forward(x, h0, p):
    ### BEGIN SOLUTION
    sig = lambda a: 1 / (1 + np.exp(-a))
    h, hs, steps = h0, [], []
    for t in range(len(x)):
        xr, xz, xn = np.split(x[t] @ p["weight_ih"].T + p["bias_ih"], 3, axis=1)
        hr, hz, hn = np.split(h @ p["weight_hh"].T + p["bias_hh"], 3, axis=1)
        r, z = sig(xr + hr), sig(xz + hz)
        n = np.tanh(xn + r * hn)
        steps.append((x[t], h, r, z, n, hn))
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs), steps
    ### END SOLUTION


def gru_backward(dhs, cache, p):
    ### BEGIN SOLUTION
    grads = {name: np.zeros_like(v) for name, v in p.items()}
    dh_next = np.zeros_like(dhs[0])
    dx = []
    for t in reversed(range(len(cache))):
        x_t, h_prev, r, z, n, hn = cache[t]
        dh = dhs[t] + dh_next
        dan = dh * (1 - z) * (1 - n ** 2)
        daz = dh * (h_prev - n) * z * (1 - z)
        dar = dan * hn * r * (1 - r)
        dax = np.concatenate([dar, daz, dan], axis=1)
        dah = np.concatenate([dar, daz, dan * r], axis=1)
        grads["weight_ih"] += dax.T @ x_t
        grads["weight_hh"] += dah.T @ h_prev
        grads["bias_ih"] += dax.sum(0)
        grads["bias_hh"] += dah.sum(0)
        dx.append(dax @ p["weight_ih"])
        dh_next = dh * z + dah @ p["weight_hh"]
    return grads, np.stack(dx[::-1]), dh_next
    ### END SOLUTION


# %% tags=["check"]
# Check: gru layer forward and backward
torch.manual_seed(3)
gref = torch.nn.GRU(3, 4, dtype=torch.float64)
with torch.no_grad():
    gref.bias_hh_l0.normal_()
pg = {name: getattr(gref, f"{name}_l0").detach().numpy().copy()
      for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
xs = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
dhs = torch.randn(5, 2, 4, dtype=torch.float64)
out, _ = gref(xs, h0)
(out * dhs).sum().backward()
hs, cache = gru_forward(xs.detach().numpy(), h0.detach()[0].numpy(), pg)
np.testing.assert_allclose(hs, out.detach().numpy(), atol=1e-12,
                           err_msg="the states differ from torch.nn.GRU's")
grads, dx, dh0 = gru_backward(dhs.numpy(), cache, pg)
for name in pg:
    np.testing.assert_allclose(grads[name], getattr(gref, f"{name}_l0").grad.numpy(), atol=1e-10,
                               err_msg=f"d{name} differs from autograd's")
np.testing.assert_allclose(dx, xs.grad.numpy(), atol=1e-10, err_msg="dx differs from autograd's")
np.testing.assert_allclose(dh0, h0.grad[0].numpy(), atol=1e-10,
                           err_msg="dh0 differs from autograd's: h reaches h' directly (dh z) "
                                   "and through the three blocks")
print("gru layer forward and backward: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** in the LSTM, the gradient on the memory goes back one step as
# `dc_prev = dc ⊙ f`. Explain why this lets a gradient survive many more steps than in
# chapter 03's RNN, and predict what happens to it over 50 steps with PyTorch's default
# initialisation, where `f ≈ σ(0) = 0.5`.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Along the memory path there is no weight matrix and no squashing: each
# step multiplies the gradient element-wise by the forget gate `f`, a number the network
# controls per unit and per step. Where `f` is close to 1 the gradient passes almost
# unchanged over many steps, whereas the RNN's gradient is multiplied by `W_hh^T diag(1 - h^2)`
# at every step, whose norms are not under such direct control. With `f ≈ 0.5` everywhere the
# memory path shrinks the gradient like `0.5^k`, about `1e-15` after 50 steps: the LSTM
# starts out forgetting fast (faster than an RNN with spectral radius 0.9), and its long
# memory has to be learned, or given by a larger forget-gate bias.
#
# **Rubric (2 points).** 1 point: the memory path is an element-wise product with `f` (no
# matrix, no tanh), so `f ≈ 1` preserves the gradient; 1 point: with `f ≈ 0.5` it decays
# like `0.5^k` (vanishes over 50 steps), hence the forget-bias trick.
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** count the parameters of one LSTM layer and one GRU layer with
# input size `C = 48` and `H = 256` (PyTorch's layout, both biases). Which gates of the LSTM
# does the GRU merge, and what does it give up?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** LSTM: `4H(C + H) + 8H = 4·256·304 + 2048 = 313,344`. GRU:
# `3H(C + H) + 6H = 3·256·304 + 1536 = 235,008`, three quarters. The GRU's update gate `z`
# plays both the forget gate (keep `z` of the old state) and the input gate (write `1 - z`
# of the new one), so keeping and writing are tied; it has no separate cell state and no
# output gate, so the whole memory is always exposed as `h`.
#
# **Rubric (2 points).** 1 point for both counts (or the 4:3 ratio with the formula);
# 1 point for: `z` merges forget and input gates (tied), no cell state / no output gate.
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** chapter 04 finds a cell unit whose state correlates above 0.8
# with the position in the line. Does that show the model uses this unit to decide when to
# break the line? Describe an experiment that would test it.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** No: a correlation shows that the unit *tracks* the position, not that the
# prediction *depends* on it; the information may be redundant with other units, or read by
# nothing. A test is an intervention: overwrite (clamp, zero, or shift) that unit's cell
# state while the model reads text, and measure the change in the predicted probability of
# `\n` as a function of the position in the line, against the same intervention on random
# units. If clamping it to a "line start" value delays the newlines and random units do not,
# the unit is causally involved.
#
# **Rubric (2 points).** 1 point: correlation is not causation (tracking ≠ using);
# 1 point: an intervention/ablation on the unit with a measured effect on the newline
# probability and a control.
# ### END SOLUTION
