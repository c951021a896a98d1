"""Grade student notebooks: one row per student and exercise, checks that cannot be faked.

:func:`grade_submission` grades one student's notebook against its *canonical* notebook
(``exercises/X.ipynb``, the one handed out):

- the check cells that run are the canonical ones, matched by cell id, as nbgrader does: a
  student's edited check is replaced, a deleted one is put back after the cell that
  precedes it in the canonical notebook;
- a check passes only if it runs to its last line: the grader appends a line printing a
  fresh random token and looks for it in the cell's output, so an error swallowed by
  ``get_ipython().set_custom_exc(...)`` (also reset at the top of each check), by a
  ``try`` or by a hook is never a pass;
- the notebook runs in isolation under a wall-clock limit (:mod:`.runner`);
- each check gets a status: ``pass``, ``fail`` (an assertion failed, or the exercise still
  raises the stub's ``NotImplementedError``), ``error`` (another exception: a syntax error
  in the exercise's own cells is reported as such, in that exercise), ``timeout``,
  ``unreadable`` (not a notebook) or ``missing`` (nothing submitted);
- written answers (markdown cells tagged ``written``) are listed with status ``manual``:
  to grade by hand.

Points per check come from the canonical cell's nbgrader metadata (``points``), the same
number nbgrader uses; see :func:`points_of`.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

STATUSES = ("pass", "fail", "error", "timeout", "unreadable", "missing", "manual")
DEFAULT_POINTS = 1


@dataclass
class Row:
    """One student's result for one exercise (a check cell) or written question."""

    student: str
    notebook: str  # the notebook's file name, e.g. 00_language_models.ipynb
    exercise: str
    status: str  # one of STATUSES
    points: float | None  # earned; None for written answers (graded by hand)
    max_points: float
    message: str = ""
    kind: str = "auto"  # "auto": a check cell; "manual": a written answer
    level: str = ""  # from the exercise's heading: "core, 25 min", "stretch, 40 min" or ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and "check" in cell.get("metadata", {}).get("tags", [])


def exercise_name(cell, index: int) -> str:
    first = cell.source.lstrip().split("\n", 1)[0]
    if first.lower().startswith("# check:"):
        return first.split(":", 1)[1].strip()
    return f"check cell {index}"


