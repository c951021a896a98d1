"""Write solutions/ as an nbgrader course: ``COURSE/source/<chapter>/<chapter>.ipynb``.

nbgrader's own markers are the course's (``### BEGIN SOLUTION`` ...), but its full pipeline
(``nbgrader generate_assignment``, ``autograde``, the formgrader) also wants to know what
each cell is. This module adds that cell metadata (``cell.metadata["nbgrader"]``, schema 3)
the way nbgrader's "Create Assignment" toolbar would:

- a code cell with a solution region: an *autograded answer* (``solution``);
- a ``check`` cell: *autograder tests* (``grade``, ``locked``, ``points``), graded by
  whether it raises, exactly as ``python -m coursekit.exercises grade`` does;
- a markdown cell with a solution region: a *manually graded answer* (``solution``,
  ``grade``, ``points``), as nbgrader requires of written answers;
- every other cell: no nbgrader metadata, so it stays as editable as in exercises/.

The two steps of the course's generator that nbgrader has no counterpart for are done here
instead: cells tagged ``solution`` (teacher-only) are left out, and "Open in Colab" links to
``solutions/`` are pointed at ``exercises/`` (a student must never get a link to the
solutions). ``tests/test_nbgrader.py`` checks that nbgrader turns the result into the same
student notebooks as exercises/.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

import nbformat

from .generate import _MARKER, MarkerError, clear_solutions, colab_link_to_exercises
from .grade import exercise_name, is_check_cell, is_written_cell, points_of

SCHEMA_VERSION = 3  # nbgrader's cell metadata schema (nbgrader 0.7 and later)

CONFIG = '''\
# nbgrader settings for the course "From N-grams to GPT" (written by
# `python -m coursekit.exercises nbgrader-source`; edit freely, it is not overwritten).
c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "ngrams-to-gpt"
# Some exercises train a small model: give each cell time when autograding.
c.Execute.timeout = 600
'''


def _markers(source: str) -> set[str]:
    """The kinds of marker regions in a cell: a subset of {"SOLUTION", "HIDDEN TESTS"}."""
    return {m.group(3) for line in source.split("\n") if (m := _MARKER.match(line))}


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]+", "-", text).strip("-").lower() or "cell"


def _unique(grade_id: str, taken: set[str]) -> str:
    candidate, n = grade_id, 2
    while candidate in taken:
        candidate, n = f"{grade_id}-{n}", n + 1
    taken.add(candidate)
    return candidate


def nbgrader_metadata(cell, grade_id: str, points: float = 1) -> dict | None:
    """nbgrader's metadata for one solutions cell, or None for a plain cell. ``points``:
    the cell's points (see :func:`.grade.points_of`).

    Raises ``MarkerError`` for a cell nbgrader cannot express: a check cell that is also
    an answer, hidden tests outside a check cell, or a ``written`` cell without an answer
    region."""
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise ValueError(f"points must be a number >= 0, got {points!r}")
    kinds = _markers(cell.source)
    check = is_check_cell(cell)
    if check and "SOLUTION" in kinds:
        raise MarkerError(f"cell {grade_id}: a check cell cannot hold a solution region")
    if "HIDDEN TESTS" in kinds and not check:
        raise MarkerError(f"cell {grade_id}: hidden tests belong in a check cell "
                          "(nbgrader removes them only from autograder-test cells)")
    if is_written_cell(cell) and "SOLUTION" not in kinds:
        raise MarkerError(f"cell {grade_id}: a cell tagged 'written' holds the model answer "
                          "between '### BEGIN SOLUTION' and '### END SOLUTION'")
    meta = {"schema_version": SCHEMA_VERSION, "grade_id": grade_id}
    if check:
        return meta | {"solution": False, "grade": True, "locked": True, "points": points}
    if "SOLUTION" not in kinds:
        return None
    if cell.cell_type == "markdown":
        return meta | {"solution": True, "grade": True, "locked": False, "points": points}
    return meta | {"solution": True, "grade": False, "locked": False}


def nbgrader_cells(cells, points: float = 1, where: str = "notebook") -> list[dict | None]:
    """nbgrader's metadata for each of ``cells`` (a solutions notebook's cells, without
    those tagged ``solution``): grade ids are unique in the notebook, points from each
    cell's metadata or question (:func:`.grade.points_of`), ``points`` otherwise."""
    taken: set[str] = set()
    metas = []
    for index, cell in enumerate(cells):
        # the same marker checks as the generator, so errors name the cell the same way
        clear_solutions(cell.source, cell.cell_type, f"{where}: cell {index}")
        if is_check_cell(cell):
            grade_id = "check-" + _slug(exercise_name(cell, index))
        else:
            grade_id = "answer-" + _slug(cell.get("id") or str(index))
        question = cells[index - 1].source if index else ""
        metas.append(nbgrader_metadata(cell, _unique(grade_id, taken),
                                       points_of(cell, points, question)))
    return metas


