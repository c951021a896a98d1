"""``python -m coursekit doctor``: check this environment for the course and say what to fix."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import platform
import sys


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def doctor() -> int:
    """Print versions, threads, device, data and widget front end; return the problem count."""
    problems: list[str] = []

    def row(name: str, value: str, advice: str | None = None) -> None:
        print(f"  {name:<22} {value}")
        if advice:
            problems.append(f"{name}: {advice}")

    import lmlib

    print("From N-grams to GPT: environment check")
    row("python", f"{platform.python_version()} ({sys.executable})",
        None if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed")
    row("lmlib", f"{lmlib.__version__} ({os.path.dirname(lmlib.__file__)})")
    for dist, minimum in [("numpy", "1.24"), ("torch", "2.1"), ("matplotlib", "3.7"),
                          ("jupyterlab", "4"), ("ipywidgets", "8.1"), ("safetensors", "0.4")]:
        v = _version(dist)
        row(dist, v or "missing",
            None if v else f"not installed: run `pip install -c constraints.txt -e .` "
                           f"(needs {dist} >= {minimum})")

    front_end = _version("jupyterlab_widgets")
    row("widget front end", f"jupyterlab_widgets {front_end}" if front_end else "missing",
        None if front_end else "widgets will show only their static figures: "
                               "`pip install 'ipywidgets>=8.1'` installs the JupyterLab front end")

    from lmlib.viz.static import widgets_supported

    try:
        live, why = widgets_supported()
        row("widgets in notebooks", "interactive" if live else f"static figures: {why}")
    except ValueError as err:
        row("widgets in notebooks", "unknown", str(err))

    try:
        import torch

        cores = os.cpu_count() or 1
        row("cpu cores", str(cores))
        row("torch threads (setup)", f"{lmlib._default_threads()} (override: LMLIB_THREADS)")
        try:
            device = lmlib.get_device()
            row("device", str(device))
        except ValueError as err:
            row("device", "unavailable", f"{err}; unset LMLIB_DEVICE to use the default")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            row("apple mps", "available, not used unless LMLIB_DEVICE=mps (wrong results "
                             "have been seen on it)")
    except ImportError:
        pass

    from lmlib.data import CORPORA, cache_dir

    data_dir = os.environ.get("LMLIB_DATA_DIR")
    if data_dir and not os.path.isdir(data_dir):
        row("LMLIB_DATA_DIR", f"{data_dir} (does not exist)",
            f"{data_dir} is not a folder: fix LMLIB_DATA_DIR or unset it (the corpora then "
            f"download into {cache_dir()})")
    else:
        row("LMLIB_DATA_DIR", data_dir or "(not set)")
    for name, corpus in CORPORA.items():
        places = ([os.path.join(data_dir, corpus.filename)] if data_dir else []) + \
                 [str(cache_dir() / corpus.filename)]
        found = next((p for p in places if os.path.isfile(p)), None)
        if found is None:
            row(f"corpus {name}", "not found yet",
                f"will be downloaded on first use from {corpus.url}; offline, copy "
                f"{corpus.filename} to {cache_dir()}")
            continue
        digest = _sha256_of(found)
        if digest == corpus.sha256:
            row(f"corpus {name}", f"{found} (sha256 ok)")
        else:
            row(f"corpus {name}", f"{found} (sha256 MISMATCH)",
                f"{found} is not the expected file (sha256 {digest[:12]}..., expected "
                f"{corpus.sha256[:12]}...): delete it; lmlib downloads it again on first use, "
                f"or copy the right file from {corpus.url}")
    row("mode", "fast (LMLIB_FAST=1)" if lmlib.FAST else "full")

    print()
    if problems:
        print(f"{len(problems)} problem(s):")
        for p in problems:
            print(f"  - {p}")
    else:
        print("everything looks fine")
    return len(problems)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["doctor"]:
        print("usage: python -m coursekit doctor", file=sys.stderr)
        return 2
    return 1 if doctor() else 0


