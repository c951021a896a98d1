"""Golden tests of the exercise generator, and the grader's command line."""

import csv
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursekit.exercises import MarkerError, clear_solutions, generate_folder, generate_notebook
from coursekit.exercises.__main__ import main as cli


def test_code_solution_becomes_an_indented_stub():
    source = ("def f(x):\n"
              "    y = 2\n"
              "    ### BEGIN SOLUTION\n"
              "    return x * y\n"
              "    ### END SOLUTION\n")
    assert clear_solutions(source) == ("def f(x):\n"
                                       "    y = 2\n"
                                       "    # YOUR CODE HERE\n"
                                       "    raise NotImplementedError()\n")


def test_top_level_solution_and_several_regions():
    source = ("### BEGIN SOLUTION\na = 1\n### END SOLUTION\nprint(a)\n"
              "### BEGIN SOLUTION\nb = 2\n### END SOLUTION")
    assert clear_solutions(source) == ("# YOUR CODE HERE\nraise NotImplementedError()\nprint(a)\n"
                                       "# YOUR CODE HERE\nraise NotImplementedError()")


def test_markdown_solution_and_hidden_tests():
    assert clear_solutions("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "markdown") \
        == "Why?\nYOUR ANSWER HERE"
    source = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(5) == 6\n### END HIDDEN TESTS"
    assert clear_solutions(source) == "assert f(1) == 2"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "no open region"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION", "nest"),
    ("### BEGIN SOLUTION\n### END HIDDEN TESTS", "open 'SOLUTION'"),
])
def test_bad_markers_are_errors(source, message):
    with pytest.raises(MarkerError, match=message):
        clear_solutions(source, where="nb.ipynb: cell 3")


def _solution_notebook(path, body="    return x + 1"):
    nb = new_notebook(cells=[
        new_markdown_cell("# Exercises"),
        new_code_cell("import math"),
        new_code_cell(f"def f(x):\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION"),
        new_code_cell("# Check: add one\nassert f(1) == 2", metadata={"tags": ["check"]}),
        new_code_cell("print('teacher only')", metadata={"tags": ["solution"]}),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return nb


def test_generate_notebook_keeps_ids_and_is_byte_stable(tmp_path):
    sol = _solution_notebook(tmp_path / "sol.ipynb")
    out = tmp_path / "ex" / "sol.ipynb"
    assert generate_notebook(tmp_path / "sol.ipynb", out) is True
    first = out.read_bytes()
    assert generate_notebook(tmp_path / "sol.ipynb", out) is False
    assert out.read_bytes() == first
    ex = nbformat.read(out, as_version=4)
    assert [c.id for c in ex.cells] == [c.id for c in sol.cells[:4]]  # solution cell dropped
    assert "raise NotImplementedError()" in ex.cells[2].source
    assert "return x + 1" not in out.read_text()


def test_bad_marker_error_names_file_and_cell(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("### BEGIN SOLUTION\ny = 2")])
    nbformat.write(nb, tmp_path / "broken.ipynb")
    with pytest.raises(MarkerError, match=r"broken\.ipynb: cell 1"):
        generate_notebook(tmp_path / "broken.ipynb", tmp_path / "out.ipynb")


def test_generate_folder_removes_stale_exercises(tmp_path):
    (tmp_path / "solutions").mkdir()
    _solution_notebook(tmp_path / "solutions" / "a.ipynb")
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "old.ipynb").write_text("{}")
    written = generate_folder(tmp_path / "solutions", tmp_path / "exercises")
    assert [p.name for p in written] == ["a.ipynb"]
    assert sorted(p.name for p in (tmp_path / "exercises").iterdir()) == ["a.ipynb"]


def test_grader_passes_solution_and_fails_stub(tmp_path, capsys):
    sub = tmp_path / "submissions"
    (sub / "alice").mkdir(parents=True)
    (sub / "bob").mkdir()
    _solution_notebook(sub / "alice" / "ex.ipynb")
    _solution_notebook(sub / "bob" / "ex.ipynb", body="    return x - 1")
    assert cli(["grade", str(sub / "alice" / "ex.ipynb")]) == 0
    report = tmp_path / "grades.csv"
    assert cli(["grade", str(sub), "--csv", str(report)]) == 1
    out = capsys.readouterr().out
    assert "AssertionError" in out and "1 pass, 1 fail" in out
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert [(r["student"], r["exercise"], r["status"]) for r in rows] == [
        ("alice", "add one", "pass"), ("bob", "add one", "fail")]


def test_grader_exit_2_on_unreadable_or_missing_notebook(tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", encoding="utf-8")
    assert cli(["grade", str(bad)]) == 2
    assert "not a readable notebook" in capsys.readouterr().out
    assert cli(["grade", str(tmp_path / "missing.ipynb")]) == 2
    assert "missing.ipynb" in capsys.readouterr().err


def test_usage_errors_exit_2():
    result = subprocess.run([sys.executable, "-m", "coursekit.exercises", "frobnicate"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
