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
# Six exercises on the pieces of chapter 02. Write your code where it says
# `# YOUR CODE HERE` (and delete the `raise NotImplementedError()`), then run the check cell
# below it. Use NumPy only: the checks compare your functions with `lmlib` and PyTorch.

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
# ## Exercise 1: a stable softmax
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
np.testing.assert_allclose(softmax(z), F.softmax(z), rtol=1e-12)
big = np.array([[1000.0, 1001.0, 1002.0], [-1e4, 0.0, 1e4]])
with np.errstate(over="raise", invalid="raise"):  # an overflow or a nan raises here
    out = softmax(big)
np.testing.assert_allclose(out[0], F.softmax(np.array([0.0, 1.0, 2.0])), rtol=1e-12)
np.testing.assert_allclose(out.sum(axis=-1), 1.0)
print("stable softmax: correct")

# %% [markdown]
# ## Exercise 2: cross-entropy and its gradient
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
assert abs(loss - ref.item()) < 1e-10, (loss, ref.item())
np.testing.assert_allclose(dlogits, zt.grad.numpy(), rtol=1e-8, atol=1e-14)
loss_big, d_big = cross_entropy(np.array([[0.0, 900.0]]), np.array([0]))
assert abs(loss_big - 900.0) < 1e-9 and np.isfinite(d_big).all(), "use the log-sum-exp trick"
print("cross-entropy and gradient: correct")

# %% [markdown]
# ## Exercise 3: the backward pass of a linear layer, with a gradient check
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
errors = gradcheck(lambda: float(((p["x"] @ p["W"].T + p["b"]) * R).sum()), p,
                   {"x": dx, "W": dW, "b": db})
print("relative errors:", {k: f"{v:.1e}" for k, v in errors.items()})
assert max(errors.values()) < 1e-7, errors
print("linear backward: correct")

# %% [markdown]
# ## Exercise 4: one Adam step
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
np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-10)
m_in, v_in, w_in = np.zeros(6), np.zeros(6), w0.copy()
adam_step(w_in, np.ones(6), m_in, v_in, 1)
assert not m_in.any() and not v_in.any() and (w_in == w0).all(), "do not modify the inputs"
print("one Adam step: correct")

# %% [markdown]
# ## Exercise 5: the MLP forward pass
#
# The MLP language model of the chapter. With context `idx` `(B, T)` of token ids:
#
#     e = emb.weight[idx]                        (B, T, C)
#     x = e reshaped to (B, T*C)
#     h = tanh(x @ hidden.weight.T + hidden.bias)   (B, H)
#     logits = h @ out.weight.T + out.bias          (B, V)
#
# `params` holds the arrays under those names (the names of `lmlib.scratch.mlp.MLPLM`).

# %%
def mlp_forward(params, idx):
    """(B, T) int -> logits (B, V)."""
    ### BEGIN SOLUTION
    e = params["emb.weight"][idx]
    x = e.reshape(len(idx), -1)
    h = np.tanh(x @ params["hidden.weight"].T + params["hidden.bias"])
    return h @ params["out.weight"].T + params["out.bias"]
    ### END SOLUTION


# %% tags=["check"]
# Check: MLP forward
from lmlib.scratch.mlp import MLPLM

model = MLPLM(27, block_size=3, n_embd=5, n_hidden=16, seed=4)
model.params["out.bias"][:] = np.linspace(-1, 1, 27)   # make every term matter
model.params["hidden.bias"][:] = 0.1
idx = np.random.default_rng(4).integers(0, 27, size=(8, 3))
np.testing.assert_allclose(mlp_forward(model.params, idx), model.forward(idx)[0], rtol=1e-12)
print("MLP forward: correct")

# %% [markdown]
# ## Exercise 6: the backward pass of an embedding
#
# `out = weight[idx]` looks up rows of `weight` `(V, C)` for ids `idx` of any shape. Given
# `dout = dL/dout` `(*idx.shape, C)`, return `dweight` `(V, C)`. Careful: when an id appears
# several times, its row receives the **sum** of those gradients (`dweight[idx] += dout`
# does not add up repeats; `np.add.at` does).

# %%
def embedding_backward(idx, dout, V):
    """-> dweight (V, C)."""
    ### BEGIN SOLUTION
    dweight = np.zeros((V, dout.shape[-1]))
    np.add.at(dweight, np.asarray(idx).reshape(-1), dout.reshape(-1, dout.shape[-1]))
    return dweight
    ### END SOLUTION


# %% tags=["check"]
# Check: embedding backward
idx = np.array([[1, 3, 1], [0, 1, 4]])
dout = np.random.default_rng(5).standard_normal((2, 3, 2))
table = torch.zeros(6, 2, dtype=torch.float64, requires_grad=True)
table[torch.from_numpy(idx)].backward(torch.from_numpy(dout))
np.testing.assert_allclose(embedding_backward(idx, dout, 6), table.grad.numpy(), rtol=1e-12)
print("embedding backward: correct")
