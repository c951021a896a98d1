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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/02_neural_lm.ipynb)

# %% [markdown]
# # Chapter 02: neural language models from scratch, then PyTorch
#
# In chapter 01 a language model was a table of counts. Here it becomes a function with
# parameters, trained by following gradients. You will write every piece by hand in NumPy:
#
# - the bigram model again, now as a one-layer network, reaching the same loss as the counts;
# - **softmax** and the **log-sum-exp** trick, **cross-entropy** and its gradient `p − y`;
# - **backpropagation by hand** through embedding → linear → tanh → linear → softmax,
#   and **gradient checking** to prove each gradient right;
# - the optimisers **SGD, momentum, Adam, AdamW**, first on a 2-D surface, then on a network;
# - a **Bengio-style MLP language model** that reads 3 characters, measured honestly against
#   chapter 01's count models of names (it beats the bigram, not yet the best 5-gram);
# - **L2 regularisation** as the neural twin of smoothing, and the **diagnostics** that show
#   whether a network is healthy while it trains;
# - and finally the same model in **PyTorch**: autograd computes exactly the gradients you
#   wrote by hand.
#
# **Prerequisites:** chapters 00 (cross-entropy, perplexity) and 01 (bigram counts); matrix
# multiplication and the chain rule of calculus.
#
# **Time:** one to two minutes of CPU in full mode (83 CPU seconds measured on one thread of
# a busy 2-core server), most of it training the MLP; fast mode (`LMLIB_FAST=1`) takes
# seconds.

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

tok, train_words, dev_words, test_words = names()
V = tok.vocab_size
print(f"{len(train_words):,} train / {len(dev_words):,} dev / {len(test_words):,} test names, "
      f"vocabulary {V}: {''.join(tok.itos)!r}")

# %% [markdown]
# ## 1. The bigram model as a one-layer network
#
# The bigram model of chapter 01 predicts the next character from the current one with a
# table `P[i, j]` of normalised counts. Now write the same model as a network: one-hot
# encode the current character `i` (a vector of 27 zeros with a single 1), multiply by a
# weight matrix `W` `(27, 27)` and apply softmax:
#
# $$\text{logits} = \text{onehot}(i)\,W = W[i], \qquad p(\cdot \mid i) = \text{softmax}(W[i]).$$
#
# Multiplying by a one-hot vector just picks row `i`: that is why an **embedding** is a
# table lookup. The rows of `W` are *log-counts*: if `W[i, j] = log N[i, j]`, then
# `softmax(W[i]) = N[i] / N[i].sum()`, the count model exactly. So training `W` by gradient
# descent on the cross-entropy should land on the counts' loss. Let us check.
#
# Every (previous, next) pair of the training names, with `.` as the boundary:

# %%
from lmlib.scratch.mlp import build_dataset

Xb, Yb = build_dataset(train_words, tok, block_size=1)
xb = Xb[:, 0]                                   # previous character, (N,)
Xb_dev, Yb_dev = build_dataset(dev_words, tok, block_size=1)
print(f"{len(xb):,} training pairs, e.g. {[tok.itos[a] + tok.itos[b] for a, b in zip(xb[:6], Yb[:6])]}")

counts = np.zeros((V, V))
np.add.at(counts, (xb, Yb), 1)
P = counts / counts.sum(axis=1, keepdims=True)
count_loss = -np.log(P[xb, Yb]).mean()
print(f"count model, train loss: {count_loss:.4f} nats/char")

# check yourself: the same number as chapter 01's n-gram model
from lmlib.data import names_stream
from lmlib.ngram import NGramLM

bigram_mle = NGramLM(order=2, smoothing="mle").fit(names_stream(train_words, tok), V)
assert abs(bigram_mle.cross_entropy(names_stream(train_words, tok)) - count_loss) < 1e-12

# %% [markdown]
# The network's loss on all `N` pairs is the mean of `-log softmax(W[x])[y]`. Its gradient
# with respect to the logits is `(p − y) / N` (derived in section 3); each row `W[i]`
# collects the gradients of all pairs whose previous character is `i`. Grouped by `i`, that
# sum is `(row count of i) · softmax(W[i]) − counts[i]`, divided by `N`: the network sees
# the data only through the counts. We use this to train on all 182k pairs at the cost of a
# 27 × 27 matrix, after checking once that it equals the per-pair gradient.

# %%
from lmlib.scratch import functional as F
from lmlib.scratch import optim


def bigram_loss_and_grad(W):
    """Loss and gradient of the one-layer bigram network over all training pairs,
    computed from the count table (equal to the per-pair computation)."""
    logp = F.log_softmax(W)                          # (V, V)
    n = counts.sum()
    loss = -(counts * logp).sum() / n
    dW = (counts.sum(axis=1, keepdims=True) * np.exp(logp) - counts) / n
    return loss, dW


W = np.zeros((V, V))                                 # uniform predictions: loss ln 27
loss_pairs, dlogits = F.cross_entropy(W[xb], Yb)     # the per-pair way: (N, V) logits
dW_pairs = np.zeros_like(W)
np.add.at(dW_pairs, xb, dlogits)                     # row x collects its pairs' gradients
loss_counts, dW_counts = bigram_loss_and_grad(W)

# check yourself: two ways, one gradient
assert abs(loss_pairs - np.log(V)) < 1e-12 and abs(loss_pairs - loss_counts) < 1e-12
np.testing.assert_allclose(dW_pairs, dW_counts, atol=1e-15)

# %%
opt = optim.Adam({"W": W}, lr=0.5)
bigram_curve = []
for _ in range(300):
    loss, dW = bigram_loss_and_grad(W)
    bigram_curve.append(loss)
    opt.step({"W": dW})

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
axes[0].plot(bigram_curve, label="one-layer network (Adam)")
axes[0].axhline(count_loss, color="k", ls="--", label=f"counts: {count_loss:.4f}")
axes[0].set(xlabel="step", ylabel="train loss (nats/char)", ylim=(2.4, 3.4),
            title="gradient descent finds the counts")
axes[0].legend()
axes[1].imshow(P, cmap="Blues")
axes[1].set_title("P from counts")
axes[2].imshow(F.softmax(W), cmap="Blues")
axes[2].set_title("softmax(W) after training")
for ax in axes[1:]:
    ax.set_xticks(range(V), tok.itos, fontsize=6)
    ax.set_yticks(range(V), tok.itos, fontsize=6)
    ax.set(xlabel="next character", ylabel="previous character")
    ax.grid(False)
plt.tight_layout()
plt.show()

# check yourself: two views of one model
print(f"network {bigram_curve[-1]:.4f} vs counts {count_loss:.4f}")
assert abs(bigram_curve[-1] - count_loss) < 0.002

# %% [markdown]
# On the dev split the count table has a problem the network does not: a pair never seen in
# training has probability 0 and loss `+inf`. The network's softmax never gives exactly 0
# (after finitely many steps no logit has reached `−∞`), so it behaves like a count model
# with a little smoothing (chapter 01's add-k).

