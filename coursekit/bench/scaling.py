"""Training throughput of the shipped GPT's configuration (preset ``shakespeare-gpt``) on the
CPU: one process with 1 and 2 torch threads, and 2 data-parallel processes (``torchrun``,
gloo) of one thread each. Every run is the real command line, ``python -m lmlib.train``,
for a few steps; the number is the trainer's own tokens/s (the global batch, evaluation
not counted), the median of ``repeats`` runs.

    python -m coursekit.bench scaling
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile

from coursekit.bench import Measurement

STEPS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tokens_per_s(processes: int = 1, threads: int = 1, steps: int = STEPS,
                 preset: str = "shakespeare-gpt") -> float:
    """Tokens/s of ``steps`` training steps of ``preset`` run by the command line."""
    env = dict(os.environ, LMLIB_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               LMLIB_DIST_TIMEOUT="120")
    with tempfile.TemporaryDirectory() as tmp:
        args = ["-m", "lmlib.train", "--preset", preset, "--no-progress",
                "--checkpoint", os.path.join(tmp, "g.safetensors"), "--set", f"steps={steps}",
                "--set", f"eval_interval={steps}", "--set", "eval_batches=1",
                "--set", "device=cpu"]
        if processes > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run",
                   f"--nproc_per_node={processes}", "--master_addr=127.0.0.1",
                   f"--master_port={_free_port()}", *args]
        else:
            cmd = [sys.executable, *args]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    found = re.findall(r"\| ([\d,]+) tok/s \|", res.stdout)
    if not found:
        raise RuntimeError(f"no tok/s line in the output:\n{res.stdout[-2000:]}")
    return float(found[-1].replace(",", ""))


def run(repeats: int = 3) -> list[Measurement]:
    rows = []
    for processes, threads in ((1, 1), (1, 2), (2, 1)):
        values = [tokens_per_s(processes, threads) for _ in range(repeats)]
        rows.append(Measurement(
            f"shakespeare-gpt, {processes} process(es) x {threads} thread(s)",
            statistics.median(values), "tokens/s",
            note=f"median of {repeats} x {STEPS} steps, {os.cpu_count()} cores (shared)"))
    return rows
