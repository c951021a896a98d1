"""lmlib.sampling: the logits processors (against hand-computed Hugging Face semantics),
sampling, generation, beam search, and bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lmlib.models.gpt import GPT, GPTConfig
from lmlib.sampling import (
    apply_temperature,
    beam_search,
    distinct_n,
    generate,
    min_p_filter,
    repetition_penalty,
    sample,
    softmax,
    top_k_filter,
    top_p_filter,
)

NEG = -np.inf
LOGITS = np.array([2.0, 1.0, 0.5, 0.0, -1.0])
# softmax(LOGITS) = [0.5630, 0.2071, 0.1256, 0.0762, 0.0280]; cumulative from the top:
# 0.5630, 0.7701, 0.8957, 0.9720, 1.0


def kept(x):
    x = x.numpy() if isinstance(x, torch.Tensor) else x
    return sorted(np.flatnonzero(np.isfinite(x)).tolist())


def both(x):
    """The same logits as float64 NumPy and torch."""
    return [np.asarray(x, dtype=np.float64), torch.tensor(x, dtype=torch.float64)]


# ----------------------------------------------------------------------------- temperature

@pytest.mark.parametrize("x", both(LOGITS))
def test_temperature_divides_the_logits(x):
    out = apply_temperature(x, 0.5)
    np.testing.assert_allclose(np.asarray(out), LOGITS / 0.5)
    assert type(out) is type(x)


def test_temperature_to_zero_tends_to_greedy_and_large_to_uniform():
    p_cold = softmax(apply_temperature(LOGITS, 0.01))
    assert p_cold[1:].sum() < 1e-40 and p_cold.argmax() == LOGITS.argmax()
    p_hot = softmax(apply_temperature(LOGITS, 1e6))
    np.testing.assert_allclose(p_hot, np.full(5, 0.2), atol=1e-5)
    ent = [float(-(p * np.log(p)).sum()) for p in
           (softmax(apply_temperature(LOGITS, t)) for t in (0.25, 0.5, 1, 2, 4))]
    assert all(a < b for a, b in zip(ent, ent[1:]))  # entropy grows with T


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, float("nan"), float("inf")])
def test_temperature_bad_values(bad):
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(LOGITS, bad)


@pytest.mark.parametrize("bad", ["1", None, True])
def test_temperature_bad_types(bad):
    with pytest.raises(TypeError, match="temperature"):
        apply_temperature(LOGITS, bad)


# ----------------------------------------------------------------------------- top-k

@pytest.mark.parametrize("x", both(LOGITS))
def test_top_k_hand(x):
    assert kept(top_k_filter(x, 1)) == [0]
    assert kept(top_k_filter(x, 3)) == [0, 1, 2]
    assert kept(top_k_filter(x, 5)) == [0, 1, 2, 3, 4]
    assert kept(top_k_filter(x, 99)) == [0, 1, 2, 3, 4]
    out = top_k_filter(x, 2)
    np.testing.assert_array_equal(np.asarray(out), [2.0, 1.0, NEG, NEG, NEG])


@pytest.mark.parametrize("x", both([3.0, 1.0, 1.0, 1.0, 0.0]))
def test_top_k_keeps_every_token_tied_with_the_kth(x):
    # Hugging Face: remove only the logits strictly below the k-th largest
    assert kept(top_k_filter(x, 2)) == [0, 1, 2, 3]
    assert kept(top_k_filter(x, 4)) == [0, 1, 2, 3]
    assert kept(top_k_filter(x, 1)) == [0]


def test_top_k_rows_are_independent():
    x = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    np.testing.assert_array_equal(np.isfinite(top_k_filter(x, 1)),
                                  [[False, False, True], [True, False, False]])


@pytest.mark.parametrize("bad,err", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                     (True, TypeError), (None, TypeError)])
def test_top_k_bad_k(bad, err):
    with pytest.raises(err, match="k must be"):
        top_k_filter(LOGITS, bad)


# ----------------------------------------------------------------------------- top-p

@pytest.mark.parametrize("x", both(LOGITS))
@pytest.mark.parametrize("p,expected", [(0.01, [0]), (0.5, [0]), (0.6, [0, 1]),
                                        (0.77, [0, 1]), (0.78, [0, 1, 2]),
                                        (0.9, [0, 1, 2, 3]), (0.95, [0, 1, 2, 3]),
                                        (0.98, [0, 1, 2, 3, 4]), (1.0, [0, 1, 2, 3, 4])])
def test_top_p_hand(x, p, expected):
    # keep a token when the tokens ranked above it hold less than p
    assert kept(top_p_filter(x, p)) == expected


@pytest.mark.parametrize("x", both(np.zeros(4)))
def test_top_p_ties_follow_the_stable_ascending_sort(x):
    # four tokens of 0.25; ascending cumulative mass 0.25, 0.5, 0.75, 1.0 in index order;
    # removed where <= 1 - p, so the LOWER indices go first
    assert kept(top_p_filter(x, 0.25)) == [3]
    assert kept(top_p_filter(x, 0.5)) == [2, 3]
    assert kept(top_p_filter(x, 0.6)) == [1, 2, 3]
    assert kept(top_p_filter(x, 0.75)) == [1, 2, 3]
    assert kept(top_p_filter(x, 0.8)) == [0, 1, 2, 3]


def test_top_p_with_impossible_tokens():
    x = np.array([NEG, 0.0, NEG, 0.0])
    assert kept(top_p_filter(x, 0.4)) == [3]
    assert kept(top_p_filter(x, 1.0)) == [1, 3]


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.01, float("nan")])
def test_top_p_bad_p(bad):
    with pytest.raises(ValueError, match="p must be"):
        top_p_filter(LOGITS, bad)


# ----------------------------------------------------------------------------- min-p

@pytest.mark.parametrize("x", both(LOGITS))
def test_min_p_hand(x):
    # bar = p * 0.5630
    assert kept(min_p_filter(x, 0.2)) == [0, 1, 2]          # bar 0.1126
    assert kept(min_p_filter(x, 0.5)) == [0]                # bar 0.2815
    assert kept(min_p_filter(x, 0.04)) == [0, 1, 2, 3, 4]   # bar 0.0225 < 0.0280
    assert kept(min_p_filter(x, 0.05)) == [0, 1, 2, 3]      # bar 0.0282 > 0.0280


def test_min_p_peaked_versus_flat():
    peaked = np.array([5.0, 1.0, 0.5, 0.0, 0.0])
    flat = np.array([0.3, 0.2, 0.1, 0.0, 0.0])
    assert kept(min_p_filter(peaked, 0.1)) == [0]
    assert kept(min_p_filter(flat, 0.1)) == [0, 1, 2, 3, 4]


def test_min_p_ties_are_kept():
    assert kept(min_p_filter(np.array([1.0, 1.0, 0.0]), 1.0)) == [0, 1]


@pytest.mark.parametrize("bad", [0.0, 1.5, -1.0])
def test_min_p_bad_p(bad):
    with pytest.raises(ValueError, match="p must be in"):
        min_p_filter(LOGITS, bad)


# ----------------------------------------------------------------------------- filters, generally

finite_or_neg_inf = st.one_of(st.integers(-4, 4).map(float),  # integers: many ties
                              st.floats(-20, 20, allow_nan=False), st.just(-math.inf))


@st.composite
def logit_rows(draw):
    V = draw(st.integers(1, 12))
    x = draw(arrays(np.float64, (V,), elements=finite_or_neg_inf))
    assume(np.isfinite(x).any())
    return x


@settings(max_examples=150, deadline=None)
@given(x=logit_rows(), k=st.integers(1, 14), p=st.floats(0.01, 1.0), m=st.floats(0.01, 1.0))
def test_filters_numpy_equals_torch_and_keep_the_best(x, k, p, m):
    for f, arg in ((top_k_filter, k), (top_p_filter, p), (min_p_filter, m)):
        a = f(x, arg)
        b = f(torch.tensor(x), arg).numpy()
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        assert np.isfinite(a[x == x.max()]).any()  # a most likely token survives
        np.testing.assert_array_equal(a[np.isfinite(a)], x[np.isfinite(a)])  # kept unchanged
        # what is kept is never less likely than what is removed
        removed = np.isfinite(x) & ~np.isfinite(a)
        if removed.any():
            assert x[np.isfinite(a)].min() >= x[removed].max()


@settings(max_examples=150, deadline=None)
@given(x=logit_rows(), p=st.floats(0.01, 0.999))
def test_top_p_matches_the_reference_rule(x, p):
    """Reference: rank by (logit, index) descending; keep a token iff the mass ranked above
    it is < p (the exact-arithmetic form of Hugging Face's rule)."""
    probs = np.exp(x - x.max())
    probs /= probs.sum()
    order = sorted(range(len(x)), key=lambda i: (x[i], i), reverse=True)
    above, expected = 0.0, []
    for i in order:
        assume(abs(above - p) > 1e-9)  # stay clear of float rounding at the boundary
        if above < p:
            expected.append(i)
        above += probs[i]
    assert kept(top_p_filter(x, p)) == sorted(expected)


@settings(max_examples=100, deadline=None)
@given(x=logit_rows(), k=st.integers(1, 14))
def test_top_k_matches_the_reference_rule(x, k):
    kth = sorted(x, reverse=True)[min(k, len(x)) - 1]
    assert kept(top_k_filter(x, k)) == [i for i in range(len(x)) if x[i] >= kth > -np.inf
                                        or (x[i] >= kth and np.isfinite(x[i]))]
    assert len(kept(top_k_filter(x, k))) >= min(k, int(np.isfinite(x).sum()))


def test_filters_work_on_batches_of_any_rank():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7))
    for f, arg in ((top_k_filter, 3), (top_p_filter, 0.6), (min_p_filter, 0.3)):
        out = f(x, arg)
        assert out.shape == x.shape
        for i in range(2):
            for j in range(3):
                np.testing.assert_array_equal(out[i, j], f(x[i, j], arg))
        torch_out = f(torch.tensor(x), arg)
        np.testing.assert_array_equal(torch_out.numpy(), out)


