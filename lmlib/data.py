"""The two corpora of the course, their fixed splits, a character tokenizer and batching.

The texts come from other projects, so they are not part of this repository. ``load_text``
looks for each file, in order, in the folder named by ``LMLIB_DATA_DIR``, in the user cache
(``~/.cache/lmlib``), and otherwise downloads it once into the cache. Its sha256 is checked
the first time a process reads it.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CORPORA", "load_text", "CharTokenizer", "shakespeare", "names", "names_stream",
           "get_batch", "cache_dir", "check_ids"]


@dataclass(frozen=True)
class Corpus:
    filename: str
    url: str
    sha256: str
    size: int


CORPORA: dict[str, Corpus] = {
    "shakespeare": Corpus(
        "tinyshakespeare.txt",
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        1_115_394,
    ),
    "names": Corpus(
        "names.txt",
        "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",
        "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
        228_145,
    ),
}

_verified: dict[str, str] = {}  # corpus name -> text, once its checksum has been checked


def cache_dir() -> Path:
    """Where downloaded corpora are kept: ``$LMLIB_CACHE_DIR``, else ``$XDG_CACHE_HOME/lmlib``,
    else ``~/.cache/lmlib``."""
    if os.environ.get("LMLIB_CACHE_DIR"):
        return Path(os.environ["LMLIB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lmlib"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(corpus: Corpus, dest: Path, note: str = "") -> None:
    """Fetch ``corpus.url`` into ``dest`` atomically, with a progress bar. ``note`` is added
    to the error message (e.g. that LMLIB_DATA_DIR names no folder)."""
    import urllib.error
    import urllib.request

    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(corpus.url, timeout=30) as response:
            chunks = []
            with tqdm(total=corpus.size, unit="B", unit_scale=True,
                      desc=f"downloading {corpus.filename}") as bar:
                while chunk := response.read(1 << 16):
                    chunks.append(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as err:
        raise OSError(
            f"could not download {corpus.filename} from {corpus.url} ({err}). "
            f"If you are offline, copy the file to {dest} or into a folder named by the "
            f"environment variable LMLIB_DATA_DIR.{note}"
        ) from err
    data = b"".join(chunks)
    if len(data) < corpus.size:
        raise OSError(f"the download of {corpus.filename} from {corpus.url} was incomplete "
                      f"({len(data):,} of {corpus.size:,} bytes; the connection was cut?): "
                      f"nothing was saved, run it again to retry")
    if _sha256(data) != corpus.sha256:
        raise ValueError(f"downloaded {corpus.filename} has sha256 {_sha256(data)}, "
                         f"expected {corpus.sha256}; the file was not saved")
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def _locate(name: str, corpus: Corpus) -> Path:
    data_dir = os.environ.get("LMLIB_DATA_DIR")
    note = ""
    if data_dir and not Path(data_dir).is_dir():
        import warnings

        note = f" (LMLIB_DATA_DIR is set to {data_dir}, which is not a folder.)"
        warnings.warn(f"LMLIB_DATA_DIR is set to {data_dir}, which is not a folder: it is "
                      f"ignored, and {corpus.filename} comes from the cache or a download",
                      stacklevel=3)
    elif data_dir and (Path(data_dir) / corpus.filename).is_file():
        return Path(data_dir) / corpus.filename
    cached = cache_dir() / corpus.filename
    if not cached.is_file():
        _download(corpus, cached, note)
    return cached


def load_text(name: str) -> str:
    """The whole text of corpus ``name`` (``"shakespeare"`` or ``"names"``), checksum-verified."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {sorted(CORPORA)}")
    if name not in _verified:
        corpus = CORPORA[name]
        path = _locate(name, corpus)
        data = path.read_bytes()
        if _sha256(data) != corpus.sha256:
            raise ValueError(f"{path} has sha256 {_sha256(data)} but {corpus.filename} should "
                             f"have {corpus.sha256}; delete it or replace it with the original")
        _verified[name] = data.decode("utf-8")
    return _verified[name]


