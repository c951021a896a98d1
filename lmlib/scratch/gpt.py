"""A whole GPT forward pass in NumPy, from the weights of a PyTorch :class:`lmlib.models.GPT`.

    params = params_from_torch(model)                 # name -> float32 array
    logits = gpt_forward(params, ids, model.config)   # (B, T, V), equal to model(ids)[0]

The parameter names are the PyTorch model's (GPT-2's): ``transformer.wte.weight`` (V, C),
``transformer.wpe.weight`` (block_size, C), ``transformer.h.{i}.ln_1.weight`` ...,
``transformer.ln_f.weight``; the head reuses ``wte`` (weight tying).
"""

from __future__ import annotations

import numpy as np

from lmlib.data import check_ids
from lmlib.scratch.transformer import block_forward, layer_norm

__all__ = ["params_from_torch", "gpt_forward", "generate_greedy"]


def params_from_torch(model, dtype=np.float32) -> dict[str, np.ndarray]:
    """The model's state dict as NumPy arrays (float32 by default: picoGPT's lesson is that a
    float64 forward is several times slower for no gain in a forward pass)."""
    return {k: v.detach().cpu().numpy().astype(dtype) for k, v in model.state_dict().items()}


def _check_ids(ids, config) -> np.ndarray:
    ids = np.asarray(ids)
    ids = check_ids(ids[None] if ids.ndim == 1 else ids, "ids", ndim=2,
                    vocab_size=config.vocab_size)
    if ids.shape[1] > config.block_size:
        raise ValueError(f"ids has {ids.shape[1]} positions but block_size is "
                         f"{config.block_size}")
    return ids


def gpt_forward(params: dict, ids, config, return_attention: bool = False):
    """Logits (B, T, V) of a GPT for token ids (B, T) (or (T,), treated as B = 1).

    The same computation as :meth:`lmlib.models.GPT.forward` (in eval mode: no dropout):
    token + position embeddings, ``n_layer`` pre-LN blocks, a final LayerNorm, and the
    tied head ``x @ wte.T``. With ``return_attention`` also the attention weights of every
    layer, (n_layer, B, H, T, T).
    """
    ids = _check_ids(ids, config)
    T = ids.shape[1]
    wte = params["transformer.wte.weight"]                     # (V, C)
    x = wte[ids] + params["transformer.wpe.weight"][:T]        # (B, T, C)
    atts = []
    for i in range(config.n_layer):
        x, att = block_forward(x, params, config.n_head, prefix=f"transformer.h.{i}.")
        atts.append(att)
    x = layer_norm(x, params["transformer.ln_f.weight"], params.get("transformer.ln_f.bias"))
    logits = x @ wte.T                                         # (B, T, V)
    return (logits, np.stack(atts)) if return_attention else logits


def generate_greedy(params: dict, ids, config, max_new_tokens: int) -> np.ndarray:
    """Append ``max_new_tokens`` tokens, each the most likely next one (argmax), feeding at
    most the last ``block_size`` tokens. ``ids`` (T,) -> (T + max_new_tokens,)."""
    ids = list(_check_ids(ids, config)[0])
    for _ in range(max_new_tokens):
        logits = gpt_forward(params, np.array(ids[-config.block_size:]), config)
        ids.append(int(np.argmax(logits[0, -1])))
    return np.array(ids)
