"""Start JupyterLab for the course: ``python -m coursekit.lab`` (what ``make lab`` runs).

Installs the course's settings overrides into this environment (the kernel starts by
itself, no "Select Kernel" dialog, all cells rendered), then serves the course folder with
chapter 00 open. Works as root, as CI runs.

nbgrader (in the ``dev`` extra, for teachers) brings JupyterLab menus (Formgrader,
Assignment List, ...) and server extensions that learners do not need: the course's lab
leaves them out; ``python -m coursekit.lab --nbgrader`` keeps them, for a teacher
(docs/nbgrader.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = Path(__file__).resolve().parent / "assets" / "lab_overrides.json"
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
NBGRADER_SERVER_EXTENSIONS = ("formgrader", "assignment_list", "course_list",
                              "validate_assignment")


def install_overrides(prefix: str | os.PathLike = sys.prefix, nbgrader: bool = False) -> Path:
    """Copy the settings overrides to ``PREFIX/share/jupyter/lab/settings/overrides.json``
    and, unless ``nbgrader``, turn nbgrader's lab extension off in ``page_config.json``
    beside it."""
    target = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OVERRIDES, target)
    page_config = target.with_name("page_config.json")
    config = json.loads(page_config.read_text(encoding="utf-8")) if page_config.exists() else {}
    config.setdefault("disabledExtensions", {})[NBGRADER_LAB_EXTENSION] = not nbgrader
    page_config.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return target


def lab_command(port: int = 8888, token: str | None = None, open_path: str | None =
                "chapters/00_language_models.ipynb", browser: bool = True,
                root: Path = COURSE_ROOT, nbgrader: bool = False) -> list[str]:
    """The ``jupyter lab`` command line for the course (nbgrader's server extensions off
    unless ``nbgrader``)."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
           f"--port={port}", "--ServerApp.ip=127.0.0.1"]
    if token is not None:
        cmd += [f"--IdentityProvider.token={token}", "--port-retries=0"]
    if not browser:
        cmd.append("--no-browser")
    if not nbgrader and importlib.util.find_spec("nbgrader") is not None:
        cmd += [f"--ServerApp.jpserver_extensions=nbgrader.server_extensions.{name}=False"
                for name in NBGRADER_SERVER_EXTENSIONS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if open_path:
        cmd.append(str(root / open_path))
    return cmd


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.lab")
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--open", default=None,
                        help="notebook to open, relative to the folder served (default: "
                             "chapter 00, or nothing with --root)")
    parser.add_argument("--root", type=Path, default=None,
                        help="serve this folder instead of the course (e.g. an nbgrader "
                             "course folder)")
    parser.add_argument("--nbgrader", action="store_true",
                        help="keep nbgrader's menus and server extensions (for teachers)")
    args = parser.parse_args(argv)
    root = COURSE_ROOT if args.root is None else args.root.resolve()
    if args.open is None and args.root is None:
        args.open = "chapters/00_language_models.ipynb"
    install_overrides(nbgrader=args.nbgrader)
    cmd = lab_command(args.port, open_path=args.open or None, browser=not args.no_browser,
                      root=root, nbgrader=args.nbgrader)
    print("Starting JupyterLab; open the http://127.0.0.1:... URL it prints below.", flush=True)
    os.execv(sys.executable, cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
