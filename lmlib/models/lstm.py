"""A character-level LSTM language model in PyTorch (the twin of ``lmlib.scratch.lstm``).

    embedding (V -> n_embd)  ->  nn.LSTM (n_layer x hidden_size)  ->  linear (hidden -> V)

It trains with the course trainer like every model of the course::

    from lmlib.models import LSTMLM
    from lmlib.train import train
    model = LSTMLM(vocab_size=65, n_embd=64, hidden_size=384)
    train(model, train_ids, val_ids, steps=1000, batch_size=32, block_size=128, lr=3e-3)

Shapes: ``B`` batch, ``T`` time steps, ``V`` vocabulary, ``H`` hidden units, ``L`` layers.
Sequences are batch-first here, ``idx`` ``(B, T)``, like every model of the course.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.data import check_token_tensor
from lmlib.sampling import sample

__all__ = ["LSTMLM", "LSTMConfig", "ASSET"]

ASSET = Path(__file__).resolve().parent.parent / "assets" / "lstm_shakespeare.safetensors"
"""The shipped LSTM trained on Tiny Shakespeare (see ``coursekit/bench/lstm.py``)."""


@dataclass
class LSTMConfig:
    """The sizes of a recurrent LM (the LSTM's, and chapter 04's GRU's); checked when made."""

    vocab_size: int
    n_embd: int
    hidden_size: int
    n_layer: int = 1
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "n_embd", "hidden_size", "n_layer"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        self.dropout = float(self.dropout)


class LSTMLM(nn.Module):
    """Embedding, a stack of LSTM layers, and a linear read-out to next-token logits.

    Build it from sizes, ``LSTMLM(65, 64, 384)``, or from a config, ``LSTMLM(LSTMConfig(...))``.
    ``forward(idx, targets=None) -> (logits, loss)``: ``idx`` ``(B, T)`` token ids, ``logits``
    ``(B, T, V)``, ``loss`` the mean cross-entropy over targets that are not ``-1`` (or None
    without targets). ``run(idx, state)`` is the same forward pass that also takes and returns
    the recurrent state ``(h, c)``, each ``(L, B, H)``, to carry across chunks of a long text.
    """

    def __init__(self, vocab_size: int | LSTMConfig, n_embd: int | None = None,
                 hidden_size: int | None = None, n_layer: int = 1, dropout: float = 0.0):
        super().__init__()
        if isinstance(vocab_size, LSTMConfig):  # LSTMLM(config), as lmlib.train.load_checkpoint does
            if n_embd is not None or hidden_size is not None:
                raise TypeError("pass either an LSTMConfig or the sizes, not both")
            c = vocab_size
            vocab_size, n_embd, hidden_size, n_layer, dropout = (
                c.vocab_size, c.n_embd, c.hidden_size, c.n_layer, c.dropout)
        self.config = LSTMConfig(vocab_size, n_embd, hidden_size, n_layer, dropout)
        self.wte = nn.Embedding(vocab_size, n_embd)
        # dropout between stacked layers (PyTorch warns when it is set for a single layer)
        self.lstm = nn.LSTM(n_embd, hidden_size, num_layers=n_layer, batch_first=True,
                            dropout=dropout if n_layer > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.lm_head = nn.Linear(hidden_size, vocab_size)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def run(self, idx, state=None):
        """``(logits (B, T, V), (h, c))`` for ``idx`` ``(B, T)``, starting from ``state``
        (``(h, c)``, each ``(L, B, H)``) or zeros."""
        check_token_tensor(idx, vocab_size=self.config.vocab_size)
        if state is not None:
            B, L, H = idx.shape[0], self.config.n_layer, self.config.hidden_size
            if (not isinstance(state, (tuple, list)) or len(state) != 2
                    or any(tuple(s.shape) != (L, B, H) for s in state)):
                shapes = [tuple(s.shape) for s in state] if isinstance(state, (tuple, list)) \
                    else type(state).__name__
                raise ValueError(f"state must be (h, c), each of shape (L, B, H) = "
                                 f"({L}, {B}, {H}), got {shapes}")
        out, state = self.lstm(self.drop(self.wte(idx)), state)
        return self.lm_head(self.drop(out)), state

    def forward(self, idx, targets=None):
        logits, _ = self.run(idx)
        loss = None
        if targets is not None:
            if not torch.is_tensor(targets) or targets.shape != idx.shape:
                got = tuple(targets.shape) if torch.is_tensor(targets) else type(targets).__name__
                raise ValueError(f"targets must be a tensor of the shape of idx, "
                                 f"{tuple(idx.shape)}, got {got}")
            check_token_tensor(targets, "targets", vocab_size=self.config.vocab_size,
                               ignore_index=-1)  # -1: a position to ignore
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                   ignore_index=-1)
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None):
        """Continue each row of ``idx`` ``(B, T)`` by ``max_new_tokens`` tokens drawn with
        :func:`lmlib.sampling.sample` (``temperature``, ``top_k``; temperature 0 is greedy).

        The recurrent state is carried, so each new token costs one LSTM step (no window
        to re-read, unlike a transformer without a KV cache). Returns ``(B, T + new)``."""
        check_token_tensor(idx, vocab_size=self.config.vocab_size)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
                or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        was_training = self.training
        self.eval()
        logits, state = self.run(idx)
        out = [idx]
        for _ in range(max_new_tokens):
            nxt = sample(logits[:, -1, :], temperature=temperature, top_k=top_k,
                         rng=generator)[:, None]
            out.append(nxt)
            logits, state = self.run(nxt, state)
        self.train(was_training)
        return torch.cat(out, dim=1)
