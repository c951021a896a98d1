"""Where a training run's batches come from, and how the run is scored.

:class:`lmlib.train.Trainer` asks its data for two things: the next training batch
(``batch(rng)``, a tuple the model is called with: ``model(*batch)`` returns
``(logits, loss)``) and an evaluation (``evaluate(model, device, train_loss)``, a dict of
numbers the history records; the one named ``score`` picks the best model). Two kinds:

- :class:`Windows`: random windows of a token stream, for a language model; evaluated by
  the mean loss on FIXED batches of train and of val (the same windows every time, so the
  curve is not noise; lower is better);
- :class:`Examples`: labelled examples ``(idx, mask, labels)``, in epochs, for a classifier
  or instruction tuning (chapter 10); evaluated by the accuracy on val (higher is better).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from lmlib.data import check_ids, get_batch

__all__ = ["Windows", "Examples", "estimate_loss", "predict", "accuracy"]


@torch.no_grad()
def estimate_loss(model: nn.Module, batches: list, device=None) -> float:
    """Mean loss of ``model`` (in eval mode) over a list of ``(x, y)`` batches."""
    was_training = model.training
    model.eval()
    losses = []
    for x, y in batches:
        x, y = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
        losses.append(float(model(x, y)[1]))
    model.train(was_training)
    return float(np.mean(losses))


def _stream(ids, name: str, min_len: int, vocab_size: int | None) -> np.ndarray:
    """A checked 1-D stream of token ids as a NumPy int64 array (tensors are copied off)."""
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    return check_ids(ids, name, ndim=1, min_len=min_len, vocab_size=vocab_size)


class Windows:
    """Batches of ``batch_size`` random windows of ``block_size`` tokens from ``train_ids``
    (:func:`lmlib.data.get_batch`): ``(x, y)``, both (B, T), ``y`` the next tokens."""

    score, higher_is_better = "val_loss", False

    def __init__(self, train_ids, val_ids, config, model: nn.Module):
        mconf = getattr(model, "config", None)
        vocab = getattr(mconf, "vocab_size", None)
        self.train_ids = _stream(train_ids, "train_ids", config.block_size + 1, vocab)
        self.val_ids = _stream(val_ids, "val_ids", config.block_size + 1, vocab)
        model_block = getattr(mconf, "block_size", None)
        if model_block is not None and config.block_size > model_block:
            raise ValueError(f"TrainConfig.block_size ({config.block_size}) is longer than the "
                             f"model's block_size ({model_block})")
        self.batch_size, self.block_size = config.batch_size, config.block_size
        self.tokens = config.batch_size * config.block_size  # per batch
        eval_rng = np.random.default_rng([config.seed, 1])  # not the training batches' one
        self.eval_sets = {
            split: [get_batch(ids, self.batch_size, self.block_size, eval_rng)
                    for _ in range(config.eval_batches)]
            for split, ids in (("train", self.train_ids), ("val", self.val_ids))}

    def batch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return get_batch(self.train_ids, self.batch_size, self.block_size, rng)

    def evaluate(self, model: nn.Module, device, train_loss: float) -> dict:
        """The mean loss on the fixed batches of each split (``train_loss``, the mean of
        the steps since the last evaluation, is not used)."""
        return {"train_loss": estimate_loss(model, self.eval_sets["train"], device),
                "val_loss": estimate_loss(model, self.eval_sets["val"], device)}


def _examples(data, name: str) -> tuple:
    if not (isinstance(data, tuple) and len(data) == 3):
        raise TypeError(f"{name} must be a tuple (idx, mask, labels), got {type(data).__name__}")
    idx, mask, labels = data
    if not isinstance(idx, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name}: idx and labels must be torch tensors")
    if len(idx) != len(labels) or len(idx) == 0 or (mask is not None and mask.shape != idx.shape):
        raise ValueError(f"{name}: idx {tuple(idx.shape)}, mask and labels "
                         f"{tuple(labels.shape)} must hold the same (non-zero) number of examples")
    return data


def _epoch_batches(n: int, batch_size: int, lengths, rng) -> list[np.ndarray]:
    """One epoch of batches of example indices, in random order. With ``lengths``, each
    batch holds texts of similar length (shuffle, sort within windows of 8 batches, cut),
    so that little time goes into padding."""
    order = rng.permutation(n)
    if lengths is not None:
        window = 8 * batch_size
        order = np.concatenate([w[np.argsort(lengths[w], kind="stable")]
                                for w in np.split(order, range(window, n, window))])
    batches = [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class Examples:
    """Batches of labelled examples ``train = (idx, mask, labels)``, epoch after epoch:
    ``(idx, labels, mask)`` rows of the batch (``(idx, labels)`` when ``mask`` is None).

    ``idx`` (N, T) token ids, right-padded, ``mask`` (N, T) True on real tokens or None,
    ``labels`` (N,) classes, or (N, T) next tokens for instruction tuning; ``idx`` may also
    be precomputed features (N, C) with ``mask=None``. ``val`` (the same, or None) is scored
    by accuracy; the train loss recorded is the mean of the steps since the last evaluation.
    A run resumed from a saved state starts a new epoch (windows resume exactly).
    """

    score, higher_is_better = "val_acc", True

    def __init__(self, train: tuple, val: tuple | None, config):
        self.idx, self.mask, self.labels = _examples(train, "train")
        self.val = None if val is None else _examples(val, "val")
        self.batch_size = config.batch_size
        self.lengths = None if self.mask is None else self.mask.sum(1).numpy()
        self.tokens = config.batch_size * (1 if self.idx.is_floating_point() else self.idx.shape[1])
        self.pending: list = []  # the batches left in this epoch

    def batch(self, rng: np.random.Generator) -> tuple:
        if not self.pending:  # a new epoch
            self.pending = _epoch_batches(len(self.idx), self.batch_size, self.lengths, rng)
        b = torch.as_tensor(self.pending.pop())
        if self.mask is None:
            return self.idx[b], self.labels[b]
        return self.idx[b], self.labels[b], self.mask[b]

    def evaluate(self, model: nn.Module, device, train_loss: float) -> dict:
        out = {"train_loss": train_loss}
        if self.val is not None:
            out["val_acc"] = accuracy(model, *self.val)
        return out


@torch.no_grad()
def predict(model: nn.Module, idx: torch.Tensor, mask: torch.Tensor | None = None,
            batch_size: int = 128) -> torch.Tensor:
    """Class logits of a whole split, in eval mode: (N, T) -> (N, K), on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    # texts of similar length together (less padding), then back to the original order
    order = torch.arange(len(idx)) if mask is None else torch.argsort(mask.sum(1), stable=True)
    out = []
    for i in range(0, len(idx), batch_size):
        b = order[i:i + batch_size]
        m = None if mask is None else mask[b].to(device)
        out.append(model(idx[b].to(device), mask=m)[0].cpu())
    model.train(was_training)
    logits = torch.empty(len(idx), out[0].shape[-1], dtype=out[0].dtype)
    logits[order] = torch.cat(out)
    return logits


def accuracy(model: nn.Module, idx: torch.Tensor, mask: torch.Tensor | None,
             labels: torch.Tensor, batch_size: int = 128) -> float:
    """Fraction of ``labels`` (N,) that ``model`` gets right."""
    logits = predict(model, idx, mask, batch_size)
    return float((logits.argmax(-1) == torch.as_tensor(labels)).float().mean())
