"""Open in Colab: the badge and the guarded install cell at the top of every notebook.

The repository's address is written in one place, ``[project.urls] Repository`` in
``pyproject.toml``. From it, ``python -m coursekit.colab`` (``make sync`` runs it) writes two
cells at the top of every ``chapters/*.ipynb`` and ``solutions/*.ipynb``, then syncs their
``.py`` twins:

1. a markdown cell with the "Open in Colab" badge, linking the notebook's own path on the
   ``main`` branch;
2. a code cell, before the setup cell, that installs lmlib when (and only when) it runs on
   Colab. It installs lmlib with ``--no-deps`` plus the few packages lmlib adds, so that
   Colab's own torch (a CUDA build), ipywidgets and ipykernel stay as they are.

``exercises/`` gets both cells from ``solutions/`` through the exercise generator, which
points the badge at ``exercises/``. A fork changes the one line in pyproject.toml and runs
``make sync``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["repository", "badge_source", "install_source", "colab_requirements",
           "header_problems", "write_header", "main"]

BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
INSTALL_MARKER = "# Colab only:"
FOLDERS = ("chapters", "solutions")   # exercises/ is generated from solutions/
# Dependencies the install cell leaves to Colab: replacing its builds would break the runtime
# (a CUDA torch; the ipywidgets 7 / ipykernel / notebook stack its front end talks to).
COLAB_KEEPS = {"torch", "ipywidgets", "ipykernel", "jupyterlab", "nbformat", "nbclient"}
_GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def _project(pyproject) -> dict:
    return tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]


def repository(pyproject="pyproject.toml") -> str:
    """The repository's address, ``https://github.com/OWNER/REPO``, from ``pyproject``."""
    url = _project(pyproject).get("urls", {}).get("Repository", "")
    m = _GITHUB.match(url)
    if not m:
        raise ValueError(f"{pyproject}: [project.urls] Repository must be "
                         f"https://github.com/OWNER/REPO (Colab opens notebooks from GitHub), "
                         f"got {url!r}")
    return f"https://github.com/{m.group(1)}/{m.group(2)}"


def colab_requirements(pyproject="pyproject.toml") -> list[str]:
    """lmlib's dependencies except those Colab must keep (:data:`COLAB_KEEPS`)."""
    name = re.compile(r"^[A-Za-z0-9_.-]+")
    return [r for r in _project(pyproject)["dependencies"]
            if name.match(r).group(0).lower() not in COLAB_KEEPS]


def badge_source(repo: str, path: str) -> str:
    """The badge cell of the notebook at ``path`` (relative to the repository root)."""
    owner_name = repo.removeprefix("https://github.com/")
    link = f"https://colab.research.google.com/github/{owner_name}/blob/{BRANCH}/{path}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({link})"


def install_source(repo: str, requirements: list[str]) -> str:
    """The install cell: on Colab, installs lmlib from ``repo`` once; elsewhere nothing."""
    needs = textwrap.fill(", ".join(f'"{r}"' for r in requirements), width=96,
                          initial_indent="    subprocess.run(pip + [", subsequent_indent=" " * 26,
                          break_long_words=False, break_on_hyphens=False) + "], check=True)"
    return f'''{INSTALL_MARKER} install the course library (lmlib) once. Elsewhere this does nothing.
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("lmlib") is None:
    # --no-deps keeps Colab's own torch, ipywidgets and ipykernel; then what lmlib adds
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    course = "{repo}"
    subprocess.run(pip + ["--no-deps", f"lmlib @ git+{{course}}@{BRANCH}"], check=True)
{needs}
    importlib.invalidate_caches()
    print(f"Colab: installed lmlib from {{course}}; the corpora download on first use.")'''


def _find(nb, kind: str, needle: str, where: str = "in") -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == kind and (cell.source.startswith(needle) if where == "start"
                                       else needle in cell.source):
            return i
    return None


def header_problems(nb, path: str, repo: str, requirements: list[str]) -> list[str]:
    """What is wrong with the header of notebook ``nb`` at ``path``: [] when its first cell
    is the badge linking ``path`` and the install cell comes before any ``import lmlib``."""
    problems = []
    if not nb.cells or nb.cells[0].cell_type != "markdown" \
            or nb.cells[0].source != badge_source(repo, path):
        problems.append(f"{path}: the first cell is not the Colab badge for {path} under {repo}")
    install = _find(nb, "code", INSTALL_MARKER, "start")
    uses = _find(nb, "code", "import lmlib")
    if install is None or nb.cells[install].source != install_source(repo, requirements):
        problems.append(f"{path}: no up-to-date Colab install cell")
    elif uses is not None and uses < install:
        problems.append(f"{path}: the Colab install cell comes after cell {uses} imports lmlib")
    return problems


def write_header(notebook, path: str, repo: str, requirements: list[str]) -> bool:
    """Add or update the badge and install cells of ``notebook`` (a file; ``path`` is its
    path in the repository). Cell ids are kept; new cells get fixed ids. True if changed."""
    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    before = nbformat.writes(nb)
    badge = _find(nb, "markdown", BADGE_IMAGE)
    if badge is None:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(id="colab-badge"))
        badge = 0
    nb.cells[badge].source = badge_source(repo, path)
    install = _find(nb, "code", INSTALL_MARKER, "start")
    if install is None:
        first_code = _find(nb, "code", "")
        first_code = len(nb.cells) if first_code is None else first_code
        nb.cells.insert(first_code, nbformat.v4.new_code_cell(id="colab-install"))
        install = first_code
    nb.cells[install].source = install_source(repo, requirements)
    if nbformat.writes(nb) == before:
        return False
    nbformat.write(nb, notebook)
    return True


def main(argv=None) -> int:
    """Rewrite the header cells of chapters/ and solutions/ from pyproject.toml, sync their
    .py twins, and say which notebooks changed (run from the repository root)."""
    if argv:
        print("usage: python -m coursekit.colab   (from the repository root; no arguments)",
              file=sys.stderr)
        return 2
    repo, reqs = repository(), colab_requirements()
    changed = [str(p) for folder in FOLDERS for p in sorted(Path(folder).glob("*.ipynb"))
               if write_header(p, p.as_posix(), repo, reqs)]
    if changed:
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", *changed],
                       check=True)
    for p in changed:
        print(f"wrote {p} and its .py twin")
    print(f"Colab headers for {repo}: {len(changed)} notebook(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
