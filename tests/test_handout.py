"""`make handout`: what a student gets, built from a clean clone; it installs offline into a
fresh venv and a student's notebook runs there (one kernel).

The fresh venv borrows the installed dependencies (numpy, torch, ...) through a ``.pth``
file, so nothing is downloaded: ``pip install --no-index --no-deps`` then installs the
handout itself (not editable: lmlib's assets must travel with the package)."""

import csv
import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

from coursekit.exercises.handout import pin_colab, pyproject_for_students

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd, cwd, env=None, timeout=600):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clean clone of this repository's last commit."""
    repo = tmp_path_factory.mktemp("clone") / "course"
    result = _run(["git", "clone", "--quiet", str(ROOT), str(repo)], cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return repo


def _handout(clone, *args):
    env = dict(os.environ, PYTHONPATH=str(clone))
    return _run([sys.executable, "-m", "coursekit.exercises", "handout", *args], clone, env)


def test_pin_colab_and_student_pyproject():
    badge = ("[![Open In Colab](x.svg)](https://colab.research.google.com/github/o/r/blob/main/"
             "exercises/00.ipynb)")
    assert "blob/fall-2027/exercises/00.ipynb" in pin_colab(badge, "fall-2027")
    install = 'subprocess.run(pip + ["--no-deps", f"lmlib @ git+{course}@main"], check=True)'
    assert "git+{course}@fall-2027\"" in pin_colab(install, "fall-2027")
    with pytest.raises(ValueError, match="ref must be"):
        pin_colab(badge, "a b")
    text = pyproject_for_students((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "torch" in text and "optional-dependencies" not in text
    assert not any(dev in text for dev in ("nbgrader", "playwright", "ruff", "pytest"))


def test_handout_refuses_uncommitted_changes(clone, tmp_path):
    readme = clone / "README.md"
    original = readme.read_text(encoding="utf-8")
    readme.write_text(original + "\nlocal edit\n", encoding="utf-8")
    try:
        result = _handout(clone, "--out", str(tmp_path / "h.zip"))
        assert result.returncode == 2 and "uncommitted changes" in result.stderr
        assert not (tmp_path / "h.zip").exists()
        result = _handout(clone, "--out", str(tmp_path / "h.zip"), "--allow-dirty")
        assert result.returncode == 0 and "NOT in the handout" in result.stderr
    finally:
        readme.write_text(original, encoding="utf-8")


@pytest.mark.notebooks
def test_handout_installs_offline_and_runs_a_notebook(clone, tmp_path):
    out = tmp_path / "handout.zip"
    result = _handout(clone, "--out", str(out), "--ref", "fall-2027")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        readme = z.read("ngrams-to-gpt/README.md").decode()
        pyproject = z.read("ngrams-to-gpt/pyproject.toml").decode()
        badge = z.read("ngrams-to-gpt/exercises/00_language_models.ipynb").decode()
        z.extractall(tmp_path / "student")
    tops = {n.split("/")[1] for n in names}
    assert tops == {"chapters", "exercises", "lmlib", "coursekit", "README.md", "Makefile",
                    "pyproject.toml", "constraints.txt"}
    assert not any(part in n for n in names for part in ("solutions", "/tests/", ".ci", "/docs/",
                                                         "bench"))
    assert any(n.endswith("lmlib/assets/gpt_shakespeare.safetensors") for n in names)
    assert "solutions/" not in readme and "make test" not in readme and "make lab" in readme
    assert "nbgrader" not in pyproject and "dev" not in pyproject
    assert "blob/fall-2027/exercises/00_language_models.ipynb" in badge
    course = tmp_path / "student" / "ngrams-to-gpt"

    # a fresh venv, offline: the dependencies come from this environment (a .pth file)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                    "['purelib'])"], tmp_path).stdout.strip()
    Path(purelib, "borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    result = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                   "--no-index", "--no-deps", "--no-build-isolation", str(course)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    where = _run([str(python), "-c", "import lmlib, coursekit; print(lmlib.__file__); "
                  "print(coursekit.__file__)"], tmp_path, env)
    assert where.returncode == 0 and all(line.startswith(str(env_dir))
                                         for line in where.stdout.split()), where

    # a student solves exercise 1 of chapter 00 and checks the notebook, as the README says
    notebook = course / "exercises" / "00_language_models.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    solutions = {c.id: c.source for c in
                 nbformat.read(ROOT / "solutions" / notebook.name, as_version=4).cells}
    first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    first.source = solutions[first.id]
    nbformat.write(nb, notebook)
    result = _run([str(python), "-m", "coursekit.exercises", "grade", str(notebook),
                   "--student", "you", "--csv", "out.csv"], course, env)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = list(csv.DictReader(open(course / "out.csv", encoding="utf-8")))
    statuses = [r["status"] for r in rows if r["kind"] == "auto"]
    assert statuses[0] == "pass" and set(statuses[1:]) == {"fail"}, rows
    assert all("NotImplementedError" in r["message"] for r in rows[1:] if r["kind"] == "auto")
