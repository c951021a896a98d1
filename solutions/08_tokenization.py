# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/08_tokenization.ipynb)

# %% [markdown]
# # Chapter 08 exercises: byte-level BPE
#
# Five exercises on the pieces of chapter 08. Each is independent: write the body of the
# function where it says `# YOUR CODE HERE`, then run the **check** cell below it.
# Ids `0..255` are the bytes of the UTF-8 text; merge `i` of a merges table (a list of
# pairs `(a, b)`) makes id `256 + i`.

# %%
# Colab only: install the course library (lmlib) once. Elsewhere this does nothing.
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("lmlib") is None:
    # --no-deps keeps Colab's own torch, ipywidgets and ipykernel; then what lmlib adds
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    course = "https://github.com/ngrams-to-gpt/ngrams-to-gpt"
    subprocess.run(pip + ["--no-deps", f"lmlib @ git+{course}@main"], check=True)
    subprocess.run(pip + ["numpy>=1.24", "matplotlib>=3.7", "anywidget>=0.9", "tqdm>=4.60",
                          "safetensors>=0.4"], check=True)
    importlib.invalidate_caches()
    print(f"Colab: installed lmlib from {course}; the corpora download on first use.")

# %%
import math
import re
import time

import numpy as np

import lmlib
from lmlib.data import load_text
from lmlib.tokenizers import GPT2_PATTERN, BPETokenizer, get_pair_counts, merge_pair

lmlib.setup()

# %% [markdown]
# ## Exercise 1: pair statistics (core, 10 min)
#
# Write `pair_stats(ids)` returning a dict `{(a, b): count}` with how often each adjacent
# pair occurs in the list `ids`. Pairs overlap: `[7, 7, 7]` holds `(7, 7)` twice. Then
# `most_frequent_pair(ids)` returns the pair with the largest count, breaking ties by the
# smallest pair (compare tuples), as BPE training does; `None` when there is no pair.

# %%
def pair_stats(ids):
    ### BEGIN SOLUTION
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
    ### END SOLUTION


def most_frequent_pair(ids):
    ### BEGIN SOLUTION
    counts = pair_stats(ids)
    if not counts:
        return None
    return min(counts, key=lambda p: (-counts[p], p))
    ### END SOLUTION


# %% tags=["check"]
# Check: pair statistics
got = pair_stats([1, 2, 3, 1, 2])
assert got == {(1, 2): 2, (2, 3): 1, (3, 1): 1}, f"pair_stats([1, 2, 3, 1, 2]) = {got}: count every adjacent pair"
assert pair_stats([7, 7, 7]) == {(7, 7): 2}, f"pair_stats([7, 7, 7]) = {pair_stats([7, 7, 7])}: overlapping pairs count twice"
assert pair_stats([5]) == {} and pair_stats([]) == {}, "no pairs in a list of 0 or 1 ids"
ids = list("the cat in the hat".encode("utf-8"))
assert pair_stats(ids) == get_pair_counts(ids), "not equal to lmlib.tokenizers.get_pair_counts"
# "at", "th", "he", "e " twice each: "at" is the smallest
assert most_frequent_pair(ids) == (97, 116), \
    f"most_frequent_pair gave {most_frequent_pair(ids)}: ties go to the smallest pair (97, 116)"
assert most_frequent_pair([3, 4, 1, 2]) == (1, 2), "all pairs once: ties go to the smallest pair (1, 2)"
assert most_frequent_pair([9]) is None, "no pair at all: return None"
print("pair statistics: correct")

# %% [markdown]
# ## Exercise 2: one merge (core, 10 min)
#
# Write `merge(ids, pair, new_id)`: a new list where every occurrence of `pair` is replaced
# by `new_id`, scanning left to right (so `[1, 1, 1]` with the pair `(1, 1)` becomes
# `[new_id, 1]`). Do not change `ids` itself.

