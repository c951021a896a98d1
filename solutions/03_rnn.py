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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/03_rnn.ipynb)

# %% [markdown]
# # Chapter 03 exercises: recurrent networks
#
# Five exercises, each independent. Write your code where it says `YOUR CODE HERE`, then run
# the check cell below it: it prints a confirmation when your answer is right.

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

from lmlib.scratch.rnn import RNN

# %% [markdown]
# ## Exercise 1: one RNN step
#
# Write `rnn_step(x_t, h_prev, W_xh, W_hh, b)` for a batch: `x_t` `(B, I)`, `h_prev` `(B, H)`,
# `W_xh` `(H, I)`, `W_hh` `(H, H)`, `b` `(H,)`; return
# `h_t = tanh(x_t W_xh^T + h_prev W_hh^T + b)`, shape `(B, H)`.

# %%
def rnn_step(x_t, h_prev, W_xh, W_hh, b):
    ### BEGIN SOLUTION
    return np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)
    ### END SOLUTION


# %% tags=["check"]
# Check: rnn step
rnn = RNN(3, 5, rng=0)
p = rnn.params
x = np.random.default_rng(0).standard_normal((1, 2, 3))
h0 = np.random.default_rng(1).standard_normal((2, 5))
mine = rnn_step(x[0], h0, p["weight_ih"], p["weight_hh"], p["bias_ih"] + p["bias_hh"])
np.testing.assert_allclose(mine, rnn.forward(x, h0)[0][0], atol=1e-12)
print("rnn step: correct")

# %% [markdown]
# ## Exercise 2: backpropagation through time for a loss on the last step
#
# A sequence classifier reads only the **last** hidden state: `L = sum(w * h_T)`, so
# `dL/dh_T = w` and no other step gets a gradient from above. Given the states
# `hs` `(T, B, H)` of a forward pass (`hs[t]` is `h_{t+1}`), the initial state `h0`, the
# inputs `x` `(T, B, I)` and `W_hh`, return `(dW_hh, dh0)`.
#
# Walk backwards: `da_t = dh_t * (1 - h_t**2)`, `dW_hh += da_t^T h_{t-1}`,
# `dh_{t-1} = da_t W_hh`.

# %%
def bptt_last_step(w, hs, h0, W_hh):
    ### BEGIN SOLUTION
    dW_hh = np.zeros_like(W_hh)
    dh = w
    for t in reversed(range(len(hs))):
        da = dh * (1 - hs[t] ** 2)
        h_prev = hs[t - 1] if t > 0 else h0
        dW_hh += da.T @ h_prev
        dh = da @ W_hh
    return dW_hh, dh
    ### END SOLUTION


# %% tags=["check"]
# Check: bptt last step
torch.manual_seed(0)
ref = torch.nn.RNN(3, 5, dtype=torch.float64)
xs = torch.randn(6, 2, 3, dtype=torch.float64)
h0t = torch.randn(1, 2, 5, dtype=torch.float64, requires_grad=True)
w = torch.randn(2, 5, dtype=torch.float64)
out, _ = ref(xs, h0t)
(out[-1] * w).sum().backward()
dW, dh0 = bptt_last_step(w.numpy(), out.detach().numpy(), h0t.detach()[0].numpy(),
                         ref.weight_hh_l0.detach().numpy())
np.testing.assert_allclose(dW, ref.weight_hh_l0.grad.numpy(), atol=1e-10)
np.testing.assert_allclose(dh0, h0t.grad[0].numpy(), atol=1e-10)
print("bptt last step: correct")

# %% [markdown]
# ## Exercise 3: clipping by global norm
#
# Write `clip_by_global_norm(grads, max_norm)`: `grads` is a dict of arrays. Compute the
# global norm `sqrt(sum of g**2 over every entry of every array)`; if it exceeds
# `max_norm`, return **new** arrays multiplied by `max_norm / norm` (else copies of the
# originals). Return `(clipped_dict, norm_before)`.

# %%
def clip_by_global_norm(grads, max_norm):
    ### BEGIN SOLUTION
    norm = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: g * scale for k, g in grads.items()}, norm
    ### END SOLUTION


# %% tags=["check"]
# Check: clipping by global norm
g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
clipped, norm = clip_by_global_norm(g, 1.0)
assert abs(norm - 5.0) < 1e-12, norm
np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
np.testing.assert_allclose(clipped["b"], [[0.8]])
assert g["a"][0] == 3.0, "the originals must not change"
same, _ = clip_by_global_norm(g, 10.0)
np.testing.assert_allclose(same["a"], g["a"])
# the same as torch.nn.utils.clip_grad_norm_ on random gradients
rng = np.random.default_rng(0)
big = {f"p{i}": rng.standard_normal((4, 3)) * 10 for i in range(3)}
ts = [torch.zeros(4, 3, requires_grad=True) for _ in range(3)]
for t_, v in zip(ts, big.values()):
    t_.grad = torch.tensor(v, dtype=torch.float32)
