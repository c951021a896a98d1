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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/08_tokenization.ipynb)

# %% [markdown]
# # Chapter 08: tokenization with byte-level BPE
#
# Every model so far read Shakespeare one **character** at a time. Real language models do
# not: GPT-2, GPT-4, Llama and friends read **subword tokens** made by *byte-pair encoding*
# (BPE). In this chapter you will:
#
# 1. compare characters, words and subwords as units: vocabulary size against sequence
#    length, and what happens to words never seen in training;
# 2. see text as **bytes** (UTF-8), which lets a tokenizer handle any language with only 256
#    base symbols;
# 3. build BPE step by step: count pairs, merge the most frequent, keep a merges table,
#    encode and decode, and watch the token boundaries change;
# 4. train it on Shakespeare and plot **compression** (characters per token) against the
#    vocabulary size;
# 5. add **pre-tokenisation** (GPT-2's regex, and GPT-4's beside it) and **special
#    tokens** (`<|endoftext|>`);
# 6. train a GPT on BPE tokens and compare it *fairly* with the character GPT, in
#    **nats per character**.
#
# **Prerequisites:** chapter 00 (tokens, cross-entropy), chapter 07 (the GPT and its
# training loop). **Time on a laptop CPU:** under a minute in fast mode, about 6 to 9 minutes
# in full mode (8.7 CPU-minutes measured 2026-12-01, one thread, on a heavily loaded 2-core
# server; almost all of it training the two GPTs of section 6).
#
# The library versions: `lmlib.tokenizers.BPETokenizer` and `lmlib.tokenizers.CharTokenizer`.

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
import re
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display

import lmlib
from lmlib.data import load_text
from lmlib.tokenizers import (ENDOFTEXT, GPT2_PATTERN, GPT2_PATTERN_REGEX, BPETokenizer,
                              CharTokenizer, tokens_html)

lmlib.setup()

text = load_text("shakespeare")
n = int(0.9 * len(text))
train_text, val_text = text[:n], text[n:]  # the course's split: first 90% / last 10%
print(f"train: {len(train_text):,} characters, val: {len(val_text):,} characters")

# %% [markdown]
# ## 1. Characters, words or subwords?
#
# A tokenizer cuts text into units and numbers them. The choice is a trade-off:
#
# * **characters**: a tiny vocabulary (65 for Shakespeare) and nothing is ever unknown, but
#   sequences are long, so the model spends its context window and its compute on spelling;
# * **words**: short sequences, but a huge vocabulary (every word form is its own row of
#   the embedding matrix), and a word not seen in training has no id at all;
# * **subwords**: frequent words get one token, rare words are spelled out of a few
#   pieces. The vocabulary size is a knob we choose.
#
# Let us measure the first two on Shakespeare.

# %%
chars = CharTokenizer(train_text)
word_re = re.compile(r"\w+|[^\w\s]")  # words, and each punctuation mark on its own
train_words = word_re.findall(train_text)
val_words = word_re.findall(val_text)
word_vocab = set(train_words)
unseen = [w for w in val_words if w not in word_vocab]

print(f"characters: vocabulary {chars.vocab_size:>6,}, val sequence {len(val_text):>7,} tokens")
print(f"words:      vocabulary {len(word_vocab):>6,}, val sequence {len(val_words):>7,} tokens")
print(f"{len(unseen) / len(val_words):.1%} of the words of val never occur in train, "
      f"e.g. {sorted(set(unseen))[:8]}")

# %% [markdown]
# **Check yourself.** Every character of val is in the character vocabulary (65 is tiny),
# while a few percent of val's words would be unknown to a word-level model: it would have
# to map them all to one `<unk>` id and could never write them.

# %%
assert all(ch in chars.stoi for ch in val_text)
assert len(word_vocab) > 100 * chars.vocab_size
assert 0.01 < len(unseen) / len(val_words) < 0.2

# %% [markdown]
# ## 2. Text is bytes: UTF-8
#
# Shakespeare is plain ASCII, but a tokenizer for the real world meets accents, Chinese,
# emoji. Unicode gives each character a **code point** (an integer up to 1,114,111, source:
# the Unicode standard, whose last code point is U+10FFFF: too many for a vocabulary). UTF-8 writes each code point as **1 to 4 bytes**: ASCII takes one
# byte, `é` two, most CJK characters three, emoji four. A tokenizer that starts from the
# 256 possible byte values can encode *any* string, and never needs an `<unk>` token.

