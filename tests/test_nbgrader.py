"""The course's solution markers are nbgrader's: nbgrader's own preprocessors turn
solutions/ into exactly the student notebooks in exercises/.

Three levels, each compared cell by cell (type, source and cell id) with what
``coursekit.exercises`` generates:

1. the markers alone: nbgrader's ``ClearSolutions`` and ``ClearHiddenTests`` with
   ``enforce_metadata=False`` (and ``ClearOutput``) on the plain solution notebooks;
2. nbgrader's full pipeline: the notebooks written by ``python -m coursekit.exercises
   nbgrader-source`` (cell metadata added) through nbgrader's generate-assignment
   preprocessors with metadata enforcement, run standalone (no database);
3. the real ``nbgrader generate_assignment`` command, offline, in a temporary course folder
   with its sqlite gradebook.

Two course steps have no nbgrader counterpart, and the comparisons apply them to the
notebook before handing it to nbgrader (``course_only_steps``): the generator drops cells
tagged ``solution`` (teacher-only cells; no notebook in solutions/ uses the tag, asserted
below, so only the synthetic case exercises it), and it points "Open in Colab" links to
``solutions/X.ipynb`` at ``exercises/X.ipynb`` (so a student's badge opens the exercise).
``nbgrader-source`` does both steps itself, so level 2 and 3 need neither.

Where the two could disagree, the course's generator refuses instead: nbgrader sees a
marker anywhere in a line (``"BEGIN SOLUTION" in line``), the course only on a line of its
own, so a line that mentions a marker without being one is a ``MarkerError``. A property
test checks that every cell the course accepts comes out the same from nbgrader.
"""

import copy
import csv
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

from coursekit.exercises import MarkerError, clear_solutions, generate_notebook, to_nbgrader_source
from coursekit.exercises.__main__ import main as cli
from coursekit.exercises.generate import colab_link_to_exercises

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _read(path):
    return nbformat.read(path, as_version=4)


def markers_only(nb):
    """nbgrader's student version of ``nb`` from the markers alone (no cell metadata)."""
    nb, resources = copy.deepcopy(nb), {}
    for step in (ClearSolutions(enforce_metadata=False), ClearHiddenTests(enforce_metadata=False),
                 ClearOutput()):
        nb, resources = step.preprocess(nb, resources)
    return nb


