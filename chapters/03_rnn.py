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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/03_rnn.ipynb)

# %% [markdown]
# # Chapter 03: recurrent neural networks, by hand in NumPy
#
# The MLP of chapter 02 reads a fixed window of 3 characters. To read *any* number of
# characters a model needs memory: a state that it carries from one character to the next
# and updates as it reads. That is a **recurrent neural network** (RNN). In this chapter you
# will build, in NumPy:
#
# - the **RNN cell** `h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)`, then the cell **unrolled**
#   over a whole batch of sequences;
# - **backpropagation through time** (BPTT) by hand, proved right by a gradient check and
#   by `torch.nn.RNN`;
# - a **character-level RNN language model** trained on names (and briefly on Shakespeare)
#   with **truncated BPTT** and **gradient clipping**, and samples from it;
# - the reason RNNs are hard to train: **vanishing and exploding gradients**, made visible.
#
# **Prerequisites:** chapter 02 (cross-entropy and its gradient, backprop by hand, gradient
# checking, Adam).
#
# **Time:** about 2 minutes on a laptop CPU in full mode (1.6 min measured with `make times` on one core of a 2-core server; most
# of it training the names RNN).

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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from lmlib.data import names
from lmlib.scratch import functional as F
from lmlib.scratch.gradcheck import gradcheck

tok, train_words, dev_words, test_words = names()
V = tok.vocab_size
print(f"names: {len(train_words):,} train / {len(dev_words):,} dev / {len(test_words):,} test, "
      f"vocabulary {V}")

# %% [markdown]
# ## 1. The RNN cell
#
# At step `t` the cell reads an input vector `x_t` (for a language model, the embedding of
# the current character) and the previous **hidden state** `h_{t-1}`, and computes the new
# state:
#
# $$h_t = \tanh(W_{xh}\, x_t + W_{hh}\, h_{t-1} + b).$$
#
# The same weights are used at every step: the network is one cell applied again and again,
# so it can read sequences of any length with a fixed number of parameters. `h_t` is all it
# remembers of `x_1 … x_t`.
#
# We store the weights with PyTorch's names and layout, so they copy straight into
# `torch.nn.RNN`: `weight_ih` is `W_xh` `(H, I)`, `weight_hh` is `W_hh` `(H, H)`, and the bias is
# split in two, `bias_ih + bias_hh = b` (only the sum matters; PyTorch keeps both). With a
# batch of `B` sequences, `x_t` is `(B, I)` and `h_t` is `(B, H)`, so the products are written
# `x_t @ W_xh.T`.

# %%
I, H = 4, 6
rng = np.random.default_rng(0)
k = 1 / np.sqrt(H)  # PyTorch's initialisation: uniform in [-1/sqrt(H), 1/sqrt(H)]
params = {
    "weight_ih": rng.uniform(-k, k, (H, I)),
    "weight_hh": rng.uniform(-k, k, (H, H)),
    "bias_ih": rng.uniform(-k, k, H),
    "bias_hh": rng.uniform(-k, k, H),
}


def rnn_step(x_t, h_prev, p):
    """One step: x_t (B, I), h_prev (B, H) -> h_t (B, H)."""
    return np.tanh(x_t @ p["weight_ih"].T + p["bias_ih"] + h_prev @ p["weight_hh"].T + p["bias_hh"])


x_t = rng.standard_normal((2, I))
h1 = rnn_step(x_t, np.zeros((2, H)), params)
h1

# %% [markdown]
# **Check yourself:** the state has one row per sequence and lies in `(-1, 1)` (it comes out
# of a tanh); with zero weights it would be `tanh(0) = 0` whatever the input.

# %%
assert h1.shape == (2, H) and np.all(np.abs(h1) < 1)
zero = {name: np.zeros_like(p) for name, p in params.items()}
assert np.all(rnn_step(x_t, h1, zero) == 0)

