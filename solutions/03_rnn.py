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
# Five exercises, each independent, and three written questions. Write your code where it
# says `YOUR CODE HERE`, then run the check cell below it: it prints a confirmation when your
# answer is right. Exercise 4 (truncated BPTT) is the chapter's build-it task.
#
# | exercise | level | minutes |
# |---|---|---|
# | 1. one RNN step | core | 5 |
# | 2. BPTT for a loss on the last step | core | 20 |
# | 3. clipping by global norm | core | 10 |
# | 4. truncated BPTT: carry the state, stop the gradient | core | 30 |
# | 5. spectral radius, and what it does not tell | stretch | 25 |

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
# ## Exercise 1: one RNN step (core, 5 min)
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
assert np.shape(mine) == (2, 5), f"h_t must have shape (B, H) = (2, 5), got {np.shape(mine)}"
assert np.all(np.abs(mine) < 1), "h_t comes out of a tanh: every entry lies in (-1, 1)"
np.testing.assert_allclose(mine, rnn.forward(x, h0)[0][0], atol=1e-12,
                           err_msg="h_t differs from torch.nn.RNN's step (check the transposes "
                                   "W^T and the bias)")
print("rnn step: correct")

# %% [markdown]
# ## Exercise 2: backpropagation through time for a loss on the last step (core, 20 min)
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
np.testing.assert_allclose(dW, ref.weight_hh_l0.grad.numpy(), atol=1e-10,
                           err_msg="dW_hh differs from autograd's (sum da_t^T h_{t-1} over "
                                   "every step, through the tanh derivative 1 - h_t^2)")
np.testing.assert_allclose(dh0, h0t.grad[0].numpy(), atol=1e-10,
                           err_msg="dh0 differs from autograd's (carry dh_{t-1} = da_t W_hh "
                                   "back to the start)")
print("bptt last step: correct")

# %% [markdown]
# ## Exercise 3: clipping by global norm (core, 10 min)
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
assert abs(norm - 5.0) < 1e-12, f"the global norm of 3, 0 and 4 is 5, got {norm}"
np.testing.assert_allclose(clipped["a"], [0.6, 0.0],
                           err_msg="one global norm for all arrays together: every array is "
                                   "scaled by the same max_norm / norm")
np.testing.assert_allclose(clipped["b"], [[0.8]],
                           err_msg="one global norm for all arrays together: every array is "
                                   "scaled by the same max_norm / norm")
assert g["a"][0] == 3.0, "the originals must not change"
same, _ = clip_by_global_norm(g, 10.0)
np.testing.assert_allclose(same["a"], g["a"], err_msg="below max_norm nothing is scaled")
# the same as torch.nn.utils.clip_grad_norm_ on random gradients
rng = np.random.default_rng(0)
big = {f"p{i}": rng.standard_normal((4, 3)) * 10 for i in range(3)}
ts = [torch.zeros(4, 3, requires_grad=True) for _ in range(3)]
for t_, v in zip(ts, big.values()):
    t_.grad = torch.tensor(v, dtype=torch.float32)
torch_norm = torch.nn.utils.clip_grad_norm_(ts, 2.0)
mine, mine_norm = clip_by_global_norm(big, 2.0)
assert abs(mine_norm - float(torch_norm)) < 1e-3, "return the norm before clipping"
for t_, v in zip(ts, mine.values()):
    np.testing.assert_allclose(v, t_.grad.numpy(), rtol=1e-5,
                               err_msg="differs from torch.nn.utils.clip_grad_norm_")
print("clipping by global norm: correct")

# %% [markdown]
# ## Exercise 4: truncated BPTT, built yourself (core, 30 min)
#
# Truncated BPTT reads a long sequence in chunks of `bptt` steps. Two rules:
#
# - the **forward** pass is not truncated: each chunk starts from the last hidden state of
#   the previous chunk, so the states are exactly those of one pass over the whole sequence;
# - the **gradient** is: each chunk is backpropagated on its own, and nothing flows into
#   the state it started from (in PyTorch you would `detach()` it; here, simply do not use
#   `rnn.dh0`).
#
# Write `truncated_bptt(rnn, x, dhs, bptt)` for the NumPy `RNN` of the chapter (`x`
# `(T, B, I)`; `dhs` `(T, B, H)`, the loss gradient on every state from above). For each
# chunk `x[s:s+bptt]` (the last one may be shorter): `rnn.forward` from the carried state,
# `rnn.backward` with that chunk's `dhs`, and keep a **copy** of `rnn.grads` (the gradient a
# training loop would use for that chunk's update). Return `(hs, grads)`: all the states,
# `(T, B, H)`, and the list of gradient dicts, one per chunk.

