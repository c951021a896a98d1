"""Every generated exercise notebook: its check cells fail on the stubs. (That they pass on
the solutions is shown by running solutions/ under nbval.)"""

from pathlib import Path

import nbformat
import pytest

from coursekit.exercises.grade import cell_errors, execute, is_check_cell

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", EXERCISES, ids=[p.name for p in EXERCISES])
def test_every_check_fails_on_the_stubs(notebook):
    source = nbformat.read(notebook, as_version=4)
    checks = [i for i, c in enumerate(source.cells) if is_check_cell(c)]
    assert len(checks) >= 3, f"{notebook.name} has {len(checks)} check cells; at least 3 expected"
    first_stub = min(i for i, c in enumerate(source.cells)
                     if "raise NotImplementedError()" in c.source)
    nb = execute(notebook, timeout=300, fast=True)
    errors = dict(cell_errors(nb))
    early = {i: e for i, e in errors.items() if i < first_stub}
    assert not early, f"cells before the first exercise fail: {early}"
    passing = [nb.cells[i].source.splitlines()[0] for i in checks if i not in errors]
    assert not passing, f"these checks pass on the stub, so they cannot catch anything: {passing}"