# %% [markdown]
# ## 2. Unrolled over time, forward over a batch
#
# A sequence of `T` inputs is a `(T, B, I)` array (time first, like PyTorch's default). The
# loop carries `h` from step to step and keeps every state, because the output layer reads
# each `h_t` and the backward pass needs them. Drawn unrolled, the network is a very deep
# feed-forward network, `T` layers deep, whose layers all share the same weights:
#
# ```
#  x_1        x_2        x_3              x_T
#   |          |          |                |
# [cell] --> [cell] --> [cell] --> ... --> [cell] --> h_T
#   |   h_1    |   h_2    |   h_3          |
#  out        out        out              out
# ```
#
# The input part `x_t @ W_xh.T` does not depend on the previous state, so it is computed for
# all steps in one big matrix product before the loop; only `h @ W_hh.T` must wait for the
# previous step.

# %%
def rnn_forward(x, h0, p):
    """x (T, B, I), h0 (B, H) -> hs (T, B, H), every hidden state h_1 .. h_T."""
    xw = x @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"]   # (T, B, H), all steps at once
    hs = np.empty(x.shape[:2] + (p["weight_hh"].shape[0],))
    h = h0
    for t in range(len(x)):
        h = np.tanh(xw[t] + h @ p["weight_hh"].T)
        hs[t] = h
    return hs


T, B = 8, 3
x = rng.standard_normal((T, B, I))
h0 = np.zeros((B, H))
hs = rnn_forward(x, h0, params)

# check yourself: the loop equals applying rnn_step again and again
h = h0
for t in range(T):
    h = rnn_step(x[t], h, params)
    np.testing.assert_allclose(hs[t], h, atol=1e-15)

# ... and equals the library's RNN (the version later chapters import)
from lmlib.scratch.rnn import RNN

rnn = RNN(I, H)
rnn.params = {name: p.copy() for name, p in params.items()}
np.testing.assert_allclose(rnn.forward(x, h0)[0], hs, atol=1e-15)

fig, ax = plt.subplots(figsize=(7, 2.4))
im = ax.imshow(hs[:, 0].T, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
ax.set(xlabel="time step t", ylabel="hidden unit", title="h_t of the first sequence: the memory, step by step")
ax.grid(False)
fig.colorbar(im)
plt.show()

# %% [markdown]
# ## 3. Backpropagation through time, by hand
#
# Say a loss `L` reads every state (in a language model, through the output layer at every
# step), and we are given `dL/dh_t` "from above" for each `t` — call it `dhs[t]`. The state
# `h_t` also feeds step `t+1`, so its total gradient has two parts. Writing
# `a_t = W_xh x_t + W_hh h_{t-1} + b` for the pre-activation:
#
# $$\frac{\partial L}{\partial h_t} = \texttt{dhs}[t] + W_{hh}^\top \frac{\partial L}{\partial a_{t+1}},
# \qquad \frac{\partial L}{\partial a_t} = \frac{\partial L}{\partial h_t} \odot (1 - h_t^2)$$
#
# (the derivative of tanh is `1 − tanh²`, and we kept `h_t = tanh(a_t)`). So we walk
# **backwards in time**, from `T` down to 1, carrying the gradient `dh_next` into the past —
# the mirror image of the forward loop. The weights are shared by every step, so their
# gradients are **sums over time**:
#
# $$\frac{\partial L}{\partial W_{hh}} = \sum_t \frac{\partial L}{\partial a_t}\, h_{t-1}^\top, \quad
# \frac{\partial L}{\partial W_{xh}} = \sum_t \frac{\partial L}{\partial a_t}\, x_t^\top, \quad
# \frac{\partial L}{\partial b} = \sum_t \frac{\partial L}{\partial a_t}, \quad
# \frac{\partial L}{\partial x_t} = W_{xh}^\top \frac{\partial L}{\partial a_t}.$$

# %%
def rnn_backward(dhs, x, h0, hs, p):
    """dhs (T, B, H) -> (grads dict, dx (T, B, I), dh0 (B, H))."""
    da = np.empty_like(hs)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(x))):
        dh = dhs[t] + dh_next                  # from the output at t and from step t+1
        da[t] = dh * (1 - hs[t] ** 2)          # through the tanh
        dh_next = da[t] @ p["weight_hh"]       # to h_{t-1}
    h_prev = np.concatenate([h0[None], hs[:-1]])   # h_{t-1} for every t
    grads = {
        "weight_ih": np.einsum("tbh,tbi->hi", da, x),       # sum over time and batch
        "weight_hh": np.einsum("tbh,tbk->hk", da, h_prev),
        "bias_ih": da.sum(axis=(0, 1)),
        "bias_hh": da.sum(axis=(0, 1)),
    }
    return grads, da @ p["weight_ih"], dh_next


