"""Turn solution notebooks into student notebooks (nbgrader-compatible markers).

In code cells, each region ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` becomes
``# YOUR CODE HERE`` and ``raise NotImplementedError()``, indented like the marker; in
markdown cells it becomes ``YOUR ANSWER HERE``. Regions ``### BEGIN HIDDEN TESTS`` ...
``### END HIDDEN TESTS`` are removed, and so are cells tagged ``solution``. Cell ids are
kept, so the output is byte-stable.

nbgrader finds a marker anywhere in a line (``"BEGIN SOLUTION" in line``), this generator
only on a line of its own. So that both always make the same student version, a line that
mentions a marker without being one (``x = 1  # BEGIN SOLUTION``, ``### BEGIN  SOLUTION``)
is an error here rather than a silent difference (tests/test_nbgrader.py checks this).

Each student notebook carries the cell metadata nbgrader's release notebooks carry
(``metadata.nbgrader``: answer, autograded check or manually graded written answer, grade
id, points; and nbgrader's cell locks), so that a student who hands in ``exercises/X.ipynb``
is autograded by nbgrader like one who got nbgrader's own release (docs/nbgrader.md). Only
nbgrader's checksums are left out: nbgrader takes them from its database when it grades.

One step is specific to this course (nbgrader has no equivalent): in markdown cells, "Open in
Colab" links to ``.../blob/<branch>/solutions/X.ipynb`` are pointed at ``exercises/X.ipynb``
(:func:`colab_link_to_exercises`), so that each student notebook's badge opens itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

_MARKER = re.compile(r"^(\s*)###\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")
# what nbgrader takes for a marker: these words anywhere in a line
_NBGRADER_WORDS = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)")
# near misses (other spacing or case) that would otherwise leak a solution to students
_NEAR_MISS = re.compile(r"^\s*#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)", re.IGNORECASE)
_COLAB_SOLUTIONS_LINK = re.compile(
    r"(https://colab\.research\.google\.com/github/[^\s)]+?/blob/[^/\s)]+/)solutions/")


def colab_link_to_exercises(source: str) -> str:
    """``source`` with its Colab links to ``solutions/`` pointed at ``exercises/``."""
    return _COLAB_SOLUTIONS_LINK.sub(r"\1exercises/", source)


class MarkerError(ValueError):
    """Unmatched or nested solution / hidden-test markers."""


def clear_solutions(source: str, cell_type: str = "code", where: str = "cell") -> str:
    """The student version of one cell's source. ``where`` names the cell in errors."""
    out: list[str] = []
    open_kind: str | None = None
    for lineno, line in enumerate(source.split("\n"), start=1):
        m = _MARKER.match(line)
        if not m and (_NBGRADER_WORDS.search(line) or _NEAR_MISS.match(line)):
            raise MarkerError(f"{where}, line {lineno}: {line.strip()!r} looks like a marker "
                              f"but is not one: write '### BEGIN SOLUTION' (or END, or "
                              f"HIDDEN TESTS) alone on its line")
        if not m:
            if open_kind is None:
                out.append(line)
            continue
        indent, edge, kind = m.groups()
        if edge == "BEGIN":
            if open_kind is not None:
                raise MarkerError(f"{where}, line {lineno}: '### BEGIN {kind}' inside an open "
                                  f"'{open_kind}' region (markers cannot nest)")
            open_kind = kind
            if kind == "SOLUTION":
                if cell_type == "code":
                    out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
                else:
                    out.append(f"{indent}YOUR ANSWER HERE")
        else:
            if open_kind != kind:
                found = f"an open '{open_kind}' region" if open_kind else "no open region"
                raise MarkerError(f"{where}, line {lineno}: '### END {kind}' with {found}")
            open_kind = None
    if open_kind is not None:
        raise MarkerError(f"{where}: '### BEGIN {open_kind}' is never closed")
    return "\n".join(out)


def generate_notebook(solution_path, exercise_path) -> bool:
    """Write the student version of ``solution_path`` to ``exercise_path``.

    Returns True when the file changed. Raises ``MarkerError`` naming file and cell."""
    from .nbgrader_source import lock_metadata, nbgrader_cells, release_metadata

    solution_path, exercise_path = Path(solution_path), Path(exercise_path)
    nb = nbformat.read(solution_path, as_version=4)
    cells = []
    for index, cell in enumerate(nb.cells):
        if "solution" in cell.get("metadata", {}).get("tags", []):
            continue
        where = f"{solution_path}: cell {index} (id {cell.get('id', '?')})"
        cell.source = clear_solutions(cell.source, cell.cell_type, where)
        cells.append(cell)
    kept = [c for c in nbformat.read(solution_path, as_version=4).cells
            if "solution" not in c.get("metadata", {}).get("tags", [])]
    for cell, meta in zip(cells, nbgrader_cells(kept, where=str(solution_path))):
        if cell.cell_type == "markdown":
            cell.source = colab_link_to_exercises(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if meta is not None:
            cell.metadata["nbgrader"] = release_metadata(cell, meta)
            cell.metadata.update(lock_metadata(meta))
    nb.cells = cells
    text = nbformat.writes(nb) + "\n"
    old = exercise_path.read_text(encoding="utf-8") if exercise_path.exists() else None
    if text == old:
        return False
    exercise_path.parent.mkdir(parents=True, exist_ok=True)
    exercise_path.write_text(text, encoding="utf-8")
    return True


def generate_folder(solutions="solutions", exercises="exercises") -> list[Path]:
    """Regenerate every ``exercises/X.ipynb`` from ``solutions/X.ipynb`` and delete exercise
    notebooks that have no solution any more. Returns the paths written."""
    solutions, exercises = Path(solutions), Path(exercises)
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions}")
    written = []
    wanted = set()
    for sol in sorted(solutions.glob("*.ipynb")):
        target = exercises / sol.name
        wanted.add(target.name)
        if generate_notebook(sol, target):
            written.append(target)
    for stale in exercises.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    return written
