"""coursekit.bench.curve (the compute curve of chapter 07) and its plot."""

import json

import pytest

from coursekit import figures
from coursekit.bench import curve


def test_points_cover_every_budget_with_two_seeds_at_the_smallest_two():
    table = curve.points()
    for family in ("gpt", "lstm"):
        for budget in curve.BUDGETS:
            seeds = {s["seed"] for p, s in table.items()
                     if s["family"] == family and s["budget_cpu_s"] == budget}
            assert seeds == ({0, 1} if budget in (60, 240) else {0}), (family, budget)
    assert {p for p in table if p.startswith("ngram")} == {
        f"ngram-{o}-{s}" for o in range(3, 9) for s in ("kneser-ney", "modified-kneser-ney")}


def test_cli_names_points_or_explains(capsys):
    with pytest.raises(SystemExit):
        curve.main(["run", "gpt-7-s0"])
    assert "name points" in capsys.readouterr().err


def test_plot_reads_the_json(tmp_path):
    record = {"points": {
        "ngram-6-kneser-ney": dict(val=1.54, cpu_s=0.3, spec=dict(family="n-gram")),
        "gpt-60-s0": dict(val=2.1, cpu_s=61.0, spec=dict(family="gpt")),
        "gpt-240-s0": dict(val=1.8, cpu_s=242.0, spec=dict(family="gpt")),
        "lstm-60-s0": dict(val=1.9, cpu_s=60.5, spec=dict(family="lstm"))}}
    (tmp_path / "curve.json").write_text(json.dumps(record))
    png = figures.plot_curve(tmp_path / "curve.json", tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "empty.json").write_text(json.dumps({"points": {}}))
    with pytest.raises(ValueError, match="no points"):
        figures.plot_curve(tmp_path / "empty.json", tmp_path / "x.png")
