"""N-gram language models, counted vectorised in NumPy and stored sparsely.

An n-gram model predicts a token from the ``order - 1`` tokens before it (the Markov
assumption). Counting is done without a Python loop over tokens: each n-gram
``(t_0, ..., t_{n-1})`` becomes one integer ``t_0 V^{n-1} + ... + t_{n-1}`` (its digits in
base ``V``), and ``np.unique`` counts the integers. Only the n-grams that occur are stored
(sorted keys + counts), and lookups are ``np.searchsorted``.

    >>> lm = NGramLM(order=3).fit(ids, vocab_size=65)
    >>> lm.cross_entropy(val_ids)          # nats per token
    >>> lm.next_token_probs([12, 40])      # shape (65,), sums to 1

Smoothing:

- ``"mle"``: ``P(w | h) = c(h w) / c(h)``; an event never seen gets probability 0
  (loss ``inf``); a context never seen gets the uniform distribution.
- ``"add-k"``: ``P(w | h) = (c(h w) + k) / (c(h) + k V)``.
- ``"kneser-ney"``: interpolated Kneser-Ney with one absolute discount ``D``::

      P(w | h) = max(c(h w) - D, 0) / c(h)  +  D N1+(h .) / c(h) * P_lower(w | h')

  where ``h'`` is ``h`` without its first token, ``N1+(h .)`` the number of distinct tokens
  seen after ``h``, and the lower orders use *continuation counts* ``N1+(. h' w)`` (in how
  many distinct contexts ``h' w`` was seen) instead of ``c(h' w)``. The chain ends at the
  uniform distribution ``1 / V``. A context never seen passes its lower order through.
- ``"modified-kneser-ney"``: the same with three discounts ``D1, D2, D3+`` (for counts 1, 2
  and 3 or more), estimated per order from the count-of-counts ``n_r`` (Chen & Goodman)::

      Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3

Here ``c(h)`` is ``sum_w c(h w)``: how often ``h`` was followed by a token in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmlib import metrics
from lmlib.data import check_ids

__all__ = ["NGramLM", "ngram_codes", "count_ngrams", "modified_kn_discounts"]

SMOOTHINGS = ("kneser-ney", "modified-kneser-ney", "add-k", "mle")


def ngram_codes(ids: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """Every n-gram of the stream ``ids`` as one integer (its tokens are the digits in base V).

    ``ids`` has shape ``(N,)``; the result has shape ``(N - n + 1,)`` and entry ``s`` encodes
    ``ids[s : s + n]`` as ``ids[s] V^{n-1} + ... + ids[s+n-1]``. For ``n = 0`` every position
    ``s`` in ``0..N`` gets code 0 (the empty context).
    """
    ids = np.asarray(ids, dtype=np.int64)
    codes = np.zeros(len(ids) - n + 1, dtype=np.int64)
    for j in range(n):  # a loop over the n digits, not over the tokens
        codes = codes * vocab_size + ids[j : len(ids) - n + 1 + j]
    return codes


def count_ngrams(ids: np.ndarray, n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, counts)``: the distinct n-grams of ``ids`` as sorted integer codes (see
    ``ngram_codes``) and how often each occurs; both of shape ``(number of distinct n-grams,)``."""
    keys, counts = np.unique(ngram_codes(ids, n, vocab_size), return_counts=True)
    return keys, counts.astype(np.int32)


def modified_kn_discounts(counts: np.ndarray, fallback: float = 0.75) -> np.ndarray:
    """``[D1, D2, D3+]`` of modified Kneser-Ney from the counts of one order (Chen & Goodman).

    ``n_r`` is the number of distinct n-grams seen exactly ``r`` times. When some ``n_r``
    (r = 1..4) is zero, or a discount would fall outside ``(0, r)``, the estimate is
    meaningless (tiny corpora) and all three discounts are ``fallback``.
    """
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == r)) for r in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return np.full(3, fallback)
    y = n1 / (n1 + 2 * n2)
    d = np.array([1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3])
    if not np.all((d > 0) & (d < np.array([1, 2, 3]))):
        return np.full(3, fallback)
    return d


