"""Command line: ``python -m coursekit.exercises generate|grade|nbgrader-source``.

Exit status of ``grade``: 0 when every exercise passes, 1 when any fails, 2 for an
unreadable notebook or a usage error."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from .generate import MarkerError, generate_folder
from .grade import grade_notebook
from .nbgrader_source import write_source_folder


def _notebooks(paths: list[str]) -> list[Path]:
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        else:
            found.append(p)
    return found


def _student(path: Path, roots: list[str]) -> str:
    """The submitting student: the first folder below the folder the teacher passed."""
    for root in map(Path, roots):
        if root.is_dir():
            try:
                rel = path.relative_to(root)
            except ValueError:
                continue
            return rel.parts[0] if len(rel.parts) > 1 else path.stem
    return path.parent.name or path.stem


def cmd_generate(args) -> int:
    try:
        written = generate_folder(args.solutions, args.exercises)
    except (MarkerError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} exercise notebook(s) changed")
    return 0


def cmd_nbgrader_source(args) -> int:
    try:
        written = write_source_folder(args.course_dir, args.solutions, args.points)
    except (MarkerError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} nbgrader assignment(s) in {args.course_dir}/source; next: cd "
          f"{args.course_dir} && nbgrader generate_assignment {written[0].parent.name}")
    return 0


def cmd_grade(args) -> int:
    notebooks = _notebooks(args.paths)
    if not notebooks:
        print("error: no notebooks found in " + ", ".join(args.paths), file=sys.stderr)
        return 2
    rows, unreadable = [], False
    for nb in notebooks:
        try:
            results = grade_notebook(nb, timeout=args.timeout, fast=not args.full)
        except (OSError, ValueError) as err:
            print(f"error: {nb}: {err}", file=sys.stderr)
            unreadable = True
            continue
        if not results:
            print(f"warning: {nb} has no check cells", file=sys.stderr)
        student = _student(nb, args.paths)
        rows += [(student, str(nb), r.exercise, "pass" if r.passed else "FAIL", r.message)
                 for r in results]
    width = max([len(r[2]) for r in rows] + [8])
    current = None
    for student, nb, exercise, status, message in rows:
        if nb != current:
            print(f"\n{nb}")
            current = nb
        print(f"  {exercise:<{width}}  {status:<4}  {message.splitlines()[0] if message else ''}")
    n_pass = sum(r[3] == "pass" for r in rows)
    print(f"\n{n_pass} passed, {len(rows) - n_pass} failed")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student", "notebook", "exercise", "status", "message"])
            writer.writerows(rows)
        print(f"wrote {args.csv}")
    if unreadable:
        return 2
    return 0 if n_pass == len(rows) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.exercises")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="rewrite exercises/ from solutions/")
    gen.add_argument("--solutions", default="solutions")
    gen.add_argument("--exercises", default="exercises")
    grade = sub.add_parser("grade", help="run student notebooks and check every exercise")
    grade.add_argument("paths", nargs="+", help="notebooks, or folders of them")
    grade.add_argument("--csv", help="also write one row per student and exercise to FILE")
    grade.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    grade.add_argument("--full", action="store_true", help="run in full mode, not fast mode")
    nbg = sub.add_parser("nbgrader-source",
                         help="write solutions/ as an nbgrader course (source/<chapter>/)")
    nbg.add_argument("course_dir", help="the nbgrader course folder to write into")
    nbg.add_argument("--solutions", default="solutions")
    nbg.add_argument("--points", type=float, default=1, help="points per check cell")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; keep its code
        return int(exc.code or 0)
    commands = {"generate": cmd_generate, "grade": cmd_grade,
                "nbgrader-source": cmd_nbgrader_source}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
