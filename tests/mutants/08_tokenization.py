"""Wrong answers to chapter 08's exercises."""

from mutants import Mutant

TIE = "min(counts, key=lambda p: (-counts[p], p))"

MUTANTS = [
    # Exercise 1: pair statistics
    Mutant("pairs: non-overlapping pairs", cell="3",
           replace=[("for pair in zip(ids, ids[1:]):", "for pair in zip(ids[::2], ids[1::2]):")],
           expect="pair"),
    Mutant("pairs: ties to the largest pair", cell="3",
           replace=[(TIE, "max(counts, key=lambda p: (counts[p], p))")], expect="smallest pair"),
    Mutant("pairs: ties to the first pair seen", cell="3",
           replace=[(TIE, "max(counts, key=counts.get)")], expect="smallest pair"),
    # Exercise 2: one merge
    Mutant("merge: overlapping occurrences merged twice", cell="6",
           replace=[("i += 2", "i += 1")], expect="merge(["),
    Mutant("merge: changes its input", cell="6",
           source=("def merge(ids, pair, new_id):\n"
                   "    i = 0\n"
                   "    while i < len(ids) - 1:\n"
                   "        if ids[i] == pair[0] and ids[i + 1] == pair[1]:\n"
                   "            ids[i:i + 2] = [new_id]\n"
                   "        i += 1\n"
                   "    return ids\n"),
           expect="must not change its input"),
    Mutant("merge: only the first occurrence", cell="6",
           replace=[("out.append(new_id)\n            i += 2",
                     "out.append(new_id)\n            return out + list(ids[i + 2:])")],
           expect="every occurrence"),
    # Exercise 3: encode
    Mutant("encode: merges in reverse order", cell="9",
           replace=[("for i, pair in enumerate(merges):", "for i, pair in reversed(list(enumerate(merges))):")],
           expect="in order"),
    Mutant("encode: ids off by one", cell="9",
           replace=[("256 + i", "257 + i")], expect="256 + i"),
    Mutant("encode: code points instead of UTF-8 bytes", cell="9",
           replace=[('list(text.encode("utf-8"))', "[ord(c) for c in text]")], expect="UTF-8 bytes"),
    # Exercise 4: decode
    Mutant("decode: strict UTF-8", cell="12",
           replace=[('decode("utf-8", errors="replace")', 'decode("utf-8")')], expect="U+FFFD"),
    Mutant("decode: no ValueError for an unknown id", cell="12",
           replace=[('raise ValueError(f"id {i} is outside the vocabulary [0, {len(vocab)})")', "pass")],
           expect="must raise ValueError"),
    Mutant("decode: merged bytes in the wrong order", cell="12",
           replace=[("vocab.append(vocab[a] + vocab[b])", "vocab.append(vocab[b] + vocab[a])")],
           expect="expected 'the'"),
    Mutant("decode: each id decoded on its own", cell="12",
           replace=[('return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")',
                     'return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)')],
           expect="join the bytes"),
    # Exercise 5: nats per character
    Mutant("nats/char: inverted ratio", cell="15",
           replace=[("return loss_per_token * n_tokens / n_chars", "return loss_per_token * n_chars / n_tokens")],
           expect="nats_per_char"),
    Mutant("nats/char: the per-token loss", cell="15",
           replace=[("return loss_per_token * n_tokens / n_chars", "return loss_per_token")],
           expect="nats_per_char"),
    Mutant("bits/byte: no ln 2", cell="15",
           replace=[("/ n_bytes / math.log(2)", "/ n_bytes")], expect="ln 2"),
    Mutant("bits/byte: times ln 2", cell="15",
           replace=[("/ n_bytes / math.log(2)", "/ n_bytes * math.log(2)")], expect="ln 2"),
    # Exercise 6: training BPE
    Mutant("train: ties to the largest pair", cell="9da532ff",
           replace=[(TIE, "max(counts, key=lambda p: (counts[p], p))")], expect="smallest pair"),
    Mutant("train: ties to the first pair counted", cell="9da532ff",
           replace=[(TIE, "max(counts, key=counts.get)")], expect="smallest pair"),
    Mutant("train: pairs across chunks", cell="9da532ff",
           replace=[("pieces = [text] if pattern is None else re.findall(pattern, text)",
                     "pieces = [text]")], expect="never across chunks"),
    Mutant("train: new ids off by one", cell="9da532ff",
           replace=[("merge_pair(ids, pair, 256 + i)", "merge_pair(ids, pair, 257 + i)")],
           expect="merge 0 makes id 256"),
    Mutant("train: no early stop", cell="9da532ff",
           replace=[("        if not counts:\n            break\n", "")], expect="stop when no pair is left"),
    Mutant("train: chunk counts ignored", cell="9da532ff",
           replace=[("counts.get(pair, 0) + c * n", "counts.get(pair, 0) + c")], expect="as often as it occurs"),
    # Exercise 7: special tokens
    Mutant("special: the whole text through BPE", cell="aa295dd0",
           source="def encode_special(text, tok, specials):\n    return tok.encode(text)\n",
           expect="one id"),
    Mutant("special: not escaped", cell="aa295dd0",
           replace=[('"|".join(map(re.escape, alternatives))', '"|".join(alternatives)')],
           expect="re.escape"),
    Mutant("special: the first match instead of the longest", cell="aa295dd0",
           replace=[("sorted(specials, key=len, reverse=True)", "sorted(specials, key=len)")],
           expect="the longest wins"),
    Mutant("special: the special token dropped", cell="aa295dd0",
           replace=[("ids.append(specials[part])", "continue")], expect="one id"),
]
