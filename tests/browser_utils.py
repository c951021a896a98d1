"""Helpers for the browser tests: JupyterLab + headless Chromium (Debian's package) driven
by Playwright. Any chapter's browser test can use them:

    from browser_utils import chromium_or_skip, jupyter_lab, open_and_run_all

The work is done by :mod:`coursekit.browser` (also used by ``python -m coursekit.figures``); this
module adds what only tests need:

- :func:`chromium_or_skip`: the Chromium executable; missing, a failure under CI
  (``CI=true``) and a skip with the reason elsewhere;
- ``ROOT`` (the repository) and ``SHOTS`` (``build/screenshots``, where tests save pictures).

:func:`jupyter_lab` and :func:`open_and_run_all` raise ``coursekit.browser.BrowserError``, which
fails the test with the JupyterLab log or the cell's traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coursekit.browser import (
    CHROMIUM_ARGS,
    ChromiumMissing,
    find_chromium,
    free_port,
    jupyter_lab,
    open_and_run_all,
)

__all__ = ["CHROMIUM_ARGS", "ROOT", "SHOTS", "ChromiumMissing", "chromium_or_skip",
           "find_chromium", "free_port", "jupyter_lab", "open_and_run_all"]

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"


def chromium_or_skip(what: str) -> str:
    """The path of Chromium; without it, fail under CI and skip elsewhere, saying why."""
    try:
        return find_chromium(f"the browser test of {what}")
    except ChromiumMissing as err:
        if os.environ.get("CI") == "true":
            pytest.fail(str(err))
        pytest.skip(str(err))


def block_outside(context, base: str, report) -> None:
    """Let a Playwright ``context`` fetch only from ``base`` (and data:/blob: URLs): every
    other request is aborted and its URL passed to ``report``, so a page that needs the
    network (a CDN, web fonts) fails its test instead of working only online."""

    def route(r):
        url = r.request.url
        if url.startswith(base) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            report(url)
            r.abort()

    context.route("**/*", route)
