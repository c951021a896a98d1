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
# - the reason RNNs are hard to train: **vanishing and exploding gradients**, made visible,
#   and measured on the trained model.
#
# **Prerequisites:** chapter 02 (cross-entropy and its gradient, backprop by hand, gradient
# checking, Adam).
#
# **Time:** about 2 minutes on a laptop CPU in full mode (most of it training the names RNN;
# `make times` measures it on one core and records it in `docs/notebook_times.json`).

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
# **Truncated BPTT.** Backpropagating through the whole stream (its length is printed
# below) would mean keeping one state per character of it in memory for one update. Instead we cut the stream into `B`
# long tracks (one per row of the batch) and read them `bptt` characters at a time:
#
# - the hidden state at the end of a chunk is **carried** into the next chunk, so the model
#   still remembers across the cut;
# - but the gradient **stops** at the cut: we never backpropagate into the carried state
#   (PyTorch calls this *detaching* it). Dependencies longer than `bptt` steps can still be
#   *used* by the model, they just are not *learned* directly.
#
# The picture: the forward arrows (black) run through the whole stream; the backward arrows
# (red) run only inside a chunk. Without truncation, the red arrows would cross the dashed
# lines too, and one update would need the states of the whole stream.

# %%
from lmlib.viz.diagrams import bptt_diagram

bptt_diagram(T=12, bptt=4)
plt.show()

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
# `ln 27 = 3.2958`; and the model's hand-written backward passes the gradient check.

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
# `train_tbptt` (in `lmlib.scratch.rnn`) is the loop just described. Each step reads the
# next `bptt` characters of every track, runs the model **from the carried state**,
# backpropagates **through this chunk only**, clips the gradient, takes an optimizer step and
# keeps the last state for the next chunk. (You write the heart of it yourself in exercise 4,
# checked against PyTorch.)
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
t0, c0 = time.perf_counter(), time.process_time()
hist = train_tbptt(model, stream, optimizer, steps, batch_size=32, bptt=16, clip=1.0,
                   lr_schedule=schedule)
train_seconds, train_cpu = time.perf_counter() - t0, time.process_time() - c0
rnn_dev = model.loss_on_words(dev_words, tok)
rnn_test = model.loss_on_words(test_words, tok)
print(f"{steps:,} steps of 32 x 16 characters ({steps * 32 * 16:,} tokens) in "
      f"{train_cpu:.0f} CPU s ({train_seconds:.0f} s wall); dev {rnn_dev:.4f}, "
      f"test {rnn_test:.4f} (each name read from a zero state, its closing '.' included)")

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
# **Check yourself:** training lowered the loss well below uniform guessing; in full mode the
# RNN's test loss is below 2.15 nats per character (section 7 puts it beside the other models
# on the test split).

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
# the gradient reaches further back. A short NumPy run (its steps and loss printed below)
# gives text with word shapes and line breaks; chapter 04 trains an LSTM on the same text.

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
# > **Fact:** it holds a fixed number `H` of numbers, and the influence of an input fades:
# > the gradient that would teach the network to use it **vanishes** on the way back.
# > Section 6 measures how fast, on random matrices and then on the RNN trained above.

# %% [markdown]
# ## 6. Vanishing and exploding gradients
#
# Unroll the recursion of section 3. One step back multiplies the gradient by the transpose
# of the Jacobian `∂h_j/∂h_{j-1} = D_j W_hh`, where `D_j = diag(1 − h_j²)` is the tanh
# derivative. So the gradient that reaches back `k` steps is
#
# $$\frac{\partial L}{\partial h_{t-k}} = W_{hh}^\top D_{t-k+1}\; W_{hh}^\top D_{t-k+2} \cdots
#   W_{hh}^\top D_{t}\; \frac{\partial L}{\partial h_t},$$
#
# with the factor of the latest step, `W_hh^T D_t`, applied first (rightmost) and the
# factor of the earliest step last. The entries of `D` lie in `(0, 1]`, so they can only
# shrink the gradient. What the matrix does depends on two numbers:
#
# - the **largest singular value** `σ_max` of `W_hh` bounds what one step can do: the
#   gradient's norm grows at most by `σ_max` per step. If `σ_max < 1`, the gradient
#   **vanishes** at least like `σ_max^k`, whatever the inputs;
# - the **spectral radius** `ρ` (the largest eigenvalue magnitude) sets the long-run rate of
#   the product: `‖(W^T)^k‖^{1/k} → ρ`. In the linear regime the gradient eventually grows
#   like `ρ^k` if `ρ > 1` (it **explodes**) and decays if `ρ < 1`.
#
# For a *normal* matrix (symmetric, orthogonal, `ρ Q`, ...) the two numbers are equal. For a
# *non-normal* one they are not, and `ρ < 1` does not stop a gradient from growing first:
# `W = [[0.5, 10], [0, 0.5]]` has `ρ = 0.5` but `σ_max ≈ 10`.