torch_norm = torch.nn.utils.clip_grad_norm_(ts, 2.0)
mine, mine_norm = clip_by_global_norm(big, 2.0)
assert abs(mine_norm - float(torch_norm)) < 1e-3
for t_, v in zip(ts, mine.values()):
    np.testing.assert_allclose(v, t_.grad.numpy(), rtol=1e-5)
print("clipping by global norm: correct")

# %% [markdown]
# ## Exercise 4: truncated BPTT carries the state
#
# Truncated BPTT reads a long sequence in chunks. The **forward** pass is not truncated:
# carrying the last hidden state of one chunk into the next gives exactly the states of
# one pass over the whole sequence. Write `states_in_chunks(rnn, x, bptt)` that runs
# `rnn.forward` on `x[0:bptt]`, `x[bptt:2*bptt]`, ..., each starting from the last state
# of the previous chunk, and returns all the states concatenated, `(T, B, H)`.
#
# Then `truncated_grad(rnn, x, dhs, bptt)`: the `weight_hh` gradient that truncated BPTT
# computes — the sum, over chunks, of the gradient of each chunk alone (call
# `rnn.backward(dhs_chunk, cache)` with no gradient flowing into the chunk's initial
# state).

# %%
def states_in_chunks(rnn, x, bptt):
    ### BEGIN SOLUTION
    out, h = [], None
    for s in range(0, len(x), bptt):
        hs, _ = rnn.forward(x[s:s + bptt], h)
        out.append(hs)
        h = hs[-1]
    return np.concatenate(out)
    ### END SOLUTION


def truncated_grad(rnn, x, dhs, bptt):
    ### BEGIN SOLUTION
    total, h = 0, None
    for s in range(0, len(x), bptt):
        hs, cache = rnn.forward(x[s:s + bptt], h)
        rnn.backward(dhs[s:s + bptt], cache)
        total = total + rnn.grads["weight_hh"]
        h = hs[-1]
    return total
    ### END SOLUTION


# %% tags=["check"]
# Check: truncated bptt
rnn = RNN(3, 4, rng=1)
x = np.random.default_rng(2).standard_normal((12, 2, 3))
dhs = np.random.default_rng(3).standard_normal((12, 2, 4))
full_hs, cache = rnn.forward(x)
np.testing.assert_allclose(states_in_chunks(rnn, x, 5), full_hs, atol=1e-12)
rnn.backward(dhs, cache)
full_grad = rnn.grads["weight_hh"].copy()
np.testing.assert_allclose(truncated_grad(rnn, x, dhs, 12), full_grad, atol=1e-12)  # one chunk
tg = truncated_grad(rnn, x, dhs, 4)
assert not np.allclose(tg, full_grad), "with chunks of 4, the gradient must be truncated"
# ... and it is what you get by zeroing every path that crosses a chunk boundary
expected = 0
for s in range(0, 12, 4):
    part = np.zeros_like(dhs)
    part[s:s + 4] = dhs[s:s + 4]
    h_in = full_hs[s - 1] if s else None
    _, c = rnn.forward(x[s:s + 4], h_in)
    rnn.backward(part[s:s + 4], c)
    expected = expected + rnn.grads["weight_hh"]
np.testing.assert_allclose(tg, expected, atol=1e-12)
print("truncated bptt: correct")

# %% [markdown]
# ## Exercise 5: spectral radius and the fate of a gradient
#
# Write `spectral_radius(W)` (the largest absolute value of the eigenvalues of a square
# matrix), then `steps_to_vanish(W, tol=1e-6)`: for a *linear* RNN, `h_t = W h_{t-1}`, the
# gradient `k` steps back is `(W^T)^k g`. Starting from `g` = the all-ones vector divided by
# its norm, return the first `k` at which its norm drops below `tol` (or `None` if it does
# not within 10,000 steps).

# %%
def spectral_radius(W):
    ### BEGIN SOLUTION
    return float(np.max(np.abs(np.linalg.eigvals(W))))
    ### END SOLUTION


def steps_to_vanish(W, tol=1e-6):
    ### BEGIN SOLUTION
    g = np.ones(len(W)) / np.sqrt(len(W))
    for k in range(1, 10_001):
        g = W.T @ g
        if np.linalg.norm(g) < tol:
            return k
    return None
    ### END SOLUTION


# %% tags=["check"]
# Check: spectral radius
q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((8, 8)))
assert abs(spectral_radius(0.7 * q) - 0.7) < 1e-9
assert abs(spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])) - 2.0) < 1e-12  # complex pair
assert steps_to_vanish(0.5 * q) == int(np.ceil(np.log(1e-6) / np.log(0.5)))  # 0.5^k < 1e-6
assert steps_to_vanish(1.01 * q) is None
print("spectral radius: correct")
