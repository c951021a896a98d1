"""How many torch threads? Time a training step of a small transformer at 1 and 2 threads.

This is the measurement behind ``lmlib.setup()``'s thread choice (one thread on machines
with two cores or fewer)."""

from __future__ import annotations

import os
import time

import torch
from torch import nn

from coursekit.bench import Measurement


def _step_time(threads: int, steps: int = 30) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=512,
                                       batch_first=True, norm_first=True)
    model = nn.Sequential(nn.Embedding(65, 128), nn.TransformerEncoder(layer, num_layers=4),
                          nn.Linear(128, 65))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mask = nn.Transformer.generate_square_subsequent_mask(64)
    x = torch.randint(0, 65, (16, 64))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        h = model[1](model[0](x), mask=mask, is_causal=True)
        loss = nn.functional.cross_entropy(model[2](h).view(-1, 65), x.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def run() -> list[Measurement]:
    before = torch.get_num_threads()
    rows = []
    for threads in sorted({1, 2, min(4, os.cpu_count() or 1)}):
        ms = 1000 * _step_time(threads)
        rows.append(Measurement(f"4-layer 128-dim step, {threads} thread(s)", ms, "ms/step",
                                note=f"median of 30, {os.cpu_count()} cores"))
    torch.set_num_threads(before)
    return rows
