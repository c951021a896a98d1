"""Every number in a chapter's prose is printed by the chapter (full mode) or cited.

    python -m coursekit.numbers record chapters/07_gpt.ipynb ...   # run in full mode, keep outputs
    python -m coursekit.numbers extract EXECUTED.ipynb --name 07_gpt  # keep an executed copy's outputs
    python -m coursekit.numbers check [chapters/NN_topic.ipynb ...]  # list unbacked numbers

``record`` executes a notebook in full mode in a fresh kernel (its own folder as the working
directory) and writes the text it printed, cell by cell, to ``docs/outputs/NN_topic.txt``.
``check`` reads every markdown cell and looks for each number written with a decimal point
(``1.4841``, ``6.1×``) or with thousands separators (``111,540``): it must be printed in the
recorded full-mode outputs (to the prose's precision: ``1.48`` is backed by a printed
``1.4841``), or appear in the notebook's code (a hyperparameter, or a reference value that a
full-mode ``assert`` checks), or stand on a line that cites its source (a link, a year, "et
al."). ``tests/test_prose_numbers.py`` runs the check on every chapter.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = ROOT / "docs" / "outputs"
NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)(?![\d])")
CITATION = re.compile(r"https?://|\b(?:1[89]|20)\d\d\b|et al\.|\bsource\b|\bREADME\b", re.I)


def text_outputs(nb) -> str:
    """Everything an executed notebook printed, as text: a ``# cell N`` line before each
    code cell's outputs (streams, text/plain results, error messages)."""
    parts = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.get("outputs"):
            continue
        parts.append(f"# cell {i}")
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(out.text.rstrip("\n"))
            elif out.output_type in ("execute_result", "display_data"):
                text = out.get("data", {}).get("text/plain")
                if text and not text.startswith("<Figure"):
                    parts.append(text.rstrip("\n"))
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts) + "\n"


def record(path: Path, out_dir: Path = OUTPUTS, timeout: int = 3600) -> Path:
    """Execute ``path`` in full mode and write its text outputs to ``out_dir/STEM.txt``."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("LMLIB_FAST")
    os.environ["LMLIB_FAST"] = "0"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    finally:
        if old is None:
            os.environ.pop("LMLIB_FAST", None)
        else:
            os.environ["LMLIB_FAST"] = old
    return write(nb, path.stem, out_dir)


def write(nb, name: str, out_dir: Path = OUTPUTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = Path(out_dir) / f"{name}.txt"
    tmp = target.with_suffix(".txt.tmp")
    tmp.write_text(text_outputs(nb), encoding="utf-8")
    os.replace(tmp, target)
    return target


def _decimals(token: str) -> int:
    return len(token.split(".")[1]) if "." in token else 0


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def _backed_by(token: str, numbers: set[str]) -> bool:
    """Whether a printed or coded number equals ``token`` at the prose's precision."""
    want, places = _value(token), _decimals(token)
    for candidate in numbers:
        try:
            have = _value(candidate)
        except ValueError:
            continue
        if _decimals(candidate) >= places and round(have, places) == round(want, places):
            return True
    return False


def prose_numbers(nb) -> list[tuple[int, str, str]]:
    """``(cell index, number, line)`` for every number in the markdown cells."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            found += [(i, m.group(1), line.strip()) for m in NUMBER.finditer(line)]
    return found


def _numbers_in(text: str) -> set[str]:
    return set(re.findall(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:e-?\d+)?", text))


def unbacked(path: Path, outputs_dir: Path = OUTPUTS) -> list[str]:
    """The prose numbers of the notebook at ``path`` that nothing backs, as messages."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    record_file = Path(outputs_dir) / f"{path.stem}.txt"
    if not record_file.is_file():
        return [f"{path.name}: no full-mode outputs recorded at {record_file} "
                f"(python -m coursekit.numbers record {path})"]
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    known = _numbers_in(record_file.read_text(encoding="utf-8")) | _numbers_in(code)
    return [f"{path.name} cell {i}: {token} in “{line[:90]}”"
            for i, token, line in prose_numbers(nb)
            if not CITATION.search(line) and not _backed_by(token, known)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.numbers",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run notebooks in full mode and keep their outputs")
    rec.add_argument("notebooks", nargs="+")
    ext = sub.add_parser("extract", help="keep the outputs of an already executed notebook")
    ext.add_argument("executed")
    ext.add_argument("--name", required=True, help="the chapter's stem, e.g. 07_gpt")
    chk = sub.add_parser("check", help="list the prose numbers nothing backs")
    chk.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "record":
        for nb in args.notebooks:
            print(f"wrote {record(Path(nb))}", flush=True)
        return 0
    if args.command == "extract":
        print(f"wrote {write(nbformat.read(args.executed, as_version=4), args.name)}")
        return 0
    paths = args.notebooks or sorted(str(p) for p in (ROOT / "chapters").glob("*.ipynb"))
    problems = [msg for p in paths for msg in unbacked(Path(p))]
    print("\n".join(problems) if problems else "every prose number is backed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
