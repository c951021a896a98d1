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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/02_neural_lm.ipynb)

# %% [markdown]
# # Chapter 02 exercises: neural language models by hand
#
# Six exercises. 1–4 are warm-ups on the pieces of chapter 02; 5 and 6 are the main task:
# the whole backward pass of a neural language model the chapter does not show, then
# training it to a target. Write your code where it says `# YOUR CODE HERE` (and delete the
# `raise NotImplementedError()`), then run the check cell below it. Use NumPy only: the
# checks compare your functions with `lmlib` and PyTorch.

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

from lmlib.scratch import functional as F
from lmlib.scratch.gradcheck import gradcheck

# %% [markdown]
# ## Exercise 1: a stable softmax (core, 10 min)
#
# Write `softmax(z)` over the last axis of an array of any shape:
# `softmax(z)_k = exp(z_k) / sum_j exp(z_j)`. It must not overflow for logits like
# `[1000, 1001]`: subtract the maximum of each row first (the result does not change, and
# every `exp` is then at most 1).

# %%
def softmax(z):
    """Softmax over the last axis; same shape in and out."""
    z = np.asarray(z, dtype=np.float64)
    ### BEGIN SOLUTION
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


# %% tags=["check"]
# Check: stable softmax
z = np.random.default_rng(0).standard_normal((4, 5, 27)) * 5
np.testing.assert_allclose(softmax(z), F.softmax(z), rtol=1e-12,
                           err_msg="softmax over the LAST axis of a (4, 5, 27) array")
big = np.array([[1000.0, 1001.0, 1002.0], [-1e4, 0.0, 1e4]])
try:
    with np.errstate(over="raise", invalid="raise"):  # an overflow or a nan raises here
        out = softmax(big)
except FloatingPointError as err:
    raise AssertionError(f"overflow ({err}): subtract each row's own maximum before exp") from None
np.testing.assert_allclose(out[0], F.softmax(np.array([0.0, 1.0, 2.0])), rtol=1e-12,
                           err_msg="subtract each row's own maximum (keepdims=True)")
np.testing.assert_allclose(out.sum(axis=-1), 1.0)
print("stable softmax: correct")

# %% [markdown]
# ## Exercise 2: cross-entropy and its gradient (core, 15 min)
#
# For logits `(N, V)` and integer targets `(N,)`, return the mean loss
# `L = mean_i -log softmax(logits_i)[targets_i]` and its gradient with respect to the
# logits, `dlogits = (p - y) / N`, where `p` is the softmax and `y` the one-hot targets.
# Compute `log softmax` stably (`z - max - log(sum(exp(z - max)))`) rather than
# `np.log(softmax(z))`.

# %%
def cross_entropy(logits, targets):
    """(N, V), (N,) -> (loss: float, dlogits: (N, V))."""
    logits, targets = np.asarray(logits, dtype=np.float64), np.asarray(targets)
    ### BEGIN SOLUTION
    n = len(targets)
    s = logits - logits.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), targets].mean()
    dlogits = np.exp(logp)
    dlogits[np.arange(n), targets] -= 1
    return float(loss), dlogits / n
    ### END SOLUTION


# %% tags=["check"]
# Check: cross-entropy and gradient
rng = np.random.default_rng(1)
logits = rng.standard_normal((16, 27)) * 4
targets = rng.integers(0, 27, size=16)
loss, dlogits = cross_entropy(logits, targets)
zt = torch.from_numpy(logits).requires_grad_(True)
ref = torch.nn.functional.cross_entropy(zt, torch.from_numpy(targets))
ref.backward()
assert abs(loss - ref.item()) < 1e-10, f"loss {loss} differs from PyTorch's {ref.item()} (the MEAN over N)"
np.testing.assert_allclose(dlogits, zt.grad.numpy(), rtol=1e-8, atol=1e-14,
                           err_msg="dlogits must be (p - y) / N, equal to PyTorch's gradient")
with np.errstate(all="ignore"):
    loss_big, d_big = cross_entropy(np.array([[0.0, 900.0]]), np.array([0]))
assert abs(loss_big - 900.0) < 1e-9 and np.isfinite(d_big).all(), "use the log-sum-exp trick"
print("cross-entropy and gradient: correct")

# %% [markdown]
# ## Exercise 3: the backward pass of a linear layer, with a gradient check (core, 15 min)
#
# A linear layer computes `y = x @ W.T + b` with `x` `(N, in)`, `W` `(out, in)` (PyTorch's
# layout) and `b` `(out,)`. Given `dout = dL/dy` `(N, out)`, return `dx`, `dW`, `db`.
# Hint: each gradient has the shape of the thing it is the gradient of.
#
# Then convince yourself with `gradcheck` (the check cell does it too): for the loss
# `L = sum(y * R)` with a fixed random `R`, `dL/dy = R`.

