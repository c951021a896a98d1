"""One way to score a language model on a whole split: the course's protocol.

Every loss the course compares comes from :func:`score`. On a text split (one stream of
token ids) every token after the first is predicted exactly once, from the tokens before it:

- fixed-context models (the GPT, chapter 05's attention model) read windows of their
  context length that slide by half a window, and each window scores only its newest half,
  so every token (after the first window) sees at least half a window of context;
- recurrent models (the LSTM) read the split as one stream, the state carried throughout;
- n-gram models use their order: each token given the ``order - 1`` tokens before it (the
  first few tokens, which have fewer, use the shorter context).

On names (``data=(words, tokenizer)``) each name is read from an empty context after a
``.`` (n-grams: their context padded with dots) and its closing ``.`` is predicted too
(makemore's measure).

Other projects score differently. nanoGPT reports val on windows whose context runs from 0
to T-1 (``protocol="windows"``: non-overlapping windows, each starting from nothing), which
gives a higher loss than the sliding protocol for the same model. When the course puts its
number beside another project's, it scores both ways and says which is which.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lmlib.data import check_ids
from lmlib.ngram import NGramLM

__all__ = ["score", "token_losses", "PROTOCOLS"]

PROTOCOLS = ("course", "windows")
"""``"course"``: the protocol above. ``"windows"``: fixed-context models read consecutive,
non-overlapping windows that each start from an empty context (nanoGPT's val); other
models are scored as in ``"course"``."""


def score(model, data, *, protocol: str = "course", batch_size: int = 32) -> float:
    """Mean loss in nats per token of ``model`` on a whole split.

    ``data`` is a 1-D array of token ids (a text split) or ``(words, tokenizer)`` for names.
    ``protocol="windows"`` scores fixed-context models as nanoGPT does (see the module)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], (list, tuple)):
        words, tok = data
        return _names_loss(model, words, tok, batch_size=max(batch_size, 512))
    ids = _check_split(data)
    if isinstance(model, NGramLM):
        return float(_ngram_token_losses(model, ids).mean())
    return float(token_losses(model, ids, protocol=protocol, batch_size=batch_size).mean())


def token_losses(model, ids, *, protocol: str = "course", batch_size: int = 32) -> np.ndarray:
    """The loss (nats) of every token ``ids[1:]`` given the tokens before it, under the
    protocol for this kind of model: shape ``(len(ids) - 1,)``; entry ``t`` scores
    ``ids[t + 1]``."""
    ids = _check_split(ids)
    if isinstance(model, NGramLM):
        return _ngram_token_losses(model, ids)
    if hasattr(model, "run"):  # recurrent: one stream, the state carried
        return _stream_losses(model, ids)
    block_size = _block_size(model)
    stride = block_size // 2 if protocol == "course" else block_size
    return _window_losses(model, ids, block_size, max(stride, 1), batch_size)


def _check_split(ids) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        ids = ids.cpu().numpy()
    return check_ids(ids, "data", ndim=1, min_len=2)


def _block_size(model) -> int:
    for owner in (getattr(model, "config", None), getattr(model, "cfg", None), model):
        if owner is not None and isinstance(getattr(owner, "block_size", None), int):
            return owner.block_size
    raise TypeError(f"cannot score a {type(model).__name__}: it is neither an NGramLM, nor "
                    f"recurrent (a .run method), nor has a block_size")


def _ngram_token_losses(model: NGramLM, ids: np.ndarray) -> np.ndarray:
    """``-log P(ids[t] | up to order - 1 tokens before it)`` for ``t >= 1``."""
    first = [-np.log(model.next_token_probs(ids[:t])[ids[t]])
             for t in range(1, min(model.order - 1, len(ids)))]
    rest = -model.log_probs(ids) if len(ids) >= model.order else np.array([])
    if model.order == 1:  # a unigram scores every token; the protocol starts at the second
        rest = rest[1:]
    return np.concatenate([np.asarray(first, dtype=np.float64), rest])


@torch.no_grad()
def _stream_losses(model, ids: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Read ``ids`` in order through ``model.run(x, state) -> (logits, state)``."""
    device = next(model.parameters()).device
    stream = torch.as_tensor(ids, device=device).reshape(1, -1)
    was_training = model.training
    model.eval()
    state, out = None, []
    for s in range(0, stream.size(1) - 1, chunk):
        x = stream[:, s:min(s + chunk, stream.size(1) - 1)]
        y = stream[:, s + 1:s + 1 + x.size(1)]
        logits, state = model.run(x, state)
        out.append(F.cross_entropy(logits[0].float(), y[0], reduction="none").cpu().numpy())
    model.train(was_training)
    return np.concatenate(out).astype(np.float64)


def _windows(n: int, block_size: int, stride: int) -> list[tuple[int, int, int]]:
    """``(start, length, first scored offset)`` of each window over ``n`` targets."""
    windows, start, scored = [], 0, 0
    while scored < n:
        length = min(block_size, n - start)
        windows.append((start, length, scored - start))
        scored = start + length
        start += stride
    return windows


@torch.no_grad()
def _window_losses(model, ids: np.ndarray, block_size: int, stride: int,
                   batch_size: int) -> np.ndarray:
    """Windows of ``block_size`` tokens sliding by ``stride``; each scores only the
    positions no earlier window scored."""
    device = next(model.parameters()).device
    n = len(ids) - 1
    windows = _windows(n, block_size, stride)
    out = np.full(n, np.nan)
    was_training = model.training
    model.eval()
    for i in range(0, len(windows), batch_size):
        chunk = windows[i:i + batch_size]
        for length in sorted({ln for _, ln, _ in chunk}):  # the last window may be shorter
            group = [(s, f) for s, ln, f in chunk if ln == length]
            offsets = np.array([s for s, _ in group])[:, None] + np.arange(length)
            x = torch.as_tensor(ids[offsets], device=device)
            y = torch.as_tensor(ids[offsets + 1], device=device)
            logits = model(x)[0].float()
            nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1),
                                  reduction="none").reshape(len(group), length).cpu().numpy()
            for row, (s, first) in enumerate(group):
                out[s + first:s + length] = nll[row, first:]
    model.train(was_training)
    return out


@torch.no_grad()
def _names_loss(model, words, tok, batch_size: int = 512) -> float:
    """Each name read from an empty context after ``.``, its closing ``.`` predicted too."""
    if isinstance(model, NGramLM):  # the context of the first letter is padded with dots
        pad = "." * (model.order - 1)
        return float(np.concatenate([-model.log_probs(np.asarray(tok.encode(pad + w + ".")))
                                     for w in words]).mean())
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    for s in range(0, len(words), batch_size):
        chunk = words[s:s + batch_size]
        T = max(len(w) for w in chunk) + 1
        x = torch.zeros((len(chunk), T), dtype=torch.int64)
        y = torch.full((len(chunk), T), -1, dtype=torch.int64)
        for b, w in enumerate(chunk):
            ids = torch.as_tensor(tok.encode(w))
            x[b, 1:len(w) + 1] = ids
            y[b, :len(w)] = ids
            y[b, len(w)] = 0
        logits, _ = model(x)
        total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1),
                                       ignore_index=-1, reduction="sum"))
        count += int((y >= 0).sum())
    model.train(was_training)
    return total / count
