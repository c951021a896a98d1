"""How good is a language model? Cross-entropy (nats or bits per token) and perplexity."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["nll", "perplexity", "to_bits", "entropy"]


def nll(p_targets) -> float:
    """Mean negative log-likelihood in nats: ``-mean(log p)`` over the probabilities the
    model gave to the tokens that actually came, shape ``(N,)``. A zero probability gives
    ``inf`` (the model said the impossible happened), not an error."""
    p = np.asarray(p_targets, dtype=np.float64).reshape(-1)
    if p.size == 0:
        raise ValueError("p_targets is empty: there is nothing to score")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_targets must hold probabilities in [0, 1]")
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(p)))


def perplexity(loss_nats: float) -> float:
    """``exp(loss)``: the number of equally likely choices that would be as surprising."""
    return math.exp(loss_nats)


def to_bits(loss_nats: float) -> float:
    """Nats to bits: divide by ``ln 2``."""
    return loss_nats / math.log(2)


def entropy(p, axis: int = -1) -> np.ndarray | float:
    """Entropy in nats of the distribution(s) ``p`` along ``axis`` (``0 log 0 = 0``)."""
    p = np.asarray(p, dtype=np.float64)
    if (p < 0).any() or not np.allclose(p.sum(axis=axis), 1.0, atol=1e-6):
        raise ValueError(f"p must be non-negative and sum to 1 along axis {axis}")
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    out = terms.sum(axis=axis)
    return float(out) if np.ndim(out) == 0 else out
