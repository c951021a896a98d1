"""The explorers fall back to their static figure where the widget front end is known to be
missing or too old: LMLIB_WIDGETS=static, ipywidgets 7 in the kernel, or Google Colab. The
display then has the PNG and a text line saying why, and no live widget view."""

import base64
import sys
import types

import matplotlib
import nbformat
import numpy as np
import pytest

matplotlib.use("Agg")

import ipywidgets  # noqa: E402

from lmlib.viz import static  # noqa: E402
from lmlib.viz.attention import AttentionExplorer  # noqa: E402
from lmlib.viz.sampling import SamplingExplorer  # noqa: E402
from lmlib.viz.static import WIDGET_MIME, widgets_supported  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def attention_explorer():
    w = np.tril(np.ones((5, 5)))
    return AttentionExplorer(w / w.sum(1, keepdims=True), "abcde")


def sampling_explorer():
    return SamplingExplorer.from_logits(np.array([2.0, 1.0, 0.5, 0.0, -1.0]), list("abcde"))


EXPLORERS = [attention_explorer, sampling_explorer]


@pytest.fixture(autouse=True)
def plain_jupyter(monkeypatch):
    """Start every test from an ordinary JupyterLab kernel: no override, no Colab."""
    monkeypatch.delenv("LMLIB_WIDGETS", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def on_colab(monkeypatch):
    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)


def old_ipywidgets(monkeypatch):
    monkeypatch.setattr(ipywidgets, "__version__", "7.7.1")


def static_env(monkeypatch):
    monkeypatch.setenv("LMLIB_WIDGETS", "static")


ENVIRONMENTS = {"colab": (on_colab, "Colab"), "ipywidgets 7": (old_ipywidgets, "7.7.1"),
                "LMLIB_WIDGETS=static": (static_env, "LMLIB_WIDGETS=static")}


@pytest.mark.parametrize("make", EXPLORERS, ids=["attention", "sampling"])
def test_normally_the_display_has_the_live_widget_and_the_png(make):
    assert widgets_supported() == (True, "")
    bundle = make()._repr_mimebundle_()
    assert WIDGET_MIME in bundle and "image/png" in bundle
    assert "Static figure" not in bundle["text/plain"]


@pytest.mark.parametrize("make", EXPLORERS, ids=["attention", "sampling"])
@pytest.mark.parametrize("where", list(ENVIRONMENTS))
def test_static_fallback_has_png_and_reason_but_no_widget_view(make, where, monkeypatch):
    switch, reason = ENVIRONMENTS[where]
    switch(monkeypatch)
    live, why = widgets_supported()
    assert not live and reason in why and "interactive version" in why
    ex = make()
    bundle = ex._repr_mimebundle_()
    assert WIDGET_MIME not in bundle
    assert set(bundle) == {"image/png", "text/plain"}
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    first, second = bundle["text/plain"].split("\n")
    assert first == ex._text_line() and second == why


def test_the_caption_is_drawn_into_the_png(monkeypatch):
    ex = attention_explorer()
    plain = ex._repr_png_()
    static_env(monkeypatch)
    png = base64.b64decode(ex._repr_mimebundle_()["image/png"])
    assert png != plain and len(png) > len(plain)   # the figure grew by the caption


def test_live_overrides_detection_and_a_bad_value_is_named(monkeypatch):
    on_colab(monkeypatch)
    monkeypatch.setenv("LMLIB_WIDGETS", "live")
    assert widgets_supported() == (True, "")
    assert WIDGET_MIME in attention_explorer()._repr_mimebundle_()
    monkeypatch.setenv("LMLIB_WIDGETS", "off")
    with pytest.raises(ValueError, match=r"LMLIB_WIDGETS must be 'auto', 'live' or 'static', "
                                         r"got 'off'"):
        widgets_supported()


def test_errors_stay_text_only_in_the_fallback(monkeypatch):
    static_env(monkeypatch)
    bundle = AttentionExplorer(np.ones((2, 3)), "ab")._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and "cannot show this input" in bundle["text/plain"]


def test_version_parsing():
    assert static._major("8.1.9") == 8 and static._major("7.7.1") == 7
    assert static._major("dev") == 0


@pytest.mark.browser
def test_jupyterlab_shows_the_static_figure_with_lmlib_widgets_static(tmp_path, monkeypatch):
    """In a real JupyterLab, a kernel started with LMLIB_WIDGETS=static displays both
    explorers as images: no widget is rendered."""
    from browser_utils import CHROMIUM_ARGS, chromium_or_skip, jupyter_lab, open_and_run_all
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip("the static fallback of the explorers")
    notebook = tmp_path / "fallback.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import numpy as np\nfrom lmlib.viz import AttentionExplorer, SamplingExplorer\n"
        "w = np.tril(np.ones((5, 5)))\nAttentionExplorer(w / w.sum(1, keepdims=True), 'abcde')"),
        nbformat.v4.new_code_cell("SamplingExplorer.from_logits(np.arange(5.0), list('abcde'))")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, notebook)
    monkeypatch.setenv("LMLIB_WIDGETS", "static")   # inherited by JupyterLab and its kernel
    (tmp_path / "lab").mkdir()
    with jupyter_lab(notebook, tmp_path / "lab") as (base, token, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            open_and_run_all(page, base, token, notebook.name)
            images = page.locator(".jp-OutputArea-output img")
            images.first.wait_for(timeout=30_000)
            assert images.count() == 2
            assert page.locator(".jupyter-widgets").count() == 0
            assert page.locator(".lmlib-attention-explorer, .lmlib-sampling-explorer").count() == 0
        finally:
            browser.close()