# %%
def truncated_bptt(rnn, x, dhs, bptt):
    ### BEGIN SOLUTION
    states, grads, h = [], [], None
    for s in range(0, len(x), bptt):
        hs, cache = rnn.forward(x[s:s + bptt], h)
        rnn.backward(dhs[s:s + bptt], cache)
        grads.append({k: g.copy() for k, g in rnn.grads.items()})
        states.append(hs)
        h = hs[-1]
    return np.concatenate(states), grads
    ### END SOLUTION


# %% tags=["check"]
# Check: truncated bptt
rnn = RNN(3, 4, rng=1)
x = np.random.default_rng(2).standard_normal((12, 2, 3))
dhs = np.random.default_rng(3).standard_normal((12, 2, 4))
full_hs, cache = rnn.forward(x)
rnn.backward(dhs, cache)
full_grad = {k: g.copy() for k, g in rnn.grads.items()}

# the reference: PyTorch, state carried across chunks and detached at every boundary
ref = torch.nn.RNN(3, 4, dtype=torch.float64)
with torch.no_grad():
    for name, value in rnn.params.items():
        getattr(ref, f"{name}_l0").copy_(torch.from_numpy(value))


def torch_truncated(bptt):
    out, h = [], None
    for s in range(0, 12, bptt):
        ref.zero_grad()
        hs_t, h = ref(torch.from_numpy(x[s:s + bptt]), h)
        (hs_t * torch.from_numpy(dhs[s:s + bptt])).sum().backward()
        out.append({name: getattr(ref, f"{name}_l0").grad.numpy().copy() for name in rnn.params})
        h = h.detach()
    return out


hs, grads = truncated_bptt(rnn, x, dhs, 5)
assert isinstance(grads, list) and len(grads) == 3, (
    f"one gradient per chunk of bptt steps: T = 12, bptt = 5 gives 3 chunks (5, 5, 2), got "
    f"{len(grads) if isinstance(grads, list) else type(grads).__name__}")
assert np.shape(hs) == (12, 2, 4), f"hs must have shape (T, B, H) = (12, 2, 4), got {np.shape(hs)}"
np.testing.assert_allclose(hs, full_hs, atol=1e-12,
                           err_msg="the states must equal one pass over the whole sequence: "
                                   "carry the last state of each chunk into the next")
for i, (mine, theirs) in enumerate(zip(grads, torch_truncated(5))):
    for name in theirs:
        np.testing.assert_allclose(mine[name], theirs[name], atol=1e-10,
                                   err_msg=f"chunk {i}: the {name} gradient differs from "
                                           f"truncated BPTT in PyTorch (state carried, detached)")
_, one = truncated_bptt(rnn, x, dhs, 12)  # one chunk: truncation changes nothing
assert len(one) == 1, "bptt = T is one chunk"
for name in full_grad:
    np.testing.assert_allclose(one[0][name], full_grad[name], atol=1e-12,
                               err_msg="with one chunk the gradient is full BPTT's")
print("truncated bptt: correct")

# %% [markdown]
# ## Exercise 5: spectral radius, and what it does not tell (stretch, 25 min)
#
# Write `spectral_radius(W)` (the largest absolute value of the eigenvalues of a square
# matrix), then `steps_to_vanish(W, tol=1e-6)`: for a *linear* RNN, `h_t = W h_{t-1}`, the
# gradient `k` steps back is `(W^T)^k g`. Starting from `g` = the all-ones vector divided by
# its norm, **run that process** and return the first `k` at which the norm of the gradient
# drops below `tol` (or `None` if it does not within 10,000 steps).
#
# For a scaled orthogonal matrix `ρQ` the answer is the closed form
# `ceil(log(tol) / log(ρ))`. The check also uses *non-normal* matrices, such as
# `[[0.5, 10], [0, 0.5]]`: spectral radius 0.5, yet the gradient first grows. Print the
# norms of its first steps and see why.

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
assert abs(spectral_radius(0.7 * q) - 0.7) < 1e-9, "the spectral radius of 0.7 Q is 0.7"
assert abs(spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])) - 2.0) < 1e-12, (
    "eigenvalues can be complex (here ±2i): take their absolute values")
non_normal = np.array([[0.5, 10.0], [0.0, 0.5]])
assert abs(spectral_radius(non_normal) - 0.5) < 1e-9, (
    "the spectral radius is the largest |eigenvalue| (0.5 here), not the largest singular "
    "value (the matrix norm)")
