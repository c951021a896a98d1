"""Run student notebooks headless and report each exercise's check cell: pass or fail."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass
class ExerciseResult:
    notebook: str
    exercise: str
    passed: bool
    message: str = ""


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


def grade_notebook(path, timeout: int = 600, fast: bool = True) -> list[ExerciseResult]:
    """One result per check cell of the notebook at ``path``, in order.

    A check passes only if it ran without an error: a check that never ran (the kernel died
    before it) fails with ``not run: ...``, the check in which the kernel died fails too,
    and one interrupted after ``timeout`` seconds fails with ``timed out: ...``."""
    nb = execute(path, timeout=timeout, fast=fast)
    died = nb.metadata.get(ABORTED)
    results = []
    for index, cell in enumerate(nb.cells):
        if is_check_cell(cell):
            if died and index == died["cell"]:
                error = f"the kernel died in this check ({died['reason']})"
            elif died and index > died["cell"]:
                error = f"not run: the kernel died in cell {died['cell']} ({died['reason']})"
            elif cell.get("execution_count") is None:
                error = "not run"
            else:
                error = _error_of(cell)
                if error is not None and error.startswith("KeyboardInterrupt"):
                    error = f"timed out: the cell ran longer than {timeout} s and was interrupted"
            results.append(ExerciseResult(str(path), exercise_name(cell, index),
                                          error is None, error or ""))
    return results


def cell_errors(nb) -> list[tuple[int, str]]:
    """``(cell index, error)`` for every code cell that raised, in an executed notebook."""
    return [(i, e) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and (e := _error_of(c)) is not None]
