"""A simulated class, to try the grader as a teacher would (and to time it).

``python -m coursekit.exercises demo-class OUT --students 30 --chapters 00_language_models
01_ngram`` writes ``OUT/submissions/<student>/<chapter>.ipynb`` and ``OUT/roster.txt``
(with one student more, who submitted nothing). Students cycle through these kinds:

- ``solved``: the exercise notebook with the solutions' answers typed in;
- ``untouched``: the exercise notebook as handed out;
- ``half``: the first half of the answers;
- ``syntax``: solved, but the second answer ends in a syntax error;
- ``broken``: the file cut in half (not JSON any more);
- ``tampered``: every check replaced by ``pass``, the last one deleted;
- ``customexc``: untouched, plus a cell that swallows every error with
  ``get_ipython().set_custom_exc``;
- ``hung`` (only with ``--hung``): solved, plus a loop that swallows KeyboardInterrupt.

Then: ``python -m coursekit.exercises grade OUT/submissions --roster OUT/roster.txt
--csv OUT/grades.csv -j 2``.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import nbformat

KINDS = ["solved", "untouched", "half", "syntax", "broken", "tampered", "customexc"]
HANG = ("import time\nwhile True:  # a student's loop that never ends and ignores Ctrl-C\n"
        "    try:\n        time.sleep(0.5)\n    except KeyboardInterrupt:\n        pass")


def _answer_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("solution")]


def student_notebook(exercise, solution, kind: str):
    """The notebook a student of ``kind`` hands in (see the module docstring)."""
    nb = copy.deepcopy(exercise)
    answers = {c.id: c.source for c in solution.cells}
    cells = _answer_cells(nb)
    fill = {"solved": len(cells), "syntax": len(cells), "hung": len(cells),
            "half": len(cells) // 2}.get(kind, 0)
    for cell in cells[:fill]:
        cell.source = "\n".join(line for line in answers[cell.id].split("\n")
                                if line.strip() not in ("### BEGIN SOLUTION",
                                                        "### END SOLUTION"))
    if kind == "syntax" and len(cells) > 1:
        cells[1].source += "\nx = (1 +"
    checks = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    if kind == "tampered" and checks:
        for cell in checks:
            cell.source = "pass"
        nb.cells.remove(checks[-1])
    if kind == "customexc":
        first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first + 1, nbformat.v4.new_code_cell(
            "get_ipython().set_custom_exc((BaseException,), lambda *args, **kw: None)"))
    if kind == "hung" and checks:
        nb.cells.insert(nb.cells.index(checks[0]) + 1, nbformat.v4.new_code_cell(HANG))
    return nb


def write_class(out, students: int, chapters: list[str], root=".", hung: bool = False
                ) -> list[tuple[str, str]]:
    """Write the class; return ``[(student, kind)]``."""
    root, out = Path(root), Path(out)
    kinds = KINDS + (["hung"] if hung else [])
    roster = []
    for n in range(students):
        kind = kinds[n % len(kinds)]
        student = f"s{n + 1:02d}_{kind}"
        roster.append((student, kind))
        for chapter in chapters:
            exercise = nbformat.read(root / "exercises" / f"{chapter}.ipynb", as_version=4)
            solution = nbformat.read(root / "solutions" / f"{chapter}.ipynb", as_version=4)
            target = out / "submissions" / student / f"{chapter}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nb = student_notebook(exercise, solution, kind)
            text = nbformat.writes(nb)
            if kind == "broken":
                text = text[: len(text) // 2]
            target.write_text(text, encoding="utf-8")
    names = [s for s, _ in roster] + ["s99_absent"]
    (out / "roster.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return roster


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.exercises demo-class")
    parser.add_argument("out")
    parser.add_argument("--students", type=int, default=7)
    parser.add_argument("--chapters", nargs="+", default=["00_language_models"])
    parser.add_argument("--hung", action="store_true", help="add hung students")
    args = parser.parse_args(argv)
    roster = write_class(args.out, args.students, args.chapters, hung=args.hung)
    print(f"wrote {len(roster)} students x {len(args.chapters)} notebooks to "
          f"{args.out}/submissions and {args.out}/roster.txt (+1 absent student)")
    return 0