# %%
dev_stream = names_stream(dev_words, tok)
dev_counts = bigram_mle.cross_entropy(dev_stream)
dev_add1 = NGramLM(order=2, smoothing="add-k", k=1.0).fit(
    names_stream(train_words, tok), V).cross_entropy(dev_stream)
dev_net, _ = F.cross_entropy(W[Xb_dev[:, 0]], Yb_dev)
print(f"dev loss: counts (MLE) {dev_counts}, counts add-1 {dev_add1:.4f}, network {dev_net:.4f}")
assert np.isinf(dev_counts) and abs(dev_net - dev_add1) < 0.01
bigram_dev = dev_net

# %% [markdown]
# ### L2 regularisation: the neural twin of smoothing
#
# With all 25,626 training names only a few dev pairs are unseen, so smoothing hardly
# matters here. Train on 200 names instead and it matters a lot: the count model needs
# add-k, and the network needs something that keeps it from driving the logits of unseen
# pairs towards −∞. Adding $\lambda \sum W^2$ to the loss (**L2 regularisation**, gradient
# $2\lambda W$) pulls every logit towards 0, i.e. every row towards the uniform distribution,
# just as add-k's pseudo-counts do (Karpathy makes the same point in makemore part 1). Both
# knobs are chosen on dev.

# %%
few = train_words[:200]
Xf, Yf = build_dataset(few, tok, block_size=1)
few_counts = np.zeros((V, V))
np.add.at(few_counts, (Xf[:, 0], Yf), 1)
dev_pairs = np.zeros((V, V))
np.add.at(dev_pairs, (Xb_dev[:, 0], Yb_dev), 1)


def l2_bigram(lam, steps=2000):
    """The one-layer bigram network trained on the 200 names with penalty lam * sum(W**2)."""
    W = np.zeros((V, V))
    opt = optim.Adam({"W": W}, lr=0.1)
    n = few_counts.sum()
    for _ in range(steps):
        p = F.softmax(W)
        dW = (few_counts.sum(axis=1, keepdims=True) * p - few_counts) / n + 2 * lam * W
        opt.step({"W": dW})
    return -(dev_pairs * F.log_softmax(W)).sum() / dev_pairs.sum()     # dev loss


lams = [0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3]
l2_dev = [l2_bigram(lam) for lam in lams]
ks_few = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
few_stream = names_stream(few, tok)
addk_dev = [NGramLM(2, "add-k", k=k).fit(few_stream, V).cross_entropy(dev_stream) for k in ks_few]

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
axes[0].semilogx(ks_few, addk_dev, "o-")
axes[0].set(xlabel="k", ylabel="dev loss (nats/char)", title="count bigram, add-k (200 names)")
axes[1].semilogx(lams[1:], l2_dev[1:], "o-", color="tab:orange", label="L2, λ > 0")
axes[1].axhline(l2_dev[0], color="tab:orange", ls="--", label=f"λ = 0: {l2_dev[0]:.3f}")
axes[1].set(xlabel="λ", title="bigram network, L2 penalty (200 names)")
axes[1].legend()
plt.tight_layout()
plt.show()
best_l2, best_addk = min(l2_dev), min(addk_dev)
print(f"best add-k: k = {ks_few[int(np.argmin(addk_dev))]}, dev {best_addk:.4f}; "
      f"best L2: λ = {lams[int(np.argmin(l2_dev))]}, dev {best_l2:.4f}; no penalty: {l2_dev[0]:.4f}")

# check yourself: both have a best strength inside the grid, about equally good, far better
# than no penalty
assert 0 < np.argmin(l2_dev) < len(lams) - 1 and 0 < np.argmin(addk_dev) < len(ks_few) - 1
assert abs(best_l2 - best_addk) < 0.03 and best_l2 < l2_dev[0] - 0.2

# %% [markdown]
# ## 2. Softmax over the whole vocabulary
#
# $$\text{softmax}(z)_k = \frac{e^{z_k}}{\sum_{j=1}^{V} e^{z_j}}$$
#
# turns any vector of real scores (logits) into a probability distribution: positive
# entries that sum to 1.
#
# > **Myth:** a language model decides for each word (or character) separately whether it
# > comes next, with a sigmoid per word.
# >
# > **Fact:** the next-token distribution is **one softmax over the whole vocabulary**. The
# > probabilities sum to 1 and compete: raising one logit lowers every other probability.
# > Independent sigmoids give numbers that need not sum to 1 and do not compete.

# %%
z = np.array([2.0, 1.0, 0.5, -1.0, 3.0])
sig = 1 / (1 + np.exp(-z))
soft = np.exp(z) / np.exp(z).sum()
z_up = z.copy()
z_up[0] += 2.0                                   # make token 0 more likely
sig_up = 1 / (1 + np.exp(-z_up))
soft_up = np.exp(z_up) / np.exp(z_up).sum()

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, before, after, name in [(axes[0], sig, sig_up, "sigmoid per token"),
                                (axes[1], soft, soft_up, "softmax over the vocabulary")]:
    ax.bar(np.arange(5) - 0.2, before, 0.4, label=f"before (sum {before.sum():.2f})")
    ax.bar(np.arange(5) + 0.2, after, 0.4, label=f"logit 0 raised (sum {after.sum():.2f})")
    ax.set(title=name, xlabel="token")
    ax.legend(fontsize=8)
axes[0].set_ylabel("probability")
plt.tight_layout()
plt.show()

# check yourself: softmax is a distribution and its entries compete; sigmoids are neither
assert abs(soft.sum() - 1) < 1e-12 and sig.sum() > 1.5
assert (soft_up[1:] < soft[1:]).all() and np.allclose(sig_up[1:], sig[1:])

# %% [markdown]
# ### The log-sum-exp trick
#
# `exp(1000)` overflows float64 (the largest float64 is about `1.8e+308 ≈ e^710`, printed
# below). Logits that large are rare, but logits of a few hundred happen in badly
# initialised or diverging networks, and in float32 `exp` overflows already above 89. Since
#
# $$\frac{e^{z_k}}{\sum_j e^{z_j}} = \frac{e^{z_k - m}}{\sum_j e^{z_j - m}} \quad\text{for any } m,$$
#
# we subtract `m = max(z)`: every exponent is then ≤ 0, nothing overflows, and the largest
# term is exactly 1, so the sum cannot underflow to 0 either. For the log-probabilities,
#
# $$\log \text{softmax}(z)_k = z_k - m - \log \sum_j e^{z_j - m},$$
#
# never takes the log of a number that underflowed to 0.

