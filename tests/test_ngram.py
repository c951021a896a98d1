"""Tests of lmlib.ngram: normalisation, add-k against brute-force dictionary counts,
Kneser-Ney against a small example worked by hand, sampling, and every bad input."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmlib.ngram import NGramLM, count_ngrams, modified_kn_discounts, ngram_codes

SMOOTHINGS = ["kneser-ney", "modified-kneser-ney", "add-k", "mle"]


@st.composite
def corpus_and_context(draw):
    vocab_size = draw(st.integers(1, 6))
    order = draw(st.integers(1, 4))
    ids = draw(st.lists(st.integers(0, vocab_size - 1), min_size=order, max_size=60))
    context = draw(st.lists(st.integers(0, vocab_size - 1), max_size=6))
    return np.array(ids), vocab_size, order, context


# ----------------------------------------------------------------- counting
def test_ngram_codes_are_base_v_digits():
    ids = np.array([2, 0, 1, 2])
    np.testing.assert_array_equal(ngram_codes(ids, 2, 3), [2 * 3 + 0, 0 * 3 + 1, 1 * 3 + 2])
    np.testing.assert_array_equal(ngram_codes(ids, 3, 3), [2 * 9 + 0 + 1, 0 + 3 + 2])
    np.testing.assert_array_equal(ngram_codes(ids, 0, 3), np.zeros(5))


@given(st.lists(st.integers(0, 4), min_size=3, max_size=80), st.integers(1, 3))
@settings(max_examples=50, deadline=None)
def test_count_ngrams_equals_counter(ids, n):
    keys, counts = count_ngrams(np.array(ids), n, 5)
    expected = Counter(tuple(ids[i:i + n]) for i in range(len(ids) - n + 1))
    got = {tuple(int(d) for d in np.base_repr(int(k), 5).zfill(n)): int(c)
           for k, c in zip(keys, counts)}
    assert got == dict(expected)


# ----------------------------------------------------------------- normalisation
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@given(data=corpus_and_context())
@settings(max_examples=40, deadline=None)
def test_probabilities_sum_to_one(smoothing, data):
    ids, vocab_size, order, context = data
    lm = NGramLM(order, smoothing, k=0.3, discount=0.6).fit(ids, vocab_size)
    p = lm.next_token_probs(context)
    assert p.shape == (vocab_size,)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("smoothing", ["kneser-ney", "modified-kneser-ney", "add-k"])
def test_smoothed_models_give_every_token_mass(smoothing):
    ids = np.array([0, 1, 0, 1, 2, 0, 1, 1, 0])
    lm = NGramLM(3, smoothing, k=0.5).fit(ids, vocab_size=5)  # tokens 3, 4 never seen
    for context in ([0, 1], [4, 4], [3], []):
        assert np.all(lm.next_token_probs(context) > 0)


def test_log_probs_agree_with_next_token_probs():
    rng = np.random.default_rng(1)
    ids, val = rng.integers(0, 4, 300), rng.integers(0, 4, 50)
    for smoothing in SMOOTHINGS:
        lm = NGramLM(3, smoothing).fit(ids, 4)
        expected = [np.log(lm.next_token_probs(val[t - 2:t])[val[t]]) for t in range(2, 50)]
        np.testing.assert_allclose(lm.log_probs(val), expected, rtol=1e-12)
        np.testing.assert_allclose(lm.cross_entropy(val), -np.mean(expected), rtol=1e-12)
        np.testing.assert_allclose(lm.perplexity(val), np.exp(-np.mean(expected)), rtol=1e-12)


def test_only_last_order_minus_one_tokens_count():
    rng = np.random.default_rng(2)
    lm = NGramLM(3).fit(rng.integers(0, 5, 400), 5)
    np.testing.assert_array_equal(lm.next_token_probs([4, 4, 4, 1, 2]),
                                  lm.next_token_probs([1, 2]))
    assert not np.allclose(lm.next_token_probs([1, 2]), lm.next_token_probs([2]))


# ----------------------------------------------------------------- add-k and MLE
@given(st.lists(st.integers(0, 3), min_size=4, max_size=60), st.integers(1, 3),
       st.floats(0.01, 3.0), st.lists(st.integers(0, 3), min_size=2, max_size=2))
@settings(max_examples=60, deadline=None)
def test_add_k_equals_brute_force_dict_counts(ids, order, k, context):
    V = 4
    lm = NGramLM(order, "add-k", k=k).fit(np.array(ids), V)
    ngram = Counter(tuple(ids[i:i + order]) for i in range(len(ids) - order + 1))
    h = tuple(context[len(context) - (order - 1):]) if order > 1 else ()
    c_h = sum(c for g, c in ngram.items() if g[:-1] == h)
    expected = [(ngram[h + (w,)] + k) / (c_h + k * V) for w in range(V)]
    np.testing.assert_allclose(lm.next_token_probs(context), expected, rtol=1e-12)


def test_add_one_bigram_by_hand():
    # stream a b a b c a: bigrams ab x2, ba, bc, ca. After a: c(a)=2, so (2+1)/(2+3) for b.
    lm = NGramLM(2, "add-k", k=1.0).fit(np.array([0, 1, 0, 1, 2, 0]), 3)
    np.testing.assert_allclose(lm.next_token_probs([0]), [1 / 5, 3 / 5, 1 / 5])
    np.testing.assert_allclose(lm.next_token_probs([2]), [2 / 4, 1 / 4, 1 / 4])


def test_mle_unseen_event_is_inf_not_a_crash():
    lm = NGramLM(2, "mle").fit(np.array([0, 1, 0, 1, 2, 0]), 3)
    np.testing.assert_allclose(lm.next_token_probs([0]), [0, 1, 0])
    np.testing.assert_allclose(lm.next_token_probs([1]), [0.5, 0, 0.5])
    assert lm.cross_entropy(np.array([0, 1, 0])) == pytest.approx(np.log(2) / 2)  # 1, 1/2
    with np.errstate(all="raise"):  # no warnings either
        assert lm.cross_entropy(np.array([0, 0, 1])) == np.inf
        assert lm.perplexity(np.array([0, 0, 1])) == np.inf


def test_mle_unseen_context_is_uniform():
    lm = NGramLM(2, "mle").fit(np.array([0, 1, 0, 1, 0]), 4)
    np.testing.assert_allclose(lm.next_token_probs([3]), np.full(4, 0.25))


# ----------------------------------------------------------------- Kneser-Ney by hand
# Stream "a b a b c a" (a=0, b=1, c=2), V = 3, D = 0.5.
# Bigram counts: ab 2, ba 1, bc 1, ca 1.
# Continuation counts N1+(. w): a follows {b, c} -> 2, b follows {a} -> 1, c follows {b} -> 1;
# their sum is 4 and 3 distinct tokens have one, so the lowest order is
#   P1(w) = max(N1+(. w) - 0.5, 0) / 4 + 0.5 * 3 / 4 * 1/3:  P1 = [0.5, 0.25, 0.25].
# Bigram, context a: c(a .) = 2, N1+(a .) = 1 (only b), so
#   P(b|a) = (2 - 0.5) / 2 + 0.5 * 1 / 2 * P1(b) = 0.75 + 0.25 * 0.25 = 0.8125
#   P(a|a) = 0.25 * 0.5 = 0.125,  P(c|a) = 0.25 * 0.25 = 0.0625
# context b: c = 2, N1+ = 2: P(a|b) = 0.25 + 0.5 * P1(a) = 0.5, P(c|b) = 0.25 + 0.5 * 0.25
#   = 0.375, P(b|b) = 0.5 * 0.25 = 0.125
# context c: c = 1, N1+ = 1: P(a|c) = 0.5 + 0.5 * 0.5 = 0.75, P(b|c) = P(c|c) = 0.125
HAND_IDS = np.array([0, 1, 0, 1, 2, 0])


def test_kneser_ney_bigram_by_hand():
    lm = NGramLM(2, "kneser-ney", discount=0.5).fit(HAND_IDS, 3)
    np.testing.assert_allclose(lm.next_token_probs([0]), [0.125, 0.8125, 0.0625])
    np.testing.assert_allclose(lm.next_token_probs([1]), [0.5, 0.125, 0.375])
    np.testing.assert_allclose(lm.next_token_probs([2]), [0.75, 0.125, 0.125])
    # the stream scored on itself: b|a, a|b, b|a, c|b, a|c
    expected = -np.mean(np.log([0.8125, 0.5, 0.8125, 0.375, 0.75]))
    assert lm.cross_entropy(HAND_IDS) == pytest.approx(expected, rel=1e-12)


def test_kneser_ney_trigram_by_hand():
    # Trigrams aba, bab, abc, bca (each once). The middle order uses continuation counts
    # N1+(. x y): ab (at 2, after b) 1, ba 1, bc 1, ca 1 (ab at position 0 has no left token).
    # Middle order, context b: total 2, N1+ 2: P2(a|b) = 0.5/2 + 0.5 * 2/2 * P1(a) = 0.5,
    #   P2(c|b) = 0.25 + 0.5 * 0.25 = 0.375, P2(b|b) = 0.125.
    # Top order, context ab: c = 2 (aba, abc), N1+ = 2:
    #   P(a|ab) = 0.5/2 + 0.5 * 2/2 * P2(a|b) = 0.25 + 0.25 = 0.5
    #   P(c|ab) = 0.25 + 0.5 * 0.375 = 0.4375,  P(b|ab) = 0.5 * 0.125 = 0.0625
    # Unseen context cc passes the middle order through: context c there has total 1, N1+ 1:
    #   P2(a|c) = 0.5 + 0.5 * P1(a) = 0.75, P2(b|c) = P2(c|c) = 0.5 * 0.25 = 0.125
    lm = NGramLM(3, "kneser-ney", discount=0.5).fit(HAND_IDS, 3)
    np.testing.assert_allclose(lm.next_token_probs([0, 1]), [0.5, 0.0625, 0.4375])
    np.testing.assert_allclose(lm.next_token_probs([2, 2]), [0.75, 0.125, 0.125])
    # a context shorter than order - 1 uses the raw counts of the lower order
    np.testing.assert_allclose(lm.next_token_probs([2]),
                               NGramLM(2, discount=0.5).fit(HAND_IDS, 3).next_token_probs([2]))


def kneser_ney_reference(ids, order, V, context, discounts):
    """P_KN(. | context) with plain Python dicts, written straight from the formulas:
    real counts at the top order, continuation counts N1+(. g) below, uniform at the bottom.
    ``discounts[m - 1]`` is (D1, D2, D3+) of order m."""
    ids = [int(t) for t in ids]
    h = tuple(int(t) for t in context)[max(0, len(context) - (order - 1)):] if order > 1 else ()
    top = len(h) + 1
    counts = {m: Counter(tuple(ids[i:i + m]) for i in range(len(ids) - m + 1))
              for m in range(1, order + 1)}
    cont = {m: Counter(g[1:] for g in counts[m + 1]) for m in range(1, order)}

    def prob(m, h, w):
        if m == 0:
            return 1.0 / V
        table = counts[m] if m == top else cont[m]
        lower = prob(m - 1, h[1:], w)
        after_h = {g[-1]: c for g, c in table.items() if g[:-1] == h}
        total = sum(after_h.values())
        if total == 0:
            return lower
        d1, d2, d3 = discounts[m - 1]
        a = after_h.get(w, 0)
        d_a = (0, d1, d2, d3)[min(a, 3)]
        mass = sum((0, d1, d2, d3)[min(c, 3)] for c in after_h.values())
        return max(a - d_a, 0) / total + mass / total * lower

    return np.array([prob(top, h, w) for w in range(V)])


@given(data=corpus_and_context(), modified=st.booleans())
@settings(max_examples=60, deadline=None)
def test_kneser_ney_equals_dict_reference(data, modified):
    ids, vocab_size, order, context = data
    lm = NGramLM(order, "modified-kneser-ney" if modified else "kneser-ney",
                 discount=0.6).fit(ids, vocab_size)
    if modified:  # the discounts estimated from count-of-counts, checked on their own below
        discounts = [tuple(d) for d in lm.discounts]
    else:
        discounts = [(0.6, 0.6, 0.6)] * order
    expected = kneser_ney_reference(ids, order, vocab_size, context, discounts)
    np.testing.assert_allclose(lm.next_token_probs(context), expected, rtol=1e-10, atol=1e-15)


def test_cross_entropy_equals_torch():
    import torch
    rng = np.random.default_rng(5)
    train, val = rng.integers(0, 6, 2000), rng.integers(0, 6, 300)
    for smoothing in ["kneser-ney", "modified-kneser-ney", "add-k"]:
        lm = NGramLM(3, smoothing, k=0.2).fit(train, 6)
        logits = np.log(np.stack([lm.next_token_probs(val[t - 2:t]) for t in range(2, 300)]))
        expected = torch.nn.functional.cross_entropy(torch.tensor(logits, dtype=torch.float64),
                                                     torch.tensor(val[2:]))
        assert lm.cross_entropy(val) == pytest.approx(expected.item(), rel=1e-12)


def test_modified_kn_discounts_formula():
    counts = np.array([1] * 10 + [2] * 5 + [3] * 3 + [4] * 2 + [9])
    y = 10 / (10 + 2 * 5)
    expected = [1 - 2 * y * 5 / 10, 2 - 3 * y * 3 / 5, 3 - 4 * y * 2 / 3]
    np.testing.assert_allclose(modified_kn_discounts(counts), expected)
    np.testing.assert_allclose(modified_kn_discounts(np.array([1, 1, 2]), 0.6), [0.6] * 3)


def test_modified_kn_with_equal_discounts_is_kneser_ney():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 6, 500)
    mkn, kn = NGramLM(3, "modified-kneser-ney").fit(ids, 6), NGramLM(3).fit(ids, 6)
    mkn.discounts = [np.full(3, 0.75) for _ in mkn.discounts]
    for context in ([1, 2], [5, 5], [0]):
        np.testing.assert_allclose(mkn.next_token_probs(context), kn.next_token_probs(context))


# ----------------------------------------------------------------- sampling
def test_sampling_is_reproducible():
    rng = np.random.default_rng(4)
    lm = NGramLM(3).fit(rng.integers(0, 7, 1000), 7)
    a = lm.sample(50, np.random.default_rng(123), context=[1, 2])
    b = lm.sample(50, np.random.default_rng(123), context=[1, 2])
    c = lm.sample(50, np.random.default_rng(124), context=[1, 2])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (50,) and a.dtype == np.int64 and a.min() >= 0 and a.max() < 7
    assert lm.sample(0, np.random.default_rng(0)).shape == (0,)


def test_sampling_follows_a_deterministic_chain():
    # a b c a b c ...: with MLE every context has one successor
    lm = NGramLM(2, "mle").fit(np.tile([0, 1, 2], 5), 3)
    np.testing.assert_array_equal(lm.sample(6, np.random.default_rng(0), context=[2]),
                                  [0, 1, 2, 0, 1, 2])


# ----------------------------------------------------------------- size
def test_sizes():
    lm = NGramLM(2).fit(HAND_IDS, 3)
    assert lm.num_ngrams == 3 + 4  # unigrams a, b, c; bigrams ab, ba, bc, ca
    assert lm.nbytes > 0


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(order=0), "order"),
    (dict(order=-2), "order"),
    (dict(order=2, k=0.0), "k"),
    (dict(order=2, k=-1.0), "k"),
    (dict(order=2, k=float("nan")), "k"),
    (dict(order=2, discount=0.0), "discount"),
    (dict(order=2, discount=1.0), "discount"),
    (dict(order=2, discount=1.5), "discount"),
    (dict(order=2, smoothing="witten-bell"), "smoothing"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NGramLM(**kwargs)


def test_order_k_discount_types():
    with pytest.raises(TypeError, match="order"):
        NGramLM(2.0)
    with pytest.raises(TypeError, match="k"):
        NGramLM(2, "add-k", k="1")
    with pytest.raises(TypeError, match="discount"):
        NGramLM(2, discount=None)


def test_ids_outside_vocab():
    with pytest.raises(ValueError, match="ids"):
        NGramLM(2).fit(np.array([0, 1, 3]), 3)
    with pytest.raises(ValueError, match="ids"):
        NGramLM(2).fit(np.array([0, -1, 2]), 3)
    lm = NGramLM(2).fit(np.array([0, 1, 2]), 3)
    with pytest.raises(ValueError, match="ids"):
        lm.cross_entropy(np.array([0, 5]))
    with pytest.raises(ValueError, match="context"):
        lm.next_token_probs([7])
    with pytest.raises(ValueError, match="context"):
        lm.sample(3, np.random.default_rng(0), context=[3])


def test_ids_must_be_a_1d_integer_stream():
    with pytest.raises(ValueError, match="ids"):
        NGramLM(2).fit(np.zeros((2, 3), dtype=int), 3)
    with pytest.raises(TypeError, match="ids"):
        NGramLM(2).fit(np.array([0.0, 1.0, 2.0]), 3)


def test_bad_vocab_size():
    with pytest.raises(ValueError, match="vocab_size"):
        NGramLM(2).fit(np.array([0, 0]), 0)
    with pytest.raises(TypeError, match="vocab_size"):
        NGramLM(2).fit(np.array([0, 0]), 2.5)
    with pytest.raises(ValueError, match="vocab_size"):  # V**order overflows int64 codes
        NGramLM(12).fit(np.arange(20) % 65, 65)


def test_scoring_before_fit():
    lm = NGramLM(2)
    for call in (lambda: lm.cross_entropy(np.array([0, 1])), lambda: lm.perplexity([0, 1]),
                 lambda: lm.next_token_probs([0]), lambda: lm.sample(3, np.random.default_rng(0)),
                 lambda: lm.log_probs([0, 1])):
        with pytest.raises(ValueError, match="fit"):
            call()


def test_stream_shorter_than_order():
    with pytest.raises(ValueError, match="ids"):
        NGramLM(4).fit(np.array([0, 1, 2]), 3)
    lm = NGramLM(4).fit(np.array([0, 1, 2, 0, 1]), 3)
    with pytest.raises(ValueError, match="ids"):
        lm.cross_entropy(np.array([0, 1]))


def test_bad_sample_arguments():
    lm = NGramLM(2).fit(np.array([0, 1, 2]), 3)
    with pytest.raises(ValueError, match="n must"):
        lm.sample(-1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        lm.sample(3, rng=0)