def release_checksum(source: str, cell_type: str, meta: dict) -> str:
    """The checksum nbgrader's release gives a cell (``nbgrader.utils.compute_checksum``:
    MD5 of the student source, the cell type, whether it is graded / an answer / locked,
    its grade id and points)."""
    solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
    locked = False if solution else True if grade else bool(meta.get("locked"))
    m = hashlib.md5()
    for part in (source, cell_type, str(grade), str(solution), str(locked), meta["grade_id"]):
        m.update(part.encode("utf-8"))
    if grade:
        m.update(str(float(meta["points"])).encode("utf-8"))
    return m.hexdigest()


def release_metadata(cell, meta: dict) -> dict:
    """``meta`` completed as nbgrader's release completes it for the student version
    ``cell``: its checksum and cell type."""
    return meta | {"checksum": release_checksum(cell.source, cell.cell_type, meta),
                   "cell_type": cell.cell_type}


def lock_metadata(meta: dict | None) -> dict:
    """What nbgrader's ``LockCells`` adds to a released cell with metadata ``meta``."""
    if not meta:
        return {}
    if meta["solution"]:
        return {"deletable": False}
    if meta["grade"] or meta["locked"]:
        return {"deletable": False, "editable": False}
    return {}


def to_nbgrader_source(nb, points: float = 1, where: str = "notebook"):
    """A copy of the solutions notebook ``nb`` with nbgrader cell metadata on its answer
    and check cells, without its cells tagged ``solution``, Colab links to exercises/."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if "solution" not in c.get("metadata", {}).get("tags", [])]
    for cell, meta in zip(cells, nbgrader_cells(cells, points, where)):
        if cell.cell_type == "markdown":
            cell.source = colab_link_to_exercises(cell.source)
        if meta is not None:
            cell.metadata["nbgrader"] = meta
    nb.cells = cells
    return nb


def write_source_folder(course_dir, solutions="solutions", points: float = 1) -> list[Path]:
    """Write every ``solutions/X.ipynb`` to ``COURSE/source/X/X.ipynb`` (one nbgrader
    assignment per chapter) and, when missing, ``COURSE/nbgrader_config.py``.

    Returns the notebooks written."""
    solutions, course_dir = Path(solutions), Path(course_dir)
    notebooks = sorted(solutions.glob("*.ipynb")) if solutions.is_dir() else []
    if not notebooks:
        raise FileNotFoundError(f"no solution notebooks in {solutions}")
    written = []
    for path in notebooks:
        nb = to_nbgrader_source(nbformat.read(path, as_version=4), points, str(path))
        target = course_dir / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
    return written


def lacks_metadata(path) -> str | None:
    """Why nbgrader would grade the notebook at ``path`` as zero, or None: it is not a
    notebook, or none of its cells carries nbgrader's metadata (a notebook made before the
    exercises carried it, a chapter notebook, answers pasted into a new notebook)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001
        return f"not a readable notebook ({type(err).__name__})"
    graded = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    if not graded:
        return "no cell carries nbgrader's metadata: nbgrader would give it 0 points"
    return None


def check_submissions(folder) -> list[tuple[Path, str]]:
    """``(notebook, why)`` for every notebook under ``folder`` nbgrader cannot grade."""
    return [(p, why) for p in sorted(Path(folder).rglob("*.ipynb"))
            if ".ipynb_checkpoints" not in p.parts and (why := lacks_metadata(p))]