# %%
samples = ["hello", "café naïve", "日本語", "🙂👍"]
for s in samples:
    b = s.encode("utf-8")
    print(f"{s!r:14} {len(s)} characters -> {len(b):2} bytes: {list(b)}")

fig, ax = plt.subplots(figsize=(7, 2.6))
for k, s in enumerate(samples):
    ax.bar(np.arange(2) + 3 * k, [len(s), len(s.encode("utf-8"))], color=["C0", "C1"])
ax.set_xticks([3 * k + 0.5 for k in range(len(samples))],
              ["ASCII", "accents", "CJK", "emoji"])  # (plot fonts may lack CJK and emoji)
ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in ("C0", "C1")],
          labels=["characters", "UTF-8 bytes"])
ax.set_ylabel("length")
ax.set_title("The same strings, counted in characters and in bytes")
plt.show()

# %% [markdown]
# **Check yourself.** One byte per ASCII character, two for `é`, three for `日`, four for
# `🙂`; and bytes always decode back to the same string.

# %%
assert [len(ch.encode("utf-8")) for ch in "aé日🙂"] == [1, 2, 3, 4]
assert all(s.encode("utf-8").decode("utf-8") == s for s in samples)

# %% [markdown]
# Bytes alone are a character-level model with longer sequences for non-ASCII text. **BPE**
# fixes the length: it starts from the 256 bytes and *learns* new tokens by gluing together
# the pairs that occur most often.
#
# ## 3. Byte-pair encoding, step by step
#
# The algorithm was invented for data compression (Philip Gage, "A New Algorithm for Data
# Compression", 1994), used for subword units in neural translation by Sennrich et al.
# (2016), and applied to bytes by GPT-2 (Radford et al. 2019):
#
# 1. write the training text as a list of byte ids (0..255);
# 2. count every adjacent pair of ids;
# 3. take the most frequent pair `(a, b)`, give it the next free id `256 + i`, and replace
#    every occurrence of `a, b` in the list by that id: this is **merge `i`**;
# 4. repeat until the vocabulary has the size we want.
#
# The list of merges, in order, *is* the tokenizer. A small text first:

# %%
small = "the cat sat on the mat; the rat ate the hat that the cat had."
ids = list(small.encode("utf-8"))


def pair_counts(ids):
    """How often each adjacent pair occurs in ids: {(a, b): count} (pairs may overlap)."""
    counts = {}
    for a, b in zip(ids, ids[1:]):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    return counts