# a loss that reads every state: L = sum_t <hs[t], w[t]>, so dL/dhs = w
w = rng.standard_normal((T, B, H))
loss_fn = lambda: float((rnn_forward(x, h0, params) * w).sum())
grads, dx, dh0 = rnn_backward(w, x, h0, hs, params)
errors = gradcheck(loss_fn, params, grads)
errors

# %% [markdown]
# **Check yourself:** every relative error is tiny (central differences in float64 agree to
# about `1e-8`). Then the same with PyTorch: copy the weights into `torch.nn.RNN`, let
# autograd do the work, and compare values and gradients to `1e-10`. The library's
# `RNN.backward` must give the same numbers too.

# %%
assert max(errors.values()) < 1e-7, errors

ref = torch.nn.RNN(I, H, dtype=torch.float64)
with torch.no_grad():
    for name, p in params.items():
        getattr(ref, f"{name}_l0").copy_(torch.from_numpy(p))
xt = torch.tensor(x, requires_grad=True)
out, _ = ref(xt, torch.tensor(h0)[None])
(out * torch.tensor(w)).sum().backward()
np.testing.assert_allclose(out.detach().numpy(), hs, atol=1e-10)
np.testing.assert_allclose(xt.grad.numpy(), dx, atol=1e-10)
for name in params:
    np.testing.assert_allclose(grads[name], getattr(ref, f"{name}_l0").grad.numpy(), atol=1e-10)

_, cache = rnn.forward(x, h0)
np.testing.assert_allclose(rnn.backward(w, cache), dx, atol=1e-15)
for name in params:
    np.testing.assert_allclose(rnn.grads[name], grads[name], atol=1e-15)
print("forward, BPTT, gradient check, torch.nn.RNN and lmlib.scratch.rnn.RNN all agree")

# %% [markdown]
# ## 4. A character-level RNN language model
#
# The language model wraps the RNN between chapter 02's pieces: an **embedding** turns each
# character into a vector `x_t`, the RNN reads them one by one, and a **linear read-out**
# turns every state `h_t` into logits for the next character:
#
# ```
# idx (B, T) -> Embedding -> x (T, B, C) -> RNN -> hs (T, B, H) -> Linear -> logits (B, T, V)
# ```
#
# The loss is chapter 02's softmax cross-entropy at every position, and the backward pass
# chains the three backward passes we have. `lmlib.scratch.rnn.RNNLM` puts them together
# (read its ~40 lines); below we check it once more against finite differences.
#
# **How to feed it names.** We join the training names into one stream, `.emma.olivia.ava.…`,
# where `.` marks the boundaries. The model sees a `.` and must guess how a name starts; it
# sees `emm` and must guess `a`.
#
# **Truncated BPTT.** Backpropagating through the whole stream (180,000 characters) would
# mean keeping 180,000 states in memory for one update. Instead we cut the stream into `B`
# long tracks (one per row of the batch) and read them `bptt` characters at a time:
#
# - the hidden state at the end of a chunk is **carried** into the next chunk, so the model
#   still remembers across the cut;
# - but the gradient **stops** at the cut: we never backpropagate into the carried state
#   (PyTorch calls this *detaching* it). Dependencies longer than `bptt` steps can still be
#   *used* by the model, they just are not *learned* directly.

# %%
from lmlib.scratch.optim import Adam, clip_grad_norm
from lmlib.scratch.rnn import RNNLM, stream_batches, train_tbptt

stream = tok.encode("." + ".".join(train_words) + ".")
tracks = stream_batches(stream, batch_size=32)
print(f"stream of {len(stream):,} characters -> {tracks.shape[0]} tracks of {tracks.shape[1]:,}")
print("track 0 starts:", tok.decode(tracks[0, :40]))
print("track 1 starts:", tok.decode(tracks[1, :40]))

