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
                     if s["family"] == family and s.get("budget_cpu_s") == budget}
            assert seeds == ({0, 1} if budget in (60, 240) else {0}), (family, budget)
    assert {p for p in table if p.startswith("ngram")} == {
        f"ngram-{o}-{s}" for o in range(3, 9) for s in ("kneser-ney", "modified-kneser-ney")}


def test_the_sweep_varies_one_thing_and_only_its_winner_and_start_get_a_second_seed():
    table = curve.points()
    for (family, budget), variants in curve.VARIANTS.items():
        base = table[f"{family}-{budget}-s0"]
        for name in variants:
            spec = table[f"{family}-{budget}-s0-{name}"]
            changed = {(part, k) for part in ("model", "train")
                       for k in spec[part] if spec[part][k] != base[part][k]}
            assert changed and {k for _, k in changed} <= {"lr", "block_size", "n_layer",
                                                          "n_embd", "hidden_size"}, name
        seeds: dict[str, set] = {}  # variant -> its seeds
        for s in table.values():
            if s["family"] == family and s.get("budget_cpu_s") == budget and "variant" in s:
                seeds.setdefault(s["variant"], set()).add(s["seed"])
        chosen = curve.CHOSEN[family, budget]
        assert all(v == ({0, 1} if name in (chosen, "base") and budget in (60, 240) else {0})
                   for name, v in seeds.items()), (family, budget, seeds)


def test_chosen_runs_follow_the_best_variant_at_seed_0():
    from lmlib.viz import chosen_runs

    def run(val, seed, variant):
        return dict(val=val, cpu_s=60.0, spec=dict(family="gpt", budget_cpu_s=60, seed=seed,
                                                   variant=variant))
    points = {"gpt-60-s1-lr": run(1.95, 1, "lr"), "gpt-60-s0": run(2.0, 0, "base"),
              "gpt-60-s1": run(1.5, 1, "base"),  # a lucky second seed does not choose
              "gpt-60-s0-lr": run(1.9, 0, "lr"), "gpt-60-s0-ctx": run(2.1, 0, "ctx"),
              "ngram-3-kneser-ney": dict(val=2.0, cpu_s=0.1, spec=dict(family="n-gram"))}
    assert chosen_runs(points) == {("gpt", 60): [points["gpt-60-s0-lr"], points["gpt-60-s1-lr"]]}
    from lmlib.viz import sweep_runs

    assert sweep_runs(points) == {("gpt", 60): {
        "base": {0: points["gpt-60-s0"], 1: points["gpt-60-s1"]},
        "lr": {0: points["gpt-60-s0-lr"], 1: points["gpt-60-s1-lr"]},
        "ctx": {0: points["gpt-60-s0-ctx"]}}}


def test_the_chosen_variants_are_the_best_measured():
    from lmlib.pretrained import compute_curve
    from lmlib.viz import chosen_runs

    measured, table = compute_curve(), curve.points()
    for (family, budget), runs in chosen_runs(measured).items():
        candidates = [p for p, s in table.items() if s["family"] == family
                      and s.get("budget_cpu_s") == budget and s.get("seed") == 0
                      and "variant" in s]
        if all(p in measured for p in candidates) and (family, budget) in curve.CHOSEN:
            assert runs[0]["spec"]["variant"] == curve.CHOSEN[family, budget], (family, budget)


def test_every_measured_point_is_a_point_of_the_table_with_its_spec():
    from lmlib.pretrained import compute_curve

    table = curve.points()
    for pid, p in compute_curve().items():
        assert pid in table and p["spec"] == table[pid], pid
        assert p["command"] == f"python -m coursekit.bench.curve run {pid}"


def test_cli_names_points_or_explains(capsys):
    with pytest.raises(SystemExit):
        curve.main(["run", "gpt-7-s0"])
    assert "name points" in capsys.readouterr().err


def test_plot_reads_the_json(tmp_path):
    record = {"points": {
        "ngram-6-kneser-ney": dict(val=1.54, cpu_s=0.3, spec=dict(family="n-gram")),
        "gpt-60-s0": dict(val=2.1, cpu_s=61.0, spec=dict(family="gpt", budget_cpu_s=60)),
        "gpt-60-s1": dict(val=2.0, cpu_s=59.0, spec=dict(family="gpt", budget_cpu_s=60)),
        "gpt-240-s0": dict(val=1.8, cpu_s=242.0, spec=dict(family="gpt", budget_cpu_s=240)),
        "lstm-60-s0": dict(val=1.9, cpu_s=60.5, spec=dict(family="lstm", budget_cpu_s=60)),
        "shipped-lstm": dict(val=1.48, cpu_s=298.0, shipped=True, spec=dict(family="lstm"))}}
    (tmp_path / "curve.json").write_text(json.dumps(record))
    png = figures.plot_curve(tmp_path / "curve.json", tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "empty.json").write_text(json.dumps({"points": {}}))
    with pytest.raises(ValueError, match="no points|empty"):
        figures.plot_curve(tmp_path / "empty.json", tmp_path / "x.png")


def test_shipped_points_read_the_compute_of_the_run_from_its_log():
    log = ("# shakespeare-gpt: 818,048 parameters\n"
           "step    250 | train 2.4373 | val 2.4700 * | lr 2.00e-03 | 8,120 tok/s | 63 s wall, "
           "61 CPU s\n"
           "# stopped at step 10000 of 10000; best val (fixed batches) 1.5001 at step 9750; "
           "2,431 CPU s and 2,512 s wall of training; 20,480,000 tokens\n")
    assert curve.logged_compute(log) == (10000, 20_480_000, 2431.0, 2512.0)
    with pytest.raises(ValueError, match="CPU seconds"):
        curve.logged_compute("# stopped at step 250 of 8000; 497 s of training\n")
    assert {"shipped-gpt", "shipped-lstm"} <= set(curve.points())


def test_counted_adds_sessions_and_keeps_a_killed_sessions_count(tmp_path):
    import time

    path = tmp_path / "times.json"
    # a session that was killed left its last count beside the total
    path.write_text(json.dumps({"cpu_s": 10.0, "wall_s": 20.0,
                                "session": {"cpu_s": 1.5, "wall_s": 2.5}}))
    with curve._counted(path, every=0.01) as totals:
        end = time.process_time() + 0.05
        while time.process_time() < end:  # burn a little CPU
            pass
        time.sleep(0.05)
        assert "session" in json.loads(path.read_text())  # written while running
    assert totals["cpu_s"] >= 11.5 + 0.05 and totals["wall_s"] >= 22.5 + 0.1
    assert json.loads(path.read_text()) == totals and "session" not in totals


def test_the_readme_rows_from_the_curve_carry_its_numbers():
    import re

    from lmlib.pretrained import compute_curve

    points = list(compute_curve().values())
    readme = (curve.ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("|") and "(compute curve" in line]
    assert len(rows) >= 3
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        val, compute = float(cells[3]), cells[4]
        cpu = float(re.search(r"([\d,]+) CPU s", compute).group(1).replace(",", ""))
        assert any(round(p["val"], 4) == val and round(p["cpu_s"]) == cpu for p in points), row
