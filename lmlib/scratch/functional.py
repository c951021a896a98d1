"""Softmax, log-softmax and cross-entropy in NumPy, written for numerical stability.

    from lmlib.scratch import functional as F
    probs = F.softmax(logits)                       # (N, V), rows sum to 1
    loss, dlogits = F.cross_entropy(logits, targets)  # mean loss and its gradient

The gradient of the mean cross-entropy with respect to the logits is ``(softmax(logits) -
onehot(targets)) / N``: the famous ``p - y``, divided by the number of positions because the
loss is a mean.
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "log_softmax", "cross_entropy"]


def _as_float_array(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
            x = x.astype(np.float64)
        else:
            raise TypeError(f"{name} must be an array of real numbers, got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis, got a scalar")
    return x


def softmax(x, axis: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed stably.

    Subtracting the maximum first changes nothing mathematically (the factor ``exp(-max)``
    cancels) but keeps every ``exp`` in ``(0, 1]``, so large logits cannot overflow to ``inf``.
    Shape in = shape out, e.g. ``(N, V) -> (N, V)``.
    """
    x = _as_float_array(x, "x")
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` along ``axis`` with the log-sum-exp trick:
    ``x - m - log(sum(exp(x - m)))`` where ``m = max(x)``.

    Never takes the log of an underflowed zero, so it stays finite where
    ``np.log(softmax(x))`` gives ``-inf``. Shape in = shape out.
    """
    x = _as_float_array(x, "x")
    m = x.max(axis=axis, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def cross_entropy(logits, targets) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``targets`` under ``softmax(logits)`` and its gradient.

    Args:
        logits: real array ``(N, V)`` (or ``(..., V)``, e.g. ``(B, T, V)``): one row of
            unnormalised scores per position.
        targets: integer array ``(N,)`` (or ``logits.shape[:-1]``) with values in ``[0, V)``.

    Returns:
        ``(loss, dlogits)``: the mean over positions of ``-log p[target]`` as a Python float,
        and ``d loss / d logits`` with the shape of ``logits``, equal to
        ``(softmax(logits) - onehot(targets)) / N`` with ``N`` the number of positions.

    Raises ``ValueError`` when the shapes disagree, a target is outside ``[0, V)`` or a logit
    is not finite; ``TypeError`` when the targets are not integers.
    """
    logits = _as_float_array(logits, "logits")
    targets = np.asarray(targets)
    if logits.ndim < 2:
        raise ValueError(f"logits must have shape (N, V), got shape {logits.shape}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have shape {logits.shape[:-1]} to match logits of "
                         f"shape {logits.shape}, got shape {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets must be integer class ids, got dtype {targets.dtype}")
    V = logits.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= V):
        raise ValueError(f"targets must lie in [0, {V}) for logits of shape {logits.shape}, "
                         f"got values in [{targets.min()}, {targets.max()}]")
    if not np.isfinite(logits).all():
        bad = np.argwhere(~np.isfinite(logits))[0]
        raise ValueError(f"logits must be finite, got {logits[tuple(bad)]} at index "
                         f"{tuple(int(i) for i in bad)} of logits with shape {logits.shape}")
    flat = logits.reshape(-1, V)
    t = targets.reshape(-1)
    n = flat.shape[0]
    if n == 0:
        raise ValueError(f"logits must hold at least one position, got shape {logits.shape}")
    logp = log_softmax(flat, axis=-1)                    # (N, V)
    loss = -logp[np.arange(n), t].mean()
    dlogits = np.exp(logp)                               # softmax, (N, V)
    dlogits[np.arange(n), t] -= 1.0                      # p - y
    dlogits /= n                                         # the loss is a mean
    return float(loss), dlogits.reshape(logits.shape)