def merge(ids, pair, new_id):
    """ids with every occurrence of pair (scanning left to right) replaced by new_id."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


counts = pair_counts(ids)
top = sorted(counts, key=lambda p: (-counts[p], p))[:12]
show = lambda pair: repr(bytes(pair).decode("utf-8"))
plt.figure(figsize=(7, 2.8))
plt.bar(range(len(top)), [counts[p] for p in top])
plt.xticks(range(len(top)), [show(p) for p in top], rotation=45)
plt.ylabel("count")
plt.title(f"The most frequent byte pairs of {len(ids)} bytes")
plt.show()

# %% [markdown]
# The winner is merged into token 256. Ties are broken by taking the smallest pair `(a, b)`,
# so that training is reproducible (the library does the same).

# %%
best = min(counts, key=lambda p: (-counts[p], p))
merged = merge(ids, best, 256)
print(f"merge 0: {best} = {show(best)} occurs {counts[best]} times -> id 256")
print(f"{len(ids)} tokens -> {len(merged)} tokens")

# %% [markdown]
# **Check yourself.** Each occurrence of the pair saved exactly one token; the overlapping
# case `a a a` is merged from the left.

# %%
assert len(merged) == len(ids) - counts[best]
assert merge([1, 1, 1], (1, 1), 9) == [9, 1]
assert 256 not in ids and merged.count(256) == counts[best]

# %% [markdown]
# Repeat: count the pairs again, merge the winner into id 257, and so on, keeping the
# **merges table**: pair `(a, b)` made id `256 + i`. A merged token can take part in a
# later merge, so tokens grow into whole words. That loop (with the tie rule, and stopping
# when no pair is left) is exercise 6; here the library's `BPETokenizer.train` runs it for
# 12 merges.

# %%
def token_bytes(merges):
    """The bytes of every id: the 256 bytes, then each merge glues two earlier tokens."""
    vocab = [bytes([b]) for b in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return vocab


small_merges = BPETokenizer.train(small, vocab_size=256 + 12).merges
vocab = token_bytes(small_merges)
for i, (a, b) in enumerate(small_merges):
    print(f"merge {i:2}: ({a:3}, {b:3}) -> {256 + i}   "
          f"{vocab[a].decode()!r:>7} + {vocab[b].decode()!r:<7} = {vocab[256 + i].decode()!r}")

# %% [markdown]
# **Encoding** new text replays the merges *in the order they were learned* (a later merge
# may need the token of an earlier one). **Decoding** looks up each id's bytes and decodes
# the UTF-8.

# %%
def encode(text, merges):
    ids = list(text.encode("utf-8"))
    for i, pair in enumerate(merges):
        ids = merge(ids, pair, 256 + i)
    return ids


def decode(ids, merges):
    vocab = token_bytes(merges)
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


probe = "the bat sat on the hat"
print(encode(probe, small_merges))
print(decode(encode(probe, small_merges), small_merges))

# %% [markdown]
# The colours show where the token boundaries fall, after 0, 4 and 12 merges (hover over a
# token to see its id):

# %%
for k in (0, 4, 12):
    display(HTML(f"<b>{k} merges</b>" + tokens_html(BPETokenizer(small_merges[:k]), small)))

# %% [markdown]
# **Check yourself.** The first merge is the one we made by hand above; our `encode` and
# `decode` equal the library's `BPETokenizer`, and decoding gives the text back.

# %%
lib = BPETokenizer(small_merges)
assert small_merges[0] == best
assert lib.encode(probe) == encode(probe, small_merges)
assert lib.decode(lib.encode(probe)) == decode(encode(probe, small_merges), small_merges) == probe

# %% [markdown]
# ### Decoding any ids: invalid UTF-8
#
# A model can emit *any* sequence of ids, for example only the first byte of `é`. Those
# bytes are not valid UTF-8; `decode` then shows the replacement character `�` (U+FFFD)
# instead of crashing. Encoding and then decoding a real string always gives it back.

# %%
e_bytes = list("é".encode("utf-8"))
print(e_bytes, "->", repr(lib.decode(e_bytes[:1])), repr(lib.decode(e_bytes)))
assert lib.decode(e_bytes[:1]) == "\ufffd" and lib.decode(e_bytes) == "é"
for s in samples:
    assert lib.decode(lib.encode(s)) == s  # merges trained on English, still lossless

# %% [markdown]
# ### Making training fast
#
# The plain loop recounts every pair of the whole text after each merge: the cost is
# (number of merges) × (text length). But a merge only changes the pairs *next to* the
# occurrences of the merged pair: in `x a b y`, merging `(a, b)` into `Z` removes the pairs
# `(x, a)`, `(a, b)`, `(b, y)` and adds `(x, Z)`, `(Z, y)`. `BPETokenizer.train` keeps
# the pair counts in a dict, the positions of each pair in a set, the text as a linked list
# (so a merge deletes a position in O(1)), and the most frequent pair on a heap. A merge
# then costs time in proportion to how often its pair occurs.
#
# How much that saves: one full recount of the pairs costs what the plain loop pays at
# every merge, so (merges × one recount) is what the plain loop would take; the
# incremental trainer is timed for real. (Time your own loop of exercise 6 against it.)

# %%
n_chars, n_merges = (20_000, 24) if lmlib.FAST else (100_000, 64)
piece = list(train_text[:n_chars].encode("utf-8"))
start = time.perf_counter()
for _ in range(3):
    pair_counts(piece)
t_recount = (time.perf_counter() - start) / 3
start = time.perf_counter()
fast = BPETokenizer.train(train_text[:n_chars], 256 + n_merges).merges
t_fast = time.perf_counter() - start
t_plain = n_merges * t_recount  # a lower bound: the merges themselves cost time too

plt.figure(figsize=(5, 2.4))
plt.barh(["recount every merge\n(merges x one recount)", "incremental updates\n(timed)"],
         [t_plain, t_fast], color=["C3", "C2"])
plt.xlabel("seconds")
plt.title(f"{n_merges} merges on {n_chars:,} characters")
plt.show()
print(f"one recount {t_recount * 1e3:.1f} ms -> plain loop at least {t_plain:.2f} s; "
      f"incremental {t_fast:.2f} s")

# %% [markdown]
# **Check yourself.** The incremental trainer's first merge is the most frequent pair of the
# recount (ties to the smallest), and it beats the plain loop's lower bound.

# %%
counts_piece = pair_counts(piece)
assert fast[0] == min(counts_piece, key=lambda p: (-counts_piece[p], p))
if not lmlib.FAST:
    assert t_fast < t_plain

# %% [markdown]
# ## 4. Training on Shakespeare: compression against vocabulary size
#
# BPE training is greedy, so the first `k` merges of a big vocabulary are exactly the
# merges of a vocabulary of `256 + k`. One training run therefore gives every smaller
# tokenizer too. Compression is measured on the **validation** text (the tokenizer never
# saw it) as characters per token: the larger, the shorter the sequences the model must
# read.

# %%
max_vocab = 1024 if lmlib.FAST else 4096
start = time.perf_counter()
big = BPETokenizer.train(train_text, max_vocab, pattern=GPT2_PATTERN)
print(f"GPT-2 pattern: {len(big.merges)} merges on {len(train_text):,} characters "
      f"in {time.perf_counter() - start:.1f} s")
np_text = train_text[:200_000] if lmlib.FAST else train_text  # fast mode: a fifth of train
start = time.perf_counter()
big_no_pattern = BPETokenizer.train(np_text, max_vocab)
print(f"no pattern:    {len(big_no_pattern.merges)} merges on {len(np_text):,} characters "
      f"in {time.perf_counter() - start:.1f} s (section 5 explains the pattern)")

sizes = [s for s in (256, 300, 384, 512, 768, 1024, 1536, 2048, 3072, 4096) if s <= max_vocab]
curves = {}
for label, trained, pattern in (("BPE, GPT-2 pattern", big, GPT2_PATTERN),
                                ("BPE, no pattern", big_no_pattern, None)):
    curves[label] = [len(val_text) / len(BPETokenizer(trained.merges[: v - 256],
                                                      pattern=pattern).encode(val_text))
                     for v in sizes]
compression = curves["BPE, GPT-2 pattern"]

fig, ax = plt.subplots(figsize=(7, 3.6))
for label, values in curves.items():
    ax.plot(sizes, values, "o-", label=label)
ax.plot([chars.vocab_size], [1.0], "s", color="C2", label="characters")
ax.plot([len(word_vocab)], [len(val_text) / len(val_words)], "^", color="C3",
        label="words (+ unknown words!)")
ax.set_xscale("log", base=2)
ax.set_xlabel("vocabulary size (log scale)")
ax.set_ylabel("characters per token (val)")
ax.set_title("A bigger vocabulary gives shorter sequences")
ax.legend()
plt.show()

# %% [markdown]
# Cutting the text into chunks first costs a little compression (no token can span two
# words), and section 5 shows what it buys. Words compress best, at the vocabulary size
# printed in section 1 and with unknown words; BPE gets part of the way with a few
# hundred ids.
#
# **Check yourself.** A prefix of the merges equals a shorter training run; with no merges
# the compression is exactly 1 (Shakespeare is ASCII: one byte per character); every merge
# can only shorten the sequence.

# %%
assert BPETokenizer.train(train_text, 300, pattern=GPT2_PATTERN).merges == big.merges[:44]
assert compression[0] == 1.0
for values in curves.values():
    assert values[0] == 1.0 and all(b >= a for a, b in zip(values, values[1:]))
if not lmlib.FAST:
    assert compression[sizes.index(512)] > 1.8

# %% [markdown]
# What did it learn? The first merges are common letter pairs (mostly with a leading space),
# the longest tokens are frequent whole words and names.

# %%
tok512 = BPETokenizer(big.merges[:256], pattern=GPT2_PATTERN)
print("first merges:", [tok512.token_str(256 + i) for i in range(16)])
longest = sorted(range(256, 512), key=lambda i: -len(tok512.token_bytes(i)))[:16]
print("longest tokens:", [tok512.token_str(i) for i in longest])
display(HTML(tokens_html(tok512, val_text[:300])))

# %% [markdown]
# > **Myth:** "a token is a word", or "a token is about four characters".
# >
# > **Fact:** a token is whatever the merges made it. With 512 ids trained on Shakespeare,
# > common words are one token and rarer ones are spelled from pieces; text unlike the
# > training text (other languages, code, numbers) is cut into many more, shorter tokens.

# %%
for s in ["the king", "Rumpelstiltskin", "日本語のテキスト", "x = 3.14159"]:
    n_tok = len(tok512.encode(s))
    print(f"{s!r:20} {len(s):2} characters -> {n_tok:2} tokens ({len(s) / n_tok:.2f} chars/token)")
assert len(tok512.encode("the king")) <= 3
assert len(tok512.encode("日本語のテキスト")) == len("日本語のテキスト".encode("utf-8"))

# %% [markdown]
# ## 5. Pre-tokenisation and special tokens
#
# Without any rule, BPE happily merges across word boundaries and punctuation: it learns
# tokens like `"d, "` or `"e t"`, and `dog`, `dog.`, `dog!` become unrelated tokens. GPT-2
# first cuts the text into chunks with a regular expression and only merges *inside* a
# chunk. Its pattern, as published (for the third-party `regex` module):

# %%
print(GPT2_PATTERN_REGEX)

# %% [markdown]
# Python's own `re` has no `\p{L}` ("any letter") or `\p{N}` ("any number"), so lmlib ships
# an equivalent for `re`, `GPT2_PATTERN`: `[^\W\d_]` (a word character that is not a digit
# or `_`) for letters and `\d` for numbers. The one difference: numbers that are not decimal
# digits (`²`, `½`, `Ⅻ`) count as letters. The chunks are: contractions (`'s`, `'ll`), a
# word with its leading space, a number, a run of punctuation, and whitespace.

# %%
print(GPT2_PATTERN)
print(re.findall(GPT2_PATTERN, "Hello world's 123 numbers!!  We'll see.\nCafé 日本"))

# %% [markdown]
# **GPT-4's pattern.** OpenAI's later tokenizer (`cl100k_base`, used by GPT-4 and
# published in the `tiktoken` library) changed the pattern in a few places:
#
# - contractions are matched in any case (`'LL` as well as `'ll`), where GPT-2's pattern
#   is case-sensitive and cuts `I'LL` into `I`, `'`, `LL`;
# - numbers are cut into groups of **at most three digits** (`\p{N}{1,3}`), with no leading
#   space, so that `1234567` becomes `123`, `456`, `7` instead of one chunk: the
#   vocabulary never needs a token for every long number;
# - a letter run may take one leading non-letter (not just a space), and newlines are
#   grouped with the punctuation before them.
#
# The published pattern, rewritten for `re` as we did for GPT-2's (letters `[^\W\d_]`,
# numbers `\d`; its possessive quantifiers dropped, which changes no match here):

# %%
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|(?:[^\r\n\w]|_)?[^\W\d_]+|\d{1,3}"""
                r"""| ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""")
