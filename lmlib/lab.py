"""Start JupyterLab for the course: ``python -m lmlib.lab`` (what ``make lab`` runs).

Installs the course's settings overrides into this environment (the kernel starts by
itself, no "Select Kernel" dialog, all cells rendered), then serves the course folder with
chapter 00 open. Works as root, as CI runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = Path(__file__).resolve().parent / "assets" / "lab_overrides.json"


def install_overrides(prefix: str | os.PathLike = sys.prefix) -> Path:
    """Copy the settings overrides to ``PREFIX/share/jupyter/lab/settings/overrides.json``."""
    target = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OVERRIDES, target)
    return target


def lab_command(port: int = 8888, token: str | None = None, open_path: str | None =
                "chapters/00_language_models.ipynb", browser: bool = True,
                root: Path = COURSE_ROOT) -> list[str]:
    """The ``jupyter lab`` command line for the course."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
           f"--port={port}", "--ServerApp.ip=127.0.0.1"]
    if token is not None:
        cmd += [f"--IdentityProvider.token={token}", "--port-retries=0"]
    if not browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if open_path:
        cmd.append(str(root / open_path))
    return cmd


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmlib.lab")
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--open", default="chapters/00_language_models.ipynb",
                        help="notebook to open, relative to the course folder")
    args = parser.parse_args(argv)
    install_overrides()
    cmd = lab_command(args.port, open_path=args.open, browser=not args.no_browser)
    print("Starting JupyterLab; open the http://127.0.0.1:... URL it prints below.", flush=True)
    os.execv(sys.executable, cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
