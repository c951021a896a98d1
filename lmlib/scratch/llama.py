"""The pieces that turn GPT-2 into a Llama-style model, in NumPy: RMSNorm (forward and
backward), rotary position embeddings (RoPE, in both layouts in use), the SwiGLU
feed-forward, grouped-query attention (``repeat_kv``), the block and the whole forward.

Weights use PyTorch's layout and the names of Hugging Face's ``LlamaForCausalLM`` (the same
as :class:`lmlib.models.Llama`): a Linear ``name`` has ``name.weight`` (out, in), applied as
``x @ W.T``; there are no biases. ``params_from_torch`` of :mod:`lmlib.scratch.gpt` turns a
model's state dict into these arrays.

Shapes: ``B`` batch, ``T`` positions, ``C`` channels (``n_embd``), ``H`` query heads,
``H_kv`` key/value heads, ``d`` the width of one head (``C // H``), ``V`` vocabulary.
"""

from __future__ import annotations

import numpy as np

from lmlib.scratch.attention import causal_mask, merge_heads, scaled_dot_product_attention
from lmlib.scratch.gpt import _check_ids
from lmlib.scratch.transformer import linear

__all__ = ["rms_norm", "rms_norm_backward", "rope_angles", "rope", "rope_permutation", "silu",
           "swiglu", "repeat_kv", "grouped_query_attention", "llama_block", "llama_forward"]

LAYOUTS = ("half", "interleaved")


# ----------------------------------------------------------------------------- RMSNorm

def rms_norm(x, weight, eps: float = 1e-6) -> np.ndarray:
    """Scale each position's ``C`` features by their root mean square, then by ``weight``:
    ``x / sqrt(mean(x^2) + eps) * weight``. No mean is subtracted and there is no bias.
    ``x`` (..., C); ``weight`` (C,)."""
    x = np.asarray(x)
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * weight


def rms_norm_backward(dout, x, weight, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`rms_norm`: ``(dx, dweight)`` given ``dout`` = dL/dy (..., C).

    With ``r = 1 / sqrt(mean(x^2) + eps)`` and ``g = dout * weight`` (the gradient reaching
    ``x * r``): ``dr/dx_j = -r^3 x_j / C``, so ``dx = r * (g - x * r^2 * mean(g * x))``;
    ``dweight`` sums ``dout * x * r`` over every position. (LayerNorm's backward has one more
    term, for the mean.)
    """
    x, dout = np.asarray(x), np.asarray(dout)
    if dout.shape != x.shape:
        raise ValueError(f"dout must have the shape of x {x.shape}, got {dout.shape}")
    r = 1.0 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)
    g = dout * weight
    dx = r * (g - x * r * r * (g * x).mean(axis=-1, keepdims=True))
    dweight = (dout * x * r).reshape(-1, x.shape[-1]).sum(axis=0)
    return dx, dweight


# ----------------------------------------------------------------------------- RoPE

def rope_angles(T: int, d: int, base: float = 10000.0, start: int = 0) -> np.ndarray:
    """The rotation angles of RoPE, shape ``(T, d // 2)``: position ``t`` (``start`` to
    ``start + T - 1``) turns pair ``i`` by ``t * base ** (-2i / d)``. Fast turns for the
    first pairs, slow ones for the last, like the sinusoidal positions of chapter 05."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2 or d % 2:
        raise ValueError(f"d (the head width) must be an even int >= 2, got {d!r}")
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
        raise ValueError(f"T must be an int >= 0, got {T!r}")
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base!r}")
    inv_freq = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,)
    t = np.arange(start, start + T, dtype=np.float64)
    return np.outer(t, inv_freq)                                   # (T, d/2)


def rope(x, start: int = 0, base: float = 10000.0, layout: str = "half") -> np.ndarray:
    """Rotate the query or key vectors ``x`` (..., T, d) by their positions ``start`` ..
    ``start + T - 1``.

    Each pair of features is a point in a plane, turned by the angle of its position and
    its pair (:func:`rope_angles`). Which features form a pair is the ``layout``:
    ``"interleaved"`` pairs ``(2i, 2i + 1)`` (the RoPE paper, Meta's Llama code);
    ``"half"`` pairs ``(i, i + d/2)`` (Hugging Face's ``rotate_half``).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., T, d), got shape {x.shape}")
    T, d = x.shape[-2:]
    angles = rope_angles(T, d, base, start)
    cos, sin = np.cos(angles), np.sin(angles)                     # (T, d/2)
    if layout == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
    else:
        a, b = x[..., :d // 2], x[..., d // 2:]
    ra, rb = a * cos - b * sin, a * sin + b * cos                  # the 2-D rotation
    if layout == "interleaved":
        return np.stack([ra, rb], axis=-1).reshape(x.shape)
    return np.concatenate([ra, rb], axis=-1)


def rope_permutation(d: int) -> np.ndarray:
    """The order of features that turns the interleaved layout into the half layout:
    ``[0, 2, 4, .., d-2, 1, 3, .., d-1]``. For any ``x`` (..., T, d),
    ``rope(x[..., p], layout="half") == rope(x, layout="interleaved")[..., p]``."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2 or d % 2:
        raise ValueError(f"d must be an even int >= 2, got {d!r}")
    return np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])


