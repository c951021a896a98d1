"""Byte-level BPE on Tiny Shakespeare: training time, encoding time and compression.

Trained on the training split, measured on the validation split (111,540 characters).
Compression is characters per token on val (higher: shorter sequences for the model).
Times are medians of three runs for vocabulary 512 (the issue's targets: training <= 10 s,
encoding val <= 2 s), one run for the other sizes.

Then the chapter's fair comparison of a GPT on characters and on BPE-512 tokens, in nats
per character (``gpt_comparison``; about 2 x 3 minutes on one CPU thread).
"""

from __future__ import annotations

import statistics
import time

from coursekit.bench import Measurement, stopwatch
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
    steps = 2000
    for name, r in gpt_comparison(steps).items():
        note = f"GPT 4x4x128, block 64, batch 16, {steps} steps, whole val"
        rows += [Measurement(f"GPT on {name}: val nats/token", r["per_token"], "nats/tok",
                             "", note),
                 Measurement(f"GPT on {name}: val nats/char", r["per_char"], "nats/char",
                             "", note),
                 Measurement(f"GPT on {name}: training time", r["seconds"], "s", "", note)]
    return rows


def gpt_comparison(steps: int = 2000, n_eval: int | None = None) -> dict[str, dict]:
    """The chapter's fair comparison: the same GPT (4 layers, 4 heads, 128 dims, block 64)
    trained for ``steps`` on characters and on the shipped BPE-512 tokens with the same
    settings, then scored on the whole val split (or its first ``n_eval`` tokens).

    Returns ``{name: {"per_token", "per_char", "seconds", "val_tokens"}}``; ``per_char`` is
    the total nats over val divided by the characters predicted.
    """
    import numpy as np
    import torch

    from lmlib.data import CharTokenizer
    from lmlib.models import GPT, GPTConfig
    from lmlib.scoring import score
    from lmlib.tokenizers import load_shakespeare_bpe
    from lmlib.train import TrainConfig, train

    train_text, val_text = _split()
    chars, bpe = CharTokenizer(train_text), load_shakespeare_bpe()
    config = TrainConfig(steps=steps, batch_size=16, block_size=64, lr=2e-3, min_lr=2e-4,
                         warmup=min(100, steps // 10 + 1), eval_interval=steps,
                         eval_batches=20)
    out = {}
    for name, tok in (("char", chars), ("BPE-512", bpe)):
        tr_ids = np.asarray(tok.encode(train_text))
        va_ids = np.asarray(tok.encode(val_text))[:n_eval]
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=4, n_head=4,
                              n_embd=128))
        history = train(model, tr_ids, va_ids, config, plot=False, progress=False)
        per_token = score(model, va_ids, protocol="windows")
        n_chars = len(tok.decode(va_ids[1:]))
        out[name] = dict(per_token=per_token, per_char=per_token * (len(va_ids) - 1) / n_chars,
                         seconds=history.seconds, val_tokens=len(va_ids))
    return out
