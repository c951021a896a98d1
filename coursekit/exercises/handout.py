"""The students' handout: ``make handout`` (``python -m coursekit.exercises handout``).

Builds ``build/handout.zip`` from the last commit (``git archive HEAD``) with what a student
needs and nothing else:

- ``chapters/*.ipynb`` and ``exercises/*.ipynb`` (no ``solutions/``, no ``.py`` twins);
- ``lmlib`` with its assets, and the part of ``coursekit`` a student uses: the lab
  (``make lab``), the doctor and the grader (to check a notebook);
- a student ``README.md``, ``Makefile`` and ``pyproject.toml`` with the runtime
  dependencies only (no ``dev`` extra: no nbgrader, playwright, ruff, pytest), and
  ``constraints.txt``.

It refuses to build when the working tree has uncommitted changes (the handout would not be
what you see; ``--allow-dirty`` builds from the last commit anyway, with a warning) or when
``exercises/`` is not what the generator makes from ``solutions/``.

``--ref TAG`` pins the notebooks' "Open in Colab" badges and Colab install cells to a tag or
branch (say a semester tag pushed to GitHub) instead of ``main``.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PREFIX = "ngrams-to-gpt"
# what is copied from the commit (git pathspecs)
INCLUDE = ["chapters/*.ipynb", "exercises/*.ipynb", "lmlib", "constraints.txt",
           "coursekit/__init__.py", "coursekit/__main__.py", "coursekit/doctor.py",
           "coursekit/lab.py", "coursekit/assets", "coursekit/exercises/__init__.py",
           "coursekit/exercises/__main__.py", "coursekit/exercises/generate.py",
           "coursekit/exercises/grade.py", "coursekit/exercises/runner.py",
           "coursekit/exercises/nbgrader_source.py", "coursekit/exercises/handout.py"]
NEVER = ("solutions/", "tests/", ".ci/", "docs/", "binder/", "conftest.py")

_COLAB_REF = re.compile(r"(https://colab\.research\.google\.com/github/[^\s)]+?/blob/)main/")
_INSTALL_REF = re.compile(r"(git\+\{course\}@)main\b")

README = """\
# From N-grams to GPT: your course folder

Notebooks that teach how language models work by building them: n-grams, backprop by
hand, RNNs and LSTMs, attention, the Transformer and a GPT, on a laptop CPU.

- `chapters/`: the lessons. Read and run them in order.
- `exercises/`: one notebook per chapter. Fill in each `# YOUR CODE HERE`, then run the
  check cell under it: it prints `correct`, or stops with an error that says what is wrong.
  Written questions say `YOUR ANSWER HERE`: write your answer in that cell.

## Start

```bash
make lab        # first time: installs a .venv (a few minutes), then opens JupyterLab
```

Without make (Windows, or your own environment):

```bash
python -m venv .venv
.venv\\Scripts\\activate          # Windows;  source .venv/bin/activate  elsewhere
pip install -c constraints.txt -e .
python -m coursekit.lab
```

`make lab` prints an address (`http://127.0.0.1:8888/lab?token=...`) and opens chapter 00;
stop it with `Ctrl-C`. The two text corpora download once, on first use (or set
`LMLIB_DATA_DIR` to a folder that has `tinyshakespeare.txt` and `names.txt`).

## Check a whole exercise notebook

```bash
make check NB=00_language_models
```

runs `exercises/00_language_models.ipynb` from top to bottom in a fresh kernel, the way
your teacher's grader does, and prints `pass`, `fail` or `error` for each exercise.

## When something does not work

Run `make doctor` (or `python -m coursekit doctor`): it lists versions, where the corpora
are found, and what to fix. Ask your teacher or your course's forum, and paste what
`make doctor` printed.
"""

MAKEFILE = """\
# The course for students: `make lab` opens it, `make check NB=...` checks an exercise notebook.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8888
NB ?= 00_language_models

.PHONY: setup lab check doctor

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
\t@test -x $(PY) || $(PYTHON) -m venv $(VENV)
\t$(PY) -m pip install --quiet --upgrade "pip>=23"
\t$(PY) -m pip install --quiet -c constraints.txt -e .
\t@touch $@

lab: setup
\t$(PY) -m coursekit.lab --port $(PORT)

check: setup
\t$(PY) -m coursekit.exercises grade exercises/$(NB).ipynb --student you

doctor: setup
\t$(PY) -m coursekit doctor
"""


def pyproject_for_students(text: str) -> str:
    """The handout's pyproject.toml: the project's name, version and runtime dependencies,
    no optional (dev) dependencies, no tool settings."""
    project = tomllib.loads(text)["project"]
    deps = "\n".join(f'    "{d}",' for d in project["dependencies"])
    urls = "".join(f'{k} = "{v}"\n' for k, v in project.get("urls", {}).items())
    return f"""\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{project['name']}"
