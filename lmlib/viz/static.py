"""What a widget shows where it cannot run (GitHub, an untrusted notebook, no kernel):
its static matplotlib twin as a PNG, plus one readable line of text, never a bare repr.

Where a kernel runs but its front end is known not to draw these widgets (Colab, whose
kernel has ipywidgets 7; any kernel with ipywidgets older than 8; or ``LMLIB_WIDGETS=static``
in the environment), the live view is left out of the display altogether, so every front end
shows the static figure, captioned with why and how to get the interactive version.
:func:`widgets_supported` makes that decision."""

from __future__ import annotations

import base64
import io
import os
import sys
import textwrap

import ipywidgets

WIDGETS_ENV = "LMLIB_WIDGETS"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 0


def widgets_supported() -> tuple[bool, str]:
    """``(True, "")`` when the live widgets can be shown here, else ``(False, why)``, where
    ``why`` is one line saying why not and how to get the interactive version.

    ``LMLIB_WIDGETS`` decides when set: ``live`` always shows the widget (to try it on a
    front end not listed here), ``static`` never does, ``auto`` (or unset) detects: static
    in Google Colab and with ipywidgets older than 8 in the kernel, live elsewhere."""
    choice = os.environ.get(WIDGETS_ENV, "").strip().lower() or "auto"
    if choice not in ("auto", "live", "static"):
        raise ValueError(f"{WIDGETS_ENV} must be 'auto', 'live' or 'static', got {choice!r}")
    if choice == "live":
        return True, ""
    if choice == "static":
        return False, (f"Static figure because {WIDGETS_ENV}=static is set; unset it and run "
                       f"the cell again for the interactive version.")
    if "google.colab" in sys.modules:
        return False, ("Static figure because Colab's widget front end is not known to draw "
                       "this widget; for the interactive version open the notebook in "
                       "JupyterLab (`make lab`) or on Binder, or set the environment variable "
                       f"{WIDGETS_ENV}=live to try it here.")
    if _major(ipywidgets.__version__) < 8:
        return False, (f"Static figure because this kernel has ipywidgets "
                       f"{ipywidgets.__version__}; the interactive version needs "
                       f"`pip install 'ipywidgets>=8.1'` and a kernel restart.")
    return True, ""


def figure_png(fig, tight: bool = False, caption: str = "") -> bytes:
    """``fig`` as PNG bytes (80 dpi), with an optional ``caption`` under it; the figure is
    closed afterwards."""
    import matplotlib.pyplot as plt

    if caption:
        width = max(40, int(fig.get_figwidth() * 13))  # characters that fit at 8 pt
        fig.text(0.01, 0.0, textwrap.fill(caption, width), fontsize=8, color="#555555",
                 ha="left", va="top")
        tight = True  # the caption lies below the figure: crop to include it
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)
    return buf.getvalue()


class StaticTwinBox(ipywidgets.VBox):
    """A widget box whose static representation is ``static_figure()`` as PNG plus
    ``_text_line()``. Subclasses define both, and set ``error`` (None when all is well).

    The display holds the live widget view only where :func:`widgets_supported` says so."""

    error: str | None = None
    _tight_png = False

    def static_figure(self):
        raise NotImplementedError

    def _text_line(self) -> str:
        raise NotImplementedError

    def _repr_png_(self, caption: str = ""):
        if self.error is not None:
            return None
        return figure_png(self.static_figure(), tight=self._tight_png, caption=caption)

    def _repr_mimebundle_(self, **kwargs):
        live, why = widgets_supported()
        parent = getattr(super(), "_repr_mimebundle_", None)  # ipywidgets 7 has none
        data = (parent(**kwargs) or {}) if live and parent is not None else {}
        data["text/plain"] = self._text_line() + (f"\n{why}" if why else "")
        png = self._repr_png_(caption=why)
        if png is not None:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return data

    if _major(ipywidgets.__version__) < 8:
        # ipywidgets 7 displays widgets through this hook, which IPython prefers over
        # _repr_mimebundle_: send the static bundle unless the live view was asked for.
        def _ipython_display_(self, **kwargs):
            if widgets_supported()[0]:
                return super()._ipython_display_(**kwargs)
            from IPython.display import display

            display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        return self._text_line()
