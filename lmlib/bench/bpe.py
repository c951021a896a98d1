"""Byte-level BPE on Tiny Shakespeare: training time, encoding time and compression.

Trained on the training split, measured on the validation split (111,540 characters).
Compression is characters per token on val (higher: shorter sequences for the model).
Times are medians of three runs for vocabulary 512 (the issue's targets: training <= 10 s,
encoding val <= 2 s), one run for the other sizes.
"""

from __future__ import annotations

import statistics
import time

from lmlib.bench import Measurement, stopwatch
from lmlib.data import load_text
from lmlib.tokenizers import ENDOFTEXT, GPT2_PATTERN, BPETokenizer

VOCAB_SIZES = (512, 1024, 2048, 4096)


def _split():
    text = load_text("shakespeare")
    n = int(0.9 * len(text))
    return text[:n], text[n:]


def measure(vocab_size: int, pattern, repeats: int = 1):
    """``(train_seconds, train_cpu_seconds, encode_seconds, chars_per_token)``, times as
    medians of ``repeats`` (CPU time of this process too: the machines are shared)."""
    train, val = _split()
    train_times, cpu_times, encode_times = [], [], []
    for _ in range(repeats):
        cpu = time.process_time()
        with stopwatch() as t:
            tok = BPETokenizer.train(train, vocab_size, pattern=pattern,
                                     special_tokens=[ENDOFTEXT])
        train_times.append(t())
        cpu_times.append(time.process_time() - cpu)
        tok._cache.clear()  # time a cold encoder
        with stopwatch() as t:
            ids = tok.encode(val)
        encode_times.append(t())
    assert tok.decode(ids) == val
    return (statistics.median(train_times), statistics.median(cpu_times),
            statistics.median(encode_times), len(val) / len(ids))


def run() -> list[Measurement]:
    train, val = _split()
    rows = [Measurement("bytes (vocab 256): chars/token", len(val) / len(val.encode("utf-8")),
                        "chars/tok", note="UTF-8 bytes, no merges")]
    for pattern, label in ((None, "no pattern"), (GPT2_PATTERN, "GPT-2 pattern")):
        for v in VOCAB_SIZES:
            repeats = 3 if v == 512 else 1
            t_train, t_cpu, t_enc, cpt = measure(v, pattern, repeats)
            note = f"{label}; median of {repeats}" if repeats > 1 else label
            rows += [
                Measurement(f"vocab {v}, {label}: train", t_train, "s",
                            "<= 10 s" if v == 512 else "", note),
                Measurement(f"vocab {v}, {label}: train CPU time", t_cpu, "s", "", note),
                Measurement(f"vocab {v}, {label}: encode val", t_enc, "s",
                            "<= 2 s" if v == 512 else "", note),
                Measurement(f"vocab {v}, {label}: chars/token", cpt, "chars/tok", "", label),
            ]
    return rows