# %%
def softmax_naive(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


f64, f32 = np.finfo(np.float64).max, np.finfo(np.float32).max
print(f"largest float64 {f64:.1e} = e^{np.log(f64):.0f}; float32 exp overflows above "
      f"{np.log(f32):.0f}")
big = np.array([1000.0, 1001.0, 1002.0])
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    print("naive softmax     :", softmax_naive(big))                    # inf / inf = nan
    print("stable softmax    :", softmax(big))
    print("log(softmax), tiny:", np.log(softmax(np.array([-800.0, 0.0]))))  # log(0) = -inf
print("log_softmax       :", log_softmax(np.array([-800.0, 0.0])))

# check yourself: the naive one fails, the stable one equals the library and PyTorch
with np.errstate(over="ignore", invalid="ignore"):
    assert np.isnan(softmax_naive(big)).all()
np.testing.assert_allclose(softmax(big), softmax(big - 1000))
zs = np.random.default_rng(0).standard_normal((4, V)) * 10
np.testing.assert_allclose(softmax(zs), F.softmax(zs), rtol=1e-14)
np.testing.assert_allclose(log_softmax(zs), F.log_softmax(zs), rtol=1e-14)
np.testing.assert_allclose(log_softmax(zs), torch.log_softmax(torch.from_numpy(zs), -1).numpy(),
                           rtol=1e-12)

# %% [markdown]
# ## 3. Cross-entropy and its gradient: `p − y`
#
# For one position with logits `z` and correct token `t`, the loss is
#
# $$L = -\log \text{softmax}(z)_t = -z_t + \log \sum_j e^{z_j}.$$
#
# Differentiate with respect to each logit `z_k`:
#
# $$\frac{\partial L}{\partial z_k} = -[k = t] + \frac{e^{z_k}}{\sum_j e^{z_j}} = p_k - y_k,$$
#
# where `y` is the one-hot vector of the target. The gradient pushes down every wrong token
# in proportion to its probability and pushes up the right one by `1 − p_t`. For a batch of
# `N` positions the loss is the mean, so the gradient is `(p − y) / N`.
#
# > **Myth:** popular write-ups print the gradient of softmax cross-entropy as `1/p − 1/y`
# > (or `−y/p`, which is the gradient with respect to the *probabilities*, not the logits).
# >
# > **Fact:** with respect to the **logits** it is `p − y`. Check it numerically: `1/p − 1/y`
# > divides by the zeros of `y` and is not even finite.

# %%
def cross_entropy(logits, targets):
    """Mean cross-entropy (N, V), (N,) -> (loss, dlogits (N, V))."""
    n = len(targets)
    logp = log_softmax(logits)
    loss = -logp[np.arange(n), targets].mean()
    dlogits = np.exp(logp)                   # p
    dlogits[np.arange(n), targets] -= 1      # p - y
    return loss, dlogits / n


rng = np.random.default_rng(1)
z = rng.standard_normal((1, 6))
t = np.array([2])
loss, dz = cross_entropy(z, t)

# central differences, one logit at a time
eps = 1e-6
numeric = np.zeros_like(z)
for k in range(z.shape[1]):
    zp, zm = z.copy(), z.copy()
    zp[0, k] += eps
    zm[0, k] -= eps
    numeric[0, k] = (cross_entropy(zp, t)[0] - cross_entropy(zm, t)[0]) / (2 * eps)

p, y = softmax(z), np.eye(6)[t]
with np.errstate(divide="ignore"):
    myth = 1 / p - 1 / y

fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(np.arange(6) - 0.2, numeric[0], 0.4, label="numerical gradient")
ax.bar(np.arange(6) + 0.2, (p - y)[0], 0.4, label="p − y")
ax.set(xlabel="logit k", ylabel="dL / dz_k", title="the gradient of cross-entropy is p − y")
ax.legend()
plt.show()
print("1/p - 1/y =", myth[0])

# check yourself: p - y matches the numbers; 1/p - 1/y does not even exist
np.testing.assert_allclose(numeric, p - y, atol=1e-8)
np.testing.assert_allclose(dz, p - y, rtol=1e-12)
assert not np.isfinite(myth).all()

# where -y/p fits: it is dL/dp; through softmax's Jacobian dp/dz = diag(p) - p p^T it
# becomes p - y (the chain rule, one more time)
J = np.diag(p[0]) - np.outer(p[0], p[0])
np.testing.assert_allclose(J.T @ (-y[0] / p[0]), (p - y)[0], atol=1e-12)

# %% [markdown]
# The library's `cross_entropy` is the same function, with checks on its input; both equal
# PyTorch's, values and gradients:

# %%
logits = rng.standard_normal((32, V)) * 3
targets = rng.integers(0, V, size=32)
mine, dmine = cross_entropy(logits, targets)
lib, dlib = F.cross_entropy(logits, targets)
zt = torch.from_numpy(logits).requires_grad_(True)
ref = torch.nn.functional.cross_entropy(zt, torch.from_numpy(targets))
ref.backward()

# check yourself
assert abs(mine - lib) < 1e-12 and abs(lib - ref.item()) < 1e-12
np.testing.assert_allclose(dmine, dlib, rtol=1e-12)
np.testing.assert_allclose(dlib, zt.grad.numpy(), rtol=1e-10, atol=1e-15)
try:
    F.cross_entropy(logits, targets[:10])
except ValueError as err:
    print("bad input is refused:", err)
else:
    raise AssertionError("mismatched shapes should be refused")

# %% [markdown]
# ## 4. Backpropagation by hand
#
# The MLP language model of Bengio et al. (2003) reads the last `T = 3` characters. With
# batch size `B`, embedding size `C`, `H` hidden units and vocabulary `V`:
#
# | step | forward | shape | backward (local gradient) | shape |
# |---|---|---|---|---|
# | embedding | `e = E[idx]` | `(B, T, C)` | `dE[idx] += de` (rows add up) | `(V, C)` |
# | concatenate | `x = e.reshape(B, T*C)` | `(B, T*C)` | `de = dx.reshape(B, T, C)` | `(B, T, C)` |
# | linear 1 | `a = x @ W1.T + b1` | `(B, H)` | `dW1 = da.T @ x`, `db1 = da.sum(0)`, `dx = da @ W1` | `(H, T*C)`, `(H,)`, `(B, T*C)` |
# | tanh | `h = tanh(a)` | `(B, H)` | `da = dh * (1 − h²)` | `(B, H)` |
# | linear 2 | `z = h @ W2.T + b2` | `(B, V)` | `dW2 = dz.T @ h`, `db2 = dz.sum(0)`, `dh = dz @ W2` | `(V, H)`, `(V,)`, `(B, H)` |
# | loss | `L = CE(z, y)` | scalar | `dz = (p − y) / B` | `(B, V)` |
#
# Each backward line is the chain rule: the gradient arriving from above times the local
# derivative. A gradient always has the shape of the thing it is the gradient of, which is
# the quickest way to get the transposes right. (Weights are stored `(out, in)`, as in
# PyTorch, so they copy straight into `torch.nn.Linear` later.)

# %%
B, T, C, H = 32, 3, 10, 32
Xtr, Ytr = build_dataset(train_words, tok, block_size=T)
Xdev, Ydev = build_dataset(dev_words, tok, block_size=T)
print("contexts of 'emma' ->", [("".join(tok.itos[i] for i in row), tok.itos[t])
                                for row, t in zip(*build_dataset(["emma"], tok, T))])

rng = np.random.default_rng(0)
params = {
    "emb.weight": rng.standard_normal((V, C)),
    "hidden.weight": rng.standard_normal((H, T * C)) / np.sqrt(T * C),
    "hidden.bias": np.zeros(H),
    "out.weight": rng.standard_normal((V, H)) / np.sqrt(H) * 0.1,
    "out.bias": np.zeros(V),
}
ix = rng.integers(0, len(Xtr), size=B)
xb_, yb_ = Xtr[ix], Ytr[ix]


def forward(params, idx, targets):
    E, W1, b1 = params["emb.weight"], params["hidden.weight"], params["hidden.bias"]
    W2, b2 = params["out.weight"], params["out.bias"]
    e = E[idx]                             # (B, T, C)
    x = e.reshape(len(idx), -1)            # (B, T*C)
    a = x @ W1.T + b1                      # (B, H)
    h = np.tanh(a)                         # (B, H)
    z = h @ W2.T + b2                      # (B, V)
    loss, dz = cross_entropy(z, targets)
    return loss, (idx, x, h, dz)


def backward(params, cache):
    idx, x, h, dz = cache
    W1, W2 = params["hidden.weight"], params["out.weight"]
    grads = {}
    grads["out.weight"] = dz.T @ h         # (V, H)
    grads["out.bias"] = dz.sum(axis=0)     # (V,)
    dh = dz @ W2                           # (B, H)
    da = dh * (1 - h ** 2)                 # (B, H)   tanh' = 1 - tanh²
    grads["hidden.weight"] = da.T @ x      # (H, T*C)
    grads["hidden.bias"] = da.sum(axis=0)  # (H,)
    dx = da @ W1                           # (B, T*C)
    de = dx.reshape(idx.shape + (-1,))     # (B, T, C)
    dE = np.zeros_like(params["emb.weight"])
    np.add.at(dE, idx, de)                 # a row used twice gets both gradients
    grads["emb.weight"] = dE               # (V, C)
    return grads


loss, cache = forward(params, xb_, yb_)
grads = backward(params, cache)
print(f"loss {loss:.4f} (ln V = {np.log(V):.4f});",
      ", ".join(f"{k} {g.shape}" for k, g in grads.items()))
assert all(grads[k].shape == params[k].shape for k in params)

# %% [markdown]
# ### Gradient checking
#
# Nudge one parameter entry by `±ε` and watch the loss: `(L(w + ε) − L(w − ε)) / 2ε`
# approximates the derivative with an error of order `ε²`. Comparing that with the analytic
# gradient for every entry catches almost every backprop bug. The relative error is
# `max |analytic − numerical| / (max |analytic| + max |numerical|)` per parameter: about
# `1e-8` or less in float64 when the gradient is right, `1e-3` to `1` when it is wrong.
#
# Two rules: check in **float64** (float32 has only 7 digits, and the difference of two
# nearly equal losses divided by a tiny `ε` loses most of them), and check a **small** batch
# (each entry costs two forward passes).

# %%
from lmlib.scratch.gradcheck import GradcheckError, assert_gradcheck, gradcheck

f = lambda: forward(params, xb_, yb_)[0]
errors = gradcheck(f, params, grads)


def backward_buggy(params, cache):
    """The same backward pass with a classic slip: tanh' written as (1 - h) instead of 1 - h²."""
    idx, x, h, dz = cache
    g = backward(params, cache)
    da = (dz @ params["out.weight"]) * (1 - h)
    g["hidden.weight"], g["hidden.bias"] = da.T @ x, da.sum(axis=0)
    dE = np.zeros_like(params["emb.weight"])
    np.add.at(dE, idx, (da @ params["hidden.weight"]).reshape(idx.shape + (-1,)))
    g["emb.weight"] = dE
    return g


errors_bug = gradcheck(f, params, backward_buggy(params, cache))

params32 = {k: v.astype(np.float32) for k, v in params.items()}
f32 = lambda: forward(params32, xb_, yb_)[0]
grads32 = backward(params32, forward(params32, xb_, yb_)[1])
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")           # gradcheck warns that float32 is too coarse
    errors32 = gradcheck(f32, params32, grads32, eps=1e-3)

names_ = list(params)
fig, ax = plt.subplots(figsize=(9, 3.4))
for i, (errs, label) in enumerate([(errors, "correct, float64"),
                                   (errors_bug, "tanh' bug, float64"),
                                   (errors32, "correct, float32")]):
    ax.bar(np.arange(len(names_)) + (i - 1) * 0.27, [max(errs[n], 1e-17) for n in names_],
           0.27, label=label)
ax.set_yscale("log")
ax.set_xticks(range(len(names_)), names_)
ax.axhline(1e-6, color="k", ls=":", lw=1)
ax.set(ylabel="relative error", title="gradient check: what right and wrong look like")
ax.legend(fontsize=8)
plt.show()

# check yourself: right in float64, the bug is caught (outside the layer it touches too)
assert max(errors.values()) < 1e-6
print("relative errors with the tanh' bug:", {k: f"{v:.1e}" for k, v in errors_bug.items()})
assert errors_bug["hidden.weight"] > 1e-2 and errors_bug["emb.weight"] > 1e-2
assert errors_bug["out.weight"] < 1e-6          # the layers above the bug are still right
try:
    assert_gradcheck(f, params, backward_buggy(params, cache))
except GradcheckError as err:
    print(err)
else:
    raise AssertionError("assert_gradcheck should have caught the bug")

# %% [markdown]
# Read the bars like a debugger. The correct pass sits near `1e-8`. The tanh slip gives
# errors above `1e-2` (printed above) in `hidden.*` and `emb.weight`, every parameter *below* the bug (gradients
# flow downwards), while `out.*` above it stays right: the check points at the layer. And a
# correct pass checked in float32 looks almost as bad as a wrong one, which is why gradient
# checks run in float64.
#
# The library's `MLPLM` (in `lmlib.scratch.mlp`) is this forward and backward pass built
# from the layers `Embedding`, `Linear` and `Tanh` of `lmlib.scratch.layers`, each with its
# own `forward`/`backward`. Loaded with the same weights it gives the same loss and
# gradients:

# %%
from lmlib.scratch.mlp import MLPLM

model = MLPLM(V, block_size=T, n_embd=C, n_hidden=H)
for name, p in model.params.items():
    p[...] = params[name]                      # copy in place: params are the layers' arrays
_, lib_loss = model.forward(xb_, yb_)
model.backward()

# check yourself
assert abs(lib_loss - loss) < 1e-12
for name in params:
    np.testing.assert_allclose(model.grads[name], grads[name], rtol=1e-10, atol=1e-14)

# %% [markdown]
# ## 5. Optimisers
#
# With gradients `g` in hand, an optimiser decides the step. For each parameter `w`:
#
# - **SGD:** `w ← w − lr · g`.
# - **Momentum:** `v ← μ v + g`, `w ← w − lr · v`. A ball rolling downhill: directions
#   that agree from step to step build up speed, zig-zags cancel.
# - **Adam:** running means of `g` and `g²`,
#   `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`, bias-corrected
#   `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`, then `w ← w − lr · m̂ / (√v̂ + ε)`. Each
#   coordinate moves by about `lr` whatever the scale of its gradient.
# - **AdamW:** Adam plus *decoupled* weight decay, `w ← w (1 − lr · λ)` before the Adam step.
#   (Adam's own `weight_decay` adds `λ w` to the gradient instead, which then gets divided by
#   `√v̂`: large weights with large gradients are barely decayed. AdamW decays every weight
#   at the same rate.)
#
# One Adam step written out, then proved equal to the library (and, in `tests/`, to
# `torch.optim` over 100 steps):

# %%
def adam_step(w, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g ** 2
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


w0, g0 = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.01, -4.0])
w1, m1, v1 = adam_step(w0, g0, np.zeros(3), np.zeros(3), t=1, lr=0.1)
lib_params = {"w": w0.copy()}
optim.Adam(lib_params, lr=0.1).step({"w": g0})
tw = torch.tensor(w0.copy(), requires_grad=True)
tw.grad = torch.from_numpy(g0.copy())
torch.optim.Adam([tw], lr=0.1).step()

