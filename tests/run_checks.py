"""Every check of the course, in order, with a summary at the end (what `make test` runs).

1. unit tests of lmlib           pytest tests (not the notebook or browser tests)
2. consistency                   jupytext pairs, no outputs, exercises generated, env files; ruff
3. notebooks                     nbval over chapters/ and solutions/ in fast mode
4. exercises fail on the stubs   each exercise notebook's check cells fail
5. browser                       JupyterLab in headless Chromium (only when such tests exist)

Exits non-zero when any stage fails. Run from the course root.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _notebooks() -> list[str]:
    return sorted(glob.glob("chapters/*.ipynb") + glob.glob("solutions/*.ipynb"))


def _has_marker(marker: str) -> bool:
    return any(f"pytest.mark.{marker}" in p.read_text(encoding="utf-8")
               for p in (ROOT / "tests").glob("test_*.py"))


def stages() -> list[tuple[str, list[list[str]]]]:
    pytest = [PY, "-m", "pytest", "-p", "no:cacheprovider"]
    workers = ["-n", "2"] if (os.cpu_count() or 1) >= 2 else []
    ruff_targets = ["lmlib", "coursekit", "tests", "conftest.py"] + sorted(
        glob.glob("chapters/*.py") + glob.glob("solutions/*.py"))
    plan = [
        ("unit tests", [pytest + ["-q", *workers, "-m",
                                  "not notebooks and not browser and not consistency "
                                  "and not site", "tests"]]),
        ("consistency", [pytest + ["-q", "-m", "consistency", "tests"],
                         [PY, "-m", "ruff", "check", *ruff_targets]]),
        ("notebooks (nbval, fast mode)",
         [pytest + ["--nbval-lax", "--nbval-current-env", "-p", "no:python",
                    "--nbval-cell-timeout=600", *workers, "--dist", "loadscope",
                    *_notebooks()]] if _notebooks() else []),
        ("exercises fail on stubs", [pytest + ["-q", *workers, "-m", "notebooks", "tests"]]),
    ]
    if _has_marker("browser"):
        plan.append(("browser", [pytest + ["-q", "-m", "browser", "tests"]]))
    return plan


def main() -> int:
    os.chdir(ROOT)
    env = dict(os.environ, LMLIB_FAST="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONHASHSEED="0")
    summary = []
    start_all = time.perf_counter()
    for name, commands in stages():
        print(f"\n===== {name} =====", flush=True)
        start = time.perf_counter()
        ok = True
        for cmd in commands:
            rc = subprocess.call(cmd, env=env)
            # pytest exits 5 when a marker selects no test: nothing to fail there
            if rc not in (0, 5):
                ok = False
        summary.append((name, ok, time.perf_counter() - start))
    total = time.perf_counter() - start_all

    print("\n===== summary =====")
    for name, ok, seconds in summary:
        print(f"  {'PASS' if ok else 'FAIL'}  {seconds:7.1f} s  {name}")
    print(f"  total {total:.1f} s")
    times = ROOT / "build" / "notebook_times.json"
    if times.exists():
        print("\nnotebook wall times (nbval, fast mode), slowest first:")
        for path, seconds in sorted(json.loads(times.read_text()).items(), key=lambda kv: -kv[1]):
            print(f"  {seconds:7.1f} s  {path}")
    shots = sorted((ROOT / "build" / "screenshots").glob("*.png"))
    if shots:
        print("\nbrowser screenshots:")
        for shot in shots:
            print(f"  {shot.relative_to(ROOT)}")
    failed = [name for name, ok, _ in summary if not ok]
    print(f"\nsummary: {len(summary) - len(failed)} of {len(summary)} stages passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
