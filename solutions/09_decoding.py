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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/09_decoding.ipynb)

# %% [markdown]
# # 09 · Exercises: decoding
#
# Fill in each function where it says `# YOUR CODE HERE`, then run the **check** cell under
# it. A check cell prints `correct` when your code is right and stops with an error that
# tells you what is wrong otherwise. The exercises are independent of each other.

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
import torch.nn.functional as F

import lmlib.sampling as S
from lmlib.models import GPT, GPTConfig

# %% [markdown]
# ## Exercise 1: temperature
#
# Return the probabilities of sampling with temperature `T > 0`: the softmax of the
# **logits divided by T** (not the probabilities divided by T). Subtract the largest value
# before `np.exp` so that small temperatures do not overflow.

# %%
def temperature_probs(logits: np.ndarray, T: float) -> np.ndarray:
    """softmax(logits / T) for logits of shape (V,)."""
    ### BEGIN SOLUTION
    z = logits / T
    e = np.exp(z - z.max())
    return e / e.sum()
    ### END SOLUTION


# %% tags=["check"]
# Check: temperature
z = np.array([2.0, 1.0, 0.5, -1.0])
np.testing.assert_allclose(temperature_probs(z, 1.0), S.softmax(z), err_msg="T = 1 is the plain softmax")
np.testing.assert_allclose(temperature_probs(z, 0.5), S.softmax(z / 0.5), err_msg="divide the logits by T")
p = temperature_probs(z, 0.01)
assert np.all(np.isfinite(p)) and p[0] > 0.999, "T -> 0 tends to greedy (and must not overflow)"
p = temperature_probs(z, 100.0)
assert p.max() - p.min() < 0.05, "a large T flattens the distribution"
print("temperature: correct")

# %% [markdown]
# ## Exercise 2: top-k
#
# Keep the `k` largest logits and set all others to `-inf`. A token whose logit equals the
# k-th largest is kept too (so more than k may survive on a tie).

# %%
def top_k(logits: np.ndarray, k: int) -> np.ndarray:
    """Logits (V,) with all but the k largest set to -inf."""
    ### BEGIN SOLUTION
    kth = np.sort(logits)[-k]
    return np.where(logits < kth, -np.inf, logits)
    ### END SOLUTION


# %% tags=["check"]
# Check: top-k
z = np.array([0.5, 3.0, -1.0, 2.0, 0.1])
np.testing.assert_array_equal(top_k(z, 2), [-np.inf, 3.0, -np.inf, 2.0, -np.inf])
np.testing.assert_array_equal(top_k(z, 5), z)
np.testing.assert_array_equal(top_k(np.array([1.0, 2.0, 2.0, 0.0]), 2), [-np.inf, 2.0, 2.0, -np.inf])
# tokens tied with the k-th largest are kept
np.testing.assert_array_equal(top_k(np.array([1.0, 2.0, 1.0, 0.0]), 2), [1.0, 2.0, 1.0, -np.inf])
rng = np.random.default_rng(0)
for _ in range(20):
    x = rng.normal(size=9)
    np.testing.assert_array_equal(top_k(x, 3), S.top_k_filter(x, 3))
print("top-k: correct")

# %% [markdown]
# ## Exercise 3: top-p (nucleus)
#
# Keep the smallest set of most likely tokens whose probabilities add up to at least `p`;
# set the others to `-inf`. Rule: sort the tokens from most to least likely; a token is
# kept when the probability of the tokens ranked **above** it is less than `p`. (You may
# assume there are no ties.)

# %%
def top_p(logits: np.ndarray, p: float) -> np.ndarray:
    """Logits (V,) with the tokens outside the nucleus of mass p set to -inf."""
    ### BEGIN SOLUTION
    order = np.argsort(logits)[::-1]
    probs = S.softmax(logits)[order]
    above = np.cumsum(probs) - probs
    keep = np.zeros(len(logits), dtype=bool)
    keep[order[above < p]] = True
    return np.where(keep, logits, -np.inf)
    ### END SOLUTION


