"""Tokenizers of the course: one token per character, or byte-level byte-pair encoding.

Both share one small interface, so models, training loops and the sampling widget take
either:

    tok.encode(text) -> ids        tok.decode(ids) -> text        tok.vocab_size

``CharTokenizer`` (chapter 00) lives in ``lmlib.data`` and is re-exported here.
``BPETokenizer`` (chapter 08) is byte-level BPE: the first 256 ids are the 256 byte values,
so every Unicode string can be encoded, and each merge ``(a, b) -> 256 + i`` learned in
training glues two adjacent tokens into a new one.

    >>> tok = BPETokenizer.train("low lower lowest", vocab_size=260)
    >>> tok.decode(tok.encode("slow"))
    'slow'
"""

from __future__ import annotations

import heapq
import html
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from lmlib.data import CharTokenizer, check_ids

__all__ = ["CharTokenizer", "BPETokenizer", "GPT2_PATTERN", "GPT2_PATTERN_REGEX",
           "ENDOFTEXT", "get_pair_counts", "merge_pair", "tokens_html", "load_shakespeare_bpe"]

ENDOFTEXT = "<|endoftext|>"
"""The special token GPT-2 puts between documents."""

GPT2_PATTERN_REGEX = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
                      r"""|\s+(?!\S)|\s+""")
"""GPT-2's pre-tokenisation pattern as published, for the third-party ``regex`` package
(``\\p{L}`` = any letter, ``\\p{N}`` = any number). Python's own ``re`` cannot compile it."""

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
"""GPT-2's pre-tokenisation pattern rewritten for Python's standard ``re`` module.

``re`` has no ``\\p{L}``; in its place ``[^\\W\\d_]`` is "a word character that is not a
decimal digit and not ``_``", and ``\\d`` stands for ``\\p{N}``. The one difference from
``GPT2_PATTERN_REGEX``: characters that are numbers but not decimal digits (``²``, ``½``,
``Ⅻ``, Unicode categories No and Nl) count as letters here and as numbers there. Everything
else (contractions, an optional leading space, punctuation runs, whitespace) is the same.
"""

_SPECIAL_BASE = 256  # ids 0..255 are the bytes


# ----------------------------------------------------------------------------------------
# The two primitives of BPE, in their plainest form (the chapter builds these inline)


