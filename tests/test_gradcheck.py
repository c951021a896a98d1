"""lmlib.scratch.gradcheck: passes correct gradients, catches wrong ones, rejects bad input."""

import numpy as np
import pytest

from lmlib.scratch import functional as F
from lmlib.scratch.gradcheck import GradcheckError, assert_gradcheck, gradcheck, relative_error


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, size=6)

    def loss_and_grads():
        loss, d = F.cross_entropy(x @ params["W"] + params["b"], y)
        return loss, {"W": x.T @ d, "b": d.sum(axis=0)}

    return params, loss_and_grads


def test_correct_gradients_pass():
    params, lg = _problem()
    _, grads = lg()
    before = {k: v.copy() for k, v in params.items()}
    errors = gradcheck(lambda: lg()[0], params, grads)
    assert set(errors) == {"W", "b"}
    assert max(errors.values()) < 1e-7
    for k in params:  # every nudge was undone
        np.testing.assert_array_equal(params[k], before[k])
    assert assert_gradcheck(lambda: lg()[0], params, grads, tol=1e-6) == errors


def test_wrong_gradient_is_caught_and_named():
    params, lg = _problem()
    _, grads = lg()
    grads["W"] = grads["W"] * 2  # a forgotten factor
    errors = gradcheck(lambda: lg()[0], params, grads)
    assert errors["W"] == pytest.approx(1 / 3, rel=1e-4)
    assert errors["b"] < 1e-7
    with pytest.raises(GradcheckError, match=r"'W' at index \(\d, \d\).*relative error 0.333"):
        assert_gradcheck(lambda: lg()[0], params, grads)


def test_sign_error_gives_relative_error_one():
    params, lg = _problem(1)
    _, grads = lg()
    grads["b"] = -grads["b"]
    assert gradcheck(lambda: lg()[0], params, grads)["b"] == pytest.approx(1.0)
    with pytest.raises(AssertionError):
        assert_gradcheck(lambda: lg()[0], params, grads)


def test_max_entries_checks_a_subset():
    params, lg = _problem(2)
    _, grads = lg()
    calls = []

    def f():
        calls.append(1)
        return lg()[0]

    gradcheck(f, params, grads, max_entries=2)
    assert len(calls) == 2 * (2 + 2)  # two entries of W and two of b, two calls each


def test_relative_error_definition():
    assert relative_error([1.0], [1.0]) == 0.0
    assert relative_error([1.0, 2.0], [-1.0, -2.0]) == 1.0
    assert relative_error([0.0], [0.0]) == 0.0
    assert relative_error([2.0, 4.0], [1.0, 2.0]) == pytest.approx(1 / 3)
    # measured against the gradient's scale: noise on a tiny entry is not an error
    assert relative_error([1.0, 1e-9], [1.0, 1.1e-9]) < 1e-9
    assert relative_error([1.0, 0.5], [1.0, 0.4]) == pytest.approx(0.1 / 2)


def test_missing_gradient_is_a_value_error_naming_it():
    params, lg = _problem()
    _, grads = lg()
    del grads["b"]
    with pytest.raises(ValueError, match=r"grads is missing parameter 'b' \(shape \(3,\)\)"):
        gradcheck(lambda: lg()[0], params, grads)


def test_gradient_of_wrong_shape_is_a_value_error():
    params, lg = _problem()
    _, grads = lg()
    grads["W"] = grads["W"].T
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(3, 4\).*\(4, 3\)"):
        gradcheck(lambda: lg()[0], params, grads)


def test_bad_arguments():
    params, lg = _problem()
    _, grads = lg()
    with pytest.raises(TypeError, match="f must be a callable"):
        gradcheck(1.0, params, grads)
    with pytest.raises(ValueError, match="eps must be positive"):
        gradcheck(lambda: lg()[0], params, grads, eps=0)
    with pytest.raises(TypeError, match="params must be a non-empty dict"):
        gradcheck(lambda: lg()[0], [], grads)
    with pytest.raises(TypeError, match=r"params\['x'\] must be a floating NumPy array"):
        gradcheck(lambda: 0.0, {"x": np.arange(3)}, {"x": np.zeros(3)})


def test_float32_warns():
    p = {"x": np.ones(2, dtype=np.float32)}
    with pytest.warns(UserWarning, match="float64"):
        gradcheck(lambda: float((p["x"] ** 2).sum()), p, {"x": 2 * p["x"]})


def test_numerical_gradient_of_a_quadratic_and_bad_input():
    from lmlib.scratch.gradcheck import numerical_gradient

    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    np.testing.assert_allclose(numerical_gradient(lambda: float((x ** 2).sum()), x), 2 * before,
                               rtol=1e-8)
    np.testing.assert_array_equal(x, before)  # restored
    with pytest.raises(TypeError, match="x must be a floating NumPy array"):
        numerical_gradient(lambda: 0.0, np.arange(3))
