"""A classification task made from Tiny Shakespeare itself, and its simple baselines.

*Who speaks this speech?* Tiny Shakespeare is a play script: every speech starts with its
speaker's tag on a line of its own (``ROMEO:``) and ends at a blank line. We keep the
speeches of the most frequent speakers, strip the tags, and ask a model to name the speaker.
Nothing is downloaded: the task is built from the corpus of chapter 00.

    from lmlib.tasks import speaker_task
    task = speaker_task()               # 10 speakers, fixed 70/15/15 split
    task.train.texts[0], task.speakers[task.train.labels[0]]

Baselines: the majority class, and a logistic regression on bags of character n-grams
(:func:`bag_of_ngrams` + :class:`LogisticRegression`, in PyTorch, no scikit-learn).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Speech", "parse_speeches", "Examples", "SpeakerTask", "speaker_task", "speaker_ids",
           "encode_texts", "bag_of_ngrams", "LogisticRegression", "majority_baseline"]

_TAG = re.compile(r"^[A-Za-z][A-Za-z' .,&-]*:$")  # a speaker line: "ROMEO:", "First Citizen:"


@dataclass(frozen=True)
class Speech:
    speaker: str   # the tag without its colon, e.g. "ROMEO"
    text: str      # the speech, tag stripped (its own newlines kept)
    start: int     # character offset of the speech text in the corpus


def parse_speeches(text: str) -> list[Speech]:
    """Every speech of a play script: a ``NAME:`` line, then the lines up to a blank line.

    Blocks that do not start with a tag, and tags with no text after them, are skipped.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    speeches = []
    for m in re.finditer(r"[^\n](?:.|\n(?!\n|\Z))*", text):  # maximal runs without a blank line
        block = m.group(0)
        head, _, body = block.partition("\n")
        if _TAG.match(head) and body.strip():
            speeches.append(Speech(head[:-1], body, m.start() + len(head) + 1))
    return speeches


@dataclass
class Examples:
    """One split of the task: ``texts[i]`` is spoken by class ``labels[i]``; ``starts[i]`` is
    where the speech lies in the corpus (offsets >= 90% lie in the LM validation split)."""

    texts: list[str]
    labels: np.ndarray  # (N,) int64 class ids
    starts: np.ndarray  # (N,) int64 character offsets

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class SpeakerTask:
    """The speaker task: class ``k`` is ``speakers[k]`` (most frequent first)."""

    speakers: list[str]
    train: Examples
    val: Examples
    test: Examples

    @property
    def n_classes(self) -> int:
        return len(self.speakers)

    def class_counts(self) -> dict[str, np.ndarray]:
        """Examples per class in each split: ``{"train": (K,), "val": (K,), "test": (K,)}``."""
        return {name: np.bincount(getattr(self, name).labels, minlength=self.n_classes)
                for name in ("train", "val", "test")}


def speaker_task(n_speakers: int = 10, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
                 text: str | None = None) -> SpeakerTask:
    """Build the speaker task from Tiny Shakespeare (or from ``text``, a script in its format).

    Keeps the speeches of the ``n_speakers`` most frequent speakers (ties broken by name),
    shuffles them with ``seed`` and cuts train/val/test by ``fractions``. The split is
    stratified: each speaker's speeches are cut in the same proportions, so the three splits
    have the same class balance. The same arguments always give the same split.
    """
    if not isinstance(n_speakers, int) or isinstance(n_speakers, bool) or n_speakers < 2:
        raise ValueError(f"n_speakers must be an int >= 2, got {n_speakers!r}")
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions!r}")
    if text is None:
        from lmlib.data import load_text

        text = load_text("shakespeare")
    speeches = parse_speeches(text)
    counts: dict[str, int] = {}
    for s in speeches:
        counts[s.speaker] = counts.get(s.speaker, 0) + 1
    if len(counts) < n_speakers:
        raise ValueError(f"n_speakers is {n_speakers} but the text has only {len(counts)} speakers")
    speakers = sorted(counts, key=lambda name: (-counts[name], name))[:n_speakers]
    label_of = {name: k for k, name in enumerate(speakers)}
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Speech]] = {"train": [], "val": [], "test": []}
    for name in speakers:
        mine = [s for s in speeches if s.speaker == name]
        order = rng.permutation(len(mine))
        n_train = round(fractions[0] * len(mine))
        n_val = round(fractions[1] * len(mine))
        parts["train"] += [mine[i] for i in order[:n_train]]
        parts["val"] += [mine[i] for i in order[n_train:n_train + n_val]]
        parts["test"] += [mine[i] for i in order[n_train + n_val:]]

    def examples(items: list[Speech]) -> Examples:
        items = [items[i] for i in rng.permutation(len(items))]  # mix the classes
        return Examples([s.text for s in items],
                        np.array([label_of[s.speaker] for s in items], dtype=np.int64),
                        np.array([s.start for s in items], dtype=np.int64))

    return SpeakerTask(speakers, examples(parts["train"]), examples(parts["val"]),
                       examples(parts["test"]))