model = RNNLM(vocab_size=V, n_embd=24, hidden_size=128, rng=0)
print(model)
logits, loss = model.forward(tracks[:, :16], tracks[:, 1:17])
print(f"loss before training {loss:.4f}; uniform guessing gives ln {V} = {np.log(V):.4f}")

# %% [markdown]
# **Check yourself:** an untrained model guesses nearly uniformly, so its loss is close to
# `ln 27 ≈ 3.30`; and the model's hand-written backward passes the gradient check.

# %%
assert abs(loss - np.log(V)) < 0.1
small = RNNLM(vocab_size=V, n_embd=5, hidden_size=7, rng=1)
xs, ys = tracks[:4, :6], tracks[:4, 1:7]
small.forward(xs, ys)
small.backward()
errors = gradcheck(lambda: small.forward(xs, ys)[1], small.params, small.grads)
assert max(errors.values()) < 1e-6, errors

# %% [markdown]
# ### Training with truncated BPTT and clipping
#
# `train_tbptt` (in `lmlib.scratch.rnn`) is the loop just described; here are its working
# lines, so you can see there is nothing more to it:
#
# ```python
# x, y = tracks[:, pos:pos + bptt], tracks[:, pos + 1:pos + bptt + 1]
# _, loss = model.forward(x, y, h0=h)      # start from the carried state...
# model.backward()                          # ...but backpropagate only through this chunk
# norm = clip_grad_norm(model.grads, clip)  # rescale if the global norm exceeds `clip`
# optimizer.step(model.grads)
# h, pos = model.h, pos + bptt              # carry the state on
# ```
#
# **Clipping by global norm** (chapter 02's `clip_grad_norm`): if the norm of all gradients
# together, `‖g‖ = sqrt(Σ g²)`, exceeds `max_norm`, every gradient is multiplied by
# `max_norm / ‖g‖`. The direction of the update is kept; only its length is capped. Section 6
# shows why an RNN needs it.

# %%
steps = 150 if lmlib.FAST else 6000
lr = 5e-3
schedule = lambda s: lr / 20 + 0.5 * (lr - lr / 20) * (1 + np.cos(np.pi * s / steps))  # cosine
optimizer = Adam(model.params, lr=lr)
t0 = time.perf_counter()
hist = train_tbptt(model, stream, optimizer, steps, batch_size=32, bptt=16, clip=1.0,
                   lr_schedule=schedule)
train_seconds = time.perf_counter() - t0
rnn_dev = model.loss_on_words(dev_words, tok)
rnn_test = model.loss_on_words(test_words, tok)
print(f"{steps} steps in {train_seconds:.0f} s; dev {rnn_dev:.4f}, test {rnn_test:.4f} "
      "(each name read from a zero state, its closing '.' included)")

smooth = lambda v, n=50: np.convolve(v, np.ones(n) / n, mode="valid") if len(v) > n else np.asarray(v)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
ax1.plot(hist["loss"], alpha=0.3, label="batch")
ax1.plot(np.arange(len(smooth(hist["loss"]))) + 25, smooth(hist["loss"]), label="moving average")
ax1.axhline(rnn_dev, color="k", ls="--", label=f"dev, name by name: {rnn_dev:.3f}")
ax1.set(xlabel="step", ylabel="loss (nats/char)", title="NumPy char-RNN on names")
ax1.legend()
ax2.semilogy(hist["grad_norm"], lw=0.6)
ax2.axhline(1.0, color="r", ls="--", label="clip at 1.0")
ax2.set(xlabel="step", ylabel="norm", title="global gradient norm, before clipping")
ax2.legend()
plt.show()

# %% [markdown]
# **Check yourself:** training lowered the loss well below uniform guessing; in full mode
# the RNN beats the bigram (2.45) and lands near makemore's RNN (2.08).

# %%
assert rnn_dev < np.log(V) - 0.5
if not lmlib.FAST:
    assert rnn_dev < 2.15 and rnn_test < 2.15, (rnn_dev, rnn_test)

# %% [markdown]
# ### Samples
#
# To generate, start from a zero state and the boundary `.`, sample a character from the
# softmax, feed it back in, and stop at the next `.`. The state is carried, so each new
# character costs one step of the cell (no window to re-read).