example = "I'LL pay 1234567 ducats, he said: don't!!\n\n  ok"
for name, pattern in (("GPT-2", GPT2_PATTERN), ("GPT-4", GPT4_PATTERN)):
    print(f"{name}: {re.findall(pattern, example)}")

# %% [markdown]
# **Check yourself.** The two differences named above, on this example:

# %%
gpt2_chunks, gpt4_chunks = re.findall(GPT2_PATTERN, example), re.findall(GPT4_PATTERN, example)
assert "'LL" in gpt4_chunks and "'LL" not in gpt2_chunks             # any-case contractions
assert ["123", "456", "7"] == [c for c in gpt4_chunks if c.isdigit()]  # 1-3 digit groups
assert " 1234567" in gpt2_chunks                                       # GPT-2: one chunk
assert "".join(gpt4_chunks) == example == "".join(gpt2_chunks)         # nothing lost

# %% [markdown]
# Merges then stay inside chunks. Compare the merges learned with and without the pattern:

# %%
no_pattern = BPETokenizer(big_no_pattern.merges[:256])  # the first 256 merges of section 4
spans_chunks = lambda tok: [tok.token_str(i) for i in range(256, 256 + len(tok.merges))
                            if len(re.findall(GPT2_PATTERN, tok.token_str(i))) > 1]
