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
#
# | exercise | level | minutes |
# |---|---|---|
# | 1. temperature | core | 10 |
# | 2. top-k | core | 10 |
# | 3. top-p (nucleus) | core | 15 |
# | 4. the greedy loop | core | 10 |
# | 5. updating a KV cache for one step | core | 20 |
# | 6. the repetition penalty | core | 15 |
# | 7. beam search with a stop token and length normalisation | stretch | 45 |
#
# Then three written questions.

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
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import lmlib.sampling as S
from lmlib.models import GPT, GPTConfig

# %% [markdown]
# ## Exercise 1: temperature (core, 10 min)
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
# logits of a real model can be large: 50 / 0.01 = 5000, and exp(5000) overflows to inf
with np.errstate(over="ignore", invalid="ignore"):
    p = temperature_probs(np.array([50.0, 49.0, 0.0]), 0.01)
assert np.all(np.isfinite(p)), \
    "overflow: exp(logits / T) is inf for large logits at small T; subtract the largest value first"
np.testing.assert_allclose(p, [1.0, 0.0, 0.0], atol=1e-12, err_msg="T -> 0 tends to greedy")
print("temperature: correct")

# %% [markdown]
# ## Exercise 2: top-k (core, 10 min)
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
out = top_k(z, 2)
assert np.isneginf(out[[0, 2, 4]]).all(), \
    "keep the k LARGEST logits; the others get the logit -inf (probability 0)"
np.testing.assert_array_equal(out, [-np.inf, 3.0, -np.inf, 2.0, -np.inf],
                              err_msg="keep the k LARGEST logits, unchanged")
np.testing.assert_array_equal(top_k(z, 5), z, err_msg="k = V keeps every token")
np.testing.assert_array_equal(top_k(np.array([1.0, 2.0, 2.0, 0.0]), 2), [-np.inf, 2.0, 2.0, -np.inf],
                              err_msg="keep the k LARGEST logits, unchanged")
np.testing.assert_array_equal(top_k(np.array([1.0, 2.0, 1.0, 0.0]), 2), [1.0, 2.0, 1.0, -np.inf],
                              err_msg="tokens tied with the k-th largest are kept")
rng = np.random.default_rng(0)
for _ in range(20):
    x = rng.normal(size=9)
    np.testing.assert_array_equal(top_k(x, 3), S.top_k_filter(x, 3),
                                  err_msg="keep the k LARGEST logits, unchanged")
print("top-k: correct")

# %% [markdown]
# ## Exercise 3: top-p (nucleus) (core, 15 min)
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
assert 1 in kept(top_p(z, 0.4)), \
    "the most likely token is always kept: count the mass ABOVE a token, not including it"
assert kept(top_p(z, 0.4)) == [1], "the most likely token (0.5) alone reaches p = 0.4"
assert kept(top_p(z, 0.6)) == [1, 3], "0.5 is not enough for p = 0.6: add the next most likely, 0.3"
assert kept(top_p(z, 0.9)) == [1, 2, 3], "0.5 + 0.3 + 0.15 = 0.95 >= 0.9"
assert kept(top_p(z, 0.99)) == [0, 1, 2, 3]
np.testing.assert_array_equal(top_p(z, 0.6)[[1, 3]], z[[1, 3]],
                              err_msg="kept logits are unchanged (return logits, not probabilities)")
rng = np.random.default_rng(1)
for _ in range(20):
    x = rng.normal(size=9) * 2
    np.testing.assert_array_equal(top_p(x, 0.7), S.top_p_filter(x, 0.7), err_msg="differs from lmlib")
print("top-p: correct")

# %% [markdown]
# ## Exercise 4: the greedy loop (core, 10 min)
#
# Write greedy decoding: starting from the list `ids`, append `n_new` tokens, each the
# argmax of the model's logits at the last position. The model takes a `(1, T)` tensor of
# ids and returns `(logits, loss)` with logits `(1, T, V)`; give it only the last
# `model.config.block_size` tokens. Return the whole list (prompt + new tokens).

# %%
torch.manual_seed(0)
tiny = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
with torch.no_grad():  # large random weights: every token of the context changes the output
    for w in tiny.parameters():
        if w.dim() > 1:
            w.normal_(0, 0.3)


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
reference = S.generate(tiny, [1, 2, 3], 30, temperature=0, use_cache=False)
assert out[:16] == reference[:16], "each new token is the argmax of the logits at the LAST position"
assert out == reference, "past block_size, give the model the last block_size tokens (no more, no fewer)"
print("greedy loop: correct")

