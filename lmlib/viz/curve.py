"""Chapter 07's compute curve: val loss against CPU seconds for n-grams, LSTMs and GPTs.

The points are measurements (``lmlib.pretrained.compute_curve()``); this module only draws
them. Each point is a dict with ``val`` (nats/char), ``cpu_s`` (process CPU seconds, one
thread) and ``spec["family"]`` (``"n-gram"``, ``"lstm"`` or ``"gpt"``); a point with
``"shipped": True`` is one of the course's shipped models and is drawn as a star (on its
family's line when it is that family's point for a budget, ``spec["budget_cpu_s"]``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

COLORS = {"n-gram": "#0072B2", "lstm": "#009E73", "gpt": "#D55E00"}
MARKERS = {"n-gram": "s", "lstm": "^", "gpt": "o"}
LABELS = {"n-gram": "n-gram (Kneser–Ney, orders 3–8)", "lstm": "LSTM", "gpt": "GPT"}


def _best_per_budget(rows: list[tuple]) -> list[tuple]:
    """Of several seeds at one budget, the mean: the line runs through it."""
    by_budget: dict[int, list] = {}
    for budget, cpu, val in rows:
        by_budget.setdefault(budget, []).append((cpu, val))
    return [(sum(c for c, _ in pts) / len(pts), sum(v for _, v in pts) / len(pts))
            for _, pts in sorted(by_budget.items())]


def plot_compute_curve(points: dict[str, dict], ax=None, title: str | None = None):
    """Draw the curve: x is CPU seconds (log scale), y the val loss. Trained families get a
    line through the mean of their seeds at each budget and a dot per run; n-grams are
    labelled by their order ("m": modified Kneser–Ney). Returns the axes."""
    if not points:
        raise ValueError("points is empty: there is nothing to plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for family in ("n-gram", "lstm", "gpt"):
        runs = [(p, pid) for pid, p in points.items() if p["spec"]["family"] == family
                and (family == "n-gram" or "budget_cpu_s" in p["spec"])]
        if not runs:
            continue
        color = COLORS[family]
        ax.plot([p["cpu_s"] for p, _ in runs], [p["val"] for p, _ in runs], MARKERS[family],
                color=color, ms=5, label=LABELS[family])
        if family == "n-gram":
            for p, pid in runs:
                modified = "modified" in pid  # labelled below its point, the others above
                ax.annotate(pid.split("-")[1] + ("m" if modified else ""), (p["cpu_s"], p["val"]),
                            fontsize=7, xytext=(3, -9 if modified else 3),
                            textcoords="offset points")
        else:
            line = _best_per_budget([(p["spec"]["budget_cpu_s"], p["cpu_s"], p["val"])
                                     for p, _ in runs])
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