def course_only_steps(nb):
    """The generator's two steps that nbgrader does not have: drop cells tagged
    ``solution``; point Colab links in markdown cells at exercises/."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = colab_link_to_exercises(cell.source)
    return nb


def full_pipeline(nb):
    """nbgrader's generate-assignment preprocessors, in nbgrader's order, with metadata
    enforced. Left out: IncludeHeaderFooter (no header configured: does nothing),
    InstantiateTests (``### AUTOTEST`` cells, not used by the course; it starts a kernel)
    and SaveCells (writes the database)."""
    nb, resources = copy.deepcopy(nb), {}
    for step in (LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata(),
                 ComputeChecksums(), ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
                 CheckCellMetadata()):
        nb, resources = step.preprocess(nb, resources)
    return nb


def cells(nb):
    return [(c.cell_type, c.source, c.get("id")) for c in nb.cells]


def assert_same_cells(ours, theirs, name="notebook"):
    """Fail naming the first cell where the two notebooks differ."""
    a, b = cells(ours), cells(theirs)
    for index, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"{name}: cell {index} differs:\ncourse:   {x!r}\nnbgrader: {y!r}"
    assert len(a) == len(b), f"{name}: {len(a)} cells from the course, {len(b)} from nbgrader"


def _ids(paths):
    return [p.name for p in paths]


def grading_metadata(nb):
    """Per cell: its id, nbgrader metadata (checksum included) and nbgrader's locks."""
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        out.append((cell.get("id"), meta, cell.metadata.get("editable", True),
                    cell.metadata.get("deletable", True)))
    return out


def assert_same_grading(ours, theirs, name="notebook"):
    a, b = grading_metadata(ours), grading_metadata(theirs)
    for index, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"{name}: cell {index} metadata differs:\ncourse:   {x!r}\nnbgrader: {y!r}"
    assert len(a) == len(b)


def test_there_are_solution_notebooks_with_solutions():
    assert len(SOLUTIONS) >= 10
    assert all("### BEGIN SOLUTION" in p.read_text(encoding="utf-8") for p in SOLUTIONS)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_nbgrader_markers_make_the_committed_exercise(solution):
    nb = _read(solution)
    teacher_only = [i for i, c in enumerate(nb.cells)
                    if "solution" in c.get("metadata", {}).get("tags", [])]
    assert not teacher_only, (f"cells {teacher_only} are tagged 'solution', which nbgrader "
                              "does not know: the comparison below would not cover them")
    assert_same_cells(_read(ROOT / "exercises" / solution.name),
                      markers_only(course_only_steps(nb)), solution.name)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_nbgrader_full_pipeline_makes_the_committed_exercise(solution):
    source = to_nbgrader_source(_read(solution))
    student = full_pipeline(source)
    assert_same_cells(_read(ROOT / "exercises" / solution.name), student, solution.name)
    # exercises/ carries the metadata of nbgrader's release: nbgrader grades it the same
    assert_same_grading(_read(ROOT / "exercises" / solution.name), student, solution.name)
    meta = [c.metadata.get("nbgrader", {}) for c in student.cells]
    # autograder tests: exactly the check cells, locked
    tests = [c for c, m in zip(student.cells, meta) if m.get("grade") and not m.get("solution")]
    checks = [c for c in student.cells if "check" in c.metadata.get("tags", [])]
    assert tests and [c.id for c in tests] == [c.id for c in checks]
    assert all(c.metadata["editable"] is False for c in checks)  # locked by nbgrader
    # manually graded answers: exactly the cells tagged written, each with its points
    manual = [c for c, m in zip(student.cells, meta) if m.get("grade") and m.get("solution")]
    written = [c for c in student.cells if "written" in c.metadata.get("tags", [])]
    assert [c.id for c in manual] == [c.id for c in written]
    assert all(c.metadata["nbgrader"]["points"] > 0 and c.source == "YOUR ANSWER HERE"
               for c in written)


def synthetic_solution():
    """Every marker case the course supports, in one notebook (never run: only the text
    matters)."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Synthetic exercises"),
        new_code_cell("import math"),
        new_code_cell(  # indented markers in a method, then a second region at top level
            "class Model:\n"
            "    def score(self, x):\n"
            "        base = 1\n"
            "        ### BEGIN SOLUTION\n"
            "        return base + math.log(x)\n"
            "        ### END SOLUTION\n"
            "\n"
            "###BEGIN SOLUTION\n"
            "WEIGHT = 2.0\n"
            "### END SOLUTION   \n"
            "done = True"),
        new_code_cell(  # two regions in one function, a tab-indented one
            "def pair(x):\n"
            "\t### BEGIN SOLUTION\n"
            "\ta = x + 1\n"
            "\t### END SOLUTION\n"
            "\tb = 0\n"
            "    ### BEGIN SOLUTION\n"
            "    b = a * 2\n"
            "    ### END SOLUTION\n"
            "\treturn a, b"),
        new_code_cell(
            "# Check: score\n"
            "assert Model().score(1) == 1\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert abs(Model().score(math.e) - 2) < 1e-12\n"
            "### END HIDDEN TESTS\n"
            "print('score: correct')", metadata={"tags": ["check"]}),
        new_markdown_cell(
            "Why add one?\n"
            "\n"
            "  ### BEGIN SOLUTION\n"
            "  So that log(1) = 0 still scores 1.\n"
            "  ### END SOLUTION"),
        new_code_cell("print('teacher only')", metadata={"tags": ["solution"]}),
        new_raw_cell("raw text stays"),
        new_markdown_cell("[Open in Colab](https://colab.research.google.com/github/o/r/blob/"
                          "main/solutions/synthetic.ipynb)"),
        new_markdown_cell("**Question 1 (2 points):** Why a logarithm?"),
        new_markdown_cell("### BEGIN SOLUTION\n**Model answer.** Products become sums.\n\n"
                          "**Rubric (2 points).** 1 point for sums; 1 for stability.\n"
                          "### END SOLUTION", metadata={"tags": ["written"]}),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def test_synthetic_notebook_course_generator_equals_nbgrader(tmp_path):
    nb = synthetic_solution()
    nbformat.write(nb, tmp_path / "synthetic.ipynb")
    generate_notebook(tmp_path / "synthetic.ipynb", tmp_path / "student.ipynb")
    ours = _read(tmp_path / "student.ipynb")
    assert_same_cells(ours, markers_only(course_only_steps(nb)), "synthetic")
    assert_same_cells(ours, full_pipeline(to_nbgrader_source(nb)), "synthetic, full pipeline")
    assert_same_grading(ours, full_pipeline(to_nbgrader_source(nb)), "synthetic")
    # and the cases really were exercised
    text = "\n".join(c.source for c in ours.cells)
    assert text.count("raise NotImplementedError()") == 4
    assert "        # YOUR CODE HERE" in text and "\t# YOUR CODE HERE" in text
    assert "  YOUR ANSWER HERE" in text and "Products become sums" not in text
    assert ours.cells[-1].source == "YOUR ANSWER HERE"
    assert "math.e" not in text and "teacher only" not in text and "WEIGHT" not in text
    assert "blob/main/exercises/synthetic.ipynb" in text and "solutions/" not in text


@pytest.mark.parametrize("mutate", [
    lambda s: s.replace("raise NotImplementedError()", "raise NotImplementedError", 1),
    lambda s: s.replace("    # YOUR CODE HERE", "  # YOUR CODE HERE", 1),
    lambda s: s.replace("# YOUR CODE HERE\n", "# YOUR CODE HERE\n\n", 1),
], ids=["stub text", "stub indent", "extra blank line"])
def test_comparison_catches_a_changed_stub(mutate):
    solution = ROOT / "solutions" / "00_language_models.ipynb"
    exercise = _read(ROOT / "exercises" / solution.name)
    stub = next(c for c in exercise.cells if "    # YOUR CODE HERE" in c.source)
    changed = mutate(stub.source)
    assert changed != stub.source
    stub.source = changed
    with pytest.raises(AssertionError, match="differs"):
        assert_same_cells(exercise, markers_only(course_only_steps(_read(solution))))


def test_comparison_catches_a_changed_cell_id_or_a_missing_cell():
    solution = ROOT / "solutions" / "00_language_models.ipynb"
    theirs = markers_only(course_only_steps(_read(solution)))
    exercise = _read(ROOT / "exercises" / solution.name)
    exercise.cells[1].id = "changed0"
    with pytest.raises(AssertionError, match="cell 1 differs"):
        assert_same_cells(exercise, theirs)
    exercise = _read(ROOT / "exercises" / solution.name)
    exercise.cells.pop()
    with pytest.raises(AssertionError, match="cells from the course"):
        assert_same_cells(exercise, theirs)


# --- lines nbgrader would read as markers but the course would not: refused -----------

@pytest.mark.parametrize("line", [
    "x = 1  # BEGIN SOLUTION",         # nbgrader: a marker anywhere in the line
    "s = 'END HIDDEN TESTS'",
    "items.APPEND SOLUTION",           # nbgrader would end a region here
    "### BEGIN  SOLUTION",             # near misses that would leak a solution
    "## END SOLUTION",
    "### begin solution",
    "#### BEGIN HIDDEN TESTS",
])
def test_marker_like_lines_are_errors(line):
    with pytest.raises(MarkerError, match="looks like a marker"):
        clear_solutions(f"def f():\n{line}\n    return 1", where="nb.ipynb: cell 2")


@pytest.mark.parametrize("line", ["# the end solution is here", "print('BEGIN')",
                                  "Hidden tests run when the teacher grades."])
def test_prose_about_solutions_is_not_a_marker(line):
    assert clear_solutions(f"x = 1\n{line}") == f"x = 1\n{line}"


PLAIN = ["x = 1", "", "    y = x", "def f(a):", "\treturn a", "print('BEGIN')",
         "# SOLUTION below", "Some *markdown* text.", "# the end solution"]
MARKERS = ["### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS",
           "### END HIDDEN TESTS", "###BEGIN SOLUTION", "### END SOLUTION  ",
           "###   BEGIN HIDDEN TESTS"]
NEAR_MISSES = ["x = 1  # BEGIN SOLUTION", "### BEGIN  SOLUTION", "## END HIDDEN TESTS",
               "s = 'END SOLUTION'", "### Begin Solution"]
INDENTS = ["", "    ", "        ", "\t", "  \t"]


@st.composite
def any_line(draw):
    kind = draw(st.sampled_from(["plain", "plain", "marker", "near miss"]))
    pool = {"plain": PLAIN, "marker": MARKERS, "near miss": NEAR_MISSES}[kind]
    return draw(st.sampled_from(INDENTS)) + draw(st.sampled_from(pool))


@st.composite
def well_formed(draw):
    """A cell source made of plain lines and closed regions, each region marked at one
    indent."""
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        lines += draw(st.lists(st.sampled_from(PLAIN), max_size=3))
        if draw(st.booleans()):
            indent = draw(st.sampled_from(INDENTS))
            kind = draw(st.sampled_from(["SOLUTION", "HIDDEN TESTS"]))
            body = draw(st.lists(st.sampled_from(PLAIN), max_size=3))
            lines += [f"{indent}### BEGIN {kind}", *body, f"{indent}### END {kind}"]
    return "\n".join(lines)


def _agree(source, cell_type):
    """If the course accepts the cell, nbgrader must make the same student cell."""
    try:
        ours = clear_solutions(source, cell_type)
    except MarkerError:
        return False
    make = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}
    nb = new_notebook(cells=[make[cell_type](source)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    assert markers_only(nb).cells[0].source == ours
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_line(), max_size=8).map("\n".join),
       st.sampled_from(["code", "markdown", "raw"]))
def test_any_cell_the_course_accepts_nbgrader_clears_the_same(source, cell_type):
    _agree(source, cell_type)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed(), st.sampled_from(["code", "markdown"]))
def test_well_formed_cells_are_accepted_and_agree(source, cell_type):
    assert _agree(source, cell_type)


# --- nbgrader-source: the cell metadata nbgrader needs --------------------------------

def test_nbgrader_source_metadata():
    nb = to_nbgrader_source(synthetic_solution(), points=2)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert len(nb.cells) == 10  # the teacher-only cell is left out
    assert meta[0] is None and meta[1] is None and meta[6] is None and meta[7] is None
    assert "blob/main/exercises/synthetic.ipynb" in nb.cells[7].source
    assert meta[2] == {"schema_version": 3, "grade_id": f"answer-{nb.cells[2].id}",
                       "solution": True, "grade": False, "locked": False}
    assert meta[4] == {"schema_version": 3, "grade_id": "check-score", "solution": False,
                       "grade": True, "locked": True, "points": 2}
    assert meta[5]["solution"] and meta[5]["grade"] and meta[5]["points"] == 2  # written answer
    # a written question's points: from "(N points)" in the question (not the --points default)
    assert meta[9] == {"schema_version": 3, "grade_id": f"answer-{nb.cells[9].id}",
                       "solution": True, "grade": True, "locked": False, "points": 2}
    assert to_nbgrader_source(synthetic_solution(), points=5).cells[9].metadata["nbgrader"][
        "points"] == 2


@pytest.mark.parametrize("cell, message", [
    (new_code_cell("# Check: f\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
                   metadata={"tags": ["check"]}), "check cell cannot hold a solution"),
    (new_code_cell("### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS"),
     "hidden tests belong in a check cell"),
    (new_code_cell("x = 1  # END SOLUTION"), "looks like a marker"),
])
def test_nbgrader_source_refuses_what_nbgrader_cannot_express(cell, message):
    with pytest.raises(MarkerError, match=message):
        to_nbgrader_source(new_notebook(cells=[cell]))


def test_nbgrader_source_bad_points_and_missing_folder(tmp_path, capsys):
    with pytest.raises(ValueError, match="points must be a number >= 0"):
        to_nbgrader_source(synthetic_solution(), points=-1)
    assert cli(["nbgrader-source", str(tmp_path / "course"),
                "--solutions", str(tmp_path / "nowhere")]) == 2
    assert "no solution notebooks" in capsys.readouterr().err


def test_real_nbgrader_generate_assignment_makes_the_exercises(tmp_path):
    """The command a teacher runs, offline: every chapter's release notebook equals
    exercises/ (one nbgrader process for all chapters: about 10-20 s)."""
    course = tmp_path / "course"
    assert cli(["nbgrader-source", str(course)]) == 0
    assert (course / "nbgrader_config.py").exists()
    # nbgrader runs its `alembic` script to create the gradebook: it must be on PATH
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                                 os.environ.get("PATH", "")]))
    result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "*"],
                            cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (course / "gradebook.db").exists()
    for solution in SOLUTIONS:
        release = course / "release" / solution.stem / solution.name
        assert_same_cells(_read(ROOT / "exercises" / solution.name), _read(release),
                          f"release/{solution.stem}")
        assert_same_grading(_read(ROOT / "exercises" / solution.name), _read(release),
                            f"release/{solution.stem}")


# --- the course's JupyterLab leaves nbgrader's teacher tools out -----------------------

def test_course_lab_turns_nbgrader_off_unless_asked(tmp_path):
    from coursekit.lab import install_overrides, lab_command

    off = install_overrides(tmp_path / "off").with_name("page_config.json")
    on = install_overrides(tmp_path / "on", nbgrader=True).with_name("page_config.json")
    assert json.loads(off.read_text())["disabledExtensions"]["@jupyter/nbgrader"] is True
    assert json.loads(on.read_text())["disabledExtensions"]["@jupyter/nbgrader"] is False
    flag = "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False"
    assert flag in lab_command(browser=False)
    assert not any("jpserver_extensions" in arg
                   for arg in lab_command(browser=False, nbgrader=True))


def test_lab_command_line_for_a_teacher(monkeypatch, tmp_path):
    """`python -m coursekit.lab --nbgrader --root DIR` (docs/nbgrader.md, step 5)."""
    from coursekit import lab

    calls = {}
    monkeypatch.setattr(lab, "install_overrides", lambda **kw: calls.update(overrides=kw))
    monkeypatch.setattr(lab.os, "execv", lambda exe, cmd: calls.update(cmd=cmd))
    lab.main(["--nbgrader", "--root", str(tmp_path), "--no-browser"])
    assert calls["overrides"] == {"nbgrader": True}
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in calls["cmd"]
    assert not any(a.endswith(".ipynb") or "jpserver_extensions" in a for a in calls["cmd"])
    lab.main(["--no-browser"])  # a learner's lab: chapter 00 open, nbgrader off
    assert calls["overrides"] == {"nbgrader": False}
    assert calls["cmd"][-1].endswith("chapters/00_language_models.ipynb")
    assert any("jpserver_extensions" in a for a in calls["cmd"])


def test_course_lab_serves_no_nbgrader_menus_or_handlers(tmp_path):
    """Start the course's lab as the browser tests do: nbgrader's lab extension is in the
    page's disabled list and its formgrader page does not exist."""
    from browser_utils import jupyter_lab

    with jupyter_lab(ROOT / "exercises" / "00_language_models.ipynb", tmp_path) as (base, token,
                                                                                   log):
        html = urllib.request.urlopen(f"{base}/lab?token={token}", timeout=30).read().decode()
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', html,
                                      re.S).group(1))
        assert "@jupyter/nbgrader" in [e["name"] for e in config["federated_extensions"]]
        assert "@jupyter/nbgrader" in config["disabledExtensions"]
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=30)
    assert "nbgrader_config.py" not in log.read_text(encoding="utf-8")  # formgrader never ran