# %%
W_nn = np.array([[0.5, 10.0], [0.0, 0.5]])
g, norms = np.ones(2) / np.sqrt(2), []
for _ in range(40):
    g = W_nn.T @ g              # one step back through a linear RNN with W_hh = W_nn
    norms.append(np.linalg.norm(g))
rho_nn = np.abs(np.linalg.eigvals(W_nn)).max()
sigma_nn = np.linalg.svd(W_nn, compute_uv=False).max()
print(f"spectral radius {rho_nn:.2f}, largest singular value {sigma_nn:.2f}")
print(f"gradient norm 1 step back: {norms[0]:.2f}, 5 steps back: {norms[4]:.2f}, "
      f"20 steps back: {norms[19]:.2e}")
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(np.arange(1, 41), norms, "o-", ms=3, label="‖(W^T)^k g‖, W = [[0.5, 10], [0, 0.5]]")
ax.semilogy(np.arange(1, 41), 0.5 ** np.arange(1, 41), "--", label="ρ^k = 0.5^k")
ax.axhline(1, color="grey", lw=0.8)
ax.set(xlabel="k (steps back)", ylabel="gradient norm", title="a non-normal matrix: growth first")
ax.legend(fontsize=8)
plt.show()
assert rho_nn == 0.5 and norms[0] > 7 and norms[4] > 1   # grows although ρ < 1 ...
assert norms[-1] < 1e-6                                  # ... and vanishes in the long run

# %% [markdown]
# We measure it with our own `RNN.backward`: set `W_hh = ρ Q` with `Q` a random orthogonal
# matrix (all its eigenvalues and all its singular values are 1, so `ρ` is both the spectral
# radius and the largest singular value of `W_hh`), put
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
# ### On the trained names RNN
#
# The myth box of section 5 promised a measurement on a real network. Take the RNN trained in
# section 4, let it read 60 characters of the training stream (32 tracks at once), put a unit
# gradient on the last state `h_T` only, and backpropagate to the inputs: the norm of
# `∂h_T/∂x_{T−k}` (times the unit vector) tells how much the input `k` steps back can still
# change the final state, and how much gradient it would get.

# %%
def trained_reach(model, ids, steps=60):
    """Mean over the tracks of ‖dL/dx_{T-k}‖ for k = 0 .. steps-1, L = <h_T, u>, |u| = 1."""
    emb = model.wte.forward(ids[:, :steps].T)                  # (T, B, C)
    hs, cache = model.rnn.forward(emb)
    dhs = np.zeros_like(hs)
    dhs[-1] = 1 / np.sqrt(hs.shape[-1])
    dx = model.rnn.backward(dhs, cache)                        # (T, B, C)
    return np.linalg.norm(dx, axis=2).mean(axis=1)[::-1]       # index k = steps back


reach_trained = trained_reach(model, tracks[:, 1000:])
radius_trained = np.abs(np.linalg.eigvals(model.rnn.params["weight_hh"])).max()
sigma_trained = np.linalg.svd(model.rnn.params["weight_hh"], compute_uv=False).max()
print(f"trained W_hh: spectral radius {radius_trained:.2f}, largest singular value "
      f"{sigma_trained:.2f}")
for k in (0, 5, 10, 20, 40):
    print(f"k = {k:2d}: ‖dL/dx_(T-k)‖ = {reach_trained[k]:.2e}  "
          f"({reach_trained[k] / reach_trained[0]:.1e} of k = 0)")
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(reach_trained, label="trained names RNN (mean over 32 tracks)")
ax.set(xlabel="k (steps back)", ylabel="‖dL/dx_{T-k}‖", title="how far back the trained RNN's gradient reaches")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The trained `W_hh` has a spectral radius above 1 (printed above), and yet the gradient
# fades: training has pushed many units into the flat ends of the tanh, where the
# derivatives `1 − h²` in `D_j` are small, and those factors shrink the product step after
# step. The linear picture (`ρ^k`) leaves these factors out.
#
# **Check yourself:** in full mode, the trained `W_hh` has a spectral radius above 1, and the
# gradient reaching an input 20 steps back is more than a hundred times smaller than at the
# last step.