# %%
def linear_backward(x, W, b, dout):
    """-> (dx (N, in), dW (out, in), db (out,)) for y = x @ W.T + b."""
    ### BEGIN SOLUTION
    dx = dout @ W
    dW = dout.T @ x
    db = dout.sum(axis=0)
    return dx, dW, db
    ### END SOLUTION


# %% tags=["check"]
# Check: linear backward with gradient check
rng = np.random.default_rng(2)
p = {"x": rng.standard_normal((5, 4)), "W": rng.standard_normal((3, 4)),
     "b": rng.standard_normal(3)}
R = rng.standard_normal((5, 3))
dx, dW, db = linear_backward(p["x"], p["W"], p["b"], R)
for name, g in (("dx", dx), ("dW", dW), ("db", db)):
    want = p[name[1:]].shape
    assert np.shape(g) == want, f"{name} has shape {np.shape(g)}: a gradient has the shape of its parameter {want}"
errors = gradcheck(lambda: float(((p["x"] @ p["W"].T + p["b"]) * R).sum()), p,
                   {"x": dx, "W": dW, "b": db})
print("relative errors:", {k: f"{v:.1e}" for k, v in errors.items()})
assert max(errors.values()) < 1e-7, f"gradient check failed, relative errors {errors}"
print("linear backward: correct")

# %% [markdown]
# ## Exercise 4: one Adam step (core, 15 min)
#
# Implement one step of Adam for a parameter `w` with gradient `g`, running moments `m`, `v`
# and step number `t` (starting at 1); return the new `(w, m, v)` without modifying the
# inputs:
#
#     m = b1 m + (1 - b1) g
#     v = b2 v + (1 - b2) g²
#     m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)
#     w = w - lr m_hat / (sqrt(v_hat) + eps)

# %%
def adam_step(w, g, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """-> (new w, new m, new v)."""
    b1, b2 = betas
    ### BEGIN SOLUTION
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat = m / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
    ### END SOLUTION


# %% tags=["check"]
# Check: one Adam step
rng = np.random.default_rng(3)
w0 = rng.standard_normal(6)
w, m, v = w0.copy(), np.zeros(6), np.zeros(6)
tw = torch.tensor(w0.copy(), requires_grad=True)
topt = torch.optim.Adam([tw], lr=0.05, betas=(0.8, 0.99))
for t in range(1, 6):
    g = np.sin(w * 3) + t  # any gradient will do
    w, m, v = adam_step(w, g, m, v, t, lr=0.05, betas=(0.8, 0.99))
    tw.grad = torch.from_numpy(np.sin(tw.detach().numpy() * 3) + t)
    topt.step()
np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-10,
                           err_msg="after 5 steps w differs from torch.optim.Adam (moments, bias correction, eps)")
m_in, v_in, w_in = np.zeros(6), np.zeros(6), w0.copy()
adam_step(w_in, np.ones(6), m_in, v_in, 1)
assert not m_in.any() and not v_in.any() and (w_in == w0).all(), "do not modify the inputs"
print("one Adam step: correct")

# %% [markdown]
# ## Exercise 5: backpropagation through Bengio's MLP, by hand (core, 40 min)
#
# Bengio et al. (2003) also connected the embeddings **directly** to the output, besides the
# tanh layer. With context `idx` `(B, T)` of token ids and targets `(B,)`:
#
#     e = emb.weight[idx]                                       (B, T, C)
#     x = e.reshape(B, T*C)                                     (B, T*C)
#     h = tanh(x @ hidden.weight.T + hidden.bias)               (B, H)
#     logits = h @ out.weight.T + out.bias + x @ direct.weight.T   (B, V)
#     loss = mean cross-entropy(logits, targets)
#
# Write `mlp_loss_and_grads(params, idx, targets)` returning the loss and a dict with the
# gradient of the loss with respect to **each** of the six arrays of `params` (same names,
# same shapes). Chapter 02 showed the pieces; here `x` feeds two paths, so its gradient is
# the **sum** of what comes back along both. You may use `lmlib.scratch.functional`'s
# `cross_entropy` (it returns the loss and `dlogits`). Do not modify `params`.

