"""Chapter 00 opens in JupyterLab (with the course's settings: no kernel dialog) and every
cell runs in a real browser: what `make lab` gives a newcomer."""

import pytest
from browser_utils import CHROMIUM_ARGS, ROOT, chromium_or_skip, jupyter_lab, open_and_run_all

NOTEBOOK = ROOT / "chapters" / "00_language_models.ipynb"

pytestmark = pytest.mark.browser


def test_chapter_00_runs_in_jupyterlab(tmp_path):
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip("chapter 00")
    with jupyter_lab(NOTEBOOK, tmp_path) as (base, token, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            open_and_run_all(page, base, token, NOTEBOOK.name)
            assert page.locator(".jp-Dialog").count() == 0, "a dialog is blocking the notebook"
            outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
            assert "mode: fast" in outputs            # lmlib.setup() ran in the kernel
            assert "unigram" in outputs and "3.3473" in outputs
            assert page.locator(".jp-OutputArea-output img").count() >= 2  # the plots
        finally:
            browser.close()
