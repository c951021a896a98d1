"""Attention in NumPy, written by hand: scaled dot-product attention (forward and backward),
masks, sinusoidal positions and multi-head attention.

Shapes follow the course's conventions: ``B`` batch, ``H`` heads, ``T`` positions (``T_q``
queries, ``T_k`` keys), ``D`` model width, ``d`` width of one head.

Masks are boolean and ``True`` means *may attend* (the opposite of the boolean
``attn_mask`` of ``torch.nn.MultiheadAttention``, the same as the boolean ``attn_mask`` of
``torch.nn.functional.scaled_dot_product_attention``).

A query whose every key is masked has nothing to attend to. Here such a row gets all-zero
weights and an all-zero output (and zero gradients), never NaN: the softmax is taken over
an empty set, and we define the empty weighted average as zero (recent PyTorch versions
of ``scaled_dot_product_attention`` do the same).

    >>> q = k = v = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    >>> out, w = scaled_dot_product_attention(q, k, v)
    >>> np.round(w, 4)
    array([[0.474 , 0.526 ],
           [0.4354, 0.5646]])
"""

from __future__ import annotations

import math

import numpy as np

from lmlib.scratch.layers import as_rng

__all__ = [
    "causal_mask",
    "sinusoidal_positions",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "split_heads",
    "merge_heads",
    "MultiHeadAttention",
]


# ----------------------------------------------------------------------------- masks, positions

def causal_mask(T: int) -> np.ndarray:
    """The causal mask, a boolean ``(T, T)`` array: ``mask[i, j]`` is True when query ``i``
    may attend to key ``j``, i.e. when ``j <= i`` (lower-triangular, diagonal included)."""
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    return np.tril(np.ones((T, T), dtype=bool))


def sinusoidal_positions(T: int, d: int, base: float = 10000.0) -> np.ndarray:
    """The sinusoidal position encodings of "Attention Is All You Need", shape ``(T, d)``.

    Column pair ``(2i, 2i+1)`` holds ``sin(t * w_i)`` and ``cos(t * w_i)`` with frequency
    ``w_i = base ** (-2i / d)``: fast waves in the first columns, slow ones in the last.
    For odd ``d`` the last column is a sine.
    """
    for name, val in (("T", T), ("d", d)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    t = np.arange(T, dtype=np.float64)[:, None]             # (T, 1)
    two_i = np.arange(0, d, 2, dtype=np.float64)[None, :]   # (1, ceil(d/2))
    angles = t * base ** (-two_i / d)                        # (T, ceil(d/2))
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d // 2])
    return pe


# ----------------------------------------------------------------------------- attention

def _check_qkv(q, k, v, mask):
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    for name, a in (("q", q), ("k", k), ("v", v)):
        if a.ndim < 2:
            raise ValueError(f"{name} must have shape (..., T, d) with at least 2 dimensions, "
                             f"got shape {a.shape}")
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"{name} must be a float array, got dtype {a.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same feature size d (last axis): "
                         f"q has shape {q.shape}, k has shape {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of positions T_k (axis -2): "
                         f"k has shape {k.shape}, v has shape {v.shape}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"the leading (batch) axes of q, k and v must broadcast: got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}") from None
    scores_shape = batch + (q.shape[-2], k.shape[-2])
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be a boolean array (True = may attend), "
                            f"got dtype {mask.dtype}")
        try:
            ok = np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"mask of shape {mask.shape} does not broadcast to the attention "
                             f"scores' shape (..., T_q, T_k) = {scores_shape}")
    return q, k, v, mask


def _masked_softmax(scores: np.ndarray, mask) -> np.ndarray:
    """Softmax over the last axis that gives weight 0 to masked entries; a row with every
    entry masked gets all zeros (not NaN)."""
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    row_max = scores.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # fully masked row: max is -inf
    e = np.exp(scores - row_max)                              # exp(-inf) = 0 for masked cells
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)                # 0 / 1 = 0 on empty rows


