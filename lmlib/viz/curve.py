"""Chapter 07's compute curve: val loss against CPU seconds for n-grams, LSTMs and GPTs.

The points are measurements (``lmlib.pretrained.compute_curve()``); this module only draws
them. Each point is a dict with ``val`` (nats/char), ``cpu_s`` (process CPU seconds, one
thread) and ``spec["family"]`` (``"n-gram"``, ``"lstm"`` or ``"gpt"``); a point with
``"shipped": True`` is one of the course's shipped models and is drawn as a star (on its
family's line when it is that family's point for a budget, ``spec["budget_cpu_s"]``).
A trained point may be one variant of a small sweep at its budget (``spec["variant"]``, e.g.
``"lr1e-2"``; ``"base"`` is the starting spec): the variant with the lowest val loss at
seed 0 is the budget's point, the others are drawn faint.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

COLORS = {"n-gram": "#0072B2", "lstm": "#009E73", "gpt": "#D55E00"}
MARKERS = {"n-gram": "s", "lstm": "^", "gpt": "o"}
LABELS = {"n-gram": "n-gram (Kneser–Ney, orders 3–8)", "lstm": "LSTM", "gpt": "GPT"}


def sweep_runs(points: dict[str, dict]) -> dict[tuple[str, int], dict[str, dict[int, dict]]]:
    """The trained runs by budget, variant and seed: ``{(family, budget): {variant: {seed:
    run}}}`` (a run without ``spec["variant"]`` is the starting spec, ``"base"``)."""
    out: dict[tuple[str, int], dict[str, dict[int, dict]]] = {}
    for p in points.values():
        spec = p["spec"]
        if spec["family"] != "n-gram" and "budget_cpu_s" in spec:
            variants = out.setdefault((spec["family"], spec["budget_cpu_s"]), {})
            variants.setdefault(spec.get("variant", "base"), {})[spec.get("seed", 0)] = p
    return out


def chosen_runs(points: dict[str, dict]) -> dict[tuple[str, int], list[dict]]:
    """The runs on each trained family's line: ``{(family, budget): [runs]}``, where the runs
    are every seed of the budget's best variant (lowest val at seed 0), by seed."""
    out = {}
    for key, variants in sorted(sweep_runs(points).items()):
        measured = [name for name, seeds in variants.items() if 0 in seeds]
        if measured:
            best = min(measured, key=lambda name: variants[name][0]["val"])
            out[key] = [run for _, run in sorted(variants[best].items())]
    return out


def plot_compute_curve(points: dict[str, dict], ax=None, title: str | None = None):
    """Draw the curve: x is CPU seconds (log scale), y the val loss. Trained families get a
    line through the mean of their seeds at each budget (its chosen variant) and a dot per
    run, the sweep's other variants faint; n-grams are labelled by their order ("m":
    modified Kneser–Ney). Returns the axes."""
    if not points:
        raise ValueError("points is empty: there is nothing to plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    chosen = chosen_runs(points)
    on_line = {id(p) for runs in chosen.values() for p in runs}
    for family in ("n-gram", "lstm", "gpt"):
        runs = [(p, pid) for pid, p in points.items() if p["spec"]["family"] == family
                and (family == "n-gram" or "budget_cpu_s" in p["spec"])]
        color = COLORS[family]
        dots = [p for p, _ in runs if family == "n-gram" or id(p) in on_line]
        if dots:
            ax.plot([p["cpu_s"] for p in dots], [p["val"] for p in dots], MARKERS[family],
                    color=color, ms=5, label=LABELS[family])
        faint = [p for p, _ in runs if family != "n-gram" and id(p) not in on_line]
        if faint:
            ax.plot([p["cpu_s"] for p in faint], [p["val"] for p in faint], MARKERS[family],
                    mfc="none", color=color, ms=5, alpha=0.5,
                    label=f"{LABELS[family]}, the sweep's other variants")
        if family == "n-gram":
            for p, pid in runs:
                modified = "modified" in pid  # labelled below its point, the others above
                ax.annotate(pid.split("-")[1] + ("m" if modified else ""), (p["cpu_s"], p["val"]),
                            fontsize=7, xytext=(3, -9 if modified else 3),
                            textcoords="offset points")
        else:
            line = [(sum(p["cpu_s"] for p in ps) / len(ps), sum(p["val"] for p in ps) / len(ps))
                    for (f, _), ps in chosen.items() if f == family]
            if line:
                ax.plot(*zip(*line), "-", color=color, lw=1.2)
    for p in points.values():
        if p.get("shipped"):
            family = p["spec"]["family"]
            ax.plot(p["cpu_s"], p["val"], "*", color=COLORS[family], ms=13, mec="black",
                    mew=0.6, label=f"shipped {LABELS[family]}")
    ax.set_xscale("log")
    ax.set_xlabel("process CPU seconds, one thread (log scale)")
    ax.set_ylabel("val loss (nats/char)")
    ax.set_title(title or "Shakespeare val loss against training compute")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