# check yourself: the first Adam step moves every coordinate by about lr, whatever |g|
np.testing.assert_allclose(w1, lib_params["w"], rtol=1e-14)
np.testing.assert_allclose(w1, tw.detach().numpy(), rtol=1e-12)
np.testing.assert_allclose(np.abs(w1 - w0), 0.1, rtol=1e-5)

# %% [markdown]
# ### Paths on a 2-D loss surface
#
# A long narrow valley, `f(w) = ½ (w₀ − 1)² + 25 (w₁ − ½)²`, fifty times steeper across than
# along: the shape that makes plain gradient descent slow. Every optimiser starts at
# `(−2, 1.5)` and takes 60 steps.

# %%
w_star = np.array([1.0, 0.5])
curv = np.array([1.0, 50.0])
surface = lambda w: 0.5 * (curv * (w - w_star) ** 2).sum(axis=-1)
surface_grad = lambda w: curv * (w - w_star)

settings = {
    "SGD lr 0.035": lambda p: optim.SGD(p, lr=0.035),
    "momentum 0.7, lr 0.03": lambda p: optim.SGD(p, lr=0.03, momentum=0.7),
    "Adam lr 0.1": lambda p: optim.Adam(p, lr=0.1),
    "AdamW lr 0.1, wd 0.5": lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.5),
}
paths = {}
for name, make in settings.items():
    p = {"w": np.array([-2.0, 1.5])}
    opt = make(p)
    path = [p["w"].copy()]
    for _ in range(60):
        opt.step({"w": surface_grad(p["w"])})
        path.append(p["w"].copy())
    paths[name] = np.array(path)

