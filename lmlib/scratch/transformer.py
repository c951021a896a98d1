"""The Transformer block in NumPy: LayerNorm (forward and backward), GELU, the feed-forward
block, causal self-attention and the pre-LN block of GPT-2.

Weights use PyTorch's layout and names, so a block reads its parameters straight from a
:class:`lmlib.models.GPT` state dict: a Linear layer ``name`` has ``name.weight`` of shape
``(out, in)`` and ``name.bias`` of shape ``(out,)``, applied as ``x @ W.T + b``.

Shapes: ``B`` batch, ``T`` positions, ``C`` channels, ``H`` heads.
"""

from __future__ import annotations

import math

import numpy as np

from lmlib.scratch.attention import (
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)

__all__ = ["layer_norm", "LayerNorm", "gelu", "gelu_backward", "linear", "feed_forward",
           "causal_self_attention", "block_forward"]


# ----------------------------------------------------------------------------- LayerNorm

def layer_norm(x, weight, bias=None, eps: float = 1e-5) -> np.ndarray:
    """Normalise each position's ``C`` features to mean 0 and variance 1, then scale by
    ``weight`` and shift by ``bias``: ``(x - mean) / sqrt(var + eps) * weight + bias``.
    ``x`` (..., C); ``weight``, ``bias`` (C,). The variance is the biased one (divide by C),
    as in ``torch.nn.LayerNorm``."""
    x = np.asarray(x)
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps) * weight
    return y + bias if bias is not None else y


class LayerNorm:
    """LayerNorm with a hand-written backward (the NumPy twin of ``torch.nn.LayerNorm``).

    ``params``: ``weight`` (C,) (starts at 1) and ``bias`` (C,) (starts at 0);
    :meth:`backward` fills ``grads`` with the same keys and returns ``dx``.
    """

    def __init__(self, n_features: int, eps: float = 1e-5, bias: bool = True,
                 dtype=np.float64):
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) \
                or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.n_features, self.eps = int(n_features), float(eps)
        self.params = {"weight": np.ones(n_features, dtype=dtype)}
        if bias:
            self.params["bias"] = np.zeros(n_features, dtype=dtype)
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def forward(self, x) -> np.ndarray:
        """``x`` (..., C) -> (..., C)."""
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.n_features:
            raise ValueError(f"x must have shape (..., {self.n_features}), got shape {x.shape}")
        mean = x.mean(axis=-1, keepdims=True)
        rstd = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)  # 1 / std
        xhat = (x - mean) * rstd                                         # normalised
        self._cache = (xhat, rstd)
        y = xhat * self.params["weight"]
        return y + self.params["bias"] if "bias" in self.params else y

    __call__ = forward

    def backward(self, dout) -> np.ndarray:
        """Gradient of the loss w.r.t. ``x``, given ``dout`` = dL/dy (..., C).

        With ``xhat = (x - mean) * rstd`` and ``g = dout * weight`` (the gradient reaching
        ``xhat``), the mean and the variance depend on every feature, which gives
        ``dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`` (means over the C features).
        """
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        xhat, rstd = self._cache
        dout = np.asarray(dout)
        if dout.shape != xhat.shape:
            raise ValueError(f"dout must have the output's shape {xhat.shape}, got {dout.shape}")
        flat = lambda a: a.reshape(-1, a.shape[-1])
        self.grads = {"weight": (flat(dout) * flat(xhat)).sum(axis=0)}
        if "bias" in self.params:
            self.grads["bias"] = flat(dout).sum(axis=0)
        g = dout * self.params["weight"]
        return rstd * (g - g.mean(axis=-1, keepdims=True)
                       - xhat * (g * xhat).mean(axis=-1, keepdims=True))

    def __repr__(self) -> str:
        return f"LayerNorm({self.n_features}, eps={self.eps})"


# ----------------------------------------------------------------------------- GELU

_C = math.sqrt(2.0 / math.pi)


def gelu(x) -> np.ndarray:
    """GELU in GPT-2's tanh form: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``
    (``torch.nn.GELU(approximate="tanh")``). It is ``x * Phi(x)`` to within 1e-3."""
    x = np.asarray(x)
    return 0.5 * x * (1.0 + np.tanh(_C * (x + 0.044715 * (x * x * x))))  # x*x*x: faster than x**3


def gelu_backward(dout, x) -> np.ndarray:
    """dL/dx of :func:`gelu` at ``x``, given ``dout`` = dL/dy."""
    x = np.asarray(x)
    u = _C * (x + 0.044715 * (x * x * x))
    t = np.tanh(u)
    du = _C * (1.0 + 3 * 0.044715 * x ** 2)
    return dout * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t ** 2) * du)


# ----------------------------------------------------------------------------- the block

def linear(x, weight, bias=None) -> np.ndarray:
    """``x @ weight.T + bias``: ``x`` (..., in), ``weight`` (out, in) as in ``nn.Linear``."""
    y = x @ weight.T
    return y + bias if bias is not None else y


def _get(params: dict, name: str):
    return params.get(name)


def feed_forward(x, params: dict, prefix: str = "mlp.") -> np.ndarray:
    """The position-wise feed-forward block: ``c_proj(gelu(c_fc(x)))``, C -> 4C -> C.
    ``x`` (B, T, C) -> (B, T, C); weights from ``params[prefix + "c_fc.weight"]`` etc."""
    h = gelu(linear(x, params[prefix + "c_fc.weight"], _get(params, prefix + "c_fc.bias")))
    return linear(h, params[prefix + "c_proj.weight"], _get(params, prefix + "c_proj.bias"))


def causal_self_attention(x, params: dict, n_head: int, prefix: str = "attn."):
    """GPT-2's attention: ``c_attn`` makes q, k, v in one matrix product, each head attends
    causally (lmlib.scratch.attention), ``c_proj`` mixes the heads.
    ``x`` (B, T, C) -> ``(y, weights)``: ``y`` (B, T, C), ``weights`` (B, H, T, T)."""
    B, T, C = x.shape
    qkv = linear(x, params[prefix + "c_attn.weight"], _get(params, prefix + "c_attn.bias"))
    q, k, v = np.split(qkv, 3, axis=-1)                          # each (B, T, C)
    q, k, v = (split_heads(a, n_head) for a in (q, k, v))        # each (B, H, T, C/H)
    heads, weights = scaled_dot_product_attention(q, k, v, causal_mask(T))
    y = linear(merge_heads(heads), params[prefix + "c_proj.weight"],
               _get(params, prefix + "c_proj.bias"))
    return y, weights


def block_forward(x, params: dict, n_head: int, prefix: str = "", eps: float = 1e-5):
    """One pre-LN Transformer block, as in GPT-2:
    ``x = x + attn(ln_1(x))`` then ``x = x + mlp(ln_2(x))``.
    ``x`` (B, T, C) -> ``(x, weights)`` with the attention weights (B, H, T, T)."""
    h = layer_norm(x, params[prefix + "ln_1.weight"], _get(params, prefix + "ln_1.bias"), eps)
    a, weights = causal_self_attention(h, params, n_head, prefix + "attn.")
    x = x + a
    h = layer_norm(x, params[prefix + "ln_2.weight"], _get(params, prefix + "ln_2.bias"), eps)
    x = x + feed_forward(h, params, prefix + "mlp.")
    return x, weights
