"""Benchmarks of the course, run in full mode by ``make bench`` (``python -m coursekit.bench``).

Each module here defines ``run() -> list[Measurement]``. They measure what the issues ask
for (losses reached, speeds); none of them is a test, and none runs in ``make test``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    target: str = ""
    note: str = ""


@contextmanager
def stopwatch():
    """``with stopwatch() as t: ...`` then ``t()`` gives the seconds the block took."""
    start = time.perf_counter()
    end = None

    def elapsed() -> float:
        return (end if end is not None else time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux/macOS)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