# ----------------------------------------------------------------------------- SwiGLU

def silu(x) -> np.ndarray:
    """SiLU (swish): ``x * sigmoid(x)``."""
    x = np.asarray(x)
    return x / (1.0 + np.exp(-x))


def swiglu(x, params: dict, prefix: str = "mlp.") -> np.ndarray:
    """The gated feed-forward of Llama: ``down(silu(gate(x)) * up(x))``, C -> n_inner -> C.
    ``x`` (B, T, C) -> (B, T, C). The gate decides, feature by feature, how much of ``up(x)``
    passes."""
    gate = silu(linear(x, params[prefix + "gate_proj.weight"]))
    return linear(gate * linear(x, params[prefix + "up_proj.weight"]),
                  params[prefix + "down_proj.weight"])


# ----------------------------------------------------------------------------- attention

def repeat_kv(x, n_rep: int) -> np.ndarray:
    """``(B, H_kv, T, d) -> (B, H_kv * n_rep, T, d)``: each key/value head is repeated
    ``n_rep`` times in place, so query heads ``j * n_rep`` .. ``(j + 1) * n_rep - 1`` share
    head ``j``. ``n_rep = 1`` is multi-head attention."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, H_kv, T, d), got shape {x.shape}")
    if isinstance(n_rep, bool) or not isinstance(n_rep, (int, np.integer)) or n_rep < 1:
        raise ValueError(f"n_rep must be an int >= 1, got {n_rep!r}")
    return np.repeat(x, n_rep, axis=1)


def _heads(x, n: int) -> np.ndarray:
    """``(B, T, n * d) -> (B, n, T, d)``."""
    B, T, D = x.shape
    return x.reshape(B, T, n, D // n).transpose(0, 2, 1, 3)


def grouped_query_attention(x, params: dict, n_head: int, n_kv_head: int,
                            prefix: str = "self_attn.", base: float = 10000.0,
                            layout: str = "half"):
    """Causal attention with ``n_head`` query heads sharing ``n_kv_head`` key/value heads
    (``n_kv_head == n_head``: multi-head; ``1``: multi-query). Queries and keys are rotated
    by RoPE, values are not. ``x`` (B, T, C) -> ``(y, weights)``: ``y`` (B, T, C),
    ``weights`` (B, H, T, T)."""
    if n_head % n_kv_head:
        raise ValueError(f"n_head ({n_head}) must be a multiple of n_kv_head ({n_kv_head})")
    T = x.shape[1]
    q = _heads(linear(x, params[prefix + "q_proj.weight"]), n_head)      # (B, H, T, d)
    k = _heads(linear(x, params[prefix + "k_proj.weight"]), n_kv_head)   # (B, H_kv, T, d)
    v = _heads(linear(x, params[prefix + "v_proj.weight"]), n_kv_head)
    q, k = rope(q, 0, base, layout), rope(k, 0, base, layout)
    k, v = repeat_kv(k, n_head // n_kv_head), repeat_kv(v, n_head // n_kv_head)
    heads, weights = scaled_dot_product_attention(q, k, v, causal_mask(T))
    return linear(merge_heads(heads), params[prefix + "o_proj.weight"]), weights


def llama_block(x, params: dict, config, prefix: str = ""):
    """One pre-norm Llama block: ``x + attn(rms_norm(x))``, then ``x + swiglu(rms_norm(x))``.
    ``x`` (B, T, C) -> ``(x, weights)``, weights (B, H, T, T)."""
    h = rms_norm(x, params[prefix + "input_layernorm.weight"], config.rms_norm_eps)
    a, weights = grouped_query_attention(h, params, config.n_head, config.n_kv_head,
                                         prefix + "self_attn.", config.rope_theta)
    x = x + a
    h = rms_norm(x, params[prefix + "post_attention_layernorm.weight"], config.rms_norm_eps)
    return x + swiglu(h, params, prefix + "mlp."), weights


def llama_forward(params: dict, ids, config, return_attention: bool = False):
    """Logits (B, T, V) of a Llama for token ids (B, T) (or (T,)), equal to
    ``lmlib.models.Llama(config)(ids)[0]``: token embedding (no position embedding: RoPE
    puts positions into attention), ``n_layer`` blocks, a final RMSNorm, the head
    (``lm_head.weight``, or the embedding when tied). With ``return_attention`` also the
    weights of every layer, (n_layer, B, H, T, T)."""
    ids = _check_ids(ids, config)
    x = params["model.embed_tokens.weight"][ids]                    # (B, T, C)
    atts = []
    for i in range(config.n_layer):
        x, att = llama_block(x, params, config, prefix=f"model.layers.{i}.")
        atts.append(att)
    x = rms_norm(x, params["model.norm.weight"], config.rms_norm_eps)
    head = params.get("lm_head.weight", params["model.embed_tokens.weight"])
    logits = x @ head.T                                             # (B, T, V)
    return (logits, np.stack(atts)) if return_attention else logits
