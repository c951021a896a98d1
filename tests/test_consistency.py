"""The repository agrees with itself: notebook pairs in sync, no outputs committed,
exercises generated from solutions, environment.yml matching pyproject.toml."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from coursekit.exercises import generate_notebook

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.consistency

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
ALL_NOTEBOOKS = NOTEBOOKS + sorted((ROOT / "exercises").glob("*.ipynb"))


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_there_are_notebooks():
    assert (ROOT / "chapters" / "00_language_models.ipynb").exists()
    assert (ROOT / "solutions" / "00_language_models.ipynb").exists()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_and_py_twin_are_in_sync(notebook, tmp_path):
    """Copy the pair, run `jupytext --sync` on the copy: nothing may change."""
    twin = notebook.with_suffix(".py")
    assert twin.exists(), f"{twin.name} is missing: every notebook has a jupytext .py twin"
    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    shutil.copy(notebook, tmp_path)
    shutil.copy(twin, tmp_path)
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet",
                    str(tmp_path / notebook.name)], check=True, cwd=tmp_path)
    for original in (notebook, twin):
        synced = (tmp_path / original.name).read_text(encoding="utf-8")
        assert synced == original.read_text(encoding="utf-8"), (
            f"{original.relative_to(ROOT)} is out of sync with its twin: run `make sync`")


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"cells {dirty} have outputs or execution counts: run `make sync`"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_exercises_are_generated_from_solutions(tmp_path):
    solutions = sorted((ROOT / "solutions").glob("*.ipynb"))
    exercises = sorted((ROOT / "exercises").glob("*.ipynb"))
    assert [p.name for p in exercises] == [p.name for p in solutions]
    for sol in solutions:
        fresh = tmp_path / sol.name
        generate_notebook(sol, fresh)
        assert fresh.read_bytes() == (ROOT / "exercises" / sol.name).read_bytes(), (
            f"exercises/{sol.name} differs from what the generator makes: run `make exercises`")


# conda package names that differ from PyPI names
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    requirement = requirement.split(";")[0].strip()
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _pins() -> dict[str, str]:
    return dict(_name_and_spec(line) for line in
                (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#"))


def _conda_env(path) -> tuple[dict, list[str]]:
    """``(pip requirements by name, other pip lines)`` of a conda environment file, which
    must hold Python and pip from conda-forge and everything else under ``pip:``."""
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge", "nodefaults"]
    conda = [d for d in env["dependencies"] if not isinstance(d, dict)]
    assert conda == ["python=3.11", "pip"], f"{path.name}: only python and pip come from conda"
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    options = [line for line in pip if line.startswith("-")]
    found = dict(_name_and_spec(r) for r in pip if not r.startswith("-"))
    return found, options


def _project_names(extra: bool) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = project["dependencies"] + (project["optional-dependencies"]["dev"] if extra else [])
    return {_name_and_spec(r)[0] for r in reqs if "python_version" not in r}


@pytest.mark.parametrize("path, dev", [("environment.yml", True),
                                       ("binder/environment.yml", False)])
def test_conda_environments_pin_what_ci_tests(path, dev):
    """environment.yml (everything, dev included) and binder/environment.yml (what a
    student needs: no nbgrader, tests or browser) pin exactly constraints.txt's versions,
    torch as its CPU build."""
    found, options = _conda_env(ROOT / path)
    assert set(found) == _project_names(dev), f"{path}: not the packages of pyproject.toml"
    pins = _pins()
    for name, spec in found.items():
        want = pins[name] + ("+cpu" if name == "torch" else "")
        assert spec == want, f"{path}: {name}{spec}, constraints.txt says {pins[name]}"
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    if not dev:
        assert not {"nbgrader", "pytest", "playwright", "ruff"} & set(found)


def test_constraints_pin_every_dependency_and_torch_2_13():
    pins = dict(_name_and_spec(line) for line in
                (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        if "python_version" in req:
            continue
        name, _ = _name_and_spec(req)
        assert pins.get(name, "").startswith("=="), f"{name} has no exact pin in constraints.txt"
    assert pins["torch"] == "==2.13.0"


def test_binder_installs_the_course_without_dependencies():
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()
