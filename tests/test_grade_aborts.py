"""The grader survives a student notebook that hangs or kills its kernel (two kernel starts)."""

import csv

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from coursekit.exercises.__main__ import main as cli


def _check(name, source):
    return new_code_cell(f"# Check: {name}\n{source}", metadata={"tags": ["check"]})


def _write(path, *cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.notebooks
def test_a_dead_kernel_or_a_hanging_cell_fails_only_that_student(tmp_path, capsys):
    subs = tmp_path / "submissions"
    _write(subs / "crash" / "ex.ipynb", _check("first", "assert True"),
           new_code_cell("import os\nos._exit(3)"), _check("second", "assert True"))
    _write(subs / "crash_in_check" / "ex.ipynb", _check("first", "import os\nos._exit(3)"),
           _check("second", "assert True"))
    _write(subs / "slow" / "ex.ipynb", _check("first", "import time\ntime.sleep(120)"),
           _check("second", "assert True"))
    out = tmp_path / "grades.csv"

    assert cli(["grade", str(subs), "--csv", str(out), "--timeout", "3"]) == 1

    with open(out, newline="", encoding="utf-8") as f:
        rows = {(r["student"], r["exercise"]): (r["status"], r["message"])
                for r in csv.DictReader(f)}
    assert rows[("crash", "first")] == ("pass", "")
    # the check after the crash never ran: it must not pass
    assert rows[("crash", "second")] == (
        "error", "not run: the kernel died (the code exited or ran out of memory) while "
                 "running cell 1")
    # a check that kills the kernel does not pass (it printed no error)
    assert rows[("crash_in_check", "first")] == (
        "error", "the kernel died (the code exited or ran out of memory), in this check")
    assert rows[("crash_in_check", "second")][0] == "error"
    # the hanging check is interrupted; the next check still runs
    assert rows[("slow", "first")] == (
        "timeout", "the check ran longer than 3 s and was interrupted")
    assert rows[("slow", "second")] == ("pass", "")
    assert "Traceback" not in capsys.readouterr().err