_TORCH_INTS = ("torch.uint8", "torch.int8", "torch.int16", "torch.int32", "torch.int64")


def check_ids(ids, name: str = "ids", *, ndim: int | None = None, vocab_size: int | None = None,
              min_len: int = 0, ignore_index: int | None = None, values: bool = True):
    """Check token ids, the one validator of the course, and return them: a torch tensor as
    it is, anything else (list, NumPy array) as a NumPy int64 array.

    - ``TypeError`` when the ids are not integers (float ids are refused, not truncated);
    - ``ValueError`` when ``ndim`` is given and the shape has another number of axes, when
      there are fewer than ``min_len`` ids along the last axis, or (``values=True``) when an
      id is negative or ``>= vocab_size`` (``ignore_index``, e.g. -1 in targets, is allowed).

    ``values=False`` skips the pass over the values (for a hot loop on ids checked once).
    """
    is_torch = type(ids).__module__.startswith("torch")
    if not is_torch:
        if isinstance(ids, (str, bytes)):
            raise TypeError(f"{name} must be token ids, not a {type(ids).__name__}: encode "
                            f"the text first (tokenizer.encode(text))")
        ids = np.asarray(ids)
        if ids.size == 0 and ids.dtype == np.float64:  # np.asarray([]) is float: no ids
            ids = ids.astype(np.int64)
    dtype = str(ids.dtype)
    if not (dtype in _TORCH_INTS if is_torch else np.issubdtype(ids.dtype, np.integer)):
        raise TypeError(f"{name} must hold integer token ids, got dtype {dtype}")
    if ndim is not None and ids.ndim != ndim:
        want = {1: "(N,), one 1-D sequence", 2: "(B, T)"}.get(ndim, f"{ndim} axes")
        raise ValueError(f"{name} must have shape {want}, got shape {tuple(ids.shape)}")
    if min_len and (ids.ndim == 0 or ids.shape[-1] < min_len):
        raise ValueError(f"{name} has {ids.shape[-1] if ids.ndim else 0} tokens; it needs "
                         f"at least {min_len}")
    size = ids.numel() if is_torch else ids.size
    if values and size:
        real = ids if ignore_index is None else ids[ids != ignore_index]
        if (real.numel() if is_torch else real.size) > 0:
            lo, hi = int(real.min()), int(real.max())
            where = "" if vocab_size is None else f"; the vocabulary is [0, {vocab_size})"
            if lo < 0:
                raise ValueError(f"{name} holds negative token ids (smallest {lo}){where}")
            if vocab_size is not None and hi >= vocab_size:
                raise ValueError(f"{name} holds token id {hi}, outside the vocabulary: "
                                 f"ids must be in [0, {vocab_size})")
    return ids if is_torch else ids.astype(np.int64, copy=False)


def check_token_tensor(idx, name: str = "idx", *, vocab_size: int,
                       ignore_index: int | None = None):
    """:func:`check_ids` for what a model's ``forward`` takes: a (B, T) torch tensor of ids
    in ``[0, vocab_size)`` (``ignore_index`` allowed, e.g. -1 in targets)."""
    if not type(idx).__module__.startswith("torch") or not hasattr(idx, "numel"):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(idx).__name__}")
    return check_ids(idx, name, ndim=2, vocab_size=vocab_size, ignore_index=ignore_index)