@dataclass
class _Table:
    """The counts of one order m: ``keys`` (sorted m-gram codes) with ``counts``, and per
    distinct context (the first m - 1 tokens): its code, total count and how many distinct
    next tokens it was seen with once, twice, three or more times."""

    keys: np.ndarray      # (K,) int64, sorted
    counts: np.ndarray    # (K,) int32
    ctx: np.ndarray       # (C,) int64, sorted context codes
    total: np.ndarray     # (C,) int32, c(h) = sum_w c(h w)
    types: np.ndarray     # (C, 3) int32, N1(h .), N2(h .), N3+(h .)

    @classmethod
    def from_counts(cls, keys, counts, vocab_size):
        """Build the table from sorted, non-empty ``keys`` and their ``counts``."""
        counts = counts.astype(np.int32)
        ctx_of_key = keys // vocab_size              # sorted, since keys are
        starts = np.flatnonzero(np.r_[True, ctx_of_key[1:] != ctx_of_key[:-1]])
        buckets = np.stack([counts == 1, counts == 2, counts >= 3], axis=1).astype(np.int32)
        total = np.add.reduceat(counts, starts).astype(np.int32)
        types = np.add.reduceat(buckets, starts, axis=0).astype(np.int32)
        return cls(keys, counts, ctx_of_key[starts], total, types)

    def lookup(self, codes):
        """Counts of the m-grams ``codes`` (0 where never seen); shape of ``codes``."""
        i, found = _find(self.keys, codes)
        return np.where(found, self.counts[i], 0)

    def context_stats(self, ctx_codes):
        """``(total, types)`` of the contexts ``ctx_codes`` (Q,): shapes ``(Q,)``, ``(Q, 3)``;
        zeros for a context never seen."""
        i, found = _find(self.ctx, ctx_codes)
        return np.where(found, self.total[i], 0), np.where(found[:, None], self.types[i], 0)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.keys, self.counts, self.ctx, self.total, self.types))


def _find(keys, codes):
    """Where each of ``codes`` sits in the sorted, non-empty ``keys``: ``(index, found)``."""
    i = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
    return i, keys[i] == codes