def scaled_dot_product_attention(q, k, v, mask=None, *, scale: float | None = None):
    """Scaled dot-product attention, ``softmax(q k^T / sqrt(d) + mask) v``.

    Args:
        q: queries, ``(..., T_q, d)``.
        k: keys, ``(..., T_k, d)``.
        v: values, ``(..., T_k, d_v)``.
        mask: optional boolean array broadcastable to ``(..., T_q, T_k)``; ``True`` = may
            attend. A query row with every key masked gets zero weights and zero output.
        scale: the factor multiplying the scores, ``1 / sqrt(d)`` by default.

    Returns:
        ``(out, weights)``: ``out`` is ``(..., T_q, d_v)`` and ``weights`` is
        ``(..., T_q, T_k)`` with each unmasked row summing to 1.
    """
    q, k, v, mask = _check_qkv(q, k, v, mask)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ np.swapaxes(k, -1, -2)) * scale    # (..., T_q, T_k)
    weights = _masked_softmax(scores, mask)         # (..., T_q, T_k)
    out = weights @ v                               # (..., T_q, d_v)
    return out, weights


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def scaled_dot_product_attention_backward(dout, q, k, v, weights, *,
                                          scale: float | None = None):
    """Gradients of :func:`scaled_dot_product_attention` with respect to ``q``, ``k``, ``v``.

    Args:
        dout: gradient of the loss with respect to ``out``, ``(..., T_q, d_v)``.
        q, k, v: the forward's inputs.
        weights: the forward's attention weights ``P``, ``(..., T_q, T_k)``.
        scale: the same scale as in the forward (``1 / sqrt(d)`` by default).

    Returns:
        ``(dq, dk, dv)`` with the shapes of ``q``, ``k``, ``v``.

    With ``S = scale * q k^T``, ``P = softmax(S)``, ``out = P v``:
    ``dv = P^T dout``, ``dP = dout v^T``, ``dS = P * (dP - sum_j(dP * P))`` (the softmax
    Jacobian row by row), ``dq = scale * dS k`` and ``dk = scale * dS^T q``. Masked entries
    have ``P = 0`` and so ``dS = 0``: the mask needs no special case.
    """
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    dout, weights = np.asarray(dout), np.asarray(weights)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    dv = np.swapaxes(weights, -1, -2) @ dout                       # (..., T_k, d_v)
    dP = dout @ np.swapaxes(v, -1, -2)                             # (..., T_q, T_k)
    dS = weights * (dP - (dP * weights).sum(axis=-1, keepdims=True))
    dq = scale * (dS @ k)                                          # (..., T_q, d)
    dk = scale * (np.swapaxes(dS, -1, -2) @ q)                     # (..., T_k, d)
    return (_unbroadcast(dq, q.shape), _unbroadcast(dk, k.shape), _unbroadcast(dv, v.shape))


# ----------------------------------------------------------------------------- heads

def split_heads(x: np.ndarray, n_head: int) -> np.ndarray:
    """``(B, T, D) -> (B, H, T, D / H)``: cut the last axis into ``H`` slices of width
    ``D / H`` and move the head axis in front of the positions."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., T, D), got shape {x.shape}")
    *lead, T, D = x.shape
    if n_head < 1 or D % n_head:
        raise ValueError(f"the width D={D} of x (shape {x.shape}) must be divisible by "
                         f"n_head={n_head}")
    return np.swapaxes(x.reshape(*lead, T, n_head, D // n_head), -2, -3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """``(B, H, T, d) -> (B, T, H * d)``: the inverse of :func:`split_heads`."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"x must have shape (..., H, T, d), got shape {x.shape}")
    *lead, H, T, d = x.shape
    return np.swapaxes(x, -2, -3).reshape(*lead, T, H * d)