# %% [markdown]
# ## Exercise 5: updating a KV cache for one step (core, 20 min)
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
    assert K.shape == (H, t + 1, d) and V.shape == (H, t + 1, d), \
        "append the new key and value to the cache: K and V grow by one position per step"
    torch.testing.assert_close(out, reference[:, t], msg=lambda m: (
        "the output must equal causal attention: softmax over the cached positions (the new "
        "one included) of q.K / sqrt(d), times V\n" + m))
print("KV cache step: correct")

# %% [markdown]
# ## Exercise 6: the repetition penalty (core, 15 min)
#
# The CTRL paper (Keskar et al., 2019) discourages repeats by dividing the logit of every
# token that already occurred by a `penalty > 1`. That works for positive logits only: a
# negative logit divided by 1.3 moves *towards* zero, and the token becomes *more* likely.
# Hugging Face's `RepetitionPenaltyLogitsProcessor` (and `lmlib.sampling.repetition_penalty`)
# fix the sign: **divide** a positive logit by the penalty, **multiply** a negative one.
#
# Write that rule: return a copy of `logits` (V,) in which every token id that occurs in
# `previous` is penalised once (however often it occurred); the others are unchanged, and so
# is the input array.

# %%
def penalize_repeats(logits: np.ndarray, previous, penalty: float) -> np.ndarray:
    """Logits (V,) with every token of ``previous`` made less likely (penalty > 1)."""
    ### BEGIN SOLUTION
    out = logits.copy()
    for t in set(previous):
        out[t] = out[t] / penalty if out[t] > 0 else out[t] * penalty
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: the repetition penalty
z = np.array([2.0, -1.0, 0.5, -3.0, 1.0])
z_before = z.copy()
out = penalize_repeats(z, [0, 1, 1, 1, 2], 2.0)
np.testing.assert_array_equal(z, z_before, err_msg="do not change the input logits: work on a copy")
assert out[1] < z[1], ("a negative logit must move DOWN: multiply it by the penalty "
                       "(dividing it by the penalty would make the token more likely)")
np.testing.assert_allclose(out[[0, 2]], [1.0, 0.25], err_msg="divide the positive logits by the penalty")
assert out[1] == -2.0, "penalise each token once, however often it occurred (-1 * 2 = -2)"
np.testing.assert_array_equal(out[[3, 4]], z[[3, 4]], err_msg="only the tokens that occurred change")
p_before, p_after = S.softmax(z), S.softmax(out)
assert p_after[1] < p_before[1], "a repeated token must become less likely"
rng = np.random.default_rng(3)
for _ in range(20):
    x = rng.normal(size=12) * 2
    prev = rng.integers(0, 12, size=int(rng.integers(1, 20)))
    np.testing.assert_allclose(penalize_repeats(x, prev, 1.3), S.repetition_penalty(x, prev, 1.3),
                               err_msg="differs from lmlib.sampling.repetition_penalty")
print("the repetition penalty: correct")

# %% [markdown]
# ## Exercise 7: beam search with a stop token and length normalisation (stretch, 45 min)
#
# Write beam search for a model that takes a `(B, T)` tensor of ids and returns
# `(logits (B, T, V), _)`; use the log-softmax of the last position's logits.
#
# - A **beam** is a sequence (prompt + new tokens) with its total log-probability (the sum
#   over its new tokens). Start with one beam: the prompt, total 0.
# - Each step, extend every live beam by every token of the vocabulary. An extension that
#   ends with `stop_id` is **finished**. Of the other extensions, keep the `beam_width`
#   with the highest **total** log-probability as the live beams of the next step.
# - After `max_new` steps, the live beams are finished too.
# - Score each finished hypothesis by `total / n_new ** alpha`, where `n_new` is its number
#   of NEW tokens (the stop token included): `alpha = 0` is the raw total, which favours
#   short hypotheses (each token adds a negative log-probability); `alpha = 1` is the mean
#   log-probability per token.
# - Return the finished hypothesis with the best score, as a list (prompt + new tokens).
#
# Contexts stay short here, so you need not crop them. `stop_id=None` means no stop token.
# The test model is a tiny **bigram** language model (the next token's logits depend only on
# the last token), so that the check can score every possible sequence exhaustively.