version = "{project['version']}"
description = "{project.get('description', '')}"
readme = "README.md"
requires-python = "{project.get('requires-python', '>=3.10')}"
dependencies = [
{deps}
]

[project.urls]
{urls}
[tool.setuptools.packages.find]
include = ["lmlib*", "coursekit*"]

[tool.setuptools.package-data]
lmlib = ["assets/*", "assets/**/*"]
coursekit = ["assets/*"]
"""


def pin_colab(source: str, ref: str) -> str:
    """``source`` with its Colab links and Colab install line pinned to git ``ref``."""
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", ref) or ".." in ref:
        raise ValueError(f"ref must be a git tag or branch name, got {ref!r}")
    return _INSTALL_REF.sub(rf"\g<1>{ref}", _COLAB_REF.sub(rf"\g<1>{ref}/", source))


def _git(root: Path, *args: str, binary: bool = False):
    result = subprocess.run(["git", *args], cwd=root, capture_output=True,
                            text=not binary)
    if result.returncode != 0:
        err = result.stderr if not binary else result.stderr.decode(errors="replace")
        raise RuntimeError(f"git {' '.join(args)}: {err.strip()}")
    return result.stdout


def exercises_are_current(root: Path) -> list[str]:
    """The exercise notebooks that differ from what the generator makes (at ``root``)."""
    from .generate import generate_notebook

    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for sol in sorted((root / "solutions").glob("*.ipynb")):
            fresh = Path(tmp) / sol.name
            generate_notebook(sol, fresh)
            ex = root / "exercises" / sol.name
            if not ex.exists() or ex.read_bytes() != fresh.read_bytes():
                stale.append(f"exercises/{sol.name}")
    return stale


def build(root=".", out="build/handout.zip", ref: str | None = None,
          allow_dirty: bool = False) -> Path:
    """Write the handout zip (see the module docstring); return its path. Raises
    ``RuntimeError`` when the tree is dirty (unless ``allow_dirty``) or exercises/ is
    stale."""
    import nbformat

    root, out = Path(root).resolve(), Path(out)
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no").strip()
    if dirty:
        if not allow_dirty:
            raise RuntimeError("uncommitted changes (the handout is built from the last "
                               "commit): commit them, or pass --allow-dirty\n" + dirty)
        print("warning: uncommitted changes are NOT in the handout (built from HEAD):\n"
              + dirty, file=sys.stderr)
    stale = exercises_are_current(root)
    if stale:
        raise RuntimeError(f"{', '.join(stale)} differ from what `make exercises` makes from "
                           "solutions/: run it and commit")
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / PREFIX
        stage.mkdir()
        tar = _git(root, "archive", "--format=tar", "HEAD", "--", *INCLUDE, binary=True)
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(stage, filter="data")
        for pycache in stage.rglob("__pycache__"):
            shutil.rmtree(pycache)
        if ref:
            for path in sorted(stage.glob("*/*.ipynb")):
                nb = nbformat.read(path, as_version=4)
                for cell in nb.cells:
                    cell.source = pin_colab(cell.source, ref)
                nbformat.write(nb, path)
        pyproject = _git(root, "show", "HEAD:pyproject.toml")
        (stage / "pyproject.toml").write_text(pyproject_for_students(pyproject), encoding="utf-8")
        (stage / "README.md").write_text(README, encoding="utf-8")
        (stage / "Makefile").write_text(MAKEFILE, encoding="utf-8")
        leaked = [p for p in stage.rglob("*") if any(
            str(p.relative_to(stage)).startswith(n) for n in NEVER)]
        assert not leaked, f"the handout would contain {leaked}"
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(stage.rglob("*")):
                if path.is_file():
                    z.write(path, f"{PREFIX}/{path.relative_to(stage).as_posix()}")
        partial.replace(out)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.exercises handout")
    parser.add_argument("--out", default="build/handout.zip")
    parser.add_argument("--ref", help="pin the Colab badges and install cells to this git tag "
                                      "or branch (default: main)")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="build from the last commit despite uncommitted changes")
    args = parser.parse_args(argv)
    try:
        path = build(".", args.out, args.ref, args.allow_dirty)
    except (RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(path) as z:
        n, size = len(z.namelist()), sum(i.file_size for i in z.infolist())
    print(f"wrote {path}: {n} files, {size / 1e6:.1f} MB unpacked (chapters, exercises, "
          f"lmlib; no solutions, tests or teacher docs)"
          + (f"; Colab links pinned to {args.ref}" if args.ref else ""))
    return 0