# %%
def init_params(V=27, T=3, C=10, H=100, seed=0):
    """Random parameters of the MLP with direct connections (the names of Exercise 5)."""
    rng = np.random.default_rng(seed)
    return {"emb.weight": rng.standard_normal((V, C)),
            "hidden.weight": rng.standard_normal((H, T * C)) / np.sqrt(T * C),
            "hidden.bias": np.zeros(H),
            "out.weight": rng.standard_normal((V, H)) / np.sqrt(H) * 0.1,
            "out.bias": np.zeros(V),
            "direct.weight": np.zeros((V, T * C))}


def mlp_loss_and_grads(params, idx, targets):
    """(B, T) ids, (B,) targets -> (loss: float, grads: {name: array shaped like params[name]})."""
    ### BEGIN SOLUTION
    E, W1, b1 = params["emb.weight"], params["hidden.weight"], params["hidden.bias"]
    W2, b2, Wd = params["out.weight"], params["out.bias"], params["direct.weight"]
    x = E[idx].reshape(len(idx), -1)                 # (B, T*C)
    h = np.tanh(x @ W1.T + b1)                       # (B, H)
    logits = h @ W2.T + b2 + x @ Wd.T                # (B, V)
    loss, dz = F.cross_entropy(logits, targets)      # dz = (p - y) / B
    grads = {"out.weight": dz.T @ h, "out.bias": dz.sum(axis=0), "direct.weight": dz.T @ x}
    da = (dz @ W2) * (1 - h ** 2)                    # through tanh
    grads["hidden.weight"] = da.T @ x
    grads["hidden.bias"] = da.sum(axis=0)
    dx = da @ W1 + dz @ Wd                           # x feeds both paths: the gradients add
    dE = np.zeros_like(E)
    np.add.at(dE, idx, dx.reshape(idx.shape + (-1,)))  # repeated ids add up
    grads["emb.weight"] = dE
    return float(loss), grads
    ### END SOLUTION


# %% tags=["check"]
# Check: Bengio MLP backward
rng = np.random.default_rng(6)
params = init_params(V=27, T=3, C=4, H=8, seed=6)
for name in params:                                   # make every term matter
    params[name] = params[name] + 0.3 * rng.standard_normal(params[name].shape)
idx = rng.integers(0, 27, size=(12, 3))
idx[:, 0] = idx[0, 0]                                 # repeated ids: their gradients must add
targets = rng.integers(0, 27, size=12)
before = {k: v.copy() for k, v in params.items()}
loss, grads = mlp_loss_and_grads(params, idx, targets)
assert all((params[k] == before[k]).all() for k in params), "do not modify params"

tp = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in params.items()}
tx = tp["emb.weight"][torch.from_numpy(idx)].reshape(len(idx), -1)
th = torch.tanh(tx @ tp["hidden.weight"].T + tp["hidden.bias"])
tlogits = th @ tp["out.weight"].T + tp["out.bias"] + tx @ tp["direct.weight"].T
tloss = torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(targets))
tloss.backward()
assert abs(loss - tloss.item()) < 1e-10, f"loss {loss} differs from autograd's {tloss.item()}"
assert set(grads) == set(params), f"one gradient per parameter: got {sorted(grads)}"
for name in ["out.bias", "out.weight", "direct.weight", "hidden.weight", "hidden.bias",
             "emb.weight"]:                          # the layers nearest the loss first
    g, ref = np.asarray(grads[name]), tp[name].grad.numpy()
    assert g.shape == ref.shape, f"{name}: gradient shape {g.shape}, expected {ref.shape}"
    err = np.abs(g - ref).max() / (np.abs(ref).max() + 1e-300)
    assert err < 1e-10, f"{name}: gradient differs from autograd (relative error {err:.1e})"
print("every gradient equals autograd's: correct")

# %% [markdown]
# ## Exercise 6: train it to a dev target (core, 20 min)
#
# Train the model of exercise 5 with your gradients and `lmlib.scratch.optim.Adam` on the
# names: each step draws `batch_size` random training examples with `rng.integers`,
# computes the loss and gradients, and takes one Adam step; the learning rate decays
# exponentially from `lr` at step 0 to `lr / 10` at the last step (set `opt.lr` before each
# step). `train_mlp` updates `params` in place and returns the list of batch losses.
# Target (full mode, 10,000 steps): dev loss below 2.22 nats/char, against the add-1
# bigram's 2.45 of chapter 01.

# %%
from lmlib.data import names
from lmlib.scratch import optim
from lmlib.scratch.mlp import build_dataset

tok, train_words, dev_words, _ = names()
Xtr, Ytr = build_dataset(train_words, tok, block_size=3)   # (N, 3) contexts, (N,) targets
Xdev, Ydev = build_dataset(dev_words, tok, block_size=3)


