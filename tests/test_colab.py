"""Every notebook opens in Colab: its first cell is the badge linking its own path under the
repository named once in pyproject.toml, and a guarded install cell comes before lmlib is
imported. The install cell does nothing outside Colab and keeps Colab's torch on Colab."""

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursekit import colab
from coursekit.exercises import generate_notebook

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
REPO = colab.repository(PYPROJECT)
NEEDS = colab.colab_requirements(PYPROJECT)
NOTEBOOKS = [p for folder in ("chapters", "solutions", "exercises")
             for p in sorted((ROOT / folder).glob("*.ipynb"))]
INSTALL = colab.install_source(REPO, NEEDS)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_there_are_notebooks_in_every_folder():
    assert {p.parent.name for p in NOTEBOOKS} == {"chapters", "solutions", "exercises"}
    assert len(NOTEBOOKS) >= 33


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[_rel(p) for p in NOTEBOOKS])
def test_notebook_has_its_badge_and_the_install_cell(notebook):
    nb = nbformat.read(notebook, as_version=4)
    problems = colab.header_problems(nb, _rel(notebook), REPO, NEEDS)
    assert not problems, "\n".join(problems) + "\nrun `make sync`"
    link = f"/{REPO.removeprefix('https://github.com/')}/blob/main/{_rel(notebook)})"
    assert nb.cells[0].source.endswith(link)
    assert nb.cells[1].cell_type == "markdown" and nb.cells[1].source.startswith("# ")  # title
    assert any("lmlib.setup()" in c.source for c in nb.cells[:5])   # the setup cell is kept


def _notebook(path, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_the_check_fails_on_a_notebook_without_badge_or_install_cell(tmp_path):
    path = tmp_path / "00_x.ipynb"
    _notebook(path, [new_markdown_cell("# 00 · X"), new_code_cell("import lmlib\n\nlmlib.setup()")])
    problems = colab.header_problems(nbformat.read(path, as_version=4), "chapters/00_x.ipynb",
                                     REPO, NEEDS)
    assert len(problems) == 2
    assert "not the Colab badge" in problems[0] and "install cell" in problems[1]


def test_the_check_fails_on_a_badge_for_another_path_or_repository():
    nb = new_notebook(cells=[new_markdown_cell(colab.badge_source(REPO, "chapters/01_y.ipynb")),
                             new_code_cell(INSTALL), new_code_cell("import lmlib")])
    assert colab.header_problems(nb, "chapters/01_y.ipynb", REPO, NEEDS) == []
    assert colab.header_problems(nb, "chapters/02_z.ipynb", REPO, NEEDS)
    assert colab.header_problems(nb, "chapters/01_y.ipynb", "https://github.com/fork/course",
                                 NEEDS)
    nb.cells[1:] = [nb.cells[2], nb.cells[1]]          # install after import lmlib
    assert "comes after" in colab.header_problems(nb, "chapters/01_y.ipynb", REPO, NEEDS)[0]


def test_write_header_adds_both_cells_once_and_keeps_the_title_and_setup(tmp_path):
    path = tmp_path / "00_x.ipynb"
    _notebook(path, [new_markdown_cell("# 00 · X", id="title"),
                     new_code_cell("import lmlib\n\nlmlib.setup()", id="setup")])
    assert colab.write_header(path, "chapters/00_x.ipynb", REPO, NEEDS) is True
    first = path.read_bytes()
    assert colab.write_header(path, "chapters/00_x.ipynb", REPO, NEEDS) is False
    assert path.read_bytes() == first
    nb = nbformat.read(path, as_version=4)
    assert [c.id for c in nb.cells] == ["colab-badge", "title", "colab-install", "setup"]
    assert colab.header_problems(nb, "chapters/00_x.ipynb", REPO, NEEDS) == []
    # a fork: the same cells are rewritten in place, with the new address
    assert colab.write_header(path, "chapters/00_x.ipynb", "https://github.com/fork/course",
                              NEEDS) is True
    nb = nbformat.read(path, as_version=4)
    assert [c.id for c in nb.cells] == ["colab-badge", "title", "colab-install", "setup"]
    assert "github/fork/course/blob/main/chapters/00_x.ipynb" in nb.cells[0].source
    assert 'course = "https://github.com/fork/course"' in nb.cells[2].source


def test_repository_must_be_a_github_address(tmp_path):
    assert REPO.startswith("https://github.com/") and REPO.count("/") == 4
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\ndependencies = []\n'
                   '[project.urls]\nRepository = "https://gitlab.com/a/b"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"Repository must be https://github.com/OWNER/REPO"):
        colab.repository(bad)
    good = tmp_path / "good.toml"
    good.write_text('[project]\nname = "x"\ndependencies = []\n'
                    '[project.urls]\nRepository = "https://github.com/a/b.git"\n',
                    encoding="utf-8")
    assert colab.repository(good) == "https://github.com/a/b"


def test_colab_keeps_its_torch_ipywidgets_and_ipykernel():
    names = " ".join(NEEDS)
    assert "anywidget" in names and "numpy" in names
    for kept in ("torch", "ipywidgets", "ipykernel", "jupyterlab"):
        assert kept not in names


def _fail(*args, **kwargs):
    raise AssertionError(f"pip must not run outside Colab: {args}")


def test_install_cell_does_nothing_outside_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", _fail)
    exec(compile(INSTALL, "install-cell", "exec"), {})
    assert capsys.readouterr().out == ""


@pytest.fixture
def fake_colab(monkeypatch):
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    return calls


def test_install_cell_on_colab_installs_lmlib_without_touching_torch(fake_colab, monkeypatch,
                                                                      capsys):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # a fresh runtime
    exec(compile(INSTALL, "install-cell", "exec"), {})
    (first, kw1), (second, kw2) = fake_colab
    assert first[:4] == [sys.executable, "-m", "pip", "install"] and kw1 == {"check": True}
    assert "--no-deps" in first and f"lmlib @ git+{REPO}@main" in first
    assert second[-len(NEEDS):] == NEEDS and kw2 == {"check": True}
    for arg in first + second:
        assert not arg.startswith(("torch", "ipywidgets", "ipykernel")), arg
    assert f"installed lmlib from {REPO}" in capsys.readouterr().out


def test_install_cell_on_colab_runs_pip_only_once(fake_colab, capsys):
    exec(compile(INSTALL, "install-cell", "exec"), {})   # lmlib is importable here
    assert fake_colab == []
    assert capsys.readouterr().out == ""


def test_the_generator_points_the_badge_at_exercises(tmp_path):
    sol = tmp_path / "solutions" / "03_z.ipynb"
    sol.parent.mkdir()
    _notebook(sol, [new_markdown_cell(colab.badge_source(REPO, "solutions/03_z.ipynb")),
                    new_code_cell(INSTALL), new_markdown_cell("# 03 · Exercises"),
                    new_code_cell("import lmlib")])
    out = tmp_path / "exercises" / "03_z.ipynb"
    generate_notebook(sol, out)
    ex = nbformat.read(out, as_version=4)
    assert ex.cells[0].source == colab.badge_source(REPO, "exercises/03_z.ipynb")
    assert ex.cells[1].source == INSTALL
    assert colab.header_problems(ex, "exercises/03_z.ipynb", REPO, NEEDS) == []
