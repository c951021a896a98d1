"""The grader on a simulated class: every student and exercise gets a row, nobody can fake a
pass, a hung notebook is stopped, and no student's run touches another's files.

The notebooks are tiny and synthetic (two checks, one written question); the kernels are
the only cost: one class run (-j 3) and one hung notebook."""

import csv
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursekit.exercises.__main__ import collect, read_roster
from coursekit.exercises.__main__ import main as cli
from coursekit.exercises.grade import (
    Graded,
    _check_status,
    build_run_notebook,
    grade_submission,
    graded_cells,
    points_of,
)
from coursekit.exercises.runner import NotebookRun

STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
F_OK = "    return x + 1"
G_OK = "    return 2 * x"


def canonical(f=STUB, g=STUB, answer="YOUR ANSWER HERE", extra_first=None):
    """The handed-out notebook (``f`` and ``g``: the bodies of the two answer cells)."""
    cells = [
        new_markdown_cell("# Exercises"),
        new_code_cell("import math"),
        new_markdown_cell("## Exercise 1: add one (core, 5 min)"),
        new_code_cell(f"def f(x):\n{f}"),
        new_code_cell("# Check: add one\nassert f(1) == 2, 'f(1) should be 2'",
                      metadata={"tags": ["check"]}),
        new_markdown_cell("## Exercise 2: double (stretch, 10 min)"),
        new_code_cell(f"def g(x):\n{g}"),
        new_code_cell("# Check: double\nassert g(2) == 4, 'g(2) should be 4'\nprint('ok')",
                      metadata={"tags": ["check"], "nbgrader": {"points": 2}}),
        new_markdown_cell("**Question 1 (3 points):** Why add one?"),
        new_markdown_cell(answer, metadata={"tags": ["written"]}),
    ]
    for i, cell in enumerate(cells):
        cell.id = f"cell{i}"
    if extra_first:
        cells.insert(1, new_code_cell(extra_first, id="studentcell"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _write(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- no kernel: naming, points, the notebook that runs, statuses ----------------------------

def test_points_come_from_metadata_or_the_question():
    graded = graded_cells(canonical())
    assert graded.checks == [("cell4", "add one", 1), ("cell7", "double", 2)]
    assert graded.written == [("cell9", "Question 1", 3)]
    assert graded.levels == {"cell4": "core, 5 min", "cell7": "stretch, 10 min"}
    with pytest.raises(ValueError, match="points must be a number"):
        points_of(new_code_cell("x", metadata={"nbgrader": {"points": "two"}}))


def test_students_are_named_by_their_folder(tmp_path):
    for rel in ["class/alice/a.ipynb", "class/bob/sub/a.ipynb", "one/a.ipynb",
                "nbg/carol/a/a.ipynb", "flat/dave.ipynb"]:
        _write(tmp_path / rel, canonical())
    names = lambda *paths, **kw: [(s.student, s.assignment, s.folder is not None)
                                  for s in collect([str(tmp_path / p) for p in paths], {"a"}, **kw)]
    assert names("class") == [("alice", "a.ipynb", True), ("bob", "a.ipynb", True)]
    assert names("class/alice") == [("alice", "a.ipynb", True)]  # one student's folder
    assert names("one") == [("one", "a.ipynb", True)]
    assert names("nbg") == [("carol", "a.ipynb", True)]  # nbgrader's submitted/ layout
    assert names("nbg/carol") == [("carol", "a.ipynb", True)]
    assert names("class/bob/sub/a.ipynb") == [("sub", "a.ipynb", True)]
    assert names("class/bob/sub/a.ipynb", student="bob") == [("bob", "a.ipynb", True)]
    # a flat folder of one assignment: named by file, run alone (not beside the others)
    assert names("flat", assignment="a.ipynb") == [("dave", "a.ipynb", False)]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect([str(tmp_path / "nowhere")], set())


def test_roster_reads_names_and_skips_headers(tmp_path):
    (tmp_path / "r.csv").write_text("student,email\nalice,a@x\n\n# left\nbob\n")
    assert read_roster(tmp_path / "r.csv") == ["alice", "bob"]


def test_run_notebook_has_the_canonical_checks():
    student = canonical(F_OK, G_OK)
    student.cells[4].source = "# Check: add one\npass"  # edited
    del student.cells[7]  # deleted
    student.cells.append(new_code_cell("# Check: mine\npass", metadata={"tags": ["check"]}))
    run, origin, where = build_run_notebook(student, canonical(), "TOKEN")
    assert "assert f(1) == 2" in run.cells[where["cell4"]].source
    assert run.cells[where["cell7"]].source.endswith("print('TOKEN')")
    assert where["cell7"] == 7 and origin[7] is None  # restored after cell6, its predecessor
    assert "check" not in run.cells[-1].metadata["tags"]  # the student's own "check" is plain
    assert all("set_custom_exc((), None)" in run.cells[i].source for i in where.values())


@pytest.mark.parametrize("cells, status, message", [
    ({3: None, 4: "ok"}, "pass", ""),
    ({3: ("SyntaxError", "invalid syntax (1.py, line 2)"), 4: ("NameError", "f")},
     "error", "cell 3: SyntaxError: invalid syntax"),
    ({3: ("NotImplementedError", ""), 4: ("NameError", "f")}, "fail", "still raises"),
    ({3: None, 4: ("AssertionError", "f(1) should be 2")}, "fail", "f(1) should be 2"),
    ({3: None, 4: ("KeyboardInterrupt", "")}, "timeout", "ran longer than 120 s"),
    ({3: None, 4: None}, "error", "swallowed its error"),  # no error, no token
    ({1: ("ImportError", "x"), 3: None, 4: ("NameError", "np")}, "error",
     "first error above: cell 1: ImportError"),
])
def test_statuses(cells, status, message):
    run = NotebookRun()
    for index, outcome in cells.items():
        run.started.append(index)
        ename, evalue = outcome if isinstance(outcome, tuple) else (None, None)
        stdout = "TOKEN\n" if outcome == "ok" else ""
        run.cells[index] = {"ename": ename, "evalue": evalue, "stdout": stdout}
    nb = canonical()
    origin = list(range(len(nb.cells)))
    got = _check_status(run, nb, origin, 4, 2, "TOKEN", 120)
    assert got[0] == status and message in got[1]


def test_unreadable_and_empty_files_are_rows(tmp_path):
    (tmp_path / "a.ipynb").write_text("", encoding="utf-8")
    rows = grade_submission(tmp_path / "a.ipynb", canonical(), "eve")
    assert [(r.exercise, r.status) for r in rows] == [
        ("add one", "unreadable"), ("double", "unreadable"), ("Question 1", "unreadable")]
    rows = grade_submission(tmp_path / "a.ipynb", None, "eve")
    assert [(r.exercise, r.status) for r in rows] == [("(notebook)", "unreadable")]
    _write(tmp_path / "b.ipynb", new_notebook(cells=[new_code_cell("x = 1")]))
    rows = grade_submission(tmp_path / "b.ipynb", None, "eve")  # no canonical, no checks
    assert [(r.status, r.message) for r in rows] == [("error", "no check cells (no canonical "
                                                      "notebook in exercises/: the student's "
                                                      "own checks ran)")]
    assert Graded([], []).checks == []


# --- the class ------------------------------------------------------------------------------

@pytest.mark.notebooks
def test_a_class_grades_into_complete_csvs(tmp_path, capsys):
    ex, subs = tmp_path / "exercises", tmp_path / "submissions"
    _write(ex / "a.ipynb", canonical())
    # solved: f passes only if the run cannot see the other students' folders
    _write(subs / "solved" / "a.ipynb",
           canonical("    import os\n    os.remove('notes.txt') if os.path.exists('notes.txt') "
                     "else None\n    return x + 1 + os.path.exists('../untouched')", G_OK,
                     answer="Because log(1) = 0."))
    (subs / "solved" / "notes.txt").write_text("mine")
    _write(subs / "untouched" / "a.ipynb", canonical())
    _write(subs / "half" / "a.ipynb", canonical(F_OK, "    open('junk.txt', 'w').write('x')\n"
                                                + STUB))
    _write(subs / "syntax" / "a.ipynb", canonical(F_OK, "    return 2 * x +"))
    (subs / "broken").mkdir()
    (subs / "broken" / "a.ipynb").write_text("{not json", encoding="utf-8")
    tampered = canonical()
    tampered.cells[4].source = "# Check: add one\ntry:\n    assert f(1) == 2\nexcept Exception:\n" \
                               "    pass"
    del tampered.cells[7]
    _write(subs / "tampered" / "a.ipynb", tampered)
    _write(subs / "customexc" / "a.ipynb", canonical(
        extra_first="get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"))
    roster = tmp_path / "roster.txt"
    roster.write_text("solved\nuntouched\nhalf\nsyntax\nbroken\ntampered\ncustomexc\nghost\n")
    out = tmp_path / "grades.csv"

    assert cli(["grade", str(subs), "--exercises", str(ex), "--roster", str(roster),
                "--csv", str(out), "-j", "3"]) == 2  # 2: an unreadable notebook

    printed = capsys.readouterr().out
    assert printed.count("[") >= 7 and "[7/7]" in printed  # a line per notebook
    rows = {(r["student"], r["exercise"]): r for r in _rows(out)}
    status = {k: v["status"] for k, v in rows.items()}
    assert status == {
        **{(s, "add one"): "pass" for s in ("solved", "half", "syntax")},
        ("solved", "double"): "pass",
        ("untouched", "add one"): "fail", ("untouched", "double"): "fail",
        ("half", "double"): "fail", ("syntax", "double"): "error",
        ("broken", "add one"): "unreadable", ("broken", "double"): "unreadable",
        ("tampered", "add one"): "fail", ("tampered", "double"): "fail",
        ("customexc", "add one"): "fail", ("customexc", "double"): "fail",
        ("ghost", "add one"): "missing", ("ghost", "double"): "missing",
        **{(s, "Question 1"): "manual" for s in ("solved", "untouched", "half", "syntax",
                                                 "tampered", "customexc")},
        ("broken", "Question 1"): "unreadable", ("ghost", "Question 1"): "missing",
    }
    assert "SyntaxError" in rows[("syntax", "double")]["message"]
    assert "NameError" not in rows[("syntax", "double")]["message"]
    assert "put back" in rows[("tampered", "double")]["message"]
    assert "hook IPython" in rows[("customexc", "add one")]["message"]
    assert "Because log(1) = 0." in rows[("solved", "Question 1")]["message"]
    assert "unanswered" in rows[("untouched", "Question 1")]["message"]
    assert (rows[("solved", "double")]["points"], rows[("solved", "double")]["max_points"]) \
        == ("2", "2")
    assert rows[("ghost", "double")]["level"] == "stretch, 10 min"
    # the runs worked on copies: the originals are untouched, nothing was added
    assert (subs / "solved" / "notes.txt").read_text() == "mine"
    assert not (subs / "half" / "junk.txt").exists()

    book = {r["student"]: r for r in _rows(tmp_path / "grades_gradebook.csv")}
    assert list(book) == ["broken", "customexc", "ghost", "half", "solved", "syntax",
                          "tampered", "untouched"]
    assert book["solved"] == {"student": "solved", "a: add one": "1", "a: double": "2",
                              "a: Question 1 (by hand)": "", "auto_total": "3",
                              "auto_max": "3", "manual_max": "3"}
    assert book["half"]["auto_total"] == "1" and book["ghost"]["auto_total"] == "0"


@pytest.mark.notebooks
def test_a_hung_notebook_is_stopped_with_its_background_processes(tmp_path):
    pidfile = tmp_path / "pid"
    nb = canonical(F_OK, "    return 2 * x\n"
                   "import subprocess, time\n"
                   f"p = subprocess.Popen(['sleep', '600'])\nopen({str(pidfile)!r}, 'w')"
                   ".write(str(p.pid))\n"
                   "while True:\n    try:\n        time.sleep(0.2)\n"
                   "    except KeyboardInterrupt:\n        pass")
    _write(tmp_path / "loop" / "a.ipynb", nb)
    start = time.monotonic()
    rows = grade_submission(tmp_path / "loop" / "a.ipynb", canonical(), "loop", cell_timeout=2,
                            notebook_timeout=30)
    elapsed = time.monotonic() - start
    assert elapsed < 45
    got = {r.exercise: (r.status, r.message) for r in rows}
    assert got["add one"] == ("pass", "")  # what ran before the loop still counts
    assert got["double"][0] == "timeout" and "ran longer than 30 s" in got["double"][1]
    pid = int(pidfile.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists() or \
        "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
