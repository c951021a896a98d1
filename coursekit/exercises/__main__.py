"""Command line: ``python -m coursekit.exercises generate|grade|handout|nbgrader-source|demo-class``.

Exit status of ``grade``: 0 when every check passes, 1 when any does not (fail, error,
timeout, missing), 2 for an unreadable notebook or a usage error."""

from __future__ import annotations

import argparse
import csv
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .generate import MarkerError, generate_folder
from .grade import STATUSES, Graded, Row, grade_submission, graded_cells, rows_for
from .nbgrader_source import write_source_folder
from .runner import kill_all


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


def cmd_handout(args) -> int:
    from . import handout

    argv = ["--out", args.out] + (["--ref", args.ref] if args.ref else []) \
        + (["--allow-dirty"] if args.allow_dirty else [])
    return handout.main(argv)


def cmd_nbgrader_check(args) -> int:
    from .nbgrader_source import check_submissions

    bad = check_submissions(args.folder)
    for path, why in bad:
        print(f"WARNING: {path}: {why}", file=sys.stderr)
    n = sum(1 for p in Path(args.folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if bad:
        print(f"WARNING: {len(bad)} of {n} notebook(s) would get 0 points from nbgrader "
              f"autograde. Ask for the notebook from exercises/ or nbgrader's release/, or "
              f"grade these with `python -m coursekit.exercises grade`.", file=sys.stderr)
        return 1
    print(f"{n} notebook(s) carry nbgrader's metadata")
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


COURSE_EXERCISES = Path(__file__).resolve().parents[2] / "exercises"


@dataclass
class Submission:
    student: str
    notebook: Path
    folder: Path | None  # copied for the run: the student's own folder, None for a flat file
    assignment: str = ""  # the canonical notebook's file name (default: the notebook's)

    def __post_init__(self):
        self.assignment = self.assignment or self.notebook.name


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(q for q in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)


def collect(paths: list[str], assignments: set[str], student: str | None = None,
            assignment: str | None = None) -> list[Submission]:
    """The submissions under ``paths``, each with its student:

    - ``FOLDER/alice/X.ipynb`` (or deeper): alice, unless ``alice`` is an assignment's name
      (then FOLDER is one student's folder in nbgrader's layout: the student is FOLDER);
    - ``FOLDER/X.ipynb`` where X is an assignment: one student's folder, named FOLDER;
    - ``FOLDER/alice.ipynb`` (a flat folder of one assignment): alice, run alone;
    - a notebook given by path: its folder's name.

    ``student`` overrides the name; ``assignment`` (a notebook's file name in exercises/)
    says which notebook every submission is, whatever its file name (for flat folders). Raises FileNotFoundError for a path that does not exist."""
    found = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p} does not exist")
        if p.is_file():
            found.append(Submission(student or p.resolve().parent.name, p, p.parent,
                                    assignment or ""))
            continue
        for nb in _notebooks_in(p):
            parts = nb.relative_to(p).parts
            owner, folder = p.resolve().name, nb.parent
            if len(parts) > 1 and parts[0] not in assignments:
                owner = parts[0]
            elif len(parts) == 1 and nb.stem not in assignments:
                owner, folder = nb.stem, None  # flat: the folder holds other students' work
            found.append(Submission(student or owner, nb, folder, assignment or ""))
    return found


def read_roster(path) -> list[str]:
    """Student names, one a line (a CSV's first column; blank lines and # comments skipped;
    a header line ``student`` or ``name`` skipped)."""
    names = []
    with open(path, encoding="utf-8", newline="") as f:
        for record in csv.reader(f):
            if not record or not record[0].strip() or record[0].lstrip().startswith("#"):
                continue
            name = record[0].strip()
            if not names and name.lower() in ("student", "name", "student_id"):
                continue
            names.append(name)
    return names


def _canonical(folder: Path, name: str):
    path = folder / name
    if not path.exists():
        return None
    return nbformat.read(path, as_version=4)


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def write_long_csv(path, rows: list[Row]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "exercise", "level", "kind", "status", "points",
                         "max_points", "message"])
        for r in rows:
            writer.writerow([r.student, r.notebook, r.exercise, r.level, r.kind, r.status,
                             _fmt(r.points), _fmt(r.max_points), r.message])