# %%
if not lmlib.FAST:
    assert radius_trained > 1 and reach_trained[20] < reach_trained[0] / 100, (
        radius_trained, reach_trained[[0, 20]])

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
# large gradients throw the weights far away and the loss jumps above uniform guessing
# (`ln 27 = 3.2958`); with clipping, the same run trains (the losses of the last 20 steps are
# printed and compared below).
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
print(f"loss over the last 20 steps: no clipping {late_no:.3f}, clipped {late_clip:.3f} "
      f"(uniform: {np.log(V):.4f})")
assert late_clip < late_no
if not lmlib.FAST:
    assert late_no > np.log(V) and late_clip < np.log(V) - 0.3, (late_no, late_clip)

# %% [markdown]
# ## 7. Results so far (names, test split, nats per character)
#
# Every model on the same test split of names.txt under the course's one protocol
# (`lmlib.scoring.score`): each name is read from an empty context after a `.` and its
# closing `.` is predicted too. For the RNN the empty context is a zero state; for an n-gram
# it is a context of dots (so it is fitted on names padded with `order − 1` dots). The
# bigram and chapter 01's best n-gram (a 5-gram with modified Kneser–Ney smoothing) are
# recomputed here from counts; the MLP's number is chapter 02's; the RNN is the one trained
# above.

# %%
from lmlib.data import names_stream
from lmlib.ngram import NGramLM
from lmlib.scoring import score


def ngram_test_loss(order, smoothing, **kwargs):
    lm = NGramLM(order, smoothing, **kwargs).fit(names_stream(train_words, tok, pad=order - 1), V)
    return score(lm, (test_words, tok))


bigram_test = ngram_test_loss(2, "add-k", k=1.0)
ngram_test = ngram_test_loss(5, "modified-kneser-ney")
MLP_TEST = 2.1212  # chapter 02's MLP on the names test split (README results table, `make bench`)
rows = [("uniform", np.log(V)), ("bigram, add-1", bigram_test),
        ("MLP, chapter 02", MLP_TEST), ("5-gram, modified KN, chapter 01", ngram_test),
        ("RNN, this chapter", rnn_test)]
for name, value in rows:
    print(f"{name:>32}: {value:.4f}")
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.barh([r[0] for r in rows][::-1], [r[1] for r in rows][::-1], color="C0")
for i, (_, v) in enumerate(rows[::-1]):
    ax.text(v + 0.02, i, f"{v:.3f}", va="center")
ax.set(xlabel="test loss (nats/char)", xlim=(0, 3.7), title="names, test split: lower is better")
plt.show()

# %% [markdown]
# **Check yourself:** the bigram is far behind (above 2.4). In full mode the RNN is well
# ahead of the bigram (by more than 0.3), but chapter 01's best n-gram is still ahead of it
# (by more than 0.02): a small NumPy RNN trained for a few minutes does not beat a
# well-smoothed 5-gram on names. Chapter 04's LSTM does.

# %%
assert bigram_test > 2.4
if not lmlib.FAST:
    assert rnn_test < bigram_test - 0.3 and ngram_test < rnn_test - 0.02, (rnn_test, ngram_test)

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
# - The gradient reaching back `k` steps is a product of `k` Jacobians. It vanishes for sure
#   when the largest singular value of `W_hh` is below 1; in the long run it shrinks or grows
#   like `ρ^k` with the spectral radius `ρ`, but a non-normal matrix can make it grow first
#   even when `ρ < 1`. In the trained names RNN it fades fast (more than a hundredfold in
#   20 steps, section 6) although its `W_hh` has a spectral radius above 1: saturated tanh
#   units shrink it. Clipping tames the explosion; nothing here fixes the vanishing. Chapter
#   04's LSTM does, with an additive cell state and gates.
#
# **Exercises:** `exercises/03_rnn.ipynb` — an RNN step (core, 5 min), BPTT for the last step
# (core, 20 min), clipping by global norm (core, 10 min), truncated BPTT built yourself and
# checked against PyTorch (core, 30 min), the spectral radius and non-normal matrices
# (stretch, 25 min); and three written questions.
