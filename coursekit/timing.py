"""Measure how long each notebook takes to run, in fast and full mode.

    python -m coursekit.timing [--mode fast|full|both] [--out docs/notebook_times.json]
                           [--markdown] [NOTEBOOK ...]

Each notebook runs top to bottom in a fresh kernel (nbclient), from a copy in a temporary
folder so nothing is written into the repository, with ``LMLIB_FAST=1`` (fast mode) or
``LMLIB_FAST=0`` (full mode), ``OMP_NUM_THREADS=1``, and ``LMLIB_DATA_DIR`` passed through.
Per notebook and mode it records the wall-clock seconds and the CPU seconds (user + system)
of the kernel process and everything it waited for. CPU time is far less distorted than wall
time on a busy shared machine. Results are merged into the JSON file (written atomically),
so fast and full mode can be measured in separate runs; ``--markdown`` prints the table.

Exit status: 0 when every notebook ran, 1 when any failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

MODES = ("fast", "full")
DEFAULT_OUT = "docs/notebook_times.json"
DEFAULT_GLOBS = ("chapters/*.ipynb", "solutions/*.ipynb")


def modes_of(mode: str) -> tuple[str, ...]:
    """``"fast"`` -> ``("fast",)``, ``"full"`` -> ``("full",)``, ``"both"`` -> both."""
    if mode == "both":
        return MODES
    if mode not in MODES:
        raise ValueError(f"mode must be 'fast', 'full' or 'both', got {mode!r}")
    return (mode,)


def _children_cpu_seconds() -> float | None:
    """User + system CPU seconds of every child process this process has waited for
    (``None`` where the ``resource`` module does not exist: Windows)."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kernel_env(fast: bool) -> dict[str, str]:
    """The environment of the notebook's kernel: ours, with the mode and one thread."""
    env = dict(os.environ)
    env["LMLIB_FAST"] = "1" if fast else "0"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


def _first_error(nb) -> str:
    """``cell N: Name: message`` for the first code cell that raised, else ``""``."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                value = str(out.get("evalue", "")).strip().splitlines()
                name = out.get("ename", "Error")
                return f"cell {index}: {name}: {value[0]}" if value else f"cell {index}: {name}"
    return ""


def run_notebook(path, fast: bool, timeout: int = 3600) -> dict:
    """Run one notebook in a fresh kernel; return ``{"wall_s", "cpu_s", "ok", "error"}``.

    ``timeout`` is in seconds per cell. The kernel is shut down (and reaped) before the CPU
    time is read, so ``cpu_s`` covers the whole kernel: start, every cell, shutdown."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    with tempfile.TemporaryDirectory(prefix="lmlib-timing-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        try:
            nb = nbformat.read(copy, as_version=4)
        except Exception as err:  # invalid JSON or not a notebook
            raise ValueError(f"{path} is not a readable notebook: {err}") from err
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": tmp}})
        error = ""
        cpu0, wall0 = _children_cpu_seconds(), time.perf_counter()
        try:
            client.execute(env=kernel_env(fast))
        except Exception as err:  # a cell raised, timed out, or the kernel died
            error = _first_error(nb) or f"{type(err).__name__}: {str(err).strip()[:300]}"
        wall = time.perf_counter() - wall0
        cpu1 = _children_cpu_seconds()
    cpu = None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 1)
    return {"wall_s": round(wall, 1), "cpu_s": cpu, "ok": not error, "error": error}


def machine_info() -> dict:
    """Cores, CPU model, OS, Python, torch and numpy versions of this machine."""
    import numpy

    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "os": platform.platform(terse=True),
            "python": platform.python_version(), "torch": torch_version,
            "numpy": numpy.__version__}


def machine_id(info: dict) -> str:
    """A short stable name for a machine description (the key in ``"machines"``)."""
    text = json.dumps(info, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def load(path) -> dict:
    """The timings file at ``path``, or an empty one when it does not exist yet."""
    path = Path(path)
    if not path.exists():
        return {"machines": {}, "notebooks": {}}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("notebooks"), dict):
        raise ValueError(f"{path} is not a timings file (no 'notebooks' object)")
    data.setdefault("machines", {})
    return data


