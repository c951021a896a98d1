"""The MLP language model in PyTorch: the twin of ``lmlib.scratch.mlp.MLPLM``.

Same layers, same parameter names (``emb.weight``, ``hidden.weight``, ``hidden.bias``,
``out.weight``, ``out.bias``) and same layouts, so the NumPy weights load one to one:

    torch_model = MLPLM.from_numpy(numpy_model)     # float64 copy of the NumPy weights
    logits, loss = torch_model(torch.from_numpy(X), torch.from_numpy(Y))
    loss.backward()                                 # autograd fills p.grad
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["MLPLM"]


class MLPLM(nn.Module):
    """Embedding -> Linear -> tanh -> Linear over the last ``block_size`` tokens.

    Shapes: ``idx`` ``(B, T)`` -> ``emb`` ``(B, T, C)`` -> ``(B, T*C)`` -> ``hidden``
    ``(B, H)`` -> ``out`` ``(B, V)``. The initialisation follows the NumPy twin's recipe
    (embeddings ``N(0, 1)``, ``hidden.weight ~ N(0, 1/(T*C))``, ``out.weight`` scaled by
    ``out_scale``, biases 0); the random numbers themselves differ, so use ``from_numpy`` to
    get the very same weights.
    """

    def __init__(self, vocab_size: int, block_size: int = 3, n_embd: int = 10,
                 n_hidden: int = 200, out_scale: float = 0.1):
        super().__init__()
        for name, value in [("vocab_size", vocab_size), ("block_size", block_size),
                            ("n_embd", n_embd), ("n_hidden", n_hidden)]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_embd, self.n_hidden = n_embd, n_hidden
        self.emb = nn.Embedding(vocab_size, n_embd)
        self.hidden = nn.Linear(block_size * n_embd, n_hidden)
        self.out = nn.Linear(n_hidden, vocab_size)
        with torch.no_grad():
            nn.init.normal_(self.emb.weight)
            nn.init.normal_(self.hidden.weight, std=1 / math.sqrt(block_size * n_embd))
            nn.init.normal_(self.out.weight, std=out_scale / math.sqrt(n_hidden))
            nn.init.zeros_(self.hidden.bias)
            nn.init.zeros_(self.out.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """``idx`` long ``(B, T)`` -> ``(logits (B, V), loss)``; ``loss`` is the mean
        cross-entropy against ``targets`` ``(B,)``, or ``None`` without targets."""
        if idx.dim() != 2 or idx.shape[1] != self.block_size:
            raise ValueError(f"idx must have shape (B, {self.block_size}), "
                             f"got {tuple(idx.shape)}")
        x = self.emb(idx).view(idx.shape[0], -1)          # (B, T*C)
        h = torch.tanh(self.hidden(x))                     # (B, H)
        logits = self.out(h)                               # (B, V)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    @classmethod
    def from_numpy(cls, model) -> MLPLM:
        """A PyTorch copy of a ``lmlib.scratch.mlp.MLPLM`` (same sizes, same weights, same
        dtype as the NumPy arrays)."""
        twin = cls(model.vocab_size, model.block_size, model.n_embd, model.n_hidden)
        twin.load_numpy(model.params)
        return twin

    def load_numpy(self, params: dict) -> None:
        """Copy ``{name: np.ndarray}`` (the NumPy twin's ``params``) into this model; the
        model takes the arrays' dtype. Names and shapes must match exactly."""
        own = dict(self.named_parameters())
        missing, extra = sorted(set(own) - set(params)), sorted(set(params) - set(own))
        if missing or extra:
            raise ValueError(f"params must have exactly the names {sorted(own)}; "
                             f"missing {missing}, unexpected {extra}")
        for name, p in own.items():
            if tuple(np.shape(params[name])) != tuple(p.shape):
                raise ValueError(f"params[{name!r}] has shape {np.shape(params[name])}, "
                                 f"expected {tuple(p.shape)}")
        dtype = torch.from_numpy(np.asarray(next(iter(params.values())))).dtype
        self.to(dtype)
        with torch.no_grad():
            for name, p in own.items():
                p.copy_(torch.from_numpy(np.asarray(params[name])))