class CharTokenizer:
    """One token per character; the vocabulary is the sorted set of characters of ``text``.

    >>> tok = CharTokenizer("hello")
    >>> tok.decode(tok.encode("hell"))
    'hell'
    """

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must not be empty: the vocabulary comes from its characters")
        self.itos: list[str] = sorted(set(text))
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.itos)}
        codes = np.array([ord(ch) for ch in self.itos])
        self._table = np.full(codes.max() + 1, -1, dtype=np.int64)  # code point -> id
        self._table[codes] = np.arange(len(codes))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``, an int64 array of shape ``(len(text),)``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.full(len(codes), -1, dtype=np.int64)
        known = codes < len(self._table)
        ids[known] = self._table[codes[known]]
        if (ids < 0).any():
            pos = int(np.argmax(ids < 0))
            raise ValueError(f"character {text[pos]!r} at position {pos} is not in the "
                             f"vocabulary of {self.vocab_size} characters")
        return ids

    def decode(self, ids) -> str:
        """The text of ONE sequence of ids (list, NumPy array or torch tensor, shape (T,)).

        A batch (B, T) is a ``ValueError``: decode its rows one by one,
        ``[tok.decode(row) for row in batch]``, or the one you want, ``tok.decode(batch[0])``.
        """
        if type(ids).__module__.startswith("torch"):
            ids = ids.detach().cpu().numpy()
        ids = np.asarray(ids)
        if ids.ndim == 2:
            raise ValueError(f"ids has shape {ids.shape}, a batch: decode one row at a time, "
                             f"[tok.decode(row) for row in ids] (or tok.decode(ids[0]))")
        ids = check_ids(ids.reshape(-1) if ids.ndim == 0 else ids, "ids", ndim=1,
                        vocab_size=self.vocab_size)
        return "".join(self.itos[i] for i in ids)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def shakespeare():
    """``(tokenizer, train_ids, val_ids)`` for Tiny Shakespeare: 65 characters, the first 90%
    of the text for training (1,003,854 chars) and the last 10% for validation (111,540)."""
    text = load_text("shakespeare")
    tok = CharTokenizer(text)
    ids = tok.encode(text)
    n = int(0.9 * len(ids))
    return tok, ids[:n], ids[n:]


def names():
    """``(tokenizer, train_words, dev_words, test_words)`` for names.txt: one seeded shuffle
    (seed 42), then 80/10/10. The vocabulary is ``.`` (the boundary token, id 0) and a-z."""
    words = load_text("names").splitlines()
    random.Random(42).shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    tok = CharTokenizer(".abcdefghijklmnopqrstuvwxyz")
    return tok, words[:n1], words[n1:n2], words[n2:]


def names_stream(words, tokenizer: CharTokenizer | None = None, pad: int = 1) -> np.ndarray:
    """One stream of ids for a list of names: ``.emma.olivia.`` -- ``pad`` dots (the boundary
    token) before each name and one at the end. An n-gram model of order n fitted on
    ``pad = n - 1`` sees each name start from a context of dots only, as
    ``lmlib.scoring.score`` reads names (``..emma..olivia.`` for a trigram)."""
    if isinstance(words, str):
        raise TypeError("words must be a list of names, not one string")
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 1:
        raise ValueError(f"pad must be an int >= 1, got {pad!r}")
    tokenizer = tokenizer or names()[0]
    return tokenizer.encode("".join("." * pad + w for w in words) + ".")


def get_batch(ids, batch_size: int, block_size: int, rng: np.random.Generator):
    """Random windows of a token stream for next-token training.

    Returns ``(x, y)``, int64 arrays of shape ``(batch_size, block_size)``; ``y`` is ``x``
    shifted one position to the left, so ``y[b, t]`` is the token after ``x[b, t]``.
    """
    check_ids(ids, "ids", ndim=1, values=False)  # float ids are refused, not truncated
    ids = np.asarray(ids)
    if batch_size < 1 or block_size < 1:
        raise ValueError(f"batch_size and block_size must be >= 1, got {batch_size}, {block_size}")
    if block_size >= len(ids):
        raise ValueError(f"block_size ({block_size}) must be smaller than the stream "
                         f"length ({len(ids)}): each window needs block_size + 1 tokens")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    starts = rng.integers(0, len(ids) - block_size, size=batch_size)
    offsets = starts[:, None] + np.arange(block_size)
    return ids[offsets].astype(np.int64), ids[offsets + 1].astype(np.int64)


def names_streams():
    """names.txt as token streams for the trainer: every split's names joined by ``.``
    (``.emma.olivia.ava.``), so a window always sees boundaries to condition on."""
    tok, tr, dev, te = names()
    return tok, *(names_stream(words, tok) for words in (tr, dev, te))