print(f"without pattern: {len(spans_chunks(no_pattern))} of 256 merged tokens span two "
      f"chunks, e.g. {spans_chunks(no_pattern)[:12]}")
print(f"with GPT2_PATTERN: {len(spans_chunks(tok512))}")
assert len(spans_chunks(tok512)) == 0 < len(spans_chunks(no_pattern))

# %% [markdown]
# **Special tokens** are strings that must never be cut up: `<|endoftext|>` marks the end of
# a document, so a model trained on many documents learns that what follows is unrelated.
# A special token gets one id after the merges, is matched *before* BPE runs, and training
# never merges across it.

# %%
tok = BPETokenizer.train(train_text, 512, pattern=GPT2_PATTERN, special_tokens=[ENDOFTEXT])
doc = f"KING: Farewell.{ENDOFTEXT}ROMEO: Good morrow."
ids = tok.encode(doc)
print(tok, "\n", ids)
display(HTML(tokens_html(tok, doc)))

# %% [markdown]
# **Check yourself.** `<|endoftext|>` is one id (the last one, 511), the round trip is
# exact, and the course's shipped tokenizer (`lmlib/assets/bpe_shakespeare_512.json`,
# readable JSON) is exactly this one.

# %%
eot = tok.special_tokens[ENDOFTEXT]
assert eot == 511 and ids.count(eot) == 1 and tok.vocab_size == 512
assert tok.decode(ids) == doc
from lmlib.tokenizers import load_shakespeare_bpe