# %%
class BigramLM(nn.Module):
    """A language model whose next-token logits depend on the last token only:
    idx (B, T) -> (logits (B, T, V), None), logits[b, t] = table[idx[b, t]]."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = nn.Parameter(table, requires_grad=False)         # (V, V)
        self.config = SimpleNamespace(block_size=64, vocab_size=table.shape[0])

    def forward(self, idx, targets=None):
        return self.table[idx], None


def beam_search(model, prompt: list, beam_width: int, max_new: int, stop_id=None,
                alpha: float = 1.0) -> list:
    ### BEGIN SOLUTION
    beams = [(list(prompt), 0.0)]
    finished = []
    with torch.no_grad():
        for _ in range(max_new):
            ctx = torch.tensor([seq for seq, _ in beams])                  # (beams, T)
            logp = F.log_softmax(model(ctx)[0][:, -1].double(), dim=-1)    # (beams, V)
            candidates = []
            for (seq, total), row in zip(beams, logp.tolist()):
                for tok, lp in enumerate(row):
                    if tok == stop_id:
                        finished.append((seq + [tok], total + lp))
                    else:
                        candidates.append((seq + [tok], total + lp))
            candidates.sort(key=lambda c: -c[1])
            beams = candidates[:beam_width]
    finished += beams

    def score(h):
        return h[1] / (len(h[0]) - len(prompt)) ** alpha

    return max(finished, key=score)[0]
    ### END SOLUTION


# %% tags=["check"]
# Check: beam search
import itertools


def exact_best(table, prompt, max_new, stop_id, alpha):
    """The best score over EVERY possible continuation (exhaustive search)."""
    logp = F.log_softmax(table.double(), dim=-1)
    best = -np.inf
    for n in range(1, max_new + 1):
        for new in itertools.product(range(len(table)), repeat=n):
            if stop_id in new[:-1] or (n < max_new and new[-1] != stop_id):
                continue  # a hypothesis ends at its first stop token, or at max_new
            seq = list(prompt) + list(new)
            total = sum(float(logp[a, b]) for a, b in zip(seq[len(prompt) - 1:], new))
            best = max(best, total / n ** alpha)
    return best


def score_of(table, prompt, seq, alpha):
    logp = F.log_softmax(table.double(), dim=-1)
    new = seq[len(prompt):]
    total = sum(float(logp[a, b]) for a, b in zip(seq[len(prompt) - 1:], new))
    return total / len(new) ** alpha


# 1. width 1 without a stop token is greedy decoding
torch.manual_seed(0)
table = torch.randn(6, 6) * 2
lm = BigramLM(table)
out = beam_search(lm, [0, 1], 1, 5, stop_id=None)
assert isinstance(out, list) and out[:2] == [0, 1], "return the prompt followed by the new tokens"
assert out == S.generate(lm, [0, 1], 5, temperature=0), "beam width 1 (no stop token) must be greedy"
# 2. a wider beam finds what greedy misses: token 1 (p = 0.6) leads nowhere, token 2 (0.4)
#    to a sure continuation
L = torch.full((4, 4), -30.0)
L[0, 1], L[0, 2] = np.log(0.6), np.log(0.4)
L[1, :] = np.log(0.25)
L[2, 3] = 0.0
L[3, 3] = 0.0
trap = BigramLM(L)
assert beam_search(trap, [0], 2, 3, alpha=0.0) == [0, 2, 3, 3], \
    "keep the beams with the highest TOTAL log-probability (not the last step's)"
for seed in range(5):  # without a stop token, lmlib's beam search follows the same rules
    torch.manual_seed(seed)
    lm = BigramLM(torch.randn(7, 7) * 2)
    assert beam_search(lm, [seed], 3, 5) == S.beam_search(lm, [seed], 3, 5), \
        "keep the beams with the highest TOTAL log-probability (lmlib.sampling.beam_search differs)"
# 3. the stop token ends a hypothesis, and alpha decides between short and long ones
L = torch.full((4, 4), -30.0)
L[0, 3], L[0, 1] = np.log(0.3), np.log(0.7)        # 3 is the stop token
L[1, 2], L[1, 3] = np.log(0.9), np.log(0.1)
L[2, 2], L[2, 3] = np.log(0.8), np.log(0.2)
story = BigramLM(L)
short = beam_search(story, [0], 3, 6, stop_id=3, alpha=0.0)
assert short == [0, 3], ("a hypothesis ends at the stop token (kept as finished); with alpha = 0 the "
                         f"short [0, 3] (log 0.3) has the best raw total, got {short}")
long = beam_search(story, [0], 3, 6, stop_id=3, alpha=1.0)
assert long == [0, 1, 2, 2, 2, 2, 2], ("length normalisation: with alpha = 1 the score is the mean "
                                       f"log-probability per NEW token, favouring the long text; got {long}")
# 4. with a beam wide enough to keep everything, beam search is exact
for seed, alpha in [(1, 1.0), (2, 0.0), (3, 0.5), (4, 1.0)]:
    torch.manual_seed(seed)
    table = torch.randn(5, 5) * 2
    prompt = [int(torch.randint(0, 5, ()))] * 10
    got = beam_search(BigramLM(table), prompt, 4 ** 4, 4, stop_id=4, alpha=alpha)
    assert got[:10] == prompt and len(got) <= 14, "return the prompt followed by at most max_new tokens"
    assert abs(score_of(table, prompt, got, alpha) - exact_best(table, prompt, 4, 4, alpha)) < 1e-9, (
        f"not the best hypothesis under score = total / n_new ** alpha (alpha = {alpha}; n_new counts "
        f"the NEW tokens only), got {got}")
print("beam search: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** In chapter 09 a beam of width 8 found a continuation that the
# model scores *lower* than the one a beam of width 4 found. How can a wider beam do worse?
# What would be needed to be sure of finding the most likely continuation, and why is
# nobody doing that?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Beam search is a heuristic: at every step it drops every partial
# sequence outside the current top `beam_width`. A wider beam keeps different partial
# sequences at early steps, and the survivors can then lead into worse continuations than
# the ones a narrower beam happened to keep (the finished hypotheses are not nested across
# widths). That gap between what the search returns and the true optimum is *search
# error*. Only exhaustive search is sure to find the optimum, and it costs V^n model
# evaluations for n new tokens (65^80 here), so it is never done for real vocabularies.
#
# **Rubric (2 points).** 1 point: beam search prunes, so results are not monotone in the
# width (search error). 1 point: exhaustive search is exponential (V^n) in the length.
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** Without length normalisation (`alpha = 0`), which finished
# hypotheses does beam search prefer once the vocabulary has a stop token, and why? What does
# `alpha = 1` change?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Every token adds a log-probability below zero, so the raw total can
# only fall as a hypothesis grows: a short hypothesis that stops early beats a long one
# even when each of the long one's tokens is more likely. Beam search then favours texts
# that end at the first plausible stop token (empty or truncated answers). With
# `alpha = 1` the score is the mean log-probability per new token, which compares
# hypotheses of different lengths on a per-token footing, so longer ones can win.
#
# **Rubric (2 points).** 1 point: the sum of negative log-probabilities penalises length,
# so short hypotheses win. 1 point: dividing by the length (alpha = 1) scores the average
# per token and removes that bias.
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** Predict: with a KV cache, greedy decoding gives the same
# tokens as without one for the first `block_size` positions, but a 300-token run of the
# chapter's GPT (block size 128) differs later. Why? Would the two agree for a model with
# no limit on its context?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** Within `block_size` both paths compute the same attention over the same
# positions (the cache only avoids recomputing the keys and values), so the logits agree up
# to rounding and the argmax is the same. Past `block_size` a model with learned positions
# cannot see further back: the uncached loop re-runs the last `block_size` tokens at every
# step (a window that slides by one), while the cached path cannot drop its oldest
# position, so it rebuilds the cache from a shorter window (`block_size // 2` tokens) when
# it is full. The two see different contexts, their logits differ, and once one argmax
# differs the texts diverge. Without a context limit (no window to slide) both would see
# the whole text and agree.
#
# **Rubric (2 points).** 1 point: within the context the cache is exact (same maths).
# 1 point: past block_size the contexts differ (sliding window vs rebuilt cache), hence
# different tokens; an unlimited context would agree.
# ### END SOLUTION