@pytest.mark.parametrize("f,arg", [(top_k_filter, 2), (top_p_filter, 0.5),
                                   (min_p_filter, 0.5), (apply_temperature, 1.0)])
@pytest.mark.parametrize("bad", [np.array([0.0, np.nan]), torch.tensor([0.0, float("nan")])])
def test_nan_logits_are_rejected(f, arg, bad):
    with pytest.raises(ValueError, match="NaN"):
        f(bad, arg)


def test_other_bad_logits():
    with pytest.raises(ValueError, match="\\+inf"):
        top_k_filter(np.array([0.0, np.inf]), 1)
    with pytest.raises(ValueError, match="last axis"):
        top_k_filter(np.zeros((3, 0)), 1)
    with pytest.raises(ValueError, match="last axis"):
        top_k_filter(np.float64(1.0), 1)
    with pytest.raises(TypeError, match="logits"):
        top_k_filter("abc", 1)
    with pytest.raises(ValueError, match="-inf"):
        softmax(np.array([NEG, NEG]))


# ----------------------------------------------------------------------------- repetition penalty

@pytest.mark.parametrize("x", both([2.0, -2.0, 1.0, 0.0]))
def test_repetition_penalty_ctrl_rule(x):
    out = repetition_penalty(x, [0, 1, 1, 1, 3], 2.0)  # each token once, however often
    np.testing.assert_allclose(np.asarray(out), [1.0, -4.0, 1.0, 0.0])
    out = repetition_penalty(x, [0, 1], 0.5)  # < 1 encourages repeats
    np.testing.assert_allclose(np.asarray(out), [4.0, -1.0, 1.0, 0.0])
    np.testing.assert_allclose(np.asarray(repetition_penalty(x, [], 2.0)), np.asarray(x))


