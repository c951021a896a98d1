"""What a widget shows where it cannot run (GitHub, an untrusted notebook, no kernel):
its static matplotlib twin as a PNG, plus one readable line of text, never a bare repr."""

from __future__ import annotations

import base64
import io

import ipywidgets


def figure_png(fig, tight: bool = False) -> bytes:
    """``fig`` as PNG bytes (80 dpi); the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)
    return buf.getvalue()


class StaticTwinBox(ipywidgets.VBox):
    """A widget box whose static representation is ``static_figure()`` as PNG plus
    ``_text_line()``. Subclasses define both, and set ``error`` (None when all is well)."""

    error: str | None = None
    _tight_png = False

    def static_figure(self):
        raise NotImplementedError

    def _text_line(self) -> str:
        raise NotImplementedError

    def _repr_png_(self):
        if self.error is not None:
            return None
        return figure_png(self.static_figure(), tight=self._tight_png)

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self._text_line()
        png = self._repr_png_()
        if png is not None:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return data

    def __repr__(self) -> str:
        return self._text_line()