def speaker_ids(speaker: str, tokenizer, val_fraction: float = 0.1, seed: int = 0,
                text: str | None = None):
    """One speaker's speeches as token streams for continued pre-training:
    ``(train_ids, val_ids)``, each the speeches with their tag (``"ROMEO:\n...\n\n"``) one
    after another; a seeded ``val_fraction`` of the speeches is held out."""
    if text is None:
        from lmlib.data import load_text

        text = load_text("shakespeare")
    mine = [s for s in parse_speeches(text) if s.speaker == speaker]
    if len(mine) < 2:
        raise ValueError(f"speaker {speaker!r} has {len(mine)} speeches; need at least 2")
    order = np.random.default_rng(seed).permutation(len(mine))
    n_val = max(1, round(val_fraction * len(mine)))
    held = set(order[:n_val].tolist())

    def stream(keep: bool) -> np.ndarray:
        return tokenizer.encode("".join(f"{s.speaker}:\n{s.text}\n\n" for i, s in enumerate(mine)
                                        if (i in held) == keep))

    return stream(False), stream(True)


def encode_texts(texts: list[str], tokenizer, block_size: int, pad_id: int = 0):
    """Token ids of a list of texts, cut to their first ``block_size`` tokens and padded on
    the right to one length.

    Returns ``(idx, mask)``: ``idx`` (N, T) int64 and ``mask`` (N, T) bool, True on real
    tokens, with ``T = min(block_size, longest text)``. Right padding matters for a causal
    model: a real token never attends to the padding after it.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be an int >= 1, got {block_size!r}")
    if len(texts) == 0:
        raise ValueError("texts is empty")
    rows = [tokenizer.encode(t)[:block_size] for t in texts]
    if any(len(r) == 0 for r in rows):
        raise ValueError("texts holds an empty string: every example needs at least one token")
    T = max(len(r) for r in rows)
    idx = np.full((len(rows), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), T), dtype=bool)
    for i, r in enumerate(rows):
        idx[i, :len(r)] = r
        mask[i, :len(r)] = True
    return torch.from_numpy(idx), torch.from_numpy(mask)


def bag_of_ngrams(texts: list[str], tokenizer, orders: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Features for a linear model: the frequency of every character n-gram of the given
    orders in each text, order ignored ("a bag").

    Returns an (N, V + V^2 + ...) float32 array; each block (one per order) sums to 1 over a
    text (counts divided by the number of n-grams in it).
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    if not orders or any(not isinstance(n, int) or n < 1 for n in orders):
        raise ValueError(f"orders must be a tuple of ints >= 1, got {orders!r}")
    V = tokenizer.vocab_size
    blocks = []
    for n in orders:
        feats = np.zeros((len(texts), V ** n), dtype=np.float32)
        for i, t in enumerate(texts):
            ids = tokenizer.encode(t)
            if len(ids) < n:
                continue
            code = np.zeros(len(ids) - n + 1, dtype=np.int64)  # n-gram -> one integer
            for j in range(n):
                code = code * V + ids[j:len(ids) - n + 1 + j]
            feats[i] = np.bincount(code, minlength=V ** n) / len(code)
        blocks.append(feats)
    return np.concatenate(blocks, axis=1)


class LogisticRegression:
    """Multinomial logistic regression with an L2 penalty, fitted by L-BFGS in float64.

    ``p(y = k | x) = softmax(x W^T + b)_k``; the loss is the mean cross-entropy plus
    ``l2 / 2 * ||W||^2``. Features are standardised with the training mean and std.
    """

    def __init__(self, l2: float = 1e-3, max_iter: int = 200):
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2!r}")
        self.l2, self.max_iter = float(l2), int(max_iter)

    def _standardise(self, X) -> torch.Tensor:
        return (torch.as_tensor(np.asarray(X), dtype=torch.float64) - self.mean) / self.std

    def fit(self, X, y, n_classes: int | None = None) -> LogisticRegression:
        """``X`` (N, D) features, ``y`` (N,) class ids."""
        X = torch.as_tensor(np.asarray(X), dtype=torch.float64)
        y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
        if X.dim() != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"X must be (N, D) and y (N,), got {tuple(X.shape)} and {tuple(y.shape)}")
        K = n_classes or int(y.max()) + 1
        self.mean, self.std = X.mean(0), X.std(0) + 1e-6
        X = (X - self.mean) / self.std
        self.W = torch.zeros(K, X.shape[1], dtype=torch.float64, requires_grad=True)
        self.b = torch.zeros(K, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([self.W, self.b], max_iter=self.max_iter,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(X @ self.W.T + self.b, y) + 0.5 * self.l2 * (self.W ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return self

    @torch.no_grad()
    def predict_proba(self, X) -> np.ndarray:
        return F.softmax(self._standardise(X) @ self.W.T + self.b, dim=-1).numpy()

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(-1)

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        return float((self.predict(X) == np.asarray(y)).mean())


def majority_baseline(train_labels, test_labels) -> float:
    """Accuracy of always answering the most frequent class of ``train_labels``."""
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    return float((test_labels == np.bincount(train_labels).argmax()).mean())