def test_repetition_penalty_per_row_and_torch_ids():
    x = np.array([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
    out = repetition_penalty(x, np.array([[0, 0], [2, 1]]), 2.0)
    np.testing.assert_allclose(out, [[1.0, 2.0, 2.0], [2.0, 1.0, 1.0]])
    out_t = repetition_penalty(torch.tensor(x), torch.tensor([[0, 0], [2, 1]]), 2.0)
    np.testing.assert_allclose(out_t.numpy(), out)


@pytest.mark.parametrize("penalty", [0.0, -1.0, float("inf"), float("nan")])
def test_repetition_penalty_bad_penalty(penalty):
    with pytest.raises(ValueError, match="penalty"):
        repetition_penalty(LOGITS, [0], penalty)


def test_repetition_penalty_bad_ids():
    with pytest.raises(ValueError, match="previous_ids"):
        repetition_penalty(LOGITS, [5], 1.2)
    with pytest.raises(ValueError, match="previous_ids"):
        repetition_penalty(LOGITS, [-1], 1.2)
    with pytest.raises(TypeError, match="previous_ids"):
        repetition_penalty(LOGITS, [0.5], 1.2)
    with pytest.raises(ValueError, match="previous_ids"):
        repetition_penalty(np.zeros((2, 5)), np.zeros((3, 1), dtype=int), 1.2)


# ----------------------------------------------------------------------------- sample

def test_greedy_is_the_argmax_first_on_ties():
    assert sample(LOGITS, temperature=0) == 0
    assert sample(np.array([1.0, 3.0, 3.0]), temperature=0) == 1
    out = sample(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), temperature=0)
    assert out.tolist() == [1, 0]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sample_frequencies_follow_the_distribution(backend):
    x = np.array([1.0, 0.0, -1.0, NEG])
    p = softmax(x)
    rows = np.tile(x, (20000, 1))
    if backend == "torch":
        ids = sample(torch.tensor(rows), rng=0).numpy()
    else:
        ids = sample(rows, rng=np.random.default_rng(0))
    freq = np.bincount(ids, minlength=4) / len(ids)
    np.testing.assert_allclose(freq, p, atol=0.015)   # ~4.5 standard errors
    assert freq[3] == 0                               # an impossible token never comes


def test_sample_applies_temperature_then_filters():
    x = np.array([2.0, 1.9, 0.0, -5.0])
    for seed in range(50):
        assert sample(x, top_k=2, rng=seed) in (0, 1)
        assert sample(x, top_p=0.3, rng=seed) == 0
        assert sample(x, min_p=0.5, temperature=5.0, rng=seed) in (0, 1, 2)
    # temperature before min-p: at T = 0.01 only the best survives a min-p of 0.5
    assert {sample(x, min_p=0.5, temperature=0.01, rng=s) for s in range(30)} == {0}


def test_sample_is_repeatable_with_a_seed_and_never_nan():
    x = np.random.default_rng(1).normal(size=(5, 9))
    np.testing.assert_array_equal(sample(x, rng=7), sample(x, rng=7))
    assert sample(np.array([1e308, -1e308, 5e307]), temperature=0.05) == 0
    assert isinstance(sample(LOGITS, rng=1), int)
    assert sample(torch.tensor(LOGITS), rng=1).shape == ()


def test_sample_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        sample(LOGITS, temperature=-0.5)
    with pytest.raises(ValueError, match="k must be"):
        sample(LOGITS, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        sample(LOGITS, top_p=1.5)
    with pytest.raises(ValueError, match="min_p"):
        sample(LOGITS, min_p=0.0)
    with pytest.raises(ValueError, match="NaN"):
        sample(np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="-inf"):
        sample(np.array([NEG, NEG]))
    with pytest.raises(TypeError, match="rng"):
        sample(LOGITS, rng="seed")
    with pytest.raises(TypeError, match="rng"):
        sample(torch.tensor(LOGITS), rng=np.random.default_rng(0))


# ----------------------------------------------------------------------------- generate

@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()


def test_greedy_generation_equals_the_argmax_loop(gpt):
    ids = [3, 1]
    expected = list(ids)
    with torch.no_grad():
        for _ in range(8):
            logits, _ = gpt(torch.tensor([expected[-16:]]))
            expected.append(int(logits[0, -1].argmax()))
    for use_cache in (True, False):
        assert generate(gpt, ids, 8, temperature=0, use_cache=use_cache) == expected
    assert ids == [3, 1]  # the caller's list is not changed


def test_generation_stream_seed_and_stop(gpt):
    full = generate(gpt, [1], 12, seed=5)
    streamed = list(generate(gpt, [1], 12, seed=5, stream=True))
    assert full == [1] + streamed and len(streamed) == 12
    assert generate(gpt, [1], 12, seed=5) == full
    stop = full[4]
    cut = generate(gpt, [1], 12, seed=5, stop_ids=[stop])
    assert cut[-1] == stop and len(cut) == 1 + full[1:].index(stop) + 1
    assert generate(gpt, np.array([1, 2]), 0) == [1, 2]
    assert generate(gpt, torch.tensor([[1, 2]]), 1, temperature=0)[:2] == [1, 2]


def test_generation_with_all_knobs_runs(gpt):
    out = generate(gpt, [1, 2, 3], 20, temperature=0.7, top_k=5, top_p=0.9, min_p=0.05,
                   repetition_penalty=1.3, seed=0)
    assert len(out) == 23 and all(0 <= i < 11 for i in out)


def test_a_long_prompt_is_cropped_to_the_block(gpt):
    prompt = list(np.random.default_rng(0).integers(0, 11, 40))
    out = generate(gpt, prompt, 3, temperature=0, use_cache=False)
    assert out[:40] == prompt and len(out) == 43
    cropped = generate(gpt, prompt[-16:], 3, temperature=0, use_cache=False)
    assert out[40:] == cropped[16:]  # the model saw only the last block_size tokens
    assert generate(gpt, prompt, 3, temperature=0, use_cache=True)[40:] == out[40:]


def test_generate_on_a_model_without_a_cache():
    class Bigram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Embedding(5, 5)

        def forward(self, idx, targets=None):
            return self.table(idx), None

    torch.manual_seed(0)
    out = generate(Bigram(), [0], 6, temperature=0)
    assert len(out) == 7


def test_generate_bad_input(gpt):
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        generate(gpt, [], 5)
    with pytest.raises(TypeError, match="prompt_ids"):
        generate(gpt, "hello", 5)
    with pytest.raises(ValueError, match="prompt_ids"):
        generate(gpt, [11], 5)
    with pytest.raises(ValueError, match="prompt_ids"):
        generate(gpt, torch.zeros(2, 3, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(gpt, [1], -1)
    with pytest.raises(ValueError, match="temperature"):
        generate(gpt, [1], 3, temperature=-1)
    with pytest.raises(ValueError, match="k must be"):
        generate(gpt, [1], 3, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        generate(gpt, [1], 3, top_p=0)
    with pytest.raises(ValueError, match="penalty"):
        generate(gpt, [1], 3, repetition_penalty=0)
    with pytest.raises(TypeError, match="model"):
        generate("gpt", [1], 3)


# ----------------------------------------------------------------------------- beam search

class Table(torch.nn.Module):
    """A toy model whose next-token distribution depends on the last token only."""

    def __init__(self, probs):
        super().__init__()
        self.logp = torch.log(torch.tensor(probs, dtype=torch.float64).clamp_min(1e-12))
        self.config = type("C", (), {"block_size": 8, "vocab_size": len(probs)})()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx, targets=None):
        return self.logp[idx], None


# 0 -> 1 (0.6) or 2 (0.4); after 1 everything is spread out; after 2, 3 is almost certain
GARDEN = [[0.0, 0.6, 0.4, 0.0],
          [0.0, 0.34, 0.33, 0.33],
          [0.0, 0.0, 0.01, 0.99],
          [0.25, 0.25, 0.25, 0.25]]


def test_beam_search_finds_what_greedy_misses():
    model = Table(GARDEN)
    assert generate(model, [0], 2, temperature=0) == [0, 1, 1]          # p = 0.204
    assert beam_search(model, [0], 1, 2) == [0, 1, 1]                   # width 1 = greedy
    assert beam_search(model, [0], 2, 2) == [0, 2, 3]                   # p = 0.396
    hyps = beam_search(model, [0], 2, 2, return_all=True)
    assert hyps[0][0] == [0, 2, 3]
    assert hyps[0][1] == pytest.approx(math.log(0.4 * 0.99) / 2)        # length-normalised


def test_beam_search_length_penalty_and_stop():
    model = Table(GARDEN)
    hyps = beam_search(model, [0], 3, 4, length_penalty=1.0, stop_ids=[3], return_all=True)
    seq, score = hyps[0]
    assert seq == [0, 2, 3] and score == pytest.approx(math.log(0.396) / 2)
    zero = beam_search(model, [0], 3, 4, length_penalty=0.0, stop_ids=[3], return_all=True)
    assert zero[0][1] == pytest.approx(math.log(0.396))                 # the plain sum


def test_beam_search_bad_input(gpt):
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(gpt, [1], 0, 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        beam_search(gpt, [1], 2, 0)
    with pytest.raises(ValueError, match="prompt_ids"):
        beam_search(gpt, [], 2, 3)
    assert len(beam_search(gpt, [1, 2], 3, 5)) == 7


# ----------------------------------------------------------------------------- distinct-n

def test_distinct_n():
    assert distinct_n([1, 2, 3, 4], 1) == 1.0
    assert distinct_n([1, 1, 1, 1], 1) == 0.25
    assert distinct_n([1, 2, 1, 2, 1], 2) == 0.5
    assert distinct_n([[1, 2, 3], [1, 2, 3]], 2) == 0.5           # pooled across samples
    assert distinct_n([[1, 2], [2, 1]], 2) == 1.0                 # no n-gram across the seam
    assert distinct_n(np.array([[1, 1], [1, 1]]), 1) == 0.25
    with pytest.raises(ValueError, match="n must be"):
        distinct_n([1, 2], 0)
    with pytest.raises(ValueError, match="too short"):
        distinct_n([1], 2)


@pytest.mark.parametrize("stop_ids", [[None], [1.0], "ab", 3, [True]])
def test_stop_ids_that_are_not_token_ids_are_a_clear_type_error(stop_ids):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=4))
    for call in (lambda: beam_search(model, [0], 2, 3, stop_ids=stop_ids),
                 lambda: generate(model, [0], 3, stop_ids=stop_ids)):
        with pytest.raises(TypeError, match="stop_ids must"):
            call()
    assert len(generate(model, [0], 3, stop_ids=np.array([1, 2]))) <= 4  # arrays are fine