@pytest.mark.notebooks
def test_documented_nbgrader_workflow_grades_a_full_and_an_empty_submission(tmp_path):
    """docs/nbgrader.md, steps 2-4, for chapter 00: generate, autograde (fast mode), export.
    A complete notebook gets every point, whether it is nbgrader's release or the course's
    exercises/ notebook; an untouched one (either) none."""
    course, chapter = tmp_path / "course", "00_language_models"
    assert cli(["nbgrader-source", str(course)]) == 0
    env = dict(os.environ, LMLIB_FAST="1",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))

    def nbgrader(*args):
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]

    nbgrader("generate_assignment", chapter)
    # carol did the exercises in the course's own exercises/ notebook (the handout's, the
    # Colab badge's): her answers are the solutions' code, typed into the answer cells
    carol = _read(ROOT / "exercises" / f"{chapter}.ipynb")
    answers = {c.id: c.source for c in _read(SOLUTIONS[0]).cells}
    for cell in carol.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = answers[cell.id].replace("### BEGIN SOLUTION", "# mine:") \
                .replace("### END SOLUTION", "# done")
    nbformat.write(carol, tmp_path / "carol.ipynb")
    for student, notebook in [("alice", course / "source" / chapter / f"{chapter}.ipynb"),
                              ("bob", course / "release" / chapter / f"{chapter}.ipynb"),
                              ("carol", tmp_path / "carol.ipynb"),
                              ("dan", ROOT / "exercises" / f"{chapter}.ipynb")]:
        folder = course / "submitted" / student / chapter
        folder.mkdir(parents=True)
        (folder / f"{chapter}.ipynb").write_bytes(notebook.read_bytes())
    nbgrader("autograde", chapter, "--create")
    nbgrader("export")
    with open(course / "grades.csv", encoding="utf-8", newline="") as f:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"]))
                  for row in csv.DictReader(f)}
    checks = sum("check" in c.metadata.get("tags", []) for c in _read(SOLUTIONS[0]).cells)
    # written answers count in the maximum; nbgrader leaves them to the formgrader
    written = sum(c.metadata["nbgrader"]["points"] for c in carol.cells
                  if "written" in c.metadata.get("tags", []))
    top = checks + written
    assert scores == {"alice": (checks, top), "bob": (0.0, top),
                      "carol": (checks, top), "dan": (0.0, top)}


def test_nbgrader_check_warns_about_notebooks_nbgrader_would_zero(tmp_path, capsys):
    """A notebook without nbgrader's metadata (an old handout, a chapter notebook) would get
    0 points from autograde without a word: `nbgrader-check` says so, loudly."""
    good = tmp_path / "submitted" / "alice" / "00_language_models"
    bad = tmp_path / "submitted" / "bob" / "00_language_models"
    good.mkdir(parents=True)
    bad.mkdir(parents=True)
    name = "00_language_models.ipynb"
    (good / name).write_bytes((ROOT / "exercises" / name).read_bytes())
    (bad / name).write_bytes((ROOT / "chapters" / name).read_bytes())
    assert cli(["nbgrader-check", str(tmp_path / "submitted")]) == 1
    err = capsys.readouterr().err
    assert f"WARNING: {bad / name}: no cell carries nbgrader's metadata" in err
    assert str(good) not in err and "1 of 2 notebook(s) would get 0 points" in err
    (bad / name).unlink()
    assert cli(["nbgrader-check", str(tmp_path / "submitted")]) == 0
