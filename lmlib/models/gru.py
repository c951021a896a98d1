"""A GRU language model in PyTorch: the twin of :class:`lmlib.models.lstm.LSTMLM` with
``torch.nn.GRU`` in place of the LSTM (chapter 04 trains both on names)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.models.lstm import LSTMConfig

__all__ = ["GRULM"]


class GRULM(nn.Module):
    """Embedding, a stack of GRU layers, and a linear read-out to next-token logits.

    ``forward(idx, targets=None) -> (logits, loss)`` like every model of the course;
    ``run(idx, state)`` also takes and returns the recurrent state ``h`` ``(L, B, H)`` (a
    GRU has no cell state). Sizes and dropout as :class:`~lmlib.models.lstm.LSTMLM`.
    """

    def __init__(self, vocab_size: int, n_embd: int, hidden_size: int, n_layer: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.config = LSTMConfig(vocab_size, n_embd, hidden_size, n_layer, dropout)
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.gru = nn.GRU(n_embd, hidden_size, num_layers=n_layer, batch_first=True,
                          dropout=dropout if n_layer > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.lm_head = nn.Linear(hidden_size, vocab_size)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def run(self, idx, state=None):
        """``(logits (B, T, V), h (L, B, H))`` for ``idx`` ``(B, T)`` from ``state`` or zeros."""
        if not torch.is_tensor(idx) or idx.dim() != 2:
            raise ValueError(f"idx must be a (B, T) tensor of token ids, got "
                             f"{tuple(idx.shape) if torch.is_tensor(idx) else type(idx).__name__}")
        out, state = self.gru(self.drop(self.wte(idx)), state)
        return self.lm_head(self.drop(out)), state

    def forward(self, idx, targets=None):
        logits, _ = self.run(idx)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                   ignore_index=-1)
        return logits, loss
