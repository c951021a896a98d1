"""Widgets that make attention and sampling visible, each with a static matplotlib twin,
and the plot of chapter 07's compute curve.

Names are imported lazily so that ``import lmlib.viz`` does not pull in ipywidgets."""

import importlib

_WHERE = {
    "AttentionExplorer": "attention",
    "plot_attention": "attention",
    "SamplingExplorer": "sampling",
    "plot_sampling": "sampling",
    "plot_next_token": "sampling",
    "plot_compute_curve": "curve",
    "chosen_runs": "curve",
    "sweep_runs": "curve",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
