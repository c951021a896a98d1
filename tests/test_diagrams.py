"""The diagrams of chapters 03 and 04 draw without error and reject bad sizes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lmlib.viz.diagrams import bptt_diagram, lstm_cell_diagram  # noqa: E402


def test_diagrams_draw():
    for fig in (bptt_diagram(8, 3), lstm_cell_diagram()):
        fig.canvas.draw()
        plt.close(fig)


@pytest.mark.parametrize("T, bptt", [(4, 0), (3, 5), (4.0, 2)])
def test_bptt_diagram_bad_sizes(T, bptt):
    with pytest.raises(ValueError, match="bptt"):
        bptt_diagram(T, bptt)