# %% tags=["check"]
# Check: top-p
z = np.log(np.array([0.05, 0.5, 0.15, 0.3]))      # probabilities 0.05, 0.5, 0.15, 0.3
kept = lambda x: np.flatnonzero(np.isfinite(x)).tolist()
assert kept(top_p(z, 0.4)) == [1], "0.5 alone reaches 0.4"
assert kept(top_p(z, 0.6)) == [1, 3], "0.5 is not enough for 0.6: add 0.3"
assert kept(top_p(z, 0.9)) == [1, 2, 3], "0.5 + 0.3 + 0.15 = 0.95 >= 0.9"
assert kept(top_p(z, 0.99)) == [0, 1, 2, 3]
np.testing.assert_array_equal(top_p(z, 0.6)[[1, 3]], z[[1, 3]])  # kept logits are unchanged
rng = np.random.default_rng(1)
for _ in range(20):
    x = rng.normal(size=9) * 2
    np.testing.assert_array_equal(top_p(x, 0.7), S.top_p_filter(x, 0.7))
print("top-p: correct")

# %% [markdown]
# ## Exercise 4: the greedy loop
#
# Write greedy decoding: starting from the list `ids`, append `n_new` tokens, each the
# argmax of the model's logits at the last position. The model takes a `(1, T)` tensor of
# ids and returns `(logits, loss)` with logits `(1, T, V)`; give it only the last
# `model.config.block_size` tokens. Return the whole list (prompt + new tokens).

# %%
torch.manual_seed(0)
tiny = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()


def greedy_decode(model, ids: list, n_new: int) -> list:
    ### BEGIN SOLUTION
    ids = list(ids)
    block = model.config.block_size
    with torch.no_grad():
        for _ in range(n_new):
            logits, _ = model(torch.tensor([ids[-block:]]))
            ids.append(int(logits[0, -1].argmax()))
    return ids
    ### END SOLUTION


# %% tags=["check"]
# Check: the greedy loop
out = greedy_decode(tiny, [1, 2, 3], 30)
assert len(out) == 33 and out[:3] == [1, 2, 3], "return the prompt followed by n_new tokens"
assert out == S.generate(tiny, [1, 2, 3], 30, temperature=0, use_cache=False), \
    "each new token is the argmax at the last position (context cropped to block_size)"
print("greedy loop: correct")

# %% [markdown]
# ## Exercise 5: updating a KV cache for one step
#
# One attention step for a NEW token with a cache. You get the new token's query, key and
# value per head, `q, k, v` of shape `(H, d)`, and the cache of the earlier positions,
# `K, V` of shape `(H, T, d)`. Append the new key and value to the cache (giving
# `(H, T + 1, d)`), then compute the new token's output per head,
# `softmax(q · K^T / sqrt(d)) V`, of shape `(H, d)`. Return `(out, K, V)`.
# (No mask is needed: the new token may see every earlier position and itself.)

# %%
def attend_with_cache(q, k, v, K, V):
    ### BEGIN SOLUTION
    K = torch.cat([K, k[:, None, :]], dim=1)
    V = torch.cat([V, v[:, None, :]], dim=1)
    scores = (K @ q[:, :, None])[..., 0] / q.shape[-1] ** 0.5   # (H, T + 1)
    weights = torch.softmax(scores, dim=-1)
    out = (weights[:, :, None] * V).sum(dim=1)                  # (H, d)
    return out, K, V
    ### END SOLUTION


# %% tags=["check"]
# Check: KV cache step
torch.manual_seed(1)
H, T, d = 3, 7, 4
q_all, k_all, v_all = (torch.randn(H, T, d, dtype=torch.float64) for _ in range(3))
reference = F.scaled_dot_product_attention(q_all, k_all, v_all, is_causal=True)  # (H, T, d)
K = V = torch.zeros(H, 0, d, dtype=torch.float64)
for t in range(T):
    out, K, V = attend_with_cache(q_all[:, t], k_all[:, t], v_all[:, t], K, V)
    assert K.shape == (H, t + 1, d) and V.shape == (H, t + 1, d), "append one position to the cache"
    torch.testing.assert_close(out, reference[:, t])  # the output must equal causal attention
print("KV cache step: correct")