# %%
samples = model.sample(tok, n=12, seed=1)
new = [s for s in samples if s not in set(train_words)]
print(", ".join(samples))
print(f"{len(new)} of {len(samples)} are not in the training set")

# %% [markdown]
# ### A short run on Shakespeare
#
# The same code reads Shakespeare: 65 characters instead of 27, and longer chunks so that
# the gradient reaches further back. A few minutes of NumPy training give text with
# word shapes, line breaks and speaker-like capitals; chapter 04's LSTM will do much better.

# %%
from lmlib.data import shakespeare

stok, s_train, s_val = shakespeare()
shake = RNNLM(vocab_size=stok.vocab_size, n_embd=32, hidden_size=256, rng=0)
s_steps = 20 if lmlib.FAST else 1500
s_hist = train_tbptt(shake, s_train, Adam(shake.params, lr=3e-3), s_steps, batch_size=32,
                     bptt=48, clip=1.0)
# validation: read the start of the val split as one stream, state carried
val_ids = s_val[: 2_000 if lmlib.FAST else 20_000]
h, total = None, 0.0
for s in range(0, len(val_ids) - 1, 500):
    e = min(s + 500, len(val_ids) - 1)
    xv, yv = val_ids[None, s:e], val_ids[None, s + 1:e + 1]
    _, lv = shake.forward(xv, yv, h0=h)
    h, total = shake.h, total + lv * yv.size
shake_val = total / (len(val_ids) - 1)
print(f"Shakespeare RNN after {s_steps} steps: train (last 50 batches) "
      f"{np.mean(s_hist['loss'][-50:]):.3f}, val {shake_val:.3f} nats/char")


def sample_text(model, tokenizer, start="\n", n=300, seed=0, temperature=0.8):
    """Read ``start``, then sample ``n`` characters, carrying the hidden state."""
    rng = np.random.default_rng(seed)
    logits, _ = model.forward(tokenizer.encode(start)[None])
    out = []
    for _ in range(n):
        p = F.softmax(logits[0, -1] / temperature)
        out.append(int(rng.choice(len(p), p=p)))
        logits, _ = model.forward(np.array([[out[-1]]]), h0=model.h)
    return tokenizer.decode(out)


print(sample_text(shake, stok))

# %% [markdown]
# ## 5. Myth vs fact: "the RNN remembers everything it has read"
#
# > **Myth:** the hidden state holds the whole past, so an RNN has an unlimited memory.
# >
# > **Fact:** it holds a fixed number `H` of numbers, and in practice the influence of an
# > input fades after a few dozen steps: the gradient that would teach the network to use
# > it **vanishes** on the way back. Section 6 measures it.

# %% [markdown]
# ## 6. Vanishing and exploding gradients
#
# Unroll the recursion of section 3: the gradient that reaches back `k` steps is a product of
# `k` Jacobians,
#
# $$\frac{\partial L}{\partial h_{t-k}} = \Big(\prod_{j=0}^{k-1} W_{hh}^\top\, \mathrm{diag}(1 - h_{t-j}^2)\Big)\, \frac{\partial L}{\partial h_t}.$$
#
# A product of `k` matrices behaves like a `k`-th power. If the largest eigenvalue magnitude
# of `W_hh` — its **spectral radius** `ρ` — is below 1, the product shrinks like `ρ^k`: the
# gradient **vanishes** and the network cannot learn long dependencies. Above 1 it can grow
# like `ρ^k`: it **explodes**, and one update throws the weights far away. The tanh
# derivatives `(1 − h²) ≤ 1` only shrink it further.
#
# We measure it with our own `RNN.backward`: set `W_hh = ρ Q` with `Q` a random orthogonal
# matrix (all its eigenvalues have magnitude 1, so the spectral radius is exactly `ρ`), put
# a gradient of norm 1 on the **last** state only, backpropagate, and read the norm of the
# gradient that arrives at each earlier input.

# %%
H_demo, T_demo = 64, 60
q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((H_demo, H_demo)))


