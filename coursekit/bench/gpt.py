"""Chapters 06-07's numbers: the GPT recipes, the shipped GPT, and the NumPy forward.

``python -m coursekit.bench gpt`` (full mode; about 15 minutes of CPU on one thread) measures:

- nanoGPT's CPU recipe (preset ``nanogpt-cpu``: 4 layers, 4 heads, 128 dims, block 64,
  batch 12, 2000 steps, lr 1e-3, dropout 0) trained with ``lmlib.train``: val loss on the
  whole val split under the course's protocol and nanoGPT's (``lmlib.scoring``), tokens
  processed, CPU and wall seconds (target: val <= 1.89). nanoGPT's own ``train.py`` and this
  preset, run side by side on one 2-core machine, took 133.7 s and 137.1 s of wall time and
  reached the same val loss (shared/REFERENCE.md): speed is not compared here;
- the course's recommended CPU configuration (preset ``cpu-10min``), stopped after at most
  10 minutes: val loss on the whole val split (target <= 1.65);
- the shipped checkpoint ``lmlib/assets/gpt_shakespeare.safetensors``: val loss on the
  whole val split, size on disk (targets: <= 1.50, <= 10 MB);
- the NumPy GPT forward (``lmlib.scratch.gpt``) against PyTorch on the shipped model:
  largest logit difference (target <= 1e-4) and the time of one forward pass of 128 tokens.

Run it with ``OPENBLAS_NUM_THREADS=1`` (as ``make test`` does with ``OMP_NUM_THREADS=1``): on a
shared 2-core machine NumPy's threaded BLAS makes the NumPy forward 30x slower.
``BENCH_GPT_ONLY=shipped`` (or ``nanogpt``, ``cpu10``, ``numpy``; comma-separated) runs a
subset. The whole-split losses come from ``lmlib.scoring.score``: every character once,
through windows of the model's context sliding by half a window.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from coursekit.bench import Measurement


def _selected(name: str) -> bool:
    only = os.environ.get("BENCH_GPT_ONLY")
    return not only or name in only.split(",")


def _train_preset(preset: str, time_limit: float | None = None) -> dict:
    """Train a preset from scratch in a temp folder: its val loss on the whole split (both
    protocols), steps, tokens processed, CPU and wall seconds."""
    import torch

    from lmlib.checkpoint import load_checkpoint
    from lmlib.data import shakespeare
    from lmlib.models.gpt import GPT, GPTConfig
    from lmlib.presets import PRESETS
    from lmlib.scoring import score
    from lmlib.train import TrainConfig, train

    tok, train_ids, val_ids = shakespeare()
    spec = PRESETS[preset]
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, **spec["model"]))
    with tempfile.TemporaryDirectory() as tmp:
        ck = Path(tmp) / "gpt.safetensors"
        config = TrainConfig(**spec["train"])
        start, cpu = time.perf_counter(), time.process_time()
        history = train(model, train_ids, val_ids, config, checkpoint=ck,
                        progress=False, plot=False, time_limit=time_limit)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        best, _ = load_checkpoint(ck)
    steps = history.final_step
    return dict(val=score(best, val_ids), val_windows=score(best, val_ids, protocol="windows"),
                steps=steps, tokens=steps * config.batch_size * config.block_size,
                cpu_s=cpu, wall_s=wall)


def shipped_val() -> tuple[float, int]:
    """(val loss of the shipped GPT on the whole val split, its size in bytes)."""
    from lmlib.data import shakespeare
    from lmlib.models.gpt import ASSET
    from lmlib.pretrained import load_pretrained
    from lmlib.scoring import score

    _, _, val_ids = shakespeare()
    model, _ = load_pretrained("shakespeare-gpt")
    return score(model, val_ids), ASSET.stat().st_size


def numpy_forward() -> tuple[float, float, float]:
    """(max |NumPy - PyTorch| logits, NumPy ms, PyTorch ms) for 128 tokens of val text."""
    import torch

    from lmlib.data import shakespeare
    from lmlib.pretrained import load_pretrained
    from lmlib.scratch.gpt import gpt_forward, params_from_torch

    _, _, val_ids = shakespeare()
    model, _ = load_pretrained("shakespeare-gpt")
    ids = val_ids[:model.config.block_size]
    params = params_from_torch(model)
    with torch.no_grad():
        ref = model(torch.as_tensor(ids)[None])[0].numpy()
    diff = float(np.abs(gpt_forward(params, ids, model.config) - ref).max())

    def median_ms(fn, n=7):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1000 * float(np.median(times))

    with torch.no_grad():
        torch_ms = median_ms(lambda: model(torch.as_tensor(ids)[None]))
    numpy_ms = median_ms(lambda: gpt_forward(params, ids, model.config))
    return diff, numpy_ms, torch_ms


def run() -> list[Measurement]:
    out = []
    if _selected("shipped"):
        val, size = shipped_val()
        out += [Measurement("shipped GPT val loss (whole split)", val, "nats/char", "<= 1.50"),
                Measurement("shipped GPT size", size / 1e6, "MB", "<= 10")]
    if _selected("numpy"):
        diff, numpy_ms, torch_ms = numpy_forward()
        out += [Measurement("NumPy vs PyTorch logits, max |diff|", diff, "", "<= 1e-4"),
                Measurement("NumPy GPT forward, 128 tokens", numpy_ms, "ms", "",
                            f"PyTorch: {torch_ms:.1f} ms")]
    for key, preset, limit, target in (("nanogpt", "nanogpt-cpu", None, "<= 1.89"),
                                       ("cpu10", "cpu-10min", 600, "<= 1.65")):
        if _selected(key):
            r = _train_preset(preset, time_limit=limit)
            compute = (f"{r['steps']} steps, {r['tokens']:,} tokens, {r['cpu_s']:.0f} CPU s "
                       f"({r['wall_s']:.0f} s wall)")
            out += [Measurement(f"{preset} val loss (course protocol)", r["val"], "nats/char",
                                target, compute),
                    Measurement(f"{preset} val loss (nanoGPT's windows)", r["val_windows"],
                                "nats/char", "", "non-overlapping windows from an empty context")]
    return out


if __name__ == "__main__":
    for m in run():
        print(m)