def write_gradebook(path, rows: list[Row]) -> None:
    """One row per student: a column per exercise (points earned; written answers empty,
    to fill in by hand), then ``auto_total``, ``auto_max``, ``manual_max``."""
    columns: list[tuple[str, str, str]] = []
    for r in rows:
        key = (r.notebook, r.exercise, r.kind)
        if key not in columns:
            columns.append(key)
    maxima = {(r.notebook, r.exercise, r.kind): r.max_points for r in rows}
    students = list(dict.fromkeys(r.student for r in rows))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student"] + [f"{Path(nb).stem}: {ex}"
                                       + (" (by hand)" if kind == "manual" else "")
                                       for nb, ex, kind in columns]
                        + ["auto_total", "auto_max", "manual_max"])
        auto_max = sum(maxima[c] for c in columns if c[2] == "auto")
        manual_max = sum(maxima[c] for c in columns if c[2] == "manual")
        for student in students:
            mine = {(r.notebook, r.exercise, r.kind): r for r in rows if r.student == student}
            cells = [_fmt(mine[c].points) if c in mine else "0" if c[2] == "auto" else ""
                     for c in columns]
            total = sum(r.points or 0 for r in mine.values() if r.kind == "auto")
            writer.writerow([student] + cells + [_fmt(total), _fmt(auto_max), _fmt(manual_max)])


