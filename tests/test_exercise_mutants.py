"""Every exercise check catches the plausible wrong answers listed in ``tests/mutants/``.

One kernel per solutions notebook (fast mode): the cells run in order; before a solution
cell that has mutants runs for real, each mutant's source runs in its place followed by the
exercise's check cells, and one of those checks must fail with the mutant's ``expect`` text.
The real solution cell then runs and redefines what the mutant left behind.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import nbformat
import pytest
from mutants import Mutant

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.stem for p in (ROOT / "tests" / "mutants").glob("[0-9]*.py"))
MIN_MUTANTS = 3  # per exercise


def _mutants(stem: str) -> list[Mutant]:
    return list(importlib.import_module(f"mutants.{stem}").MUTANTS)


def _is_check(cell) -> bool:
    return cell.cell_type == "code" and "check" in cell.get("metadata", {}).get("tags", [])


def _exercises(nb) -> dict[str, list[int]]:
    """Solution cell id -> indices of its check cells (the check cells up to the next
    solution cell)."""
    found, current = {}, None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
            current = cell.get("id")
            found[current] = []
        elif _is_check(cell) and current is not None:
            found[current].append(i)
    return {k: v for k, v in found.items() if v}


def _error(outputs) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename', '')}: {out.get('evalue', '')}"
    return None


class _Kernel:
    """One kernel that runs cells one by one and returns their error, if any."""

    def __init__(self, folder: Path, timeout: int = 300):
        from nbclient import NotebookClient

        self.nb = nbformat.v4.new_notebook()
        self.client = NotebookClient(self.nb, timeout=timeout, kernel_name="python3",
                                     allow_errors=True, interrupt_on_timeout=True,
                                     resources={"metadata": {"path": str(folder)}})

    def __enter__(self):
        self.client.km = self.client.create_kernel_manager()
        self.client.start_new_kernel()
        self.client.start_new_kernel_client()
        return self

    def run(self, source: str) -> str | None:
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return _error(cell.outputs)

    def __exit__(self, *exc):
        self.client._cleanup_kernel()


def _run_notebook_with_mutants(stem: str) -> list[str]:
    path = ROOT / "solutions" / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    exercises = _exercises(nb)
    mutants = _mutants(stem)
    by_cell: dict[str, list[Mutant]] = {}
    for m in mutants:
        if m.cell not in exercises:
            return [f"{m.name}: cell {m.cell!r} is not a solution cell with checks in {path.name}"]
        by_cell.setdefault(m.cell, []).append(m)
    problems = [f"exercise cell {cid} has {len(by_cell.get(cid, []))} mutants; "
                f"at least {MIN_MUTANTS} expected" for cid in exercises
                if len(by_cell.get(cid, [])) < MIN_MUTANTS]
    os.environ["LMLIB_FAST"] = "1"
    with _Kernel(path.parent) as kernel:
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for m in by_cell.get(cell.get("id"), []):
                errors = [kernel.run(m.apply(cell.source))]
                errors += [kernel.run(nb.cells[j].source) for j in exercises[cell.id]]
                caught = [e for e in errors if e]
                if not caught:
                    problems.append(f"{m.name}: every check passes (the mutant is not caught)")
                elif not any(m.expect.lower() in e.lower() for e in caught):
                    problems.append(f"{m.name}: caught, but no message mentions "
                                    f"{m.expect!r}: {caught}")
            error = kernel.run(cell.source)
            if error and "raises-exception" not in cell.get("metadata", {}).get("tags", []):
                return problems + [f"cell {i} of the solution fails: {error}"]
    return problems


@pytest.mark.parametrize("stem", MODULES)
def test_every_mutant_is_caught(stem):
    problems = _run_notebook_with_mutants(stem)
    assert not problems, "\n".join(problems)
