"""Gradient checking: compare hand-written gradients with central differences.

For each entry ``w`` of a parameter, the numerical gradient is

    (f(w + eps) - f(w - eps)) / (2 eps)

whose error shrinks like ``eps**2``. In float64 with ``eps = 1e-6`` a correct backward pass
typically agrees to a relative error of ``1e-7`` or better; a wrong one (a missing
transpose, a forgotten factor 1/N, a sign) shows relative errors near ``1``.

    from lmlib.scratch.gradcheck import gradcheck, assert_gradcheck
    loss = lambda: model.loss(x, y)              # reads model.params, which gradcheck nudges
    errors = gradcheck(loss, model.params, model.grads)   # {'hidden.weight': 3e-9, ...}
    assert_gradcheck(loss, model.params, model.grads, tol=1e-6)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lmlib.scratch.optim import check_grads

__all__ = ["gradcheck", "assert_gradcheck", "GradcheckError", "relative_error",
           "numerical_gradient"]


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of ``x``.

    ``x`` is nudged in place and restored; ``f`` takes no arguments and reads ``x``.
    Returns an array shaped like ``x``. Use float64."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a floating NumPy array (changed in place), got "
                        f"{type(x).__name__} {getattr(x, 'dtype', '')}")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f()
        x[i] = old - eps
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


class GradcheckError(AssertionError):
    """Raised by ``assert_gradcheck`` when an entry's relative error exceeds the tolerance."""


@dataclass
class _Worst:
    error: float
    index: tuple
    analytic: float
    numerical: float


def relative_error(analytic, numerical) -> float:
    """``max |a - n| / (max |a| + max |n|)`` over the entries of one parameter.

    0 when the gradients are equal, 1/3 when one is twice the other, 1 when they have
    opposite signs or one of them is 0. The error is measured against the scale of the whole
    gradient, not entry by entry: an entry of 1e-7 carries the same absolute rounding noise
    (about 1e-10 with ``eps=1e-6``) as an entry of 1e-2, so dividing entry by entry would
    blame the check for noise instead of the backward pass.
    """
    a = np.abs(np.asarray(analytic, dtype=np.float64))
    n = np.abs(np.asarray(numerical, dtype=np.float64))
    if a.size == 0:
        return 0.0
    scale = a.max() + n.max()
    diff = np.abs(np.asarray(analytic, dtype=np.float64) - np.asarray(numerical, dtype=np.float64))
    return float(diff.max() / scale) if scale > 0 else 0.0


def _validate(params, grads) -> None:
    if not isinstance(params, dict) or not params:
        raise TypeError(f"params must be a non-empty dict name -> array, got "
                        f"{type(params).__name__}")
    check_grads(params, grads)
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            raise TypeError(f"params[{name!r}] must be a floating NumPy array, updated in "
                            f"place, got {type(p).__name__} {getattr(p, 'dtype', '')}")
        if p.dtype != np.float64:
            warnings.warn(f"params[{name!r}] is {p.dtype}: central differences need "
                          f"float64, expect large relative errors", stacklevel=3)


def _check(f, params, grads, eps, max_entries, seed) -> dict[str, _Worst]:
    if not callable(f):
        raise TypeError(f"f must be a callable with no arguments returning the loss, got "
                        f"{type(f).__name__}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    _validate(params, grads)
    rng = np.random.default_rng(seed)
    worst: dict[str, _Worst] = {}
    for name, p in params.items():
        g = np.asarray(grads[name], dtype=np.float64).copy()  # f() may overwrite grads
        flat = p.reshape(-1)  # a view: writing to it nudges the parameter in place
        if not np.shares_memory(flat, p):
            raise ValueError(f"params[{name!r}] must be contiguous so it can be nudged in place")
        idx = np.arange(flat.size)
        if max_entries is not None and flat.size > max_entries:
            idx = rng.choice(flat.size, size=max_entries, replace=False)
        numerical = np.empty(len(idx))
        for k, i in enumerate(idx):
            old = flat[i]
            flat[i] = old + eps
            plus = float(f())
            flat[i] = old - eps
            minus = float(f())
            flat[i] = old
            numerical[k] = (plus - minus) / (2 * eps)
        analytic = g.reshape(-1)[idx]
        if not idx.size:
            worst[name] = _Worst(0.0, (), 0.0, 0.0)
            continue
        k = int(np.argmax(np.abs(analytic - numerical)))  # the entry that is most off
        worst[name] = _Worst(relative_error(analytic, numerical),
                             tuple(int(j) for j in np.unravel_index(idx[k], p.shape)),
                             float(analytic[k]), float(numerical[k]))
    return worst


def gradcheck(f, params: dict, grads: dict, eps: float = 1e-6, *,
              max_entries: int | None = None, seed: int = 0) -> dict[str, float]:
    """The largest relative error between ``grads`` and central differences, per parameter.

    Args:
        f: a callable with no arguments that returns the scalar loss computed from the
            current values of the arrays in ``params``.
        params: ``{name: float64 array}``; each entry is nudged in place by ``+-eps`` and
            restored.
        grads: ``{name: array}`` with the analytic gradient of ``f`` for every parameter, with
            the parameter's shape (computed before calling ``gradcheck``).
        eps: the step of the central difference.
        max_entries: check at most this many randomly chosen entries per parameter
            (``None`` = all of them).
        seed: seeds the choice of entries.

    Returns ``{name: relative error}``, the largest entry-wise difference relative to the
    gradient's scale (see ``relative_error``). In float64 a correct gradient gives about
    1e-8 or less; a wrong one 1e-2 to 1.
    """
    return {name: w.error for name, w in
            _check(f, params, grads, eps, max_entries, seed).items()}


def assert_gradcheck(f, params: dict, grads: dict, eps: float = 1e-6, tol: float = 1e-6, *,
                     max_entries: int | None = None, seed: int = 0) -> dict[str, float]:
    """``gradcheck`` that raises ``GradcheckError`` (an ``AssertionError``) naming the worst
    entry (parameter, index, analytic and numerical values) when its relative error exceeds
    ``tol`` (the worst entry is the one with the largest ``|analytic - numerical|``). Returns the same dict as ``gradcheck`` when every parameter passes."""
    worst = _check(f, params, grads, eps, max_entries, seed)
    name, w = max(worst.items(), key=lambda kv: kv[1].error)
    if not w.error <= tol:
        raise GradcheckError(f"gradient check failed for {name!r} at index {w.index}: "
                             f"analytic {w.analytic:.6g}, numerical {w.numerical:.6g}, "
                             f"relative error {w.error:.3g} > tol {tol:g}")
    return {n: v.error for n, v in worst.items()}