g0_, g1_ = np.meshgrid(np.linspace(-2.5, 2, 120), np.linspace(-0.5, 1.8, 120))
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].contour(g0_, g1_, surface(np.stack([g0_, g1_], -1)), levels=np.geomspace(0.01, 30, 14),
                colors="grey", linewidths=0.6)
for name, path in paths.items():
    axes[0].plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=name)
    axes[1].semilogy(surface(path) + 1e-12, label=name)
axes[0].plot(*w_star, "k*", ms=12)
axes[0].set(xlabel="w0", ylabel="w1", title="paths (★ = minimum)")
axes[1].set(xlabel="step", ylabel="f(w)", title="loss along the path")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# check yourself: momentum beats plain SGD here; AdamW stops short of the minimum, pulled
# towards 0 by its weight decay
final = {name: surface(path[-1]) for name, path in paths.items()}
assert final["momentum 0.7, lr 0.03"] < 1e-3 * final["SGD lr 0.035"]
assert np.linalg.norm(paths["AdamW lr 0.1, wd 0.5"][-1]) < np.linalg.norm(w_star) - 0.1

# %% [markdown]
# SGD has to keep its learning rate below `2 / 50` (50 is the steep direction's curvature;
# above that it diverges), so it crawls along the shallow one. Momentum accumulates speed along the valley. Adam rescales
# each coordinate, so it walks at about `lr` per step in both directions, then jitters near
# the minimum until its step-size estimate shrinks. AdamW settles where the pull of the
# weight decay balances the gradient.
#
# ## 6. The MLP language model
#
# Now the real model, on names, with context `T = 3`: 27 × 10 embeddings, 200 tanh units,
# 11,897 parameters (the configuration of Karpathy's makemore part 2 notebook; source: its dev loss 2.17).
#
# ### Initialisation matters
#
# With every weight drawn from `N(0, 1)`, the 30 inputs of each hidden unit add up to a
# pre-activation with standard deviation about √30 (printed below): most tanh units sit at ±1, where
# their gradient `1 − h²` is 0 and they stop learning. The output logits are also large, so
# the first predictions are confidently wrong (loss far above `ln 27 = 3.30`). Scaling
# `hidden.weight` by `1/√(T·C)` keeps the pre-activations near unit variance, and scaling
# `out.weight` down by 10 starts the model near the uniform distribution.

# %%
n_embd, n_hidden = 10, 200
naive = MLPLM(V, block_size=T, n_embd=n_embd, n_hidden=n_hidden, seed=0)
naive.hidden.params["weight"] *= np.sqrt(T * n_embd)      # undo the scaling: N(0, 1)
naive.out.params["weight"] *= np.sqrt(n_hidden) / 0.1     # undo both scalings: N(0, 1)
good = MLPLM(V, block_size=T, n_embd=n_embd, n_hidden=n_hidden, seed=0)
print(good)

batch = np.random.default_rng(0).integers(0, len(Xtr), size=256)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
init_losses = {}
for m, name in [(naive, "naive N(0, 1)"), (good, "scaled")]:
    _, init_losses[name] = m.forward(Xtr[batch], Ytr[batch])
    sat = (np.abs(m.h) > 0.99).mean()
    axes[0].hist(m.h.ravel(), bins=50, alpha=0.6, label=f"{name}: {sat:.0%} saturated")
axes[0].set(xlabel="tanh output h", title="hidden activations at initialisation")
axes[0].legend(fontsize=8)
axes[1].imshow(np.abs(naive.h[:40]) > 0.99, cmap="gray", aspect="auto")
axes[1].set(title="naive: |h| > 0.99 (white)", xlabel="hidden unit", ylabel="example")
axes[1].grid(False)
axes[2].imshow(np.abs(good.h[:40]) > 0.99, cmap="gray", aspect="auto", vmin=0, vmax=1)
axes[2].set(title="scaled: |h| > 0.99 (white)", xlabel="hidden unit")
axes[2].grid(False)
plt.tight_layout()
plt.show()
print({k: round(v, 2) for k, v in init_losses.items()}, f"ln V = {np.log(V):.2f}")
naive_pre = Xtr[batch]  # the naive pre-activations, written out
naive_pre = naive.params["emb.weight"][naive_pre].reshape(len(batch), -1) @ naive.params["hidden.weight"].T
print(f"naive init: pre-activation std {naive_pre.std():.1f} (√(T·C) = √{T * n_embd} = {np.sqrt(T * n_embd):.1f})")

