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

import numpy as np

import lmlib
from lmlib.tokenizers import BPETokenizer, get_pair_counts, merge_pair

lmlib.setup()

# %% [markdown]
# ## Exercise 1: pair statistics
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
assert pair_stats([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
assert pair_stats([7, 7, 7]) == {(7, 7): 2}
assert pair_stats([5]) == {} and pair_stats([]) == {}
ids = list("the cat in the hat".encode("utf-8"))
assert pair_stats(ids) == get_pair_counts(ids)
assert most_frequent_pair(ids) == (97, 116)  # "at", "th", "he", "e " twice each: "at" is smallest
assert most_frequent_pair([3, 4, 1, 2]) == (1, 2)  # all once: the smallest pair
assert most_frequent_pair([9]) is None
print("pair statistics: correct")

# %% [markdown]
# ## Exercise 2: one merge
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
assert merge(original, (1, 2), 256) == [256, 3, 256, 2]
assert original == [1, 2, 3, 1, 2, 2], "merge must not change its input"
assert merge([1, 1, 1], (1, 1), 9) == [9, 1]
assert merge([1, 1, 1, 1], (1, 1), 9) == [9, 9]
assert merge([], (1, 2), 9) == [] and merge([4], (1, 2), 9) == [4]
rng = np.random.default_rng(0)
for _ in range(50):
    ids = rng.integers(0, 3, size=30).tolist()
    assert merge(ids, (1, 1), 7) == merge_pair(ids, (1, 1), 7)
print("one merge: correct")

# %% [markdown]
# ## Exercise 3: encode with a merges table
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
assert encode("the", table) == [257]
assert encode("he the", table) == [256, 258]
assert encode("é", table) == [195, 169]  # two UTF-8 bytes, no merge applies
tok = BPETokenizer.train("the cat sat on the mat with the hat " * 5, 300)
for s in ["the rat sat", "mathematics", "naïve 日本"]:
    assert encode(s, tok.merges) == tok.encode(s), s
print("encode with a merges table: correct")

# %% [markdown]
# ## Exercise 4: decode
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
assert decode([257], table) == "the"
assert decode([256, 258], table) == "he the"
assert decode([195, 169], table) == "é"
assert decode([195], table) == "\ufffd"  # half of "é"
tok = BPETokenizer.train("the cat sat on the mat with the hat " * 5, 300)
for s in ["the rat sat", "naïve 日本 🙂", ""]:
    assert decode(tok.encode(s), tok.merges) == s
try:
    decode([300], table)
    raise AssertionError("an unknown id must raise ValueError")
except ValueError:
    pass
print("decode: correct")

# %% [markdown]
# ## Exercise 5: a fair loss, in nats per character
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
assert math.isclose(nats_per_char(3.0, 500, 1000), 1.5)
assert math.isclose(nats_per_char(1.7, 111_540, 111_540), 1.7)  # a character model
assert math.isclose(bits_per_byte(math.log(2), 10, 10), 1.0)
assert math.isclose(bits_per_byte(2.0, 100, 250), 0.8 / math.log(2))
# two tokenizations of one text: a model that spreads the same total nats over fewer
# tokens has a higher per-token loss but the same per-character loss
assert math.isclose(nats_per_char(2.0, 1000, 2000), nats_per_char(4.0, 500, 2000))
print("nats per character: correct")
