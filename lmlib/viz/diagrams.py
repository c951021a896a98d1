"""Diagrams drawn with matplotlib for chapters 03 and 04: backpropagation through time with
truncation (:func:`bptt_diagram`) and the LSTM cell (:func:`lstm_cell_diagram`).

Both return the ``Figure``; nothing is computed, they only draw boxes and arrows."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["bptt_diagram", "lstm_cell_diagram"]


def _box(ax, x, y, text, w=0.7, h=0.5, color="#dbe9f6", fontsize=9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                fc=color, ec="black", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, a, b, color="black", style="-|>", lw=1.2, rad=0.0, ls="-"):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, color=color, lw=lw,
                                 connectionstyle=f"arc3,rad={rad}", linestyle=ls))


def bptt_diagram(T: int = 12, bptt: int = 4):
    """The unrolled RNN over ``T`` steps read in chunks of ``bptt``: black arrows carry the
    state forward (across chunk boundaries too), red arrows carry the gradient backward and
    stop at each boundary (truncated BPTT)."""
    if not (isinstance(T, int) and isinstance(bptt, int) and 1 <= bptt <= T):
        raise ValueError(f"T and bptt must be ints with 1 <= bptt <= T, got T={T!r}, bptt={bptt!r}")
    fig, ax = plt.subplots(figsize=(min(1.0 * T + 1, 14), 3.2))
    for t in range(T):
        x = t * 1.0
        _box(ax, x, 0, f"h{t + 1}")
        ax.text(x, -1.0, f"x{t + 1}", ha="center", va="center", fontsize=9)
        _arrow(ax, (x, -0.8), (x, -0.27))
        ax.text(x, 1.0, f"L{t + 1}", ha="center", va="center", fontsize=9, color="C0")
        _arrow(ax, (x, 0.27), (x, 0.8), color="C0")
        if t + 1 < T:
            _arrow(ax, (x + 0.36, 0.08), (x + 0.64, 0.08))             # state forward
            if (t + 1) % bptt:                                          # gradient backward
                _arrow(ax, (x + 0.64, -0.1), (x + 0.36, -0.1), color="C3")
            else:
                ax.axvline(x + 0.5, color="grey", ls="--", lw=1)
    ax.text(-0.6, 0.08, "state →", ha="right", va="center", fontsize=8)
    ax.text(-0.6, -0.1, "← gradient", ha="right", va="center", fontsize=8, color="C3")
    ax.set(xlim=(-2.0, T - 0.3), ylim=(-1.4, 1.4),
           title=f"truncated BPTT, T = {T}, bptt = {bptt}: the state crosses the dashed "
                 f"boundaries, the gradient does not")
    ax.axis("off")
    return fig


def lstm_cell_diagram():
    """One LSTM step: the four gates from ``[h_{t-1}, x_t]``, the cell state's additive path
    along the top, and the output ``h_t``."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    # the cell state path along the top
    ax.text(-0.4, 3, "c_{t-1}", ha="right", va="center", fontsize=10)
    ax.text(8.4, 3, "c_t", ha="left", va="center", fontsize=10)
    _arrow(ax, (-0.3, 3), (1.75, 3), lw=2)
    _box(ax, 2, 3, "×", w=0.45, h=0.45, color="#fde2c8")
    _arrow(ax, (2.25, 3), (4.25, 3), lw=2)
    _box(ax, 4.5, 3, "+", w=0.45, h=0.45, color="#fde2c8")
    _arrow(ax, (4.75, 3), (8.3, 3), lw=2)
    # the gates from [h_{t-1}, x_t]
    ax.text(-0.4, 0, "h_{t-1}", ha="right", va="center", fontsize=10)
    ax.text(1, -1.1, "x_t", ha="center", va="center", fontsize=10)
    _arrow(ax, (-0.3, 0), (6.4, 0), lw=1)
    _arrow(ax, (1, -0.9), (1, -0.05), lw=1)
    gates = [(2, "σ\nforget f"), (3.5, "σ\ninput i"), (4.5, "tanh\ncell g"), (6, "σ\noutput o")]
    for x, label in gates:
        _box(ax, x, 1.2, label, w=0.9, h=0.7, color="#dbe9f6", fontsize=8)
        _arrow(ax, (x, 0.02), (x, 0.83))
    _arrow(ax, (2, 1.57), (2, 2.76))                        # f -> x c_{t-1}
    _box(ax, 4, 2.1, "×", w=0.45, h=0.45, color="#fde2c8")  # i * g
    _arrow(ax, (3.5, 1.57), (3.85, 1.9))
    _arrow(ax, (4.5, 1.57), (4.15, 1.9))
    _arrow(ax, (4.1, 2.33), (4.4, 2.77))                    # -> + on the cell path
    _box(ax, 7, 2.1, "tanh", w=0.7, h=0.45, color="#e4f3dc", fontsize=8)
    _arrow(ax, (7, 3), (7, 2.34))
    _box(ax, 7, 1.2, "×", w=0.45, h=0.45, color="#fde2c8")
    _arrow(ax, (7, 1.87), (7, 1.44))
    _arrow(ax, (6.45, 1.2), (6.76, 1.2))                    # o -> x
    _arrow(ax, (7.23, 1.2), (8.3, 1.2), lw=1.5)
    ax.text(8.4, 1.2, "h_t", ha="left", va="center", fontsize=10)
    ax.text(4.5, 3.55, "c_t = f ⊙ c_{t-1} + i ⊙ g   (no weight matrix on this path)",
            ha="center", fontsize=9)
    ax.text(7.2, 0.45, "h_t = o ⊙ tanh(c_t)", ha="center", fontsize=9)
    ax.set(xlim=(-1.4, 9.2), ylim=(-1.5, 4.0), title="one LSTM step")
    ax.axis("off")
    return fig