assert steps_to_vanish(0.5 * q) == int(np.ceil(np.log(1e-6) / np.log(0.5))), (
    "for 0.5 Q the norm is 0.5^k: the first k with 0.5^k < 1e-6 (start from a unit vector)")
assert steps_to_vanish(1.01 * q) is None, "rho > 1 never vanishes: return None"
assert steps_to_vanish(non_normal) == 29, (
    f"[[0.5, 10], [0, 0.5]] needs 29 steps, got {steps_to_vanish(non_normal)}: the closed "
    f"form from the spectral radius (20) ignores the transient growth of a non-normal "
    f"matrix; run the process")
upper = np.array([[0.6, 3.0, 0.0], [0.0, 0.5, -2.0], [0.0, 0.0, 0.4]])
assert steps_to_vanish(upper) == 38, (
    f"this 3x3 matrix needs 38 steps, got {steps_to_vanish(upper)}: the gradient goes back "
    f"through W^T, not W")
print("spectral radius: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** truncated BPTT carries the hidden state from one chunk to the
# next but stops the gradient at the chunk boundary. What can a model trained with
# `bptt = 16` still *use* from 40 characters back, and what can it not *learn* directly?
# Why is carrying the state worth doing at all?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The forward pass is exact, so the state at any step depends on the whole
# past, 40 characters back included: whatever the state happens to carry from there is used
# in the prediction. But no gradient connects a loss to an input more than 16 steps (at most
# one chunk) before it, so the weights are never adjusted *in order to* keep information
# for longer than a chunk; such dependencies are learned only indirectly (what helps within
# chunks may also keep information across them). Carrying the state is worth it because
# each chunk then starts from a realistic state (the model sees the start of a chunk in
# context, as it will at generation time) instead of from zeros, at no extra cost.
#
# **Rubric (2 points).** 1 point for: the state (forward) still depends on everything before,
# so it can be used; 1 point for: no gradient reaches further back than one chunk, so such
# dependencies are not learned directly, and the carried state avoids cold starts at chunk
# boundaries.
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** `W = [[0.5, 10], [0, 0.5]]` has spectral radius 0.5, yet in
# exercise 5 a gradient sent back through it first **grows** about 7.4 times before it
# shrinks. Explain why, and say what quantity bounds the growth of one step. What does the
# spectral radius still tell you?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** One step multiplies the gradient by `W^T`, and how much a single
# multiplication can stretch a vector is set by the largest **singular value** of `W`
# (about 10 here), not by its eigenvalues. For a non-normal matrix (one whose eigenvectors
# are not orthogonal) the two differ, and the off-diagonal 10 moves the gradient from one
# direction into another while scaling it up. The spectral radius governs the long run:
# `‖(W^T)^k‖^{1/k} → ρ` (Gelfand's formula), so the norm eventually decays like `0.5^k`;
# but a product of many steps can first grow by a large factor. Vanishing or exploding over
# a *finite* horizon therefore depends on the singular values (the norms of the Jacobian
# products), and `ρ < 1` only guarantees decay eventually.
#
# **Rubric (2 points).** 1 point for naming the largest singular value / operator norm as
# the bound of one step (non-normal: eigenvalues do not tell the stretch); 1 point for:
# the spectral radius sets the asymptotic rate only (eventual decay), not the transient.
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** clipping by **global** norm rescales all gradients by one
# factor. Another rule clips each entry to `[-c, c]` separately. Take the gradient
# `g = (100, 1)` and clip it to length 1 (global norm) or to `c = 1` per entry: what update
# direction does each give, and why is the global rule the one used to tame exploding RNN
# gradients?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Global-norm clipping multiplies the whole gradient by `1 / ‖g‖ ≈ 0.01`:
# the update is about `(0.99995, 0.0099995)`, the same direction as `g`, only shorter.
# Per-entry clipping gives `(1, 1)`: the second coordinate, 100 times less important, now
# moves as much as the first, and the direction turns by about 44 degrees. An exploding RNN
# gradient is usually huge along a few directions; the global rule keeps the steepest
# descent direction and only caps the step length, while per-entry clipping distorts the
# direction (the ratios between entries) exactly when the gradient is large.
#
# **Rubric (2 points).** 1 point: global norm gives the same direction, shorter
# (≈ (1, 0.01)); 1 point: per-entry gives (1, 1), a different direction, because it changes
# the ratios between entries.
# ### END SOLUTION