def record(out, notebook: str, mode: str, result: dict, machine: dict) -> dict:
    """Merge one measurement into the file ``out`` (re-read first, written atomically)."""
    modes_of(mode)
    out = Path(out)
    data = load(out)
    key = machine_id(machine)
    data["machines"][key] = machine
    entry = dict(result, machine=key,
                 date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    data["notebooks"].setdefault(notebook, {})[mode] = entry
    data["notebooks"] = dict(sorted(data["notebooks"].items()))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=False)
            f.write("\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data


def _cell(entry: dict | None, unit: float, digits: int) -> tuple[str, str]:
    if entry is None:
        return "", ""
    if not entry.get("ok", True):
        return "failed", "failed"
    floor = 10.0 ** -digits  # below the last shown digit: "< 0.1", not "0.0"
    return tuple("n/a" if entry[k] is None else
                 f"< {floor:g}" if 0 < entry[k] / unit < floor / 2 else
                 f"{entry[k] / unit:.{digits}f}" for k in ("wall_s", "cpu_s"))


def render_markdown(data: dict) -> str:
    """The timings as a Markdown table (fast mode in seconds, full mode in minutes)."""
    lines = ["| notebook | fast: wall s | fast: CPU s | full: wall min | full: CPU min |",
             "|---|---:|---:|---:|---:|"]
    totals = {m: [0.0, 0.0, 0] for m in MODES}
    for name, modes in data["notebooks"].items():
        fast = _cell(modes.get("fast"), 1, 0)
        full = _cell(modes.get("full"), 60, 1)
        lines.append(f"| {name} | {fast[0]} | {fast[1]} | {full[0]} | {full[1]} |")
        for mode in MODES:
            e = modes.get(mode)
            if e and e.get("ok", True):
                totals[mode][0] += e["wall_s"]
                totals[mode][1] += e["cpu_s"] or 0.0
                totals[mode][2] += 1
    f, u = totals["fast"], totals["full"]
    lines.append(f"| **total** ({f[2]} fast, {u[2]} full) | {f[0]:.0f} | {f[1]:.0f} | "
                 f"{u[0] / 60:.1f} | {u[1] / 60:.1f} |")
    used = sorted({e["machine"] for modes in data["notebooks"].values()
                   for e in modes.values() if "machine" in e})
    dates = sorted({e["date"][:10] for modes in data["notebooks"].values()
                    for e in modes.values() if "date" in e})
    lines.append("")
    for key in used:
        m = data["machines"].get(key, {})
        lines.append(f"Measured on: {m.get('cores')} cores, {m.get('cpu')}, {m.get('os')}, "
                     f"Python {m.get('python')}, torch {m.get('torch')}, "
                     f"numpy {m.get('numpy')}" + (f" ({', '.join(dates)})." if dates else "."))
    return "\n".join(lines) + "\n"


def default_notebooks(root=".") -> list[Path]:
    """Every ``chapters/*.ipynb`` and ``solutions/*.ipynb`` below ``root``, sorted."""
    root = Path(root)
    return [p for pattern in DEFAULT_GLOBS for p in sorted(root.glob(pattern))]


def _name(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def measure(notebooks, modes, out, timeout: int = 3600, log=print) -> list[tuple[str, str, str]]:
    """Run every notebook in every mode (all of one mode first), recording each result
    into ``out`` as soon as it is measured. Returns ``(notebook, mode, error)`` failures."""
    machine = machine_info()
    failures = []
    for mode in modes:
        for path in notebooks:
            name = _name(Path(path))
            result = run_notebook(path, fast=(mode == "fast"), timeout=timeout)
            record(out, name, mode, result, machine)
            if result["ok"]:
                log(f"{mode:<4}  {name:<40}  wall {result['wall_s']:8.1f} s  "
                    f"cpu {result['cpu_s'] if result['cpu_s'] is not None else 'n/a':>8} s")
            else:
                log(f"{mode:<4}  {name:<40}  FAILED: {result['error']}")
                failures.append((name, mode, result["error"]))
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.timing",
                                     description="Measure notebook run times.")
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: "
                        + " and ".join(DEFAULT_GLOBS) + ")")
    parser.add_argument("--mode", default="fast", help="fast, full or both (default: fast)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"JSON file (default: {DEFAULT_OUT})")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table as Markdown (without notebooks: only print it)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    try:
        args = parser.parse_args(argv)
        modes = modes_of(args.mode)
    except SystemExit as exc:  # argparse exits 2 on usage errors; keep its code
        return int(exc.code or 0)
    except ValueError as err:
        print(f"error: --mode: {err}", file=sys.stderr)
        return 2
    notebooks = [Path(p) for p in args.notebooks]
    if not notebooks and not args.markdown:
        notebooks = default_notebooks()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print("error: no such notebook: " + ", ".join(missing), file=sys.stderr)
        return 2
    failures = []
    if notebooks:
        try:
            failures = measure(notebooks, modes, args.out, timeout=args.timeout)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if args.markdown:
        print(render_markdown(load(args.out)), end="")
    if failures:
        print(f"\n{len(failures)} notebook run(s) failed:", file=sys.stderr)
        for name, mode, error in failures:
            print(f"  {name} ({mode} mode): {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