def _gradebook_path(long_csv: str) -> Path:
    p = Path(long_csv)
    return p.with_name(f"{p.stem}_gradebook{p.suffix or '.csv'}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_grade(args) -> int:
    exercises = Path(args.exercises) if args.exercises else (
        Path("exercises") if Path("exercises").is_dir() else COURSE_EXERCISES)
    assignments = {p.stem for p in exercises.glob("*.ipynb")} if exercises.is_dir() else set()
    try:
        submissions = collect(args.paths, assignments, args.student, args.assignment)
        roster = read_roster(args.roster) if args.roster else []
    except (FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not submissions and not roster:
        print("error: no notebooks found in " + ", ".join(args.paths), file=sys.stderr)
        return 2
    canon_cache: dict[str, object] = {}

    def canonical(name):
        if name not in canon_cache:
            try:
                canon_cache[name] = _canonical(exercises, name)
            except Exception as err:  # noqa: BLE001
                print(f"warning: exercises/{name} cannot be read: {err}", file=sys.stderr)
                canon_cache[name] = None
            if canon_cache[name] is None:
                print(f"warning: no {name} in {exercises}: its students' own check cells "
                      f"run (not tamper-proof)", file=sys.stderr)
        return canon_cache[name]

    for sub in submissions:  # warm the cache (and its warnings) before the threads start
        canonical(sub.assignment)
    total, done = len(submissions), [0]
    lock = threading.Lock()
    start = time.monotonic()

    def job(sub: Submission) -> list[Row]:
        t0 = time.monotonic()
        rows = grade_submission(sub.notebook, canonical(sub.assignment), sub.student,
                                name=sub.assignment,
                                cell_timeout=args.timeout,
                                notebook_timeout=args.notebook_timeout, fast=not args.full,
                                folder=sub.folder)
        auto = [r for r in rows if r.kind == "auto"]
        counts = Counter(r.status for r in auto)
        others = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "pass")
        with lock:
            done[0] += 1
            print(f"[{done[0]}/{total}] {sub.student}  {sub.assignment}: "
                  f"{counts.get('pass', 0)}/{len(auto)} passed"
                  f"{'; ' + others if others else ''}  ({time.monotonic() - t0:.1f} s)",
                  flush=True)
        return rows

    results: dict[int, list[Row]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        futures = {pool.submit(job, sub): i for i, sub in enumerate(submissions)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        n = kill_all()
        print(f"\ninterrupted: {n} notebook run(s) stopped, their processes killed; no CSV "
              f"written", file=sys.stderr)
        return 130
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)
    rows = [r for i in range(len(submissions)) for r in results[i]]

    # students who submitted nothing, or not every notebook the class handed in
    expected = sorted({s.assignment for s in submissions})
    have = {(r.student, r.notebook) for r in rows}
    students = list(dict.fromkeys([s.student for s in submissions] + roster))
    if roster:
        stray = sorted(set(s.student for s in submissions) - set(roster))
        if stray:
            print(f"warning: not on the roster: {', '.join(stray)}", file=sys.stderr)
    for student in students:
        for name in expected:
            if (student, name) not in have:
                canon = canonical(name)
                rows += rows_for(student, name, graded_cells(canon) if canon is not None
                                 else Graded([], []), "missing", "nothing submitted")
    order = {s: i for i, s in enumerate(sorted(students))}
    rows.sort(key=lambda r: (order.get(r.student, 0), r.notebook))

    auto = [r for r in rows if r.kind == "auto"]
    problems = [r for r in auto if r.status != "pass"]
    if problems:
        print("\nNot passed:")
        width = max(len(f"{r.student}  {Path(r.notebook).stem}  {r.exercise}") for r in problems)
        for r in problems:
            label = f"{r.student}  {Path(r.notebook).stem}  {r.exercise}"
            first = r.message.splitlines()[0] if r.message else ""
            print(f"  {label:<{width}}  {r.status:<10}  {first[:160]}")
    counts = Counter(r.status for r in auto)
    manual = sum(r.kind == "manual" for r in rows)
    print(f"\n{len(students)} student(s), {total} notebook(s) in "
          f"{time.monotonic() - start:.0f} s: "
          + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s))
          + (f"; {manual} written answer(s) to grade by hand" if manual else ""))
    if args.csv:
        write_long_csv(args.csv, rows)
        book = _gradebook_path(args.csv)
        write_gradebook(book, rows)
        print(f"wrote {args.csv} (one row per student and exercise) and {book} "
              f"(one row per student)")
    if any(r.status == "unreadable" for r in rows):
        return 2
    return 0 if not problems else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo-class"]:  # a simulated class to try the grader on
        from .democlass import main as demo_class

        return demo_class(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.exercises",
        epilog="also: demo-class OUT [--students N] [--chapters ...] [--hung] writes a "
               "simulated class to try the grader on")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="rewrite exercises/ from solutions/")
    gen.add_argument("--solutions", default="solutions")
    gen.add_argument("--exercises", default="exercises")
    grade = sub.add_parser("grade", help="run student notebooks and check every exercise")
    grade.add_argument("paths", nargs="*", default=[],
                       help="notebooks, or folders of them (one folder per student)")
    grade.add_argument("--csv", help="write one row per student and exercise to FILE, and "
                                     "a gradebook (one row per student) to FILE_gradebook.csv")
    grade.add_argument("--roster", help="file of student names, one a line: a student "
                                        "without a submission gets rows 'missing'")
    grade.add_argument("--exercises", help="the canonical notebooks whose check cells run "
                                           "(default: exercises/)")
    grade.add_argument("--student", help="the student's name (default: from the folders)")
    grade.add_argument("--assignment", help="the exercises/ notebook every submission is "
                                            "(default: matched by file name)")
    grade.add_argument("-j", "--jobs", type=int, default=1,
                       help="notebooks run in parallel (default 1; about one per free core)")
    grade.add_argument("--timeout", type=int, default=120,
                       help="seconds per cell before it is interrupted (default 120)")
    grade.add_argument("--notebook-timeout", type=int, default=900,
                       help="seconds per notebook before its processes are killed "
                            "(default 900)")
    grade.add_argument("--full", action="store_true", help="run in full mode, not fast mode")
    hand = sub.add_parser("handout", help="zip what students need into build/handout.zip")
    hand.add_argument("--out", default="build/handout.zip")
    hand.add_argument("--ref", help="pin Colab badges and install cells to this git tag or "
                                    "branch (default: main)")
    hand.add_argument("--allow-dirty", action="store_true",
                      help="build from the last commit despite uncommitted changes")
    nbc = sub.add_parser("nbgrader-check", help="before `nbgrader autograde`: warn about "
                                                "submissions nbgrader would grade as 0")
    nbc.add_argument("folder", help="e.g. COURSE/submitted")
    nbg = sub.add_parser("nbgrader-source",
                         help="write solutions/ as an nbgrader course (source/<chapter>/)")
    nbg.add_argument("course_dir", help="the nbgrader course folder to write into")
    nbg.add_argument("--solutions", default="solutions")
    nbg.add_argument("--points", type=float, default=1, help="points per check cell")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; keep its code
        return int(exc.code or 0)
    commands = {"generate": cmd_generate, "grade": cmd_grade, "handout": cmd_handout,
                "nbgrader-check": cmd_nbgrader_check,
                "nbgrader-source": cmd_nbgrader_source}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