assert load_shakespeare_bpe() == tok

# %% [markdown]
# ### Optional: a production tokenizer
#
# `tiktoken` is OpenAI's tokenizer library. If it is installed and can load its data (it
# downloads each encoding once, so the first use needs the internet), the cell below
# encodes the same Shakespeare with GPT-2's 50,257-token vocabulary (Radford et al. 2019) and GPT-4's
# `cl100k_base`, for comparison with the course's 512-token tokenizer; otherwise it says
# what is missing.

# %%
import importlib.util

snippet = val_text[:2000]
print(f"course BPE-512: {len(snippet) / len(tok.encode(snippet)):.2f} characters per token")
if importlib.util.find_spec("tiktoken") is None:
    print("tiktoken is not installed (pip install tiktoken, with internet for its data)")
else:
    import tiktoken

    for encoding in ("gpt2", "cl100k_base"):
        try:
            enc = tiktoken.get_encoding(encoding)
        except Exception as err:  # offline and not cached
            print(f"{encoding}: not available offline ({type(err).__name__})")
            continue
        print(f"{encoding} ({enc.n_vocab:,} tokens): "
              f"{len(snippet) / len(enc.encode(snippet)):.2f} characters per token")

# %% [markdown]
# ## 6. A GPT on BPE tokens, compared fairly with the character GPT
#
# A model's loss is **nats per token**. A BPE token covers about two characters, so a BPE
# model's per-token loss is naturally *higher* than a character model's, and comparing the
# two numbers directly is meaningless. The fair unit is what both models pay to predict the
# **same text**: total nats over the val text divided by its number of characters,
#
# $$\text{nats/char} = \frac{\text{nats/token} \times N_\text{tokens}}{N_\text{chars}}.$$
#
# > **Myth:** "the BPE model has a higher loss, so it is worse" (or: "lower, so better").
# >
# > **Fact:** per-token losses of different tokenizers are in different units. Convert to
# > nats per character (or bits per byte) before comparing.
#
# Both GPTs below are the chapter-07 model (`lmlib.models.GPT`, 4 layers, 4 heads, 128
# dimensions) trained by the chapter-07 trainer (`lmlib.train.train`) with the same
# settings: same steps, batch size and block of 64 tokens, so the same compute. (A block of
# 64 BPE tokens spans 64 times the characters per token printed below, about twice the
# character model's context: that is one of the things a tokenizer buys.) Both are
# evaluated on the whole val text with `lmlib.scoring.score(..., protocol="windows")`,
# which predicts every token once.

# %%
import torch

from lmlib.models import GPT, GPTConfig
from lmlib.scoring import score
from lmlib.train import TrainConfig, train