def _error_of(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = str(out.get("evalue", "")).strip()
            return f"{out.get('ename', 'Error')}: {value}" if value else out.get("ename", "Error")
    return None


ABORTED = "lmlib_aborted"
"""Key of the executed notebook's metadata set when the kernel died: ``{"cell": index of the
cell that was running, "reason": text}``."""


def execute(path, timeout: int = 600, fast: bool = True):
    """Execute a notebook in a fresh kernel (cwd = its folder), keeping going past errors.

    A cell that runs longer than ``timeout`` seconds is interrupted (it fails with
    ``KeyboardInterrupt``) and the next cells still run. If the kernel dies (the student's
    code exited or ran out of memory), the cells after it are left unexecuted and
    ``nb.metadata[ABORTED]`` says in which cell it died. Returns the executed notebook.
    Raises ``ValueError`` for a file that is not a notebook."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise
    except Exception as err:  # invalid JSON or not a notebook
        raise ValueError(f"{path} is not a readable notebook: {err}") from err
    running = [None]  # index of the code cell sent to the kernel last

    def note_cell(cell, cell_index):
        running[0] = cell_index

    old = os.environ.get("LMLIB_FAST")
    os.environ["LMLIB_FAST"] = "1" if fast else "0"
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                interrupt_on_timeout=True, on_cell_execute=note_cell,
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        client.execute()
    except DeadKernelError:
        nb.metadata[ABORTED] = {"cell": running[0] if running[0] is not None else -1,
                                "reason": "the code exited or ran out of memory"}
    finally:
        if old is None:
            os.environ.pop("LMLIB_FAST", None)
        else:
            os.environ["LMLIB_FAST"] = old
    return nb


def cell_errors(nb) -> list[tuple[int, str]]:
    """``(cell index, error)`` for every code cell that raised, in an executed notebook."""
    return [(i, e) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and (e := _error_of(c)) is not None]


# --- points and written questions ---------------------------------------------------------

_POINTS_TEXT = re.compile(r"\((?:[^()]*?,\s*)?(\d+(?:\.\d+)?)\s*points?\)", re.IGNORECASE)


def is_written_cell(cell) -> bool:
    return cell.cell_type == "markdown" and "written" in cell.get("metadata", {}).get("tags", [])


def points_of(cell, default: float = DEFAULT_POINTS, question: str = "") -> float:
    """A graded cell's points: ``metadata.nbgrader.points`` (what nbgrader reads), else
    ``metadata.points`` (set in a solutions notebook's ``.py``: ``# %% tags=["check"]
    points=2``), else for a written answer "(N points)" in its rubric or in the question
    cell above it (``question``), else ``default``."""
    meta = cell.get("metadata", {})
    for value in (meta.get("nbgrader", {}).get("points"), meta.get("points")):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"cell {cell.get('id', '?')}: points must be a number >= 0, "
                                 f"got {value!r}")
            return value
    if is_written_cell(cell):
        for text in (question, cell.source):
            if m := _POINTS_TEXT.search(text):
                return float(m.group(1)) if "." in m.group(1) else int(m.group(1))
    return default


def written_name(nb, index: int) -> str:
    """The name of the written question answered in cell ``index``: "Question N" from the
    bold heading of the markdown cell above it, else ``written answer <index>``."""
    if index > 0 and nb.cells[index - 1].cell_type == "markdown":
        if m := re.search(r"\*\*(Question[^*:(]*?)\s*(\(|:|\*\*)", nb.cells[index - 1].source):
            return m.group(1).strip()
    return f"written answer {index}"


_LEVEL = re.compile(r"^#+\s*Exercise\b.*\(\s*((?:core|stretch)\s*,\s*\d+\s*min)\s*\)\s*$",
                    re.IGNORECASE | re.MULTILINE)


@dataclass
class Graded:
    """A canonical notebook's graded cells: ``checks`` and ``written`` are lists of
    ``(cell id, name, points)``; ``levels`` maps a check's cell id to the level of its
    exercise ("core, 25 min"), read from the heading ``## Exercise N: ... (core, 25 min)``."""

    checks: list[tuple[str, str, float]]
    written: list[tuple[str, str, float]]
    levels: dict[str, str] = field(default_factory=dict)


def graded_cells(canonical) -> Graded:
    checks, written, levels = [], [], {}
    level = ""
    for index, cell in enumerate(canonical.cells):
        if cell.cell_type == "markdown" and re.search(r"^#+\s*Exercise\b", cell.source,
                                                      re.IGNORECASE | re.MULTILINE):
            m = _LEVEL.search(cell.source)
            level = " ".join(m.group(1).split()).replace(" ,", ",") if m else ""
        if is_check_cell(cell):
            levels[cell.get("id")] = level
            checks.append((cell.get("id"), exercise_name(cell, index), points_of(cell)))
        elif is_written_cell(cell):
            question = canonical.cells[index - 1].source if index else ""
            written.append((cell.get("id"), written_name(canonical, index),
                            points_of(cell, question=question)))
    return Graded(checks, written, levels)


# --- the notebook that runs ---------------------------------------------------------------

def _token_line(token: str) -> str:
    return f"print({token!r})"


_RESET = "get_ipython().set_custom_exc((), None)  # grader: errors are errors"


def build_run_notebook(student, canonical, token: str):
    """The notebook to run: the student's cells, with every canonical check cell (by id)
    in place of the student's copy, deleted ones put back, each check reset and ended by
    a line printing ``token``. Returns ``(notebook, origin, check_index)``: ``origin[i]`` is
    the student's index of run cell ``i`` (None for a restored check), ``check_index`` maps
    a check's cell id to its index in the run notebook."""
    nb = copy.deepcopy(student)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    cells = list(nb.cells)
    origin: list[int | None] = list(range(len(cells)))
    canon_ids = [c.get("id") for c in canonical.cells]
    for cindex, ccell in enumerate(canonical.cells):
        if not is_check_cell(ccell):
            continue
        check = nbformat.v4.new_code_cell(
            "\n".join([_RESET, ccell.source.rstrip(), _token_line(token)]),
            metadata=copy.deepcopy(ccell.get("metadata", {})))
        check["id"] = ccell.get("id")
        ids = [c.get("id") for c in cells]
        if ccell.get("id") in ids:
            cells[ids.index(ccell.get("id"))] = check
            continue
        # deleted (or its id changed): after the nearest canonical cell still present above it
        at = len(cells)
        for prev in reversed(canon_ids[:cindex]):
            if prev in ids:
                at = ids.index(prev) + 1
                break
        cells.insert(at, check)
        origin.insert(at, None)
    # a student's own cell tagged "check" that is not canonical is plain code now
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "check" in tags and cell.get("id") not in canon_ids:
            cell.metadata["tags"] = [t for t in tags if t != "check"]
    nb.cells = cells
    check_index = {c.get("id"): i for i, c in enumerate(cells)
                   if is_check_cell(c) and c.get("id") in canon_ids}
    return nb, origin, check_index


SUSPICIOUS = re.compile(r"set_custom_exc|events\.register|showtraceback|sys\.excepthook|"
                        r"ast_transformers|input_transformers|run_cell")


def suspicious_cells(student) -> list[int]:
    """Indices of the student's code cells that hook IPython's error handling or cell
    execution: worth a look by the teacher (such a hook cannot make a check pass here, but
    a cleverer one might)."""
    return [i for i, c in enumerate(student.cells)
            if c.cell_type == "code" and SUSPICIOUS.search(c.source)]


# --- from a run to rows ---------------------------------------------------------------------

def _where(origin, index) -> str:
    return f"cell {origin[index]}" if origin[index] is not None else "a restored cell"


def _error_text(info: dict) -> str:
    value = (info.get("evalue") or "").strip()
    return f"{info['ename']}: {value}" if value else info["ename"]


def _check_status(run, nb, origin, index, previous, token, cell_timeout) -> tuple[str, str]:
    """``(status, message)`` for the check at run cell ``index``; ``previous`` is the run
    index of the check before it (-1 for the first)."""
    info = run.cells.get(index)
    if info is None:
        if run.unfinished == index:
            if run.outcome == "timeout":
                return "timeout", f"this check was running when {run.detail}"
            return "error", f"{run.detail or 'the notebook stopped'}, in this check"
        if run.unfinished is not None and run.unfinished < index:
            stuck = run.unfinished
            why = run.detail or "the notebook stopped"
            status = "timeout" if run.outcome == "timeout" else "error"
            return status, f"not run: {why} while running {_where(origin, stuck)}"
        return "error", f"not run ({run.detail or 'the notebook stopped before it'})"
    if info.get("ename") == "KeyboardInterrupt":
        return "timeout", f"the check ran longer than {cell_timeout} s and was interrupted"
    if info.get("ename") is None and token in (info.get("stdout") or ""):
        return "pass", ""
    # the exercise's own cells (since the previous check) first: the real mistake
    for i in range(previous + 1, index):
        other = run.cells.get(i)
        if other and other.get("ename"):
            where = _where(origin, i)
            if other["ename"] == "KeyboardInterrupt":
                return "timeout", f"{where} ran longer than {cell_timeout} s and was interrupted"
            if other["ename"] == "NotImplementedError":
                return "fail", f"not done: {where} still raises NotImplementedError"
            return "error", f"{where}: {_error_text(other)}"
    if info.get("ename") is None:
        return "error", ("the check did not run to its end: something in the notebook "
                         "swallowed its error")
    message = _error_text(info)
    if info["ename"] == "NotImplementedError":
        return "fail", f"not done: {message} (the exercise's stub)"
    if info["ename"] == "AssertionError":
        return "fail", message
    earlier = next((i for i in range(previous + 1) if (run.cells.get(i) or {}).get("ename")),
                   None)
    if earlier is not None:
        message += f" (first error above: {_where(origin, earlier)}: " \
                   f"{_error_text(run.cells[earlier])})"
    return "error", message


def rows_for(student: str, name: str, graded: Graded, status: str, message: str) -> list[Row]:
    """The same status for every exercise of a notebook (unreadable, missing)."""
    rows = [Row(student, name, ex, status, 0, pts, message, level=graded.levels.get(cid, ""))
            for cid, ex, pts in graded.checks]
    rows += [Row(student, name, q, status, None, pts, message, "manual")
             for _, q, pts in graded.written]
    return rows or [Row(student, name, "(notebook)", status, 0, 0, message)]


def _answer_summary(student_nb, cell_id) -> str:
    cell = next((c for c in student_nb.cells if c.get("id") == cell_id), None)
    if cell is None:
        return "to grade by hand: the answer cell was deleted"
    text = " ".join(cell.source.replace("YOUR ANSWER HERE", "").split())
    if not text:
        return "to grade by hand: unanswered (still YOUR ANSWER HERE)"
    return f"to grade by hand: {text[:80]}{'...' if len(text) > 80 else ''}"


def grade_submission(path, canonical=None, student: str = "", cell_timeout: int = 120,
                     notebook_timeout: int = 900, fast: bool = True,
                     folder: Path | str | None = "parent", name: str = "") -> list[Row]:
    """Grade one student's notebook at ``path`` against ``canonical`` (an nbformat node, or
    None to use the student's own checks: not tamper-proof). Runs it in a fresh copy of
    ``folder`` (default: the notebook's folder). Never raises for a bad submission: an
    unreadable notebook gives rows with status ``unreadable``. ``name``: the notebook's name
    in the rows (default: its file name)."""
    path = Path(path)
    name = name or path.name
    graded = graded_cells(canonical) if canonical is not None else None
    try:
        student_nb = nbformat.read(path, as_version=4)
        if not isinstance(student_nb.get("cells"), list):
            raise ValueError("no list of cells")
    except Exception as err:  # noqa: BLE001 (any unreadable file is a row, not a crash)
        reason = " ".join(str(err).split()) or type(err).__name__
        return rows_for(student, name, graded or Graded([], []), "unreadable",
                        f"not a readable notebook: {reason[:200]}")
    note = ""
    if canonical is None:
        canonical = student_nb
        graded = graded_cells(student_nb)
        note = "no canonical notebook in exercises/: the student's own checks ran"
    if not graded.checks and not graded.written:
        return [Row(student, name, "(notebook)", "error", 0, 0,
                    "no check cells" + (f" ({note})" if note else ""))]
    token = secrets.token_hex(12)
    run_nb, origin, check_index = build_run_notebook(student_nb, canonical, token)
    from .runner import run_isolated

    run = run_isolated(run_nb, path.name, path.parent if folder == "parent" else folder,
                       cell_timeout=cell_timeout, notebook_timeout=notebook_timeout, fast=fast)
    flagged = suspicious_cells(student_nb)
    flag = (f"; cells {flagged} hook IPython's error handling: have a look" if flagged else "")
    rows, previous = [], -1
    for cell_id, exercise, pts in sorted(graded.checks, key=lambda c: check_index[c[0]]):
        index = check_index[cell_id]
        status, message = _check_status(run, run_nb, origin, index, previous, token,
                                        cell_timeout)
        if origin[index] is None:
            message = "the check cell was missing and was put back; " + message
        message = message.replace(token, "")
        rows.append(Row(student, name, exercise, status, pts if status == "pass" else 0, pts,
                        (message + flag).lstrip("; "), level=graded.levels.get(cell_id, "")))
        previous = index
    rows += [Row(student, name, q, "manual", None, pts, _answer_summary(student_nb, cid),
                 "manual") for cid, q, pts in graded.written]
    return rows


def grade_notebook(path, timeout: int = 120, fast: bool = True, canonical=None,
                   notebook_timeout: int = 900) -> list[Row]:
    """Rows for one notebook, graded against ``canonical`` (default: the student's own
    checks). Kept for scripts; the command line is ``python -m coursekit.exercises grade``."""
    return grade_submission(path, canonical, Path(path).parent.name, cell_timeout=timeout,
                            notebook_timeout=notebook_timeout, fast=fast)