class MultiHeadAttention:
    """Multi-head attention in NumPy, with a hand-written backward.

    ``out = concat_h(attention(x_q W_q^h, x_k W_k^h, x_v W_v^h)) W_o``, plus biases. Weights
    are stored as ``(D_out, D_in)`` and used as ``x @ W.T``, the layout of ``torch.nn.Linear``
    and of :class:`lmlib.scratch.layers.Linear`; :meth:`from_torch` copies a
    ``torch.nn.MultiheadAttention``.

    Parameters live in ``self.params`` (``w_q, w_k, w_v, w_o`` of shape ``(D, D)`` and
    ``b_q, b_k, b_v, b_o`` of shape ``(D,)``); :meth:`backward` fills ``self.grads`` with
    the same keys.

    Self-attention: ``mha(x)``; cross-attention: ``mha(x, memory, memory)`` (queries from
    ``x``, keys and values from ``memory``).
    """

    def __init__(self, n_embd: int, n_head: int, bias: bool = True, rng=None,
                 dtype=np.float64):
        for name, val in (("n_embd", n_embd), ("n_head", n_head)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"{name} must be a positive integer, got {val!r}")
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
        rng = as_rng(rng)
        self.n_embd, self.n_head, self.bias = int(n_embd), int(n_head), bool(bias)
        self.head_dim = self.n_embd // self.n_head
        bound = math.sqrt(6.0 / (2 * n_embd))  # Xavier-uniform, as torch initialises it
        self.params = {}
        for name in ("q", "k", "v", "o"):
            w = rng.uniform(-bound, bound, (n_embd, n_embd))  # drawn (in, out), stored (out, in)
            self.params[f"w_{name}"] = np.ascontiguousarray(w.T).astype(dtype)
            if bias:
                self.params[f"b_{name}"] = np.zeros(n_embd, dtype=dtype)
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    # -- helpers
    def _linear(self, x, name):
        y = x @ self.params[f"w_{name}"].T
        return y + self.params[f"b_{name}"] if self.bias else y

    def _check_input(self, name, x):
        x = np.asarray(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.n_embd:
            raise ValueError(f"{name} must have shape (B, T, {self.n_embd}) or "
                             f"(T, {self.n_embd}), got shape {x.shape}")
        return x

    # -- forward / backward
    def forward(self, query, key=None, value=None, mask=None):
        """Args: ``query`` ``(B, T_q, D)`` (or ``(T_q, D)``); ``key``, ``value``
        ``(B, T_k, D)``, both default to ``query`` (self-attention); ``mask`` boolean,
        broadcastable to ``(B, H, T_q, T_k)``, True = may attend.

        Returns ``(out, weights)``: ``out`` ``(B, T_q, D)`` and the per-head attention
        weights ``(B, H, T_q, T_k)`` (without the batch axis for unbatched input)."""
        self_attention = key is None and value is None
        key = query if key is None else key
        value = key if value is None else value
        xq = self._check_input("query", query)
        xk = self._check_input("key", key)
        xv = self._check_input("value", value)
        if not (xq.ndim == xk.ndim == xv.ndim):
            raise ValueError(f"query, key and value must all be batched or all unbatched, got "
                             f"shapes {xq.shape}, {xk.shape}, {xv.shape}")
        if xk.shape[:-1] != xv.shape[:-1]:
            raise ValueError(f"key and value must have the same (B, T_k), got shapes "
                             f"{xk.shape} and {xv.shape}")
        unbatched = xq.ndim == 2
        if unbatched:
            xq, xk, xv = xq[None], xk[None], xv[None]
        H = self.n_head
        q = split_heads(self._linear(xq, "q"), H)    # (B, H, T_q, d)
        k = split_heads(self._linear(xk, "k"), H)    # (B, H, T_k, d)
        v = split_heads(self._linear(xv, "v"), H)    # (B, H, T_k, d)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)
        merged = merge_heads(heads)                   # (B, T_q, D)
        out = self._linear(merged, "o")
        self._cache = (xq, xk, xv, q, k, v, weights, merged, unbatched, self_attention)
        if unbatched:
            return out[0], weights[0]
        return out, weights

    __call__ = forward

    def backward(self, dout):
        """Gradient of the loss with respect to the inputs of the last :meth:`forward`;
        fills ``self.grads``. Returns ``dx`` for self-attention, else
        ``(dquery, dkey, dvalue)``."""
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        xq, xk, xv, q, k, v, weights, merged, unbatched, self_attention = self._cache
        dout = np.asarray(dout)
        if unbatched:
            dout = dout[None]
        p = self.params
        flat = lambda a: a.reshape(-1, a.shape[-1])
        self.grads = {"w_o": flat(dout).T @ flat(merged)}       # (D_out, D_in)
        dmerged = dout @ p["w_o"]
        dq, dk, dv = scaled_dot_product_attention_backward(
            split_heads(dmerged, self.n_head), q, k, v, weights)
        dx = {}
        for name, x, dh in (("q", xq, dq), ("k", xk, dk), ("v", xv, dv)):
            dy = merge_heads(dh)                       # (B, T, D)
            self.grads[f"w_{name}"] = flat(dy).T @ flat(x)
            if self.bias:
                self.grads[f"b_{name}"] = flat(dy).sum(axis=0)
            dx[name] = dy @ p[f"w_{name}"]
        if self.bias:
            self.grads["b_o"] = flat(dout).sum(axis=0)
        if unbatched:
            dx = {name: g[0] for name, g in dx.items()}
        if self_attention:
            return dx["q"] + dx["k"] + dx["v"]
        return dx["q"], dx["k"], dx["v"]

    # -- PyTorch interop
    @classmethod
    def from_torch(cls, module) -> MultiHeadAttention:
        """A NumPy copy (float64) of a ``torch.nn.MultiheadAttention`` whose query, key
        and value widths all equal ``embed_dim`` (no ``kdim``/``vdim``, no ``add_bias_kv``).
        Dropout is not copied: the NumPy version has none."""
        import torch

        if not isinstance(module, torch.nn.MultiheadAttention):
            raise TypeError(f"module must be a torch.nn.MultiheadAttention, "
                            f"got {type(module).__name__}")
        if not module._qkv_same_embed_dim:
            raise ValueError("only kdim == vdim == embed_dim is supported")
        if module.bias_k is not None:
            raise ValueError("add_bias_kv=True is not supported")
        bias = module.in_proj_bias is not None
        mha = cls(module.embed_dim, module.num_heads, bias=bias)
        D = module.embed_dim
        w = module.in_proj_weight.detach().double().cpu().numpy()   # (3D, D), rows = outputs
        for i, name in enumerate("qkv"):
            mha.params[f"w_{name}"] = w[i * D:(i + 1) * D].copy()
            if bias:
                mha.params[f"b_{name}"] = (
                    module.in_proj_bias.detach().double().cpu().numpy()[i * D:(i + 1) * D].copy())
        mha.params["w_o"] = module.out_proj.weight.detach().double().cpu().numpy().copy()
        if bias:
            mha.params["b_o"] = module.out_proj.bias.detach().double().cpu().numpy().copy()
        return mha

    def __repr__(self) -> str:
        return (f"MultiHeadAttention(n_embd={self.n_embd}, n_head={self.n_head}, "
                f"bias={self.bias})")
