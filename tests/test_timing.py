"""coursekit.timing: notebook run times, on tiny temporary notebooks (two kernel starts in all)."""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from coursekit.timing import kernel_env, load, main, modes_of, record, render_markdown

ROOT = Path(__file__).resolve().parents[1]
MACHINE = {"cores": 2, "cpu": "test cpu", "os": "test os", "python": "3.11",
           "torch": "2.x", "numpy": "2.x"}


def _notebook(path, *sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.notebooks
def test_run_records_wall_and_cpu_and_reports_a_failing_notebook(tmp_path, capsys):
    good = _notebook(tmp_path / "good.ipynb",
                     "import os\nassert os.environ['LMLIB_FAST'] == '1'\n"
                     "assert os.environ['OMP_NUM_THREADS'] == '1'",
                     "open('written_by_the_notebook.txt', 'w').write('x')")
    bad = _notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('boom in cell one')")
    out = tmp_path / "times.json"

    assert main([str(good), str(bad), "--mode", "fast", "--out", str(out)]) == 1

    err = capsys.readouterr().err
    assert "1 notebook run(s) failed" in err
    assert "bad.ipynb (fast mode): cell 1: ValueError: boom in cell one" in err
    assert "Traceback" not in err
    data = json.loads(out.read_text(encoding="utf-8"))
    entries = {Path(k).name: v["fast"] for k, v in data["notebooks"].items()}
    assert entries["good.ipynb"]["ok"] and entries["good.ipynb"]["error"] == ""
    assert entries["good.ipynb"]["wall_s"] > 0 and entries["good.ipynb"]["cpu_s"] > 0
    assert not entries["bad.ipynb"]["ok"]
    assert "boom in cell one" in entries["bad.ipynb"]["error"]
    machine = data["machines"][entries["good.ipynb"]["machine"]]
    assert machine["cores"] >= 1 and machine["numpy"]
    # the notebook ran from a temporary copy: nothing was written beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb", "good.ipynb",
                                                         "times.json"]


def test_full_mode_environment(monkeypatch):
    monkeypatch.setenv("LMLIB_DATA_DIR", "/some/data")
    monkeypatch.setenv("LMLIB_FAST", "1")
    env = kernel_env(fast=False)
    assert env["LMLIB_FAST"] == "0" and env["OMP_NUM_THREADS"] == "1"
    assert env["LMLIB_DATA_DIR"] == "/some/data"
    assert kernel_env(fast=True)["LMLIB_FAST"] == "1"


def test_bad_mode_is_a_clear_error(capsys):
    with pytest.raises(ValueError, match="mode must be 'fast', 'full' or 'both', got 'slow'"):
        modes_of("slow")
    assert modes_of("both") == ("fast", "full")
    assert main(["--mode", "slow", "--markdown"]) == 2
    assert "--mode: mode must be 'fast', 'full' or 'both', got 'slow'" in capsys.readouterr().err


def test_missing_notebook_is_a_usage_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path / "t.json")]) == 2
    assert "no such notebook" in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()


def test_fast_and_full_runs_merge_atomically(tmp_path):
    out = tmp_path / "docs" / "times.json"
    record(out, "chapters/00.ipynb", "full", {"wall_s": 90.0, "cpu_s": 60.0, "ok": True,
                                             "error": ""}, MACHINE)
    record(out, "chapters/00.ipynb", "fast", {"wall_s": 5.0, "cpu_s": 3.0, "ok": True,
                                             "error": ""}, MACHINE)
    record(out, "chapters/01.ipynb", "fast", {"wall_s": 7.0, "cpu_s": 4.0, "ok": False,
                                             "error": "cell 2: AssertionError"}, MACHINE)
    record(out, "solutions/00.ipynb", "full", {"wall_s": 2.8, "cpu_s": 3.1, "ok": True,
                                              "error": ""}, MACHINE)
    data = load(out)
    assert set(data["notebooks"]["chapters/00.ipynb"]) == {"fast", "full"}
    assert data["notebooks"]["chapters/00.ipynb"]["full"]["cpu_s"] == 60.0
    assert [p.name for p in out.parent.iterdir()] == ["times.json"]  # no temp file left
    table = render_markdown(data)
    assert "| chapters/00.ipynb | 5 | 3 | 1.5 | 1.0 |" in table
    assert "| chapters/01.ipynb | failed | failed |  |  |" in table
    assert "| solutions/00.ipynb |  |  | < 0.1 | 0.1 |" in table
    assert "| **total** (1 fast, 2 full) | 5 | 3 | 1.5 | 1.1 |" in table
    assert "2 cores, test cpu" in table
    with pytest.raises(ValueError, match="mode"):
        record(out, "chapters/00.ipynb", "medium", {}, MACHINE)


def test_not_a_timings_file(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a timings file"):
        load(bad)


@pytest.mark.consistency
def test_teaching_guide_quotes_the_committed_timings():
    """docs/teaching.md's table is exactly what --markdown renders from the committed JSON."""
    guide = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- timing table: begin -->\n(.*?)<!-- timing table: end -->",
                      guide, re.S)
    assert found, "docs/teaching.md lacks the <!-- timing table: begin/end --> markers"
    expected = render_markdown(load(ROOT / "docs" / "notebook_times.json"))
    assert found.group(1) == expected, (
        "docs/teaching.md is out of date: paste the output of "
        "`python -m coursekit.timing --markdown` between the timing table markers")


def test_without_the_resource_module_cpu_time_is_not_available(monkeypatch):
    """On Windows there is no ``resource`` module: the CPU time is None, shown as n/a."""
    import sys

    from coursekit import timing

    monkeypatch.setitem(sys.modules, "resource", None)  # makes `import resource` fail
    assert timing._children_cpu_seconds() is None
    data = {"machines": {}, "notebooks": {"a.ipynb": {"fast": {
        "wall_s": 4.0, "cpu_s": None, "ok": True, "error": ""}}}}
    assert "| a.ipynb | 4 | n/a |  |  |" in render_markdown(data)