def train_mlp(params, X, Y, steps, batch_size=64, lr=3e-3, seed=0):
    """Adam on random batches of (X, Y), lr decayed from lr to lr / 10; -> list of batch losses."""
    rng = np.random.default_rng(seed)
    ### BEGIN SOLUTION
    opt = optim.Adam(params, lr=lr)
    losses = []
    for step in range(steps):
        opt.lr = lr * 0.1 ** (step / steps)
        ix = rng.integers(0, len(X), size=batch_size)
        loss, grads = mlp_loss_and_grads(params, X[ix], Y[ix])
        opt.step(grads)
        losses.append(loss)
    return losses
    ### END SOLUTION


# %% tags=["check"]
# Check: train to a dev target
steps = 2000 if lmlib.FAST else 10_000
target = 2.40 if lmlib.FAST else 2.22
params = init_params()
start = {k: v.copy() for k, v in params.items()}
losses = train_mlp(params, Xtr, Ytr, steps)
assert len(losses) == steps, f"one batch loss per step: got {len(losses)} for {steps} steps"
assert all(not np.array_equal(start[k], params[k]) for k in params), \
    "train_mlp must update every array of params in place (give Adam the params dict itself)"
with torch.no_grad():
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    tx = tp["emb.weight"][torch.from_numpy(Xdev)].reshape(len(Xdev), -1)
    tlogits = (torch.tanh(tx @ tp["hidden.weight"].T + tp["hidden.bias"]) @ tp["out.weight"].T
               + tp["out.bias"] + tx @ tp["direct.weight"].T)
    dev = torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(Ydev)).item()
print(f"{steps:,} steps: train (last 500 batches) {np.mean(losses[-500:]):.4f}, dev {dev:.4f}")
assert dev < target, f"dev loss {dev:.4f} is not below the target {target}"
print("train to a dev target: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** The chapter checks gradients in float64, on a small batch. Why
# float64, and why can a correct backward pass fail a gradient check in float32?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The numerical gradient is $(L(w+\varepsilon) - L(w-\varepsilon)) / 2\varepsilon$:
# the difference of two nearly equal losses divided by a small number. float32 keeps about
# 7 significant digits, so with $\varepsilon \approx 10^{-3}$ the difference has lost most of
# them to rounding and the estimate is off by about $10^{-4}$ relative or worse, the same
# size as the error of a real bug; a larger $\varepsilon$ instead adds truncation error of
# order $\varepsilon^2$. float64 keeps about 16 digits, so a correct gradient agrees to about
# $10^{-8}$ and a bug stands out by many orders of magnitude. A small batch keeps the cost
# (two forward passes per parameter entry) affordable.
#
# **Rubric (2 points).** 1 point for the cancellation / rounding argument (difference of
# nearly equal numbers, few digits in float32); 1 point for what it means (a correct float32
# gradient's error is as large as a bug's, float64 separates them).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** Take the model of exercise 5 with no hidden units (H = 0) and a
# context of one character (T = 1), with C = 10. What model is it? Can it reach the count
# bigram's training loss of chapter 01?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Its logits are `E[i] @ direct.weight.T + out.bias`: a bigram model whose
# 27 × 27 table of logits is the product of a 27 × 10 and a 10 × 27 matrix plus a bias per
# next character, so its rank is at most 11. The count model (the network of section 1 of
# the chapter) can put any 27 × 27 table of log-probabilities there, so this one is a
# restricted bigram: its training loss can at best equal the count model's, and in general
# stays above it, because not every table of log-probabilities has rank ≤ 11.
#
# **Rubric (2 points).** 1 point for "a bigram model (log-linear in the previous character)
# with a low-rank logit table"; 1 point for "it cannot go below the count model's training
# loss, and generally stays above it, because of the rank limit".
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** Adding $\lambda \sum W^2$ (L2 regularisation) to the loss of
# chapter 02's one-layer bigram network changes the probabilities it learns. In which
# direction, and which smoothing of chapter 01 does it resemble? What plays the role of `k`?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The penalty pulls every logit $W[i, j]$ towards 0, i.e. every row of
# probabilities towards the uniform distribution, most strongly for rows with few
# examples (their data term is small against the penalty). That is what add-k does to the
# counts: pseudo-counts pull each row towards uniform, more for rare rows. The strength
# $\lambda$ plays the role of $k$: $\lambda = 0$ is maximum likelihood (the counts; an unseen
# pair's logit drifts towards $-\infty$), a larger $\lambda$ smooths more, and a huge one
# gives the uniform model.
#
# **Rubric (2 points).** 1 point for "towards uniform / logits towards 0, more for rare
# contexts"; 1 point for "like add-k (Laplace) smoothing, λ ↔ k".
# ### END SOLUTION