# check yourself
assert init_losses["naive N(0, 1)"] > 10 and abs(init_losses["scaled"] - np.log(V)) < 0.1
assert (np.abs(naive.h) > 0.99).mean() > 0.4 > 0.1 > (np.abs(good.h) > 0.99).mean()

# %% [markdown]
# ### A learning-rate sweep
#
# Before a long run, try learning rates on a log scale for a few hundred steps each and
# look at the loss reached: too small learns slowly, too large diverges. With plain SGD:

# %%
from lmlib.scratch.mlp import train

sweep_steps = 200 if lmlib.FAST else 2000
lrs = np.geomspace(1e-3, 3.0, 6 if lmlib.FAST else 12)
sweep = []
for lr in lrs:
    m = MLPLM(V, block_size=T, n_embd=n_embd, n_hidden=n_hidden, seed=0)
    hist = train(m, Xtr, Ytr, optim.SGD(m.params, lr=lr), steps=sweep_steps, batch_size=32)
    sweep.append(np.mean(hist["loss"][-sweep_steps // 5:]))   # mean of the last 20%

fig, ax = plt.subplots()
ax.semilogx(lrs, sweep, "o-")
ax.set(xlabel="learning rate (SGD)", ylabel="train loss, last 20% of steps",
       title=f"learning-rate sweep, {sweep_steps} steps each", ylim=(2.0, 3.6))
plt.show()
best_lr = lrs[int(np.nanargmin(sweep))]
print(f"best learning rate in the sweep: {best_lr:.3g}")

# check yourself: the sweep has an interior minimum, not at its edges
assert 1e-3 < best_lr < 3.0

# %% [markdown]
# ### Which optimiser, on the real network?
#
# The same model and data, four optimisers at learning rates that suit each (SGD near the
# sweep's best, Adam and AdamW at their usual 1e-3 to 1e-2). On a run this short, weight
# decay does not help: it pulls every weight, the embeddings too, towards 0, and on the
# training loss it costs (printed and asserted below, in full mode). It is a regulariser,
# meant for long runs of big models that would otherwise overfit (chapter 07).

# %%
cmp_steps = 400 if lmlib.FAST else 5000
cmp = {}
for name, make in {"SGD lr 0.1": lambda p: optim.SGD(p, lr=0.1),
                   "momentum 0.9, lr 0.01": lambda p: optim.SGD(p, lr=0.01, momentum=0.9),
                   "Adam lr 3e-3": lambda p: optim.Adam(p, lr=3e-3),
                   "AdamW lr 3e-3, wd 0.1": lambda p: optim.AdamW(p, lr=3e-3,
                                                                  weight_decay=0.1)}.items():
    m = MLPLM(V, block_size=T, n_embd=n_embd, n_hidden=n_hidden, seed=0)
    cmp[name] = train(m, Xtr, Ytr, make(m.params), steps=cmp_steps, batch_size=32)["loss"]


def smooth(x, k=100):
    return np.convolve(x, np.ones(k) / k, mode="valid")


fig, ax = plt.subplots()
for name, losses in cmp.items():
    ax.plot(smooth(losses, min(100, cmp_steps // 10)), label=name,
            ls="--" if name.startswith("momentum") else "-")
ax.set(xlabel="step", ylabel="train loss (moving average)", title="optimisers on the MLP",
       ylim=(2.0, 3.4))
ax.legend()
plt.show()

# check yourself: every optimiser learns
assert all(np.mean(v[-50:]) < np.log(V) - 0.5 for v in cmp.values())
final_cmp = {name: np.mean(v[-cmp_steps // 10:]) for name, v in cmp.items()}
print("train loss, mean of the last 10% of steps:",
      ", ".join(f"{k} {v:.3f}" for k, v in final_cmp.items()))
if not lmlib.FAST:  # the sentences around this plot
    assert abs(final_cmp["momentum 0.9, lr 0.01"] - final_cmp["SGD lr 0.1"]) < 0.05
    assert final_cmp["Adam lr 3e-3"] < final_cmp["SGD lr 0.1"] - 0.02
    assert final_cmp["AdamW lr 3e-3, wd 0.1"] > final_cmp["Adam lr 3e-3"] + 0.03

# %% [markdown]
# The dashed momentum curve lies almost on top of SGD's: with momentum `μ` a gradient that
# stays the same moves the weights by `lr / (1 − μ)` per step, and `0.01 / (1 − 0.9) = 0.1`,
# SGD's learning rate. On this problem momentum changes little; Adam's per-parameter step
# sizes help more.

# %% [markdown]
# ### Diagnostics: is the network healthy?
#
# A loss curve says *that* training goes badly, rarely *why*. Three statistics per layer
# say more (Karpathy's makemore part 3 lecture shows them for deeper MLPs):
#
# - **activations**: mean and spread of each layer's output, and for tanh the fraction
#   saturated at ±1 (no gradient passes there);
# - **gradients**: the spread of each weight's gradient; layers whose gradients are far
#   smaller or larger than the others' learn at a different pace;
# - **update-to-data ratio**: the spread of a step's change of a weight divided by the
#   spread of the weight, on a log10 scale. About −3 (a step changes a weight by a
#   thousandth of its size) is the rule of thumb from that lecture; far below, a layer
#   barely learns; far above, it is thrown around.
#
# A short Adam run from the scaled initialisation, recording them:

# %%
diag_steps = 200 if lmlib.FAST else 1000
model_d = MLPLM(V, block_size=T, n_embd=n_embd, n_hidden=n_hidden, seed=0)
opt_d = optim.Adam(model_d.params, lr=3e-3)
weights = ["emb.weight", "hidden.weight", "out.weight"]
ratio = {name: [] for name in weights}
rng_d = np.random.default_rng(0)
for _ in range(diag_steps):
    ix = rng_d.integers(0, len(Xtr), size=64)
    model_d.forward(Xtr[ix], Ytr[ix])
    model_d.backward()
    before = {name: model_d.params[name].copy() for name in weights}
    opt_d.step(model_d.grads)
    for name in weights:
        change = model_d.params[name] - before[name]
        ratio[name].append(np.log10(change.std() / before[name].std()))

# activations and gradients of one batch, layer by layer (the forward pass written out)
ix = rng_d.integers(0, len(Xtr), size=512)
P_ = model_d.params
x_d = P_["emb.weight"][Xtr[ix]].reshape(len(ix), -1)
pre_d = x_d @ P_["hidden.weight"].T + P_["hidden.bias"]
h_d = np.tanh(pre_d)
model_d.forward(Xtr[ix], Ytr[ix])
model_d.backward()
stats = [("embeddings x", x_d), ("hidden pre-activation", pre_d), ("tanh output h", h_d)]

fig, axes = plt.subplots(1, 3, figsize=(14, 3.4))
for name, a in stats:
    axes[0].hist(a.ravel(), bins=60, histtype="step", density=True, label=name)
axes[0].set(xlim=(-4, 4), title="activations", xlabel="value")
axes[0].legend(fontsize=8)
for name in weights:
    g = model_d.grads[name]
    axes[1].hist(g.ravel(), bins=60, histtype="step", density=True, label=f"{name} (std {g.std():.1e})")
axes[1].set(title="weight gradients", xlabel="value", yscale="log")
axes[1].legend(fontsize=8)
for name in weights:
    axes[2].plot(ratio[name], lw=0.8, label=name)
axes[2].axhline(-3, color="k", ls=":", label="rule of thumb: -3")
axes[2].set(title="update-to-data ratio (log10)", xlabel="step")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()
for name, a in stats:
    print(f"{name:<22} mean {a.mean():+.3f}  std {a.std():.3f}"
          + (f"  saturated (|h| > 0.97) {(np.abs(a) > 0.97).mean():.1%}" if name.startswith("tanh") else ""))
late = {name: np.mean(r[-50:]) for name, r in ratio.items()}
print("update-to-data ratio, last 50 steps (log10):",
      ", ".join(f"{k} {v:.2f}" for k, v in late.items()))

# check yourself: nothing dead, nothing exploding: every ratio within 1.5 decades of -3
assert all(-4.5 < v < -1.5 for v in late.values()), late
assert (np.abs(h_d) > 0.97).mean() < 0.5

# %% [markdown]
# Reading the three panels: the activations stay in a healthy range and few tanh units sit at
# ±1; no layer's gradients vanish. The embeddings update at about the rule of thumb, while
# `hidden.weight` and `out.weight` sit higher, closer to −2 (printed above): `out.weight`
# starts small (scaled by 0.1), so each Adam step, about `lr` per weight, is large next to
# it. A constant learning rate of 3e-3 is on the fast side for those layers; the real run
# below lets it decay tenfold.

# %% [markdown]
# ### Training
#
# Adam with batches of 64 and a learning rate decayed exponentially from 3e-3 to 3e-4.
# Full mode takes 25,000 steps (the cell prints the examples seen and the CPU seconds); fast
# mode trains a short run only to show that the code works.

# %%
steps = 1000 if lmlib.FAST else 25_000
lr0 = 3e-3
mlp = MLPLM(V, block_size=T, n_embd=n_embd, n_hidden=n_hidden, seed=0)
start, start_cpu = time.perf_counter(), time.process_time()
hist = train(mlp, Xtr, Ytr, optim.Adam(mlp.params, lr=lr0), steps=steps, batch_size=64,
             lr_schedule=lambda s: lr0 * 0.1 ** (s / steps), eval_every=max(steps // 10, 1),
             X_dev=Xdev, Y_dev=Ydev)
train_time, train_cpu = time.perf_counter() - start, time.process_time() - start_cpu
dev_loss = mlp.loss(Xdev, Ydev)
print(f"{steps:,} steps x 64 = {steps * 64:,} training examples (one predicted character each), "
      f"{train_cpu:.0f} CPU s, {train_time:.0f} s wall (with the dev evaluations)")

fig, ax = plt.subplots()
ax.plot(hist["step"], hist["loss"], lw=0.3, alpha=0.4, label="train batch")
ax.plot(np.arange(len(smooth(hist["loss"], 200))) + 100, smooth(hist["loss"], 200),
        label="train (moving average)")
ax.plot(hist["eval_step"], hist["dev"], "o-", label="dev split")
ax.axhline(bigram_dev, color="grey", ls="--", label=f"bigram dev {bigram_dev:.3f}")
ax.set(xlabel="step", ylabel="loss (nats/char)", ylim=(1.9, 3.4),
       title=f"MLP LM: dev {dev_loss:.4f} after {steps:,} steps ({train_time:.0f} s)")
ax.legend()
plt.show()

# check yourself: better than the bigram; the target is met in full mode
assert dev_loss < bigram_dev
if not lmlib.FAST:
    assert dev_loss <= 2.15, dev_loss

# %% [markdown]
# How does it compare with chapter 01's count models on the same dev names? All are scored
# under the course's protocol (`lmlib.scoring.score`): each name read from a context of dots,
# its closing `.` predicted too, exactly what `mlp.loss` does with its `...` contexts; the
# n-grams are counted on training names padded the same way.

# %%
from lmlib.scoring import score

rows = {"bigram (network of section 1)": bigram_dev, "MLP, 3 characters": dev_loss}
for n in (3, 5):
    lm = NGramLM(n, "modified-kneser-ney").fit(names_stream(train_words, tok, pad=n - 1), V)
    rows[f"{n}-gram, modified Kneser–Ney"] = score(lm, (dev_words, tok))
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.barh(list(rows), list(rows.values()), color=["grey", "tab:orange", "tab:blue", "tab:blue"])
for i, v in enumerate(rows.values()):
    ax.text(v, i, f" {v:.4f}", va="center")
ax.set(xlabel="dev loss (nats/char)", xlim=(1.8, 2.7), title="names dev: the MLP and the counts")
ax.invert_yaxis()
plt.show()
print(", ".join(f"{k}: {v:.4f}" for k, v in rows.items()))
if not lmlib.FAST:  # the sentences below
    assert dev_loss < rows["3-gram, modified Kneser–Ney"] - 0.05
    assert dev_loss > rows["5-gram, modified Kneser–Ney"] + 0.05

# %% [markdown]
# Three characters of context take the dev loss well below the bigram's, and below a
# trigram count model's, with 11,897 parameters. But the MLP does **not** beat every count
# model: chapter 01's 5-gram with modified Kneser–Ney, which sees four characters and
# smooths carefully, is still better on these names. More context and more capacity
# (chapters 03 and 04) are what the neural models need next.
#
# What happened to the tanh units? Training pushes many activations back to ±1 (the title
# of the left plot gives the fraction): a unit at ±1 passes almost no gradient *for that
# example*.
# The danger is a **dead** unit, saturated on (nearly) every example, which can never learn
# again. Count them on the dev split, with the fraction of examples on which each unit is
# saturated:

# %%
mlp.forward(Xdev)
sat_per_unit = (np.abs(mlp.h) > 0.99).mean(axis=0)     # (H,) fraction of dev examples
dead = int((sat_per_unit > 0.99).sum())
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
axes[0].hist(mlp.h.ravel(), bins=50)
axes[0].set(xlabel="tanh output h", yticks=[],
            title=f"after training: {(np.abs(mlp.h) > 0.99).mean():.0%} of activations at ±1, "
                  f"{dead} dead units")
E2 = mlp.params["emb.weight"]
u, s, vt = np.linalg.svd(E2 - E2.mean(0), full_matrices=False)
xy = u[:, :2] * s[:2]                  # the two main directions of the embeddings
axes[1].scatter(xy[:, 0], xy[:, 1], s=150, c="lightblue")
for i, ch in enumerate(tok.itos):
    axes[1].text(xy[i, 0], xy[i, 1], ch, ha="center", va="center")
axes[1].set(title="character embeddings, first two principal axes")
plt.tight_layout()
plt.show()
print(f"most saturated unit: at ±1 on {sat_per_unit.max():.0%} of dev examples")

# check yourself: saturation, but no dead unit
assert dead == 0

# %% [markdown]
# On the right, each character's learned 10-dimensional embedding, projected on its two main
# directions: characters the model treats alike sit close together (only two of ten
# dimensions are shown, so take the picture as a rough map).
#
# Names sampled from the model, one character at a time:

# %%
samples = mlp.sample(tok, n=20, seed=0)
print(", ".join(samples))
assert len(samples) == 20 and all(set(s) <= set(tok.itos[1:]) for s in samples)

# %% [markdown]
# ## 7. The same MLP in PyTorch
#
# PyTorch does two things for us: **tensors** (NumPy-like arrays that can live on a GPU) and
# **autograd**: every operation on a tensor with `requires_grad=True` is recorded, and
# `loss.backward()` runs the chain rule through the record, exactly what `backward` above
# does by hand.

# %%
a = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
b = torch.tanh(a * 2).sum()
b.backward()
print("autograd:", a.grad.numpy(), " by hand: 2 (1 - tanh(2a)^2) =",
      2 * (1 - np.tanh(2 * a.detach().numpy()) ** 2))
assert np.allclose(a.grad.numpy(), 2 * (1 - np.tanh(2 * a.detach().numpy()) ** 2))

# %% [markdown]
# `lmlib.models.MLPLM` is the `nn.Module` twin of the NumPy model: same layers, same parameter
# names, same weight layouts. We copy the NumPy weights in (float64) and compare the loss
# and **every** gradient on one batch.

# %%
from lmlib.models import MLPLM as TorchMLPLM

twin = TorchMLPLM.from_numpy(mlp)             # the trained NumPy weights, float64
print(twin)
ix = np.random.default_rng(1).integers(0, len(Xtr), size=64)
_, np_loss = mlp.forward(Xtr[ix], Ytr[ix])
mlp.backward()
_, t_loss = twin(torch.from_numpy(Xtr[ix]), torch.from_numpy(Ytr[ix]))
t_loss.backward()

diffs = {name: np.abs(mlp.grads[name] - p.grad.numpy()).max()
         for name, p in twin.named_parameters()}
fig, ax = plt.subplots(figsize=(8, 3))
ax.bar(list(diffs), [max(d, 1e-20) for d in diffs.values()])
ax.set_yscale("log")
ax.axhline(1e-10, color="r", ls=":", label="tolerance 1e-10")
ax.set(ylabel="max |NumPy − PyTorch|", title="every gradient: NumPy by hand vs autograd")
ax.legend()
plt.show()

# check yourself: the same loss and the same gradients, to float64 precision
assert abs(np_loss - t_loss.item()) < 1e-10
for name, p in twin.named_parameters():
    np.testing.assert_allclose(mlp.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-10)
with torch.no_grad():
    twin_dev = torch.nn.functional.cross_entropy(
        twin(torch.from_numpy(Xdev))[0], torch.from_numpy(Ydev)).item()
assert abs(twin_dev - dev_loss) < 1e-10
print(f"dev loss: NumPy {dev_loss:.10f}, PyTorch {twin_dev:.10f}")

# %% [markdown]
# ### Time per training step
#
# Forward, backward and an SGD update on a batch, NumPy by hand against PyTorch, in float64
# and float32: the CPU time of this process, median of several repeats
# (`python -m coursekit.bench mlp` measures the same in full mode).
#
# Expect a surprise: for a model this small, on a CPU, with batches of 32, the hand-written
# NumPy step is about as fast as PyTorch's, or faster (asserted in full mode). Each PyTorch operation pays for dispatch and autograd's
# bookkeeping, and the matrices are too small for the arithmetic to hide that cost. What
# PyTorch buys is not speed here: it is never having to write (and gradient-check) a
# backward pass again, plus GPUs when the model is big.

# %%
from lmlib.speed import step_times

timings = step_times(Xtr, Ytr, batch_sizes=(32, 512), repeats=3 if lmlib.FAST else 7,
                     steps=15 if lmlib.FAST else 200)
labels = list(timings)
fig, ax = plt.subplots(figsize=(8, 3.4))
ax.barh(labels, [timings[k] * 1e3 for k in labels])
ax.set(xlabel="CPU ms per step (median)", title="one training step of the MLP LM")
plt.tight_layout()
plt.show()
print(", ".join(f"{k}: {v * 1e3:.2f} ms" for k, v in timings.items()))
if not lmlib.FAST:  # the claim above, for the small batch: NumPy by hand is not slower
    for dtype in ("float64", "float32"):
        assert timings[f"NumPy {dtype}, B=32"] < 1.2 * timings[f"PyTorch {dtype}, B=32"]

# %% [markdown]
# ## Summary
#
# - The bigram model is a one-layer network whose optimum is the count table; gradient
#   descent finds it (2.454 on the training names).
# - Softmax spreads one unit of probability over the whole vocabulary; subtract the maximum
#   (log-sum-exp) before exponentiating.
# - The gradient of softmax cross-entropy with respect to the logits is `p − y` (over `N`
#   for a mean), not `1/p − 1/y`.
# - Backprop is the chain rule, one local gradient per layer; a gradient has the shape of its
#   parameter; a central-difference gradient check in float64 proves it right and shows at
#   once where it is wrong.
# - Momentum and Adam handle badly scaled problems that defeat plain SGD; AdamW decays weights
#   separately from the gradient.
# - Initialisation decides whether tanh units learn at all; a learning-rate sweep picks the
#   step size.
# - The MLP language model with 3 characters of context beats the bigram and a trigram on
#   dev, not chapter 01's 5-gram with modified Kneser–Ney (the bar chart of section 6), and
#   PyTorch's autograd reproduces every gradient we wrote by hand.
# - L2 regularisation pulls a network towards uniform predictions as add-k smoothing pulls
#   counts; on little data both have a best strength, chosen on dev.
# - Activation, gradient and update-to-data statistics per layer show whether training is
#   healthy before the loss curve does.
#
# **Exercises:** `exercises/02_neural_lm.ipynb`: a stable softmax, cross-entropy with its
# gradient, a linear layer's backward pass with a gradient check, one Adam step; then the
# main task, the whole backward pass of Bengio's MLP with direct connections (every gradient
# against autograd) and training it to a dev target. **Next:** chapter 03 gives the model a memory of unlimited length, a
# recurrent network.