# %%
def merge(ids, pair, new_id):
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: one merge
original = [1, 2, 3, 1, 2, 2]
got = merge(original, (1, 2), 256)
assert original == [1, 2, 3, 1, 2, 2], "merge must not change its input"
assert got == [256, 3, 256, 2], f"merge([1, 2, 3, 1, 2, 2], (1, 2), 256) = {got}: replace every occurrence"
assert merge([1, 1, 1], (1, 1), 9) == [9, 1], f"merge([1, 1, 1], (1, 1), 9) = {merge([1, 1, 1], (1, 1), 9)}: scan left to right, an id is merged once"
assert merge([1, 1, 1, 1], (1, 1), 9) == [9, 9], "merge([1, 1, 1, 1], (1, 1), 9) should be [9, 9] (left to right)"
assert merge([], (1, 2), 9) == [] and merge([4], (1, 2), 9) == [4], "a list without the pair comes back unchanged"
rng = np.random.default_rng(0)
for _ in range(50):
    ids = rng.integers(0, 3, size=30).tolist()
    assert merge(ids, (1, 1), 7) == merge_pair(ids, (1, 1), 7), f"not equal to lmlib's merge_pair on {ids}"
print("one merge: correct")

# %% [markdown]
# ## Exercise 3: encode with a merges table (core, 10 min)
#
# Write `encode(text, merges)`: the UTF-8 bytes of `text` as a list of ints, then every
# merge applied **in the order of the table** (merge `i` turns the pair `merges[i]` into
# `256 + i`). You may use `lmlib.tokenizers.merge_pair(ids, pair, new_id)`.

# %%
def encode(text, merges):
    ### BEGIN SOLUTION
    ids = list(text.encode("utf-8"))
    for i, pair in enumerate(merges):
        ids = merge_pair(ids, pair, 256 + i)
    return ids
    ### END SOLUTION


# %% tags=["check"]
# Check: encode with a merges table
table = [(104, 101), (116, 256), (32, 257)]  # "he", "t"+"he", " "+"the"
assert encode("é", table) == [195, 169], f"encode('é') = {encode('é', table)}: start from the UTF-8 bytes [195, 169]"
assert encode("the", table) == [257], f"encode('the') = {encode('the', table)}, expected [257]: apply the merges in order, merge i makes id 256 + i"
assert encode("he the", table) == [256, 258], f"encode('he the') = {encode('he the', table)}, expected [256, 258]: apply the merges in the order of the table"
tok = BPETokenizer.train("the cat sat on the mat with the hat " * 5, 300)
for s in ["the rat sat", "mathematics", "naïve 日本"]:
    assert encode(s, tok.merges) == tok.encode(s), f"{s!r}: not equal to BPETokenizer.encode"
print("encode with a merges table: correct")

# %% [markdown]
# ## Exercise 4: decode (core, 15 min)
#
# Write `decode(ids, merges)`: build the bytes of every id (ids `0..255` are single bytes,
# id `256 + i` is the bytes of `merges[i][0]` followed by those of `merges[i][1]`), join
# the bytes of `ids` and decode them as UTF-8 with `errors="replace"`, so that bytes that
# are not valid UTF-8 become `"\ufffd"` instead of raising. An id outside the vocabulary
# raises a `ValueError`.