bpe = load_shakespeare_bpe()
data = {
    "char": (chars, np.asarray(chars.encode(train_text)), np.asarray(chars.encode(val_text))),
    "BPE-512": (bpe, np.array(bpe.encode(train_text)), np.array(bpe.encode(val_text))),
}
for name, (t, tr_ids, va_ids) in data.items():
    print(f"{name:8} vocab {t.vocab_size:4}: train {len(tr_ids):,} tokens, val {len(va_ids):,} "
          f"tokens ({len(val_text) / len(va_ids):.2f} characters per token)")

# %%
steps = 15 if lmlib.FAST else 2000
n_eval = 1_500 if lmlib.FAST else None  # fast mode: score only the start of val
config = TrainConfig(steps=steps, batch_size=16, block_size=64, lr=2e-3, min_lr=2e-4,
                     warmup=10 if lmlib.FAST else 100, eval_interval=steps,
                     eval_batches=2 if lmlib.FAST else 20)

results = {}
for name, (t, tr_ids, va_ids) in data.items():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=t.vocab_size, block_size=64, n_layer=4, n_head=4,
                          n_embd=128))
    history = train(model, tr_ids, va_ids, config, plot=False, progress=not lmlib.FAST)
    ids = va_ids[:n_eval]
    per_token = score(model, ids, protocol="windows")  # mean nats over len(ids) - 1 tokens
    n_chars = len(t.decode(ids[1:]))  # the characters those predicted tokens spell
    results[name] = dict(per_token=per_token, per_char=per_token * (len(ids) - 1) / n_chars,
                         seconds=history.seconds)
    print(f"{name:8} {per_token:.3f} nats/token = {results[name]['per_char']:.3f} nats/char "
          f"({history.seconds:.0f} s of training)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
names = list(results)
for ax, key, label in zip(axes, ("per_token", "per_char"),
                          ("nats per token", "nats per character")):
    ax.bar(names, [results[k][key] for k in names], color=["C0", "C1"])
    ax.set_title(label)
axes[0].set_ylabel("val loss")
fig.suptitle(f"The same GPT, {steps} steps each: per token misleads, per character is fair")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Check yourself.** The per-character loss is the per-token loss times tokens per
# character; for the character model the two are the same number.

# %%
assert abs(results["char"]["per_token"] - results["char"]["per_char"]) < 1e-9
assert results["BPE-512"]["per_token"] > results["BPE-512"]["per_char"]
if not lmlib.FAST:  # measured by `python -m coursekit.bench bpe`: 1.759 (char) and 1.604 (BPE)
    assert results["char"]["per_char"] < 1.85 and results["BPE-512"]["per_char"] < 1.70
    assert results["BPE-512"]["per_char"] < results["char"]["per_char"]

# %% [markdown]
# The cell above prints both models' losses (in full mode, 2,000 steps each; the asserts
# check the ordering). Per token the BPE model looks far worse; per character it is
# *better*. Why? With the same steps, batch and block, each BPE window holds as many times
# more text as the characters per token printed above, so the model both saw more of
# Shakespeare and had a longer context; and it no longer spends capacity on spelling
# common words. The price: a 512-row embedding instead of 65 rows, and text unlike the
# training data (section 4) becomes long sequences of small tokens. Exercise idea: give
# both models the *same context in characters* (a BPE block of 32) and see how much of the
# gap remains.

# %% [markdown]
# ## Summary
#
# * Characters: tiny vocabulary, long sequences. Words: short sequences, huge vocabulary and
#   unknown words. **Byte-level BPE** sits between: 256 bytes cover every string, merges
#   learned from data make frequent strings single tokens.
# * Training: count adjacent pairs, merge the most frequent, repeat; the ordered **merges
#   table** is the tokenizer. Updating counts incrementally makes it fast.
# * Encoding replays the merges in order; decoding concatenates bytes (invalid UTF-8 becomes
#   `�`, but `decode(encode(s)) == s` for every string).
# * Compression grows with the vocabulary: shorter sequences, but a bigger embedding and
#   output layer and fewer examples of each token.
# * **Pre-tokenisation** keeps merges inside words (GPT-4's pattern also splits numbers into
#   groups of at most three digits); **special tokens** are matched first and get their
#   own ids.
# * Compare models with different tokenizers in **nats per character**, never per token.
#
# **Exercises:** `exercises/08_tokenization.ipynb`: pair statistics, one merge, encoding
# with a merges table, decoding, converting a per-token loss to nats per character,
# training BPE (the merge loop and its tie rule), and special tokens.