class NGramLM:
    """A character (or any token) n-gram language model.

    Parameters
    ----------
    order : int >= 1
        n: each token is predicted from the ``order - 1`` tokens before it.
    smoothing : ``"kneser-ney"`` (default), ``"modified-kneser-ney"``, ``"add-k"`` or ``"mle"``.
    k : float > 0
        the pseudo-count of ``"add-k"``.
    discount : float in (0, 1)
        the absolute discount D of ``"kneser-ney"`` (and the fallback of the modified one).
    """

    def __init__(self, order: int, smoothing: str = "kneser-ney", k: float = 1.0,
                 discount: float = 0.75):
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
            raise TypeError(f"order must be an int, got {type(order).__name__}")
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, got {smoothing!r}")
        for name, value in (("k", k), ("discount", discount)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not np.isfinite(k) or k <= 0:
            raise ValueError(f"k must be a positive number (the add-k pseudo-count), got {k}")
        if not np.isfinite(discount) or not 0 < discount < 1:
            raise ValueError(f"discount must lie in the open interval (0, 1), got {discount}")
        self.order, self.smoothing = int(order), smoothing
        self.k, self.discount = float(k), float(discount)
        self.vocab_size: int | None = None
        self.tables: list[_Table] = []      # raw counts, orders 1..n (index m - 1)
        self.cont: list[_Table] = []        # continuation counts, orders 1..n-1 (Kneser-Ney)
        self.discounts: list[np.ndarray] = []  # [D1, D2, D3+] for orders 1..n (Kneser-Ney)

    def __repr__(self) -> str:
        fitted = f", vocab_size={self.vocab_size}" if self.vocab_size else ", not fitted"
        return f"NGramLM(order={self.order}, smoothing={self.smoothing!r}{fitted})"

    # ------------------------------------------------------------------ checks
    def _check_ids(self, ids, vocab_size, name="ids") -> np.ndarray:
        return check_ids(ids, name, ndim=1, vocab_size=vocab_size)

    def _check_fitted(self):
        if self.vocab_size is None:
            raise ValueError("this NGramLM is not fitted yet: call .fit(ids, vocab_size) first")

    # ------------------------------------------------------------------ fitting
    def fit(self, ids: np.ndarray, vocab_size: int) -> NGramLM:
        """Count every n-gram of orders 1..``order`` in the stream ``ids`` (shape ``(N,)``,
        ids in ``[0, vocab_size)``). Returns ``self``."""
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        if float(vocab_size) ** self.order >= 2.0 ** 62:
            raise ValueError(f"vocab_size ** order = {vocab_size}**{self.order} does not fit the "
                             f"int64 n-gram codes; use a smaller order or vocabulary")
        ids = self._check_ids(ids, vocab_size)
        if len(ids) < self.order:
            raise ValueError(f"ids has {len(ids)} tokens, fewer than order={self.order}: "
                             f"the stream must hold at least one {self.order}-gram")
        V, n = int(vocab_size), self.order
        raw = [count_ngrams(ids, m, V) for m in range(1, n + 1)]
        self.tables = [_Table.from_counts(keys, counts, V) for keys, counts in raw]
        self.cont = []
        for m in range(1, n):
            # N1+(. w_1..w_m): how many distinct tokens precede the m-gram, i.e. how many
            # distinct (m+1)-grams end with it. Those keys are unique, so count their suffixes.
            suffix = raw[m][0] % V ** m
            self.cont.append(_Table.from_counts(*np.unique(suffix, return_counts=True), V))
        counted = [t.counts for t in self.cont] + [self.tables[-1].counts]
        if self.smoothing == "modified-kneser-ney":
            self.discounts = [modified_kn_discounts(c, self.discount) for c in counted]
        else:
            self.discounts = [np.full(3, self.discount) for _ in counted]
        self.vocab_size = V
        return self

    # ------------------------------------------------------------------ probabilities
    def _prob(self, ctx: np.ndarray, w: np.ndarray, top: int) -> np.ndarray:
        """P(w | ctx) for Q queries at once. ``ctx`` (Q,) codes the last ``top - 1`` tokens,
        ``w`` (Q,) the next token; shapes (Q,). ``top`` is the order used (<= self.order)."""
        V = self.vocab_size
        if self.smoothing in ("add-k", "mle"):
            table = self.tables[top - 1]
            a = table.lookup(ctx * V + w)
            total, _ = table.context_stats(ctx)
            if self.smoothing == "add-k":
                return (a + self.k) / (total + self.k * V)
            return np.where(total > 0, a / np.maximum(total, 1), 1.0 / V)
        p = np.full(len(w), 1.0 / V)                 # the chain starts at the uniform
        for m in range(1, top + 1):
            table = self.tables[m - 1] if m == top else self.cont[m - 1]
            h = ctx % V ** (m - 1)                   # the last m - 1 tokens of the context
            a = table.lookup(h * V + w)
            total, types = table.context_stats(h)
            d = self.discounts[m - 1]
            d_of_a = d[np.minimum(a, 3) - 1]         # D1, D2 or D3+ by count (unused at a=0)
            seen = total > 0
            denom = np.maximum(total, 1)
            p = np.where(seen, (np.maximum(a - d_of_a, 0) * (a > 0) + (types @ d) * p) / denom, p)
        return p

    def _as_context(self, context) -> np.ndarray:
        ctx = np.asarray(context)
        if ctx.size == 0:
            ctx = ctx.astype(np.int64).reshape(0)
        return self._check_ids(ctx, self.vocab_size, "context")

    def _context_code(self, context) -> tuple[int, int]:
        ctx = self._as_context(context)
        ctx = ctx[len(ctx) - min(len(ctx), self.order - 1):]
        code = 0
        for t in ctx:
            code = code * self.vocab_size + int(t)
        return code, len(ctx) + 1

    def next_token_probs(self, context: Sequence[int] = ()) -> np.ndarray:
        """The distribution of the next token after ``context``: shape ``(vocab_size,)``, sums
        to 1. Only the last ``order - 1`` tokens count; a shorter context uses the model of
        order ``len(context) + 1`` (for Kneser-Ney: with raw counts at that order)."""
        self._check_fitted()
        code, top = self._context_code(context)
        V = self.vocab_size
        return self._prob(np.full(V, code, dtype=np.int64), np.arange(V), top)

    def _positions(self, ids) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        ids = self._check_ids(ids, self.vocab_size)
        if len(ids) < self.order:
            raise ValueError(f"ids has {len(ids)} tokens, fewer than order={self.order}: "
                             f"nothing to score")
        ctx = ngram_codes(ids[:-1], self.order - 1, self.vocab_size)
        return ctx, ids[self.order - 1:]

    def log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``log P(ids[t] | ids[t-order+1 : t])`` in nats for every ``t >= order - 1``:
        shape ``(N - order + 1,)``; ``-inf`` for an event of probability 0 (only ``"mle"``)."""
        ctx, w = self._positions(ids)
        with np.errstate(divide="ignore"):
            return np.log(self._prob(ctx, w, self.order))

    def context_counts(self, ids: np.ndarray) -> np.ndarray:
        """How often the context of each scored position of ``ids`` (its ``order - 1`` tokens)
        was followed by a token in training: shape ``(N - order + 1,)``; 0 = never seen."""
        ctx, _ = self._positions(ids)
        return self.tables[-1].context_stats(ctx)[0]

    def cross_entropy(self, ids: np.ndarray) -> float:
        """Mean negative log-likelihood, in nats per token, of ``ids[order-1:]``, each token
        predicted from the ``order - 1`` tokens before it (``inf`` if one has probability 0)."""
        return float(-np.mean(self.log_probs(ids)))

    def perplexity(self, ids: np.ndarray) -> float:
        """``exp(cross_entropy(ids))``: the effective number of equally likely choices."""
        return metrics.perplexity(self.cross_entropy(ids))

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator, context: Sequence[int] = ()) -> np.ndarray:
        """``n`` new tokens drawn one at a time after ``context``: int64 array of shape ``(n,)``
        (the context is not included). Same ``rng`` state, same tokens."""
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
        history = [int(t) for t in self._as_context(context)]
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            p = self.next_token_probs(history[max(0, len(history) - self.order + 1):])
            out[i] = rng.choice(self.vocab_size, p=p)
            history.append(int(out[i]))
        return out

    # ------------------------------------------------------------------ size
    @property
    def num_ngrams(self) -> int:
        """Distinct n-grams stored, all orders together (raw tables only)."""
        self._check_fitted()
        return int(sum(len(t.keys) for t in self.tables))

    @property
    def nbytes(self) -> int:
        """Bytes of every array the fitted model keeps (keys, counts, context statistics)."""
        self._check_fitted()
        return int(sum(t.nbytes for t in self.tables + self.cont))