def reach_back(rho, input_scale=0.0, steps=T_demo, seed=0):
    """Norm of dL/dx_{T-k} for k = 0 .. steps-1 when only h_T gets a gradient."""
    r = RNN(H_demo, H_demo, rng=seed)
    r.params["weight_hh"] = rho * q
    r.params["weight_ih"] = np.eye(H_demo)   # so dL/dx_t = dL/da_t
    r.params["bias_ih"][:] = r.params["bias_hh"][:] = 0
    xs = input_scale * np.random.default_rng(seed).standard_normal((steps, 1, H_demo))
    hs, cache = r.forward(xs)
    dhs = np.zeros_like(hs)
    dhs[-1] = np.ones(H_demo) / np.sqrt(H_demo)  # a unit gradient on h_T only
    dx = r.backward(dhs, cache)
    return np.linalg.norm(dx[::-1, 0], axis=1)  # index k = steps back


radii = [0.5, 0.9, 1.0, 1.1, 1.5]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for rho in radii:
    axes[0].semilogy(reach_back(rho), label=f"ρ = {rho}")
    axes[1].semilogy(reach_back(rho, input_scale=1.0), label=f"ρ = {rho}")
axes[0].set(title="zero inputs: tanh in its linear regime", xlabel="k (steps back)",
            ylabel="‖dL/dx_{T-k}‖")
axes[1].set(title="random inputs: saturated tanh units shrink it", xlabel="k (steps back)")
axes[0].legend()
plt.show()

# %% [markdown]
# **Check yourself:** with zero inputs the cell is linear (`tanh'(0) = 1`), so the gradient
# `k` steps back is exactly `ρ^k` — a straight line on the log scale, going down for `ρ < 1`
# and up for `ρ > 1`.

# %%
for rho in radii:
    np.testing.assert_allclose(reach_back(rho), rho ** np.arange(T_demo), rtol=1e-9)
assert reach_back(0.9)[50] < 0.01 and reach_back(1.5)[50] > 1e8

# %% [markdown]
# ### Clipping: a cap on the explosion, no cure for the vanishing
#
# The gradient of `W_hh` sums the contributions of every step. With `ρ > 1` its norm grows
# exponentially with the length of the sequence; clipping by global norm caps it at
# `max_norm` (here 5) whatever the length, and keeps its direction. With `ρ < 1` the far
# steps add almost nothing, so the norm levels off below the cap and clipping never acts —
# nor could it bring back the contributions of the far past that vanished.

# %%
def whh_grad_norm(rho, T_len, clip=None):
    r = RNN(H_demo, H_demo, rng=0)
    r.params["weight_hh"] = rho * q
    r.params["bias_ih"][:] = r.params["bias_hh"][:] = 0
    xs = 0.01 * np.random.default_rng(1).standard_normal((T_len, 1, H_demo))
    hs, cache = r.forward(xs)
    dhs = np.zeros_like(hs)
    dhs[-1] = 1.0 / np.sqrt(H_demo)
    r.backward(dhs, cache)
    norm = clip_grad_norm(r.grads, clip) if clip else None   # norm before clipping
    return float(np.sqrt(sum((g ** 2).sum() for g in r.grads.values()))), norm


lengths = np.arange(2, 41, 2)
fig, ax = plt.subplots()
for rho, color in [(0.9, "C0"), (1.2, "C3")]:
    ax.semilogy(lengths, [whh_grad_norm(rho, n)[0] for n in lengths], color=color,
                label=f"ρ = {rho}, no clipping")
    ax.semilogy(lengths, [whh_grad_norm(rho, n, clip=5.0)[0] for n in lengths], "--",
                color=color, label=f"ρ = {rho}, clipped at 5")
ax.set(xlabel="sequence length T", ylabel="global gradient norm",
       title="gradient norm vs sequence length")
ax.legend()
plt.show()

# %%
assert whh_grad_norm(1.2, 40)[0] > 100 and abs(whh_grad_norm(1.2, 40, clip=5.0)[0] - 5) < 1e-4
assert whh_grad_norm(0.9, 40, clip=5.0)[0] == whh_grad_norm(0.9, 40)[0] < 5
assert whh_grad_norm(0.9, 40)[0] < 1.5 * whh_grad_norm(0.9, 20)[0]  # levels off

