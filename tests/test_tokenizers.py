"""Tests of lmlib.tokenizers: byte-level BPE against a brute-force reference, round trips
for every Unicode string (hypothesis), saving and loading, and bad input."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmlib.data import CharTokenizer as DataCharTokenizer
from lmlib.tokenizers import (
    ENDOFTEXT,
    GPT2_PATTERN,
    BPETokenizer,
    CharTokenizer,
    get_pair_counts,
    merge_pair,
    tokens_html,
)


def reference_merges(text, num_merges, pattern=None, special_tokens=()):
    """Brute force: recount every pair of every chunk after each merge."""
    import re

    parts = [text]
    if special_tokens:
        alts = sorted(special_tokens, key=len, reverse=True)
        parts = re.split("(?:" + "|".join(map(re.escape, alts)) + ")", text)
    chunks = []
    for part in parts:
        pieces = re.findall(pattern, part) if pattern else ([part] if part else [])
        chunks += [list(p.encode("utf-8")) for p in pieces]
    merges = []
    for i in range(num_merges):
        counts = {}
        for c in chunks:
            get_pair_counts(c, counts)
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest
        merges.append(best)
        chunks = [merge_pair(c, best, 256 + i) for c in chunks]
    return merges


def reference_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for i, pair in enumerate(merges):
        ids = merge_pair(ids, pair, 256 + i)
    return ids


SMALL_TEXTS = [
    "aaaaaaaaaa",
    "abababab abab ab",
    "the cat sat on the mat; the cat ate the rat.",
    "ünïcödé ünïcödé 日本語 日本語の本 🙂🙂🙂 🙂",
    "aaabdaaabac aaab ddd dddd ddddd",
    "low lower lowest newer newest wider",
]


def test_pair_counts_and_merge_primitives():
    assert get_pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert get_pair_counts([1, 1, 1]) == {(1, 1): 2}  # overlapping pairs are counted
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]  # leftmost wins
    assert merge_pair([1, 1, 1, 1], (1, 1), 9) == [9, 9]


@pytest.mark.parametrize("text", SMALL_TEXTS)
@pytest.mark.parametrize("pattern", [None, GPT2_PATTERN])
def test_merges_equal_brute_force(text, pattern):
    n = 30
    tok = BPETokenizer.train(text, 256 + n, pattern=pattern)
    ref = reference_merges(text, n, pattern)
    assert tok.merges == ref
    assert tok.vocab_size == 256 + len(ref)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abc ", min_size=0, max_size=60), st.integers(1, 25))
def test_merges_equal_brute_force_random(text, n):
    assert BPETokenizer.train(text, 256 + n).merges == reference_merges(text, n)
    assert (BPETokenizer.train(text, 256 + n, GPT2_PATTERN).merges
            == reference_merges(text, n, GPT2_PATTERN))


def test_merges_with_special_tokens_equal_brute_force():
    text = f"abab{ENDOFTEXT}abab cd{ENDOFTEXT}{ENDOFTEXT}cdcd"
    tok = BPETokenizer.train(text, 256 + 10 + 1, special_tokens=[ENDOFTEXT])
    assert tok.merges == reference_merges(text, 10, special_tokens=[ENDOFTEXT])
    assert tok.special_tokens == {ENDOFTEXT: 256 + len(tok.merges)}


@pytest.mark.parametrize("text", SMALL_TEXTS)
def test_encode_equals_reference(text):
    tok = BPETokenizer.train(text * 3, 300)
    probe = text + " " + text[::-1]
    assert tok.encode(probe) == reference_encode(probe, tok.merges)


def test_training_text_is_reduced_as_in_training():
    # encoding the training text with the learned merges gives exactly merges-many fewer
    # tokens than bytes when every merge was applied in training
    text = "aaabdaaabac"
    tok = BPETokenizer.train(text, 259)
    assert tok.merges == [(97, 97), (97, 98), (256, 257)]  # ties: smallest pair
    assert tok.encode(text) == [258, 100, 258, 97, 99]


_tok_plain = BPETokenizer.train("the quick brown fox jumps over the lazy dog. " * 20
                                + "ünïcödé 日本語 🙂", 320)
_tok_pattern = BPETokenizer.train("the quick brown fox jumps over the lazy dog. " * 20
                                  + "ünïcödé 日本語 🙂", 320, pattern=GPT2_PATTERN,
                                  special_tokens=[ENDOFTEXT, "<|pad|>"])


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_every_unicode_string(s):
    for tok in (_tok_plain, _tok_pattern):
        ids = tok.encode(s)
        assert all(isinstance(i, int) and 0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == s


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from([ENDOFTEXT, "<|pad|>"]))))
def test_round_trip_with_special_tokens(parts):
    s = "".join(parts)
    ids = _tok_pattern.encode(s)
    assert _tok_pattern.decode(ids) == s
    assert ids.count(_tok_pattern.special_tokens[ENDOFTEXT]) == s.count(ENDOFTEXT)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_round_trip_with_a_pattern_that_does_not_cover_the_text(s):
    # r"\w+" skips spaces and punctuation: the gaps must still be encoded, as chunks
    tok = BPETokenizer.train("hello world, hello there!", 280, pattern=r"\w+|")
    assert tok.decode(tok.encode(s)) == s


def test_special_tokens_are_single_ids():
    eot = _tok_pattern.special_tokens[ENDOFTEXT]
    assert _tok_pattern.encode(f"the{ENDOFTEXT}fox") == (
        _tok_pattern.encode("the") + [eot] + _tok_pattern.encode("fox"))
    assert _tok_pattern.vocab_size == 256 + len(_tok_pattern.merges) + 2


def test_pattern_keeps_merges_inside_chunks():
    text = "ab ab ab ab"
    with_pattern = BPETokenizer.train(text, 270, pattern=GPT2_PATTERN)
    without = BPETokenizer.train(text, 270)
    tokens = lambda tok: [tok.token_str(256 + i) for i in range(len(tok.merges))]
    assert tokens(with_pattern) == ["ab", " ab"]  # then nothing is left to merge
    assert any("b a" in t for t in tokens(without))  # without one, merges cross words


def test_gpt2_pattern_splits_like_gpt2():
    import re

    text = "Hello world's 123 numbers!!  end\n"
    assert re.findall(GPT2_PATTERN, text) == [
        "Hello", " world", "'s", " 123", " numbers", "!!", " ", " end", "\n"]
    assert re.findall(GPT2_PATTERN, "café_1 déjà-vu 日本") == [
        "café", "_", "1", " déjà", "-", "vu", " 日本"]


def test_gpt2_pattern_letter_and_number_classes_match_unicode_categories():
    # [^\W\d_] must be the letters (category L*) plus the non-decimal numbers (No, Nl),
    # the one documented difference from \p{L}; \d must be exactly the decimal digits (Nd)
    import re
    import sys
    import unicodedata

    letter = re.compile(r"[^\W\d_]")
    digit = re.compile(r"\d")
    for cp in range(0, 0x30000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat in ("Cs",):
            continue
        is_letter = bool(letter.match(ch))
        expected = cat.startswith("L") or (cat in ("No", "Nl") and ch.isnumeric())
        assert is_letter == expected, (hex(cp), cat, sys.version)
        assert bool(digit.match(ch)) == (cat == "Nd"), (hex(cp), cat)


def test_decode_invalid_utf8_gives_replacement_characters():
    ids = list("é".encode("utf-8"))
    assert _tok_plain.decode(ids[:1]) == "\ufffd"
    assert _tok_plain.decode([0xFF, 0x41]) == "\ufffdA"
    assert _tok_plain.decode([]) == ""


def test_decode_accepts_arrays_and_tensors():
    import torch

    ids = _tok_plain.encode("the lazy dog")
    assert _tok_plain.decode(np.array(ids)) == "the lazy dog"
    assert _tok_plain.decode(torch.tensor(ids)) == "the lazy dog"


def test_save_load_round_trip(tmp_path):
    path = tmp_path / "sub" / "tok.json"
    _tok_pattern.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))  # readable JSON
    assert data["merges"][0] == list(_tok_pattern.merges[0])
    assert data["special_tokens"] == _tok_pattern.special_tokens
    loaded = BPETokenizer.load(path)
    assert loaded == _tok_pattern
    s = f"the dog {ENDOFTEXT} jumps ünï 🙂"
    assert loaded.encode(s) == _tok_pattern.encode(s)
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temp file left behind


def test_shared_interface_with_char_tokenizer():
    assert CharTokenizer is DataCharTokenizer  # re-exported, not copied
    char = CharTokenizer("hello world")
    for tok in (char, _tok_plain):
        assert tok.decode(tok.encode("hello")) == "hello"
        assert isinstance(tok.vocab_size, int)
    assert 'title="id 3"' in tokens_html(char, "h")  # sorted " dehlorw": "h" is id 3
    assert tokens_html(_tok_plain, "a<b").count("&lt;") == 1


def test_shipped_shakespeare_tokenizer():
    from lmlib.tokenizers import load_shakespeare_bpe

    tok = load_shakespeare_bpe()
    assert tok.vocab_size == 512 and tok.pattern == GPT2_PATTERN
    assert ENDOFTEXT in tok.special_tokens
    assert len(tok.encode("First Citizen:\nBefore we proceed")) < 25


def test_shipped_tokenizer_is_reproduced_by_training():
    from lmlib.data import load_text
    from lmlib.tokenizers import load_shakespeare_bpe

    text = load_text("shakespeare")
    train = text[: int(0.9 * len(text))]
    assert BPETokenizer.train(train, 512, GPT2_PATTERN, [ENDOFTEXT]) == load_shakespeare_bpe()


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("vocab_size", [0, 255, 256])
def test_train_rejects_small_vocab(vocab_size):
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("hello", vocab_size)


def test_train_rejects_vocab_without_room_for_special_tokens():
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("hello", 257, special_tokens=[ENDOFTEXT])


@pytest.mark.parametrize("bad", [b"hello", 42, None, ["hello"]])
def test_train_and_encode_reject_non_str(bad):
    with pytest.raises(TypeError, match="text must be a str"):
        BPETokenizer.train(bad, 300)
    with pytest.raises(TypeError, match="text must be a str"):
        _tok_plain.encode(bad)


def test_train_rejects_bad_vocab_type_pattern_and_specials():
    with pytest.raises(TypeError, match="vocab_size"):
        BPETokenizer.train("hello", 300.0)
    with pytest.raises(ValueError, match="pattern"):
        BPETokenizer.train("hello", 300, pattern=r"\p{L}+")
    with pytest.raises(TypeError, match="special_tokens"):
        BPETokenizer.train("hello", 300, special_tokens=ENDOFTEXT)
    with pytest.raises(ValueError, match="distinct"):
        BPETokenizer.train("hello", 300, special_tokens=[ENDOFTEXT, ENDOFTEXT])


def test_encode_rejects_lone_surrogates():
    with pytest.raises(ValueError, match="UTF-8"):
        _tok_plain.encode("a\ud800b")
    with pytest.raises(ValueError, match="UTF-8"):
        BPETokenizer.train("a\ud800b", 300)


@pytest.mark.parametrize("ids, err, match", [
    ([-1], ValueError, "negative"), ([_tok_plain.vocab_size], ValueError, "vocabulary"),
    ([1, 2, 10_000], ValueError, "vocabulary"), ([1.5], TypeError, "integer"),
    (["a"], TypeError, "integer"), ([[1, 2], [3, 4]], ValueError, "shape")])
def test_decode_rejects_unknown_ids(ids, err, match):
    with pytest.raises(err, match=f"ids .*{match}"):
        _tok_plain.decode(ids)


def test_constructor_rejects_bad_merges():
    with pytest.raises(ValueError, match=r"merges\[0\]"):
        BPETokenizer([(256, 1)])  # refers to an id that does not exist yet
    with pytest.raises(ValueError, match=r"merges\[1\]"):
        BPETokenizer([(1, 2), (1,)])
    with pytest.raises(ValueError, match="repeat"):
        BPETokenizer([(1, 2), (1, 2)])


def _saved(tmp_path):
    path = tmp_path / "tok.json"
    _tok_pattern.save(path)
    return path, json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("corrupt, message", [
    (lambda d: "{not json", "not a valid JSON"),
    (lambda d: json.dumps([1, 2]), "not a saved BPETokenizer"),
    (lambda d: json.dumps({**d, "format": "other"}), "not a saved BPETokenizer"),
    (lambda d: json.dumps({**d, "version": 7}), "version"),
    (lambda d: json.dumps({**d, "merges": "abc"}), "merges"),
    (lambda d: json.dumps({**d, "merges": [[1, 2], [999, 3]] + d["merges"][2:]}), r"merges\[1\]"),
    (lambda d: json.dumps({**d, "merges": [[1, 2, 3]]}), r"merges\[0\]"),
    (lambda d: json.dumps({**d, "special_tokens": {ENDOFTEXT: 3}}), "special token"),
    (lambda d: json.dumps({**d, "pattern": 5}), "pattern"),
    (lambda d: json.dumps({**d, "tokens": {"256": "zz"}}), "tokens"),
])
def test_load_rejects_corrupt_files(tmp_path, corrupt, message):
    path, data = _saved(tmp_path)
    path.write_text(corrupt(data), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        BPETokenizer.load(path)