# %%
def decode(ids, merges):
    ### BEGIN SOLUTION
    vocab = [bytes([b]) for b in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    for i in ids:
        if not 0 <= i < len(vocab):
            raise ValueError(f"id {i} is outside the vocabulary [0, {len(vocab)})")
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
    ### END SOLUTION


# %% tags=["check"]
# Check: decode
table = [(104, 101), (116, 256), (32, 257)]
assert decode([257], table) == "the", f"decode([257]) = {decode([257], table)!r}, expected 'the' (bytes of merge 1 = bytes of 116 + bytes of 256)"
assert decode([256, 258], table) == "he the", f"decode([256, 258]) = {decode([256, 258], table)!r}, expected 'he the'"
assert decode([195, 169], table) == "é", f"decode([195, 169]) = {decode([195, 169], table)!r}: join the bytes before decoding"
try:
    half = decode([195], table)  # half of "é"
except UnicodeDecodeError:
    half = None
assert half == "\ufffd", "half of a character must decode to U+FFFD (errors='replace')"
tok = BPETokenizer.train("the cat sat on the mat with the hat " * 5, 300)
for s in ["the rat sat", "naïve 日本 🙂", ""]:
    assert decode(tok.encode(s), tok.merges) == s, f"{s!r} does not come back from decode(encode(...))"
try:
    decode([300], table)
    raise AssertionError("an unknown id must raise ValueError")
except ValueError:
    pass
except Exception as err:
    raise AssertionError(f"an unknown id must raise ValueError, not {type(err).__name__}") from err
print("decode: correct")

# %% [markdown]
# ## Exercise 5: a fair loss, in nats per character (core, 10 min)
#
# A model with a BPE tokenizer reports a mean loss of `loss_per_token` nats over
# `n_tokens` tokens of a validation text of `n_chars` characters. Write
# `nats_per_char(loss_per_token, n_tokens, n_chars)`: the total nats the model pays for
# the text, divided by its characters. Then `bits_per_byte(loss_per_token, n_tokens,
# n_bytes)`, the same in bits (divide nats by ln 2) per UTF-8 byte.

# %%
def nats_per_char(loss_per_token, n_tokens, n_chars):
    ### BEGIN SOLUTION
    return loss_per_token * n_tokens / n_chars
    ### END SOLUTION


def bits_per_byte(loss_per_token, n_tokens, n_bytes):
    ### BEGIN SOLUTION
    return loss_per_token * n_tokens / n_bytes / math.log(2)
    ### END SOLUTION


# %% tags=["check"]
# Check: nats per character
assert math.isclose(nats_per_char(3.0, 500, 1000), 1.5), \
    f"nats_per_char(3.0, 500, 1000) = {nats_per_char(3.0, 500, 1000)}, expected 1.5 (total nats / characters)"
assert math.isclose(nats_per_char(1.7, 111_540, 111_540), 1.7), "nats_per_char of a character model is its loss"
assert math.isclose(bits_per_byte(math.log(2), 10, 10), 1.0), \
    f"bits_per_byte(ln 2, 10, 10) = {bits_per_byte(math.log(2), 10, 10)}, expected 1 bit (divide nats by ln 2)"
assert math.isclose(bits_per_byte(2.0, 100, 250), 0.8 / math.log(2)), "bits_per_byte: total nats / bytes / ln 2"
# two tokenizations of one text: a model that spreads the same total nats over fewer
# tokens has a higher per-token loss but the same per-character loss
assert math.isclose(nats_per_char(2.0, 1000, 2000), nats_per_char(4.0, 500, 2000)), \
    "nats_per_char must not depend on the tokenization when the total nats are the same"
print("nats per character: correct")


# %% [markdown]
# ## Exercise 6: training BPE (core, 30 min)
#
# Now the training loop itself. Write `train_bpe(text, num_merges, pattern=None)`, which
# returns the list of merges (pairs of ids), in order:
#
# 1. cut the text into chunks: the whole text is one chunk when `pattern` is `None`,
#    otherwise the chunks are `re.findall(pattern, text)`; each chunk becomes the list of
#    its UTF-8 bytes;
# 2. count the adjacent pairs **inside** every chunk (never across two chunks), added over
#    all chunks;
# 3. the pair with the largest count wins; **ties go to the smallest pair** (compare the
#    tuples), so that training is reproducible; merge `i` gives it the id `256 + i` and
#    replaces it in every chunk;
# 4. repeat `num_merges` times, or stop early when no pair is left.
#
# You may use `lmlib.tokenizers.get_pair_counts(ids, counts)` (which adds to `counts`) and
# `merge_pair(ids, pair, new_id)`. Speed does not matter here: recount after every merge.
# (Tip: identical chunks, such as the many `" the"`, can be kept once with their count.)

# %%
def train_bpe(text, num_merges, pattern=None):
    ### BEGIN SOLUTION
    pieces = [text] if pattern is None else re.findall(pattern, text)
    chunks = {}  # bytes of a distinct chunk -> how often it occurs
    for piece in pieces:
        key = tuple(piece.encode("utf-8"))
        chunks[key] = chunks.get(key, 0) + 1
    chunks = [(list(key), n) for key, n in chunks.items()]
    merges = []
    for i in range(num_merges):
        counts = {}
        for ids, n in chunks:
            for pair, c in get_pair_counts(ids).items():
                counts[pair] = counts.get(pair, 0) + c * n
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        chunks = [(merge_pair(ids, pair, 256 + i), n) for ids, n in chunks]
        merges.append(pair)
    return merges
    ### END SOLUTION


# %% tags=["check"]
# Check: training BPE
got = train_bpe("abcd bcda", 1)
assert got == [(98, 99)], (f"train_bpe('abcd bcda', 1) = {got}: 'bc' and 'cd' occur twice each; "
                          "the most frequent pair wins, ties go to the smallest pair (98, 99)")
got = train_bpe("xyab", 1)
assert got == [(97, 98)], f"train_bpe('xyab', 1) = {got}: every pair occurs once, ties go to the smallest pair (97, 98)"
got = train_bpe("aaaa", 2)
assert got == [(97, 97), (256, 256)], f"train_bpe('aaaa', 2) = {got}: merge 0 makes id 256, and merged ids take part in later merges"
try:
    got = train_bpe("ab", 5)
except Exception as err:
    raise AssertionError(f"train_bpe('ab', 5) raised {type(err).__name__}: stop when no pair is left") from err
assert got == [(97, 98)], f"train_bpe('ab', 5) = {got}: stop when no pair is left"
got = train_bpe("a b a b", 2, pattern=GPT2_PATTERN)  # chunks 'a', ' b', ' a', ' b'
assert got == BPETokenizer.train("a b a b", 258, pattern=GPT2_PATTERN).merges, \
    f"with a pattern, got {got}: count pairs inside each chunk only, never across chunks, each chunk as often as it occurs"
shakespeare_text = load_text("shakespeare")[:3000]
for pattern in (None, GPT2_PATTERN):
    want = BPETokenizer.train(shakespeare_text, 256 + 40, pattern=pattern).merges
    got = train_bpe(shakespeare_text, 40, pattern)
    assert got == want, (f"pattern={pattern is not None}: merge {next(i for i, (a, b) in enumerate(zip(got + [None] * 40, want)) if a != b)} "
                         "differs from BPETokenizer.train")
start = time.perf_counter()
train_bpe(shakespeare_text, 40)
mine = time.perf_counter() - start
start = time.perf_counter()
BPETokenizer.train(shakespeare_text, 256 + 40)
lib = time.perf_counter() - start
print(f"training BPE: correct (40 merges on 3,000 characters: yours {mine:.3f} s, lmlib's "
      f"incremental version {lib:.3f} s)")

# %% [markdown]
# ## Exercise 7: special tokens (core, 20 min)
#
# A special token such as `<|endoftext|>` must reach the model as **one** id and must never
# be cut by BPE. Write `encode_special(text, tok, specials)`: `tok` is a `BPETokenizer`
# without special tokens and `specials` a dict `{string: id}`. Cut `text` at every
# occurrence of a special string (when two could match at one place, the **longest** wins),
# encode the ordinary pieces with `tok.encode` and put each special's id in its place.
# Careful: `|` means "or" in a regular expression (`re.escape` quotes it).

# %%
def encode_special(text, tok, specials):
    ### BEGIN SOLUTION
    if not specials:
        return tok.encode(text)
    alternatives = sorted(specials, key=len, reverse=True)  # the longest match wins
    parts = re.split("(" + "|".join(map(re.escape, alternatives)) + ")", text)
    ids = []
    for k, part in enumerate(parts):
        if k % 2:  # re.split puts the matched separators at the odd positions
            ids.append(specials[part])
        elif part:
            ids.extend(tok.encode(part))
    return ids
    ### END SOLUTION


# %% tags=["check"]
# Check: special tokens
base = BPETokenizer.train(load_text("shakespeare")[:5000], 300, pattern=GPT2_PATTERN)
eot = {"<|endoftext|>": 300}


def run(text, specials):
    try:
        return encode_special(text, base, specials)
    except KeyError as err:
        raise AssertionError(f"KeyError {err}: a special string was cut into pieces "
                             "(quote it with re.escape)") from err


got = run("Farewell.<|endoftext|>ROMEO:", eot)
assert got.count(300) == 1, f"got {got}: a special token must be one id"
assert got == base.encode("Farewell.") + [300] + base.encode("ROMEO:"), \
    f"got {got}: the pieces around the special token are encoded with tok.encode"
plain = "a < b | c > d"
assert run(plain, eot) == base.encode(plain), \
    "ordinary '<', '|' and '>' are not special: quote the special strings with re.escape"
two = {"<|sep|>": 300, "<|sep|><|sep|>": 301}
got = run("x<|sep|><|sep|>y<|sep|>", two)
assert got == base.encode("x") + [301] + base.encode("y") + [300], \
    f"got {got}: where two special tokens could match, the longest wins"
ref = BPETokenizer(base.merges, GPT2_PATTERN, special_tokens=["<|endoftext|>"])
for text in ["<|endoftext|>", "the end<|endoftext|><|endoftext|>", "no special here", ""]:
    assert run(text, eot) == ref.encode(text), \
        f"{text!r}: not equal to BPETokenizer(..., special_tokens=['<|endoftext|>']).encode"
print("special tokens: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** A BPE model reports 3.0 nats per token and a character model
# 1.7 nats per character on the same val text. Which is better, and what do you need to
# know to decide? Why is the per-token number not enough?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The two numbers are in different units: a BPE token covers several
# characters, so it is naturally harder to predict. Convert to the same unit: nats per
# character = nats per token × tokens / characters. With about 1.9 characters per token,
# 3.0 nats/token is about 1.58 nats/char, better than 1.7; with 1.5 characters per token
# it would be 2.0, worse. You need the number of tokens and characters of the val text.
#
# **Rubric (2 points).** 1 point for "different units, convert with tokens / characters";
# 1 point for doing or describing the conversion (the answer depends on the compression).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** Predict the number of characters per token of the 512-token
# Shakespeare tokenizer on (a) more Shakespeare, (b) Python source code, (c) Japanese text.
# Explain each from what the merges were trained on.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** (a) About what it gets on val (near 2): the merges are frequent
# Shakespearean strings. (b) Lower, closer to 1: code has identifiers, symbols and
# indentation the merges never saw, so most of it stays as single bytes (common English
# words in it still merge). (c) Below 1 character per token: no merge involves Japanese
# bytes, and each Japanese character is 3 UTF-8 bytes, so it costs 3 tokens.
#
# **Rubric (2 points).** 1 point for the direction of (b) and (c) relative to (a); 1 point
# for the byte-level reason of (c) (3 bytes per character, no merges).
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** Why must ties between equally frequent pairs be broken by a
# fixed rule, and why must special tokens be matched *before* BPE runs rather than learned
# as merges?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** The merges table *is* the tokenizer: if ties were broken by, say, the
# order a dict happens to hold its keys, two runs (or two libraries) on the same text could
# learn different merges and encode text differently, and a model trained with one could
# not be used with the other. A special token must be one id that ordinary text can never
# produce by accident and that BPE never cuts or glues to its neighbours; matching it first
# guarantees both, while merges would split it differently depending on context and could
# merge it with the next word.
#
# **Rubric (2 points).** 1 point for reproducibility of the merges table; 1 point for
# special tokens being atomic and distinct from ordinary text.
# ### END SOLUTION