# %% [markdown]
# ### What clipping does to training
#
# Start the names RNN with `W_hh` scaled to spectral radius 1.5 and train it with plain SGD
# at a bold learning rate (3.0), with and without clipping. Without clipping, the first
# large gradients throw the weights so far that the loss jumps far above uniform guessing
# (`ln 27 ≈ 3.3`) and the run never recovers; with clipping, the same run trains.
# (At gentler learning rates the unclipped run survives: clipping is insurance against the
# rare huge step, which is why it is on by default in every recipe of this course.)

# %%
from lmlib.scratch.optim import SGD


def run_with(clip, steps=60 if lmlib.FAST else 400):
    m = RNNLM(vocab_size=V, n_embd=24, hidden_size=128, rng=0)
    radius = np.max(np.abs(np.linalg.eigvals(m.rnn.params["weight_hh"])))
    m.rnn.params["weight_hh"] *= 1.5 / radius
    return train_tbptt(m, stream, SGD(m.params, lr=3.0), steps, batch_size=32, bptt=32,
                       clip=clip)


no_clip, with_clip = run_with(None), run_with(1.0)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
ax1.plot(smooth(no_clip["loss"], 10), label="no clipping")
ax1.plot(smooth(with_clip["loss"], 10), label="clipped at 1.0")
ax1.set(xlabel="step", ylabel="loss (moving average)", yscale="log",
        title="SGD, lr 3.0, ρ(W_hh) = 1.5 at start")
ax1.legend()
ax2.semilogy(no_clip["grad_norm"], label="no clipping")
ax2.semilogy(with_clip["grad_norm"], label="clipped (norm before clipping)")
ax2.set(xlabel="step", ylabel="gradient norm")
ax2.legend()
plt.show()
late_no, late_clip = np.mean(no_clip["loss"][-20:]), np.mean(with_clip["loss"][-20:])
print(f"loss over the last 20 steps: no clipping {late_no:.3f}, clipped {late_clip:.3f}")
assert late_clip < late_no

# %% [markdown]
# ## 7. Results so far (names, nats per character)
#
# Every model on the same split of names.txt. The bigram is recomputed here from counts;
# the MLP number is chapter 02's (Bengio-style MLP, block 3); the RNN is the one trained
# above (`python -m coursekit.bench lstm` measures it in full mode, with chapter 04's LSTM).

# %%
counts = np.ones((V, V))  # add-1 bigram counts on the training names
for w_ in train_words:
    ids = tok.encode("." + w_ + ".")
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
logp = np.log(counts / counts.sum(1, keepdims=True))
test_ids = [tok.encode("." + w_ + ".") for w_ in test_words]
bigram_test = -np.mean(np.concatenate([logp[i[:-1], i[1:]] for i in test_ids]))

MLP_DEV = 2.1277  # chapter 02's MLP, dev split: measured by `python -m coursekit.bench mlp`
rows = [("uniform", np.log(V)), ("bigram (add-1)", bigram_test),
        ("MLP, chapter 02 (dev)", MLP_DEV), ("RNN, this chapter", rnn_test)]
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.barh([r[0] for r in rows][::-1], [r[1] for r in rows][::-1], color="C0")
for i, (_, v) in enumerate(rows[::-1]):
    ax.text(v + 0.02, i, f"{v:.3f}", va="center")
ax.set(xlabel="test loss (nats/char)", xlim=(0, 3.7), title="names: lower is better")
plt.show()
assert bigram_test > 2.4

# %% [markdown]
# ## Summary
#
# - An RNN is one cell, `h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)`, applied at every step with
#   the same weights; the hidden state is its only memory.
# - BPTT is ordinary backprop on the unrolled network: walk backwards in time, carry
#   `dL/dh` into the past, and sum the weight gradients over the steps. The gradient check
#   and `torch.nn.RNN` agree with ours to 1e-10.
# - Truncated BPTT carries the state across chunks but stops the gradient at the cut;
#   clipping by global norm caps the update length without changing its direction.
# - The gradient reaching back `k` steps scales like `ρ^k`: it vanishes for a spectral radius
#   below 1 and explodes above. Clipping tames the explosion; nothing here fixes the
#   vanishing. Chapter 04's LSTM does, with an additive cell state and gates.
#
# **Exercises:** `exercises/03_rnn.ipynb` — an RNN step, BPTT for the last step, clipping by
# global norm, truncated BPTT with a carried state.