def get_pair_counts(ids, counts: dict | None = None) -> dict[tuple[int, int], int]:
    """How often each adjacent pair occurs in ``ids``: ``{(a, b): count}``.

    Pairs overlap: ``[1, 1, 1]`` holds the pair ``(1, 1)`` twice. Pass ``counts`` to add to
    an existing dict (one call per chunk when the text was pre-tokenised).
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge_pair(ids, pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, left to right.

    ``merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]``: the leftmost occurrence wins.
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# ----------------------------------------------------------------------------------------
# Fast training: pair counts updated incrementally on a linked list of symbols


def _train_merges(chunks: Counter, num_merges: int) -> list[tuple[int, int]]:
    """The first ``num_merges`` merges of BPE trained on ``chunks`` ({bytes: count}).

    All chunks are laid end to end as one array of symbols with links ``prv``/``nxt``
    (-1 at a chunk's ends, so pairs never cross chunks); each position carries its chunk's
    count as a weight. ``count[pair]`` is the weighted number of occurrences and
    ``where[pair]`` a set of positions where the pair may start (positions are added when a
    pair appears and checked when used, never removed). A merge visits only the positions of
    the chosen pair and fixes the counts of the pairs on either side of each one, so it costs
    time in proportion to how often its pair occurs, not to the size of the corpus.

    The most frequent pair comes from a heap of ``(-count, pair)``. Only new pairs (those
    with the new id) are pushed after a merge; an entry whose count has since dropped is
    pushed again with its current count when it reaches the top. Every pair therefore has an
    entry at least as large as its count, so an entry that is exact when popped is the
    maximum. Ties go to the smallest pair ``(a, b)``.
    """
    sym, weight, prv, nxt, count, where = _link_and_count(chunks)
    heap = [(-c, pair) for pair, c in count.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < num_merges and heap:
        neg, pair = heapq.heappop(heap)
        c = count.get(pair, 0)
        if c != -neg:  # stale: the count dropped after this entry was pushed
            if c > 0:
                heapq.heappush(heap, (-c, pair))
            continue
        new = _SPECIAL_BASE + len(merges)
        merges.append(pair)
        del count[pair]
        made = _merge_everywhere(pair, new, sym, weight, prv, nxt, count, where)
        for q in made:
            if count[q] > 0:
                heapq.heappush(heap, (-count[q], q))
    return merges


def _link_and_count(chunks: Counter):
    """The chunks laid end to end as linked symbols (lists ``sym``, ``weight``, ``prv``,
    ``nxt``; links are -1 at a chunk's ends) and the weighted count of every pair with the
    positions where it starts (``count``, ``where``), counted vectorised (code a * 256 + b)."""
    sym_arr = np.frombuffer(b"".join(chunks), dtype=np.uint8).astype(np.int64)
    weight_arr = np.repeat(np.fromiter(chunks.values(), dtype=np.int64, count=len(chunks)),
                           [len(c) for c in chunks])
    size = len(sym_arr)
    ends = np.cumsum([len(c) for c in chunks], dtype=np.int64)
    linked = np.ones(size, dtype=bool)  # position i is linked to i + 1
    linked[ends[ends > 0] - 1] = False
    nxt_arr = np.where(linked, np.arange(1, size + 1), -1)
    prv_arr = np.full(size, -1, dtype=np.int64)
    prv_arr[1:][linked[:-1]] = np.flatnonzero(linked[:-1])
    starts = np.flatnonzero(linked)
    codes = sym_arr[starts] * 256 + sym_arr[starts + 1]
    order = np.argsort(codes, kind="stable")
    uniq, first = np.unique(codes[order], return_index=True)
    totals = np.bincount(codes, weights=weight_arr[starts], minlength=65536)
    count: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for code, group in zip(uniq.tolist(), np.split(starts[order], first[1:])):
        pair = divmod(code, 256)
        count[pair] = int(totals[code])
        where[pair] = set(group.tolist())
    return (sym_arr.tolist(), weight_arr.tolist(), prv_arr.tolist(), nxt_arr.tolist(),
            count, where)


def _merge_everywhere(pair, new: int, sym, weight, prv, nxt, count, where) -> list:
    """Replace every occurrence of ``pair = (a, b)`` by the symbol ``new``, fixing the counts
    of the pairs on either side. Returns the pairs this merge created (to push on the heap)."""
    a, b = pair
    made = []  # the pairs (x, new) and (new, y) this merge creates

    def gain(q, w, pos):
        if q in count:
            count[q] += w
            where[q].add(pos)
        else:
            count[q], where[q] = w, {pos}
            made.append(q)

    for i in sorted(where.pop(pair)):
        if sym[i] != a:  # stale, or consumed by an overlapping occurrence
            continue
        j = nxt[i]
        if j == -1 or sym[j] != b:
            continue
        w = weight[i]
        p, n = prv[i], nxt[j]
        if p != -1:  # x a b -> x new: (x, a) loses one, (x, new) gains one
            if (sym[p], a) != pair:
                count[(sym[p], a)] -= w
            gain((sym[p], new), w, p)
        if n != -1:  # a b y -> new y: (b, y) loses one, (new, y) gains one
            if (b, sym[n]) != pair:
                count[(b, sym[n])] -= w
            gain((new, sym[n]), w, i)
            prv[n] = i
        sym[i], nxt[i] = new, n
        sym[j] = -1  # position j is gone
    return made


def _apply_merges(ids: np.ndarray, ranks: dict[tuple[int, int], int]) -> np.ndarray:
    """Apply the merges, in rank order, to an int64 array of byte ids (vectorised).

    ``-1`` entries separate chunks (no merge matches them). Each merge finds every place
    where its pair occurs; within a run of overlapping matches (``a a a`` for the pair
    ``(a, a)``) only every other match, starting with the leftmost, is taken, which is what
    ``merge_pair`` does when it scans left to right.
    """
    for (a, b), rank in ranks.items():
        if len(ids) < 2:
            break
        hits = np.flatnonzero((ids[:-1] == a) & (ids[1:] == b))
        if hits.size == 0:
            continue
        if a == b and hits.size > 1:
            run_start = np.ones(hits.size, dtype=bool)
            run_start[1:] = hits[1:] != hits[:-1] + 1
            first = np.maximum.accumulate(np.where(run_start, np.arange(hits.size), 0))
            hits = hits[(np.arange(hits.size) - first) % 2 == 0]
        ids[hits] = _SPECIAL_BASE + rank
        keep = np.ones(len(ids), dtype=bool)
        keep[hits + 1] = False
        ids = ids[keep]
    return ids


# ----------------------------------------------------------------------------------------


def _check_text(text) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"text cannot be encoded as UTF-8 ({err.reason} at position "
                         f"{err.start}): lone surrogates are not text") from err


class BPETokenizer:
    """Byte-level byte-pair encoding.

    Ids ``0..255`` are the bytes of UTF-8; merge ``i`` (a pair of ids ``(a, b)``) makes id
    ``256 + i``; special tokens (strings such as ``"<|endoftext|>"``) take the ids after the
    merges. ``vocab_size = 256 + len(merges) + len(special_tokens)``.

    With a ``pattern`` (a regular expression for Python's ``re``, e.g. ``GPT2_PATTERN``) the
    text is first cut into chunks (words, numbers, punctuation runs, spaces) and merges never
    cross a chunk boundary; with ``pattern=None`` the whole text is one sequence.

    Build one with ``BPETokenizer.train(text, vocab_size)`` or ``BPETokenizer.load(path)``.
    """

    def __init__(self, merges=(), pattern: str | None = None, special_tokens=()):
        self._merges = self._check_merges(merges)
        if pattern is not None:
            if not isinstance(pattern, str):
                raise TypeError(f"pattern must be a str or None, got {type(pattern).__name__}")
            try:
                self._regex = re.compile(pattern)
            except re.error as err:
                raise ValueError(f"pattern is not a valid Python regular expression ({err}); "
                                 "note that Python's re has no \\p{L}: use GPT2_PATTERN") from err
        self._pattern = pattern
        if isinstance(special_tokens, str):
            raise TypeError("special_tokens must be a sequence of strings, got one str; "
                            "write special_tokens=[token]")
        special_tokens = list(special_tokens)
        for s in special_tokens:
            if not isinstance(s, str) or not s:
                raise ValueError(f"special_tokens must be non-empty strings, got {s!r}")
        if len(set(special_tokens)) != len(special_tokens):
            raise ValueError(f"special_tokens must be distinct, got {special_tokens}")
        first = _SPECIAL_BASE + len(self._merges)
        self._special: dict[str, int] = {s: first + k for k, s in enumerate(special_tokens)}
        self._special_regex = None
        if special_tokens:  # longest first, so a token that contains another wins
            alts = sorted(special_tokens, key=len, reverse=True)
            self._special_regex = re.compile("(" + "|".join(map(re.escape, alts)) + ")")
        self._ranks = {pair: r for r, pair in enumerate(self._merges)}
        # the bytes of every id, built from the merges
        self._bytes: list[bytes] = [bytes([i]) for i in range(256)]
        for a, b in self._merges:
            self._bytes.append(self._bytes[a] + self._bytes[b])
        self._bytes += [s.encode("utf-8") for s in special_tokens]
        self._cache: dict[str, list[int]] = {}

    @staticmethod
    def _check_merges(merges) -> list[tuple[int, int]]:
        out = []
        for i, m in enumerate(merges):
            if (not isinstance(m, (tuple, list)) or len(m) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in m)):
                raise ValueError(f"merges[{i}] must be a pair of ints, got {m!r}")
            a, b = m
            if not (0 <= a < _SPECIAL_BASE + i and 0 <= b < _SPECIAL_BASE + i):
                raise ValueError(f"merges[{i}] = {list(m)} uses an id outside [0, {256 + i}): "
                                 f"merge i may only join bytes and the ids of earlier merges")
            out.append((a, b))
        if len(set(out)) != len(out):
            raise ValueError("merges must not repeat a pair")
        return out

    # -- training ---------------------------------------------------------------------

    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str | None = None,
              special_tokens=()) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Each step merges the most frequent adjacent pair (ties: the smallest pair). Special
        tokens that appear in ``text`` are cut out before counting, so no merge spans one.
        Training stops early, with a smaller vocabulary, if no pair is left to merge.
        """
        _check_text(text)
        if not isinstance(vocab_size, (int, np.integer)) or isinstance(vocab_size, bool):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        tok = cls((), pattern, special_tokens)  # validates pattern and special tokens
        n_special = len(tok.special_tokens)
        if vocab_size <= _SPECIAL_BASE + n_special:
            raise ValueError(f"vocab_size must be larger than 256 (the bytes) + {n_special} "
                             f"special token(s) = {256 + n_special}, so that at least one "
                             f"merge is learned; got {vocab_size}")
        chunks = Counter(chunk.encode("utf-8") for chunk in tok._chunks(text))
        merges = _train_merges(chunks, int(vocab_size) - _SPECIAL_BASE - n_special)
        return cls(merges, pattern, list(tok.special_tokens))

    def _chunks(self, text: str) -> list[str]:
        """The pieces of ordinary text that BPE works on: special tokens removed, then cut
        by the pattern (if any)."""
        parts = self._special_regex.split(text) if self._special_regex else [text]
        out = []
        for part in parts[::2]:  # odd positions are the special tokens themselves
            if self.pattern is None:
                if part:
                    out.append(part)
            else:
                out.extend(self._split(part))
        return out

    def _split(self, text: str) -> list[str]:
        """Cut ``text`` with the pattern. Text between two matches (a pattern need not
        match every character) is kept as a chunk of its own, so nothing is lost."""
        out, end = [], 0
        for m in self._regex.finditer(text):
            if m.start() > end:
                out.append(text[end:m.start()])
            if m.end() > m.start():
                out.append(m.group())
            end = max(end, m.end())
        if end < len(text):
            out.append(text[end:])
        return out

    # -- the interface shared with CharTokenizer -----------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self._bytes)

    @property
    def pattern(self) -> str | None:
        """The pre-tokenisation regular expression, or ``None``."""
        return self._pattern

    @property
    def special_tokens(self) -> dict[str, int]:
        """``{token string: id}`` of the special tokens (a copy)."""
        return dict(self._special)

    @property
    def merges(self) -> list[tuple[int, int]]:
        """The merges in the order they were learned: ``merges[i] = (a, b)`` makes id ``256 + i``."""
        return list(self._merges)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``. Special tokens in ``text`` become their ids."""
        _check_text(text)
        parts = self._special_regex.split(text) if self._special_regex else [text]
        out: list[int] = []
        for k, part in enumerate(parts):
            if k % 2 == 1:
                out.append(self._special[part])
            elif part:
                out.extend(self._encode_ordinary(part))
        return out

    def _encode_ordinary(self, text: str) -> list[int]:
        if self.pattern is None:
            ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
            return _apply_merges(ids, self._ranks).tolist()
        pieces = self._split(text)
        todo = [p for p in set(pieces) if p not in self._cache]
        if todo:  # encode all new pieces at once, separated by -1
            cat = b"".join(p.encode("utf-8") for p in todo)
            ids = np.frombuffer(cat, dtype=np.uint8).astype(np.int64)
            lengths = [len(p.encode("utf-8")) for p in todo]
            ends = np.cumsum(lengths)
            ids = np.insert(ids, ends[:-1], -1)
            merged = _apply_merges(ids, self._ranks)
            bounds = np.flatnonzero(merged == -1)
            for p, seg in zip(todo, np.split(merged, bounds)):
                self._cache[p] = seg[seg >= 0].tolist()
            if len(self._cache) > 200_000:  # keep memory bounded on huge inputs
                self._cache.clear()
                return self._encode_ordinary(text)
        out: list[int] = []
        for p in pieces:
            out.extend(self._cache[p])
        return out

    def decode(self, ids) -> str:
        """The text of a sequence of ids (list, NumPy array or torch tensor).

        Ids whose bytes do not form valid UTF-8 (say, half of a multi-byte character)
        decode to the replacement character ``U+FFFD``, as ``bytes.decode(errors="replace")``.
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode_bytes(self, ids) -> bytes:
        """The raw bytes of a sequence of ids."""
        if type(ids).__module__.startswith("torch"):
            ids = ids.detach().cpu().numpy()
        ids = check_ids(ids, "ids", ndim=1, vocab_size=len(self._bytes))
        return b"".join(self._bytes[i] for i in ids.tolist())

    # -- looking at tokens ------------------------------------------------------------

    def token_bytes(self, i: int) -> bytes:
        """The bytes of token ``i``."""
        return self.decode_bytes([i])

    def token_str(self, i: int) -> str:
        """A printable form of token ``i``: its text, with invalid UTF-8 as ``U+FFFD``."""
        return self.token_bytes(i).decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        pat = "GPT2_PATTERN" if self.pattern == GPT2_PATTERN else repr(self.pattern)
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self._merges)}, "
                f"pattern={pat}, special_tokens={list(self.special_tokens)})")

    # -- saving and loading -----------------------------------------------------------

    def save(self, path) -> None:
        """Write the tokenizer as readable JSON (atomically: temp file, then rename).

        ``merges`` and ``special_tokens`` define it; ``tokens`` (the text of every merged
        token) is there for people to read and is checked on load.
        """
        path = Path(path)
        data = {
            "format": "lmlib.BPETokenizer",
            "version": 1,
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
            "merges": [list(m) for m in self._merges],
            "tokens": {str(_SPECIAL_BASE + i): self.token_str(_SPECIAL_BASE + i)
                       for i in range(len(self._merges))},
        }
        # one merge and one token per line, so the file reads like a table
        lines = [json.dumps(v, ensure_ascii=False) for v in data["merges"]]
        merges = "[\n  " + ",\n  ".join(lines) + "\n ]" if lines else "[]"
        tokens = ("{\n  " + ",\n  ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
                                         for k, v in data["tokens"].items()) + "\n }"
                  if data["tokens"] else "{}")
        head = {k: v for k, v in data.items() if k not in ("merges", "tokens")}
        text = (json.dumps(head, ensure_ascii=False, indent=1)[:-2]
                + f',\n "merges": {merges},\n "tokens": {tokens}\n}}\n')
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path) -> BPETokenizer:
        """Read a tokenizer written by ``save``; a malformed file is a ``ValueError``."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not a valid JSON file ({err})") from err
        if not isinstance(data, dict) or data.get("format") != "lmlib.BPETokenizer":
            raise ValueError(f"{path} is not a saved BPETokenizer (no \"format\": "
                             "\"lmlib.BPETokenizer\" field)")
        if data.get("version") != 1:
            raise ValueError(f"{path}: unsupported version {data.get('version')!r} (expected 1)")
        for key, kind in (("merges", list), ("special_tokens", dict)):
            if not isinstance(data.get(key), kind):
                raise ValueError(f"{path}: field {key!r} must be a JSON "
                                 f"{'list' if kind is list else 'object'}")
        if data.get("pattern") is not None and not isinstance(data["pattern"], str):
            raise ValueError(f"{path}: field 'pattern' must be a string or null")
        merges = [tuple(m) if isinstance(m, list) else m for m in data["merges"]]
        specials = sorted(data["special_tokens"].items(), key=lambda kv: kv[1]
                          if isinstance(kv[1], int) else -1)
        try:
            tok = cls(merges, data.get("pattern"), [s for s, _ in specials])
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err
        if tok.special_tokens != data["special_tokens"]:
            raise ValueError(f"{path}: special token ids {data['special_tokens']} must follow "
                             f"the merges: expected {tok.special_tokens}")
        tokens = data.get("tokens", {})
        if not isinstance(tokens, dict):
            raise ValueError(f"{path}: field 'tokens' must be a JSON object")
        for k, s in tokens.items():
            if not (k.isdigit() and _SPECIAL_BASE <= int(k) < _SPECIAL_BASE + len(merges)
                    and tok.token_str(int(k)) == s):
                raise ValueError(f"{path}: entry {k!r} of 'tokens' does not match the merges "
                                 "(the file was edited or corrupted)")
        return tok

    def __eq__(self, other) -> bool:
        return (isinstance(other, BPETokenizer) and self._merges == other._merges
                and self.pattern == other.pattern and self.special_tokens == other.special_tokens)

    __hash__ = None


# ----------------------------------------------------------------------------------------


_PALETTE = ["#fde2e4", "#cde4f7", "#d8f3dc", "#fff1c1", "#e9d8fd", "#ffd8be"]


def tokens_html(tokenizer, text: str) -> str:
    """HTML that shows how ``tokenizer`` cuts ``text``: one coloured box per token.

    Works with any tokenizer with ``encode``/``decode``. Display it in a notebook with
    ``IPython.display.HTML(tokens_html(tok, text))``. A token that is only part of a
    multi-byte character shows as ``U+FFFD``.
    """
    ids = list(np.asarray(tokenizer.encode(text)).tolist())
    spans = []
    for k, i in enumerate(ids):
        piece = tokenizer.decode([i])
        shown = html.escape(piece).replace(" ", "&nbsp;").replace("\n", "&#8629;<br>")
        spans.append(f'<span title="id {i}" style="background:{_PALETTE[k % len(_PALETTE)]};'
                     f'color:#000;border-radius:3px;padding:1px 0;margin:0 1px">{shown}</span>')
    return ('<div style="font-family:monospace;line-height:1.9;font-size:14px">'
            + "".join(spans) + f"</div><div style='color:#666'>{len(text)} characters, "
            f"{len(ids)} tokens</div>")


def load_shakespeare_bpe() -> BPETokenizer:
    """The course's BPE tokenizer (512 ids, ``GPT2_PATTERN``, ``<|endoftext|>``) trained on the
    training split of Tiny Shakespeare, shipped in ``lmlib/assets/bpe_shakespeare_512.json``."""
    return BPETokenizer.load(Path(__file__).parent / "assets" / "bpe_shakespeare_512.json")
