"""lmlib.scratch.functional against PyTorch (float64), and its bad-input errors."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lmlib.scratch import functional as F


def _logits(n=7, v=5, seed=0, scale=3.0):
    return np.random.default_rng(seed).standard_normal((n, v)) * scale


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_equal_torch(axis):
    x = _logits()
    t = torch.from_numpy(x)
    np.testing.assert_allclose(F.softmax(x, axis=axis), torch.softmax(t, dim=axis).numpy(),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.log_softmax(x, axis=axis),
                               torch.log_softmax(t, dim=axis).numpy(), rtol=1e-12, atol=1e-14)


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, 0.0]])
    p = F.softmax(x)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    np.testing.assert_allclose(p[0], F.softmax(np.array([0.0, 1.0, 2.0])))
    logp = F.log_softmax(x)
    assert np.isfinite(logp).all()
    assert logp[1, 0] == pytest.approx(-1000.0)  # log(softmax) would underflow to -inf here


def test_softmax_is_shift_invariant():
    x = _logits(seed=3)
    np.testing.assert_allclose(F.softmax(x), F.softmax(x + 123.4), rtol=1e-12)


def test_cross_entropy_loss_and_gradient_equal_torch():
    x = _logits(n=11, v=6, seed=1)
    y = np.random.default_rng(2).integers(0, 6, size=11)
    loss, dlogits = F.cross_entropy(x, y)
    t = torch.from_numpy(x).requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(t, torch.from_numpy(y))
    ref.backward()
    assert isinstance(loss, float)
    assert abs(loss - ref.item()) < 1e-12
    np.testing.assert_allclose(dlogits, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_gradient_is_p_minus_y_over_n():
    x = _logits(n=4, v=3, seed=5)
    y = np.array([0, 2, 1, 2])
    _, d = F.cross_entropy(x, y)
    expected = (F.softmax(x) - np.eye(3)[y]) / 4
    np.testing.assert_allclose(d, expected, rtol=1e-12)
    np.testing.assert_allclose(d.sum(axis=1), 0.0, atol=1e-15)  # each row of p - y sums to 0


def test_cross_entropy_accepts_batch_time_axes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    y = rng.integers(0, 4, size=(2, 3))
    loss, d = F.cross_entropy(x, y)
    loss2, d2 = F.cross_entropy(x.reshape(6, 4), y.reshape(6))
    assert loss == pytest.approx(loss2, rel=1e-14)
    assert d.shape == x.shape
    np.testing.assert_allclose(d.reshape(6, 4), d2)


def test_cross_entropy_finite_for_huge_logits():
    x = np.array([[0.0, 800.0], [800.0, 0.0]])
    loss, d = F.cross_entropy(x, np.array([0, 0]))
    assert loss == pytest.approx(400.0)
    assert np.isfinite(d).all()


def test_cross_entropy_uniform_logits_give_log_v():
    loss, _ = F.cross_entropy(np.zeros((3, 27)), np.array([0, 5, 26]))
    assert loss == pytest.approx(np.log(27))


@pytest.mark.parametrize("targets, match", [
    (np.array([0, 1, 2]), r"targets must have shape \(4,\).*got shape \(3,\)"),
    (np.array([[0, 1, 2, 0]]), r"targets must have shape \(4,\)"),
    (np.array([0, 1, 5, 0]), r"\[0, 5\).*\[0, 5\]"),
    (np.array([0, -1, 2, 0]), r"\[0, 5\).*\[-1, 2\]"),
])
def test_cross_entropy_rejects_bad_targets(targets, match):
    with pytest.raises(ValueError, match=match):
        F.cross_entropy(np.zeros((4, 5)), targets)


def test_cross_entropy_rejects_float_targets():
    with pytest.raises(TypeError, match="targets must be integer"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_cross_entropy_rejects_non_finite_logits(bad):
    x = np.zeros((2, 3))
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"logits must be finite.*\(1, 2\)"):
        F.cross_entropy(x, np.array([0, 1]))


def test_cross_entropy_rejects_1d_logits():
    with pytest.raises(ValueError, match=r"logits must have shape \(N, V\)"):
        F.cross_entropy(np.zeros(3), np.array(0))


def test_softmax_rejects_non_numbers():
    with pytest.raises(TypeError, match="x must be an array of real numbers"):
        F.softmax(np.array(["a", "b"]))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 8)),
              elements=st.floats(-700, 700)),
       st.floats(-300, 300))
def test_softmax_properties(x, shift):
    p = F.softmax(x)
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x + shift), p, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(np.exp(F.log_softmax(x)), p, rtol=1e-9, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 8)),
              elements=st.floats(-50, 50)), st.data())
def test_cross_entropy_properties(x, data):
    n, v = x.shape
    y = np.array(data.draw(st.lists(st.integers(0, v - 1), min_size=n, max_size=n)))
    loss, d = F.cross_entropy(x, y)
    assert loss >= 0
    np.testing.assert_allclose(d.sum(axis=1), 0.0, atol=1e-12)  # rows of p - y sum to 0
    t = torch.from_numpy(x).requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(t, torch.from_numpy(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(d, t.grad.numpy(), rtol=1e-9, atol=1e-14)
