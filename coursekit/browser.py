"""Drive a real JupyterLab from headless Chromium (Debian's package) with Playwright.

Used by the browser tests (``tests/browser_utils.py`` wraps these for pytest) and by
``python -m coursekit.figures`` to screenshot the widgets:

- :func:`find_chromium`: the Chromium executable, or :class:`ChromiumMissing` saying how to
  install it;
- :func:`jupyter_lab`: a context manager serving a temporary copy of one notebook (so that
  autosave never writes outputs into the repository) in fast mode, on a free port with a
  token; yields ``(base_url, token, log_path)``;
- :func:`open_and_run_all`: opens the notebook, waits for the kernel, runs all cells and
  waits until every cell has run, raising :class:`BrowserError` on a traceback.

Playwright (in the ``dev`` extra) is imported only by :func:`sync_playwright`, which says how
to install it when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from coursekit.lab import install_overrides, lab_command

__all__ = ["CHROMIUM_ARGS", "BrowserError", "ChromiumMissing", "PlaywrightMissing",
           "find_chromium", "sync_playwright", "free_port", "jupyter_lab", "open_and_run_all"]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


class BrowserError(RuntimeError):
    """JupyterLab did not start, or the notebook did not run in the browser."""


class ChromiumMissing(BrowserError):
    """No ``chromium`` executable on the PATH."""


class PlaywrightMissing(BrowserError):
    """The ``playwright`` package is not installed."""


def find_chromium(what: str = "this") -> str:
    """The path of the ``chromium`` executable; :class:`ChromiumMissing` (saying how to
    install it and that ``what`` needs it) when there is none."""
    path = shutil.which("chromium")
    if path is None:
        raise ChromiumMissing(f"chromium is not installed (Debian/Ubuntu: apt-get install -y "
                              f"chromium); {what} needs a real browser")
    return path


def sync_playwright():
    """``playwright.sync_api.sync_playwright()``; :class:`PlaywrightMissing` (saying how to
    install it) when Playwright is not installed."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError as err:
        raise PlaywrightMissing("Playwright is not installed: pip install playwright (it is in "
                                "the dev extra: pip install -e '.[dev]')") from err
    return start()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(notebook: Path, tmp_path: Path, start_timeout: float = 90):
    """Serve a copy of ``notebook`` with JupyterLab (``LMLIB_FAST=1``, private Jupyter
    folders under ``tmp_path``, the course's settings overrides). Yields
    ``(base_url, token, log_path)``; stops the server on exit."""
    notebook, tmp_path = Path(notebook), Path(tmp_path)
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(notebook, root / notebook.name)
    install_overrides(sys.prefix)
    port, token = free_port(), secrets.token_hex(16)
    jupyter = tmp_path / "jupyter"
    env = dict(os.environ, LMLIB_FAST="1",
               JUPYTER_CONFIG_DIR=str(jupyter / "config"),
               JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(jupyter / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(jupyter / "workspaces"))
    env.pop("MPLBACKEND", None)  # the kernel uses the inline backend, as a learner's does
    log_path = tmp_path / "lab.log"
    log = open(log_path, "w", encoding="utf-8")
    cmd = lab_command(port=port, token=token, open_path=None, browser=False, root=root)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(root))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise BrowserError("JupyterLab did not start:\n"
                                   + log_path.read_text(encoding="utf-8")[-3000:])
            time.sleep(0.5)
        yield base, token, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _run_all_cells(page, tries: int = 3) -> None:
    """Run > Run All Cells, again if no cell started (the kernel can report idle a moment
    before the notebook is connected to it)."""
    for attempt in range(tries):
        page.locator(".jp-Notebook .jp-Cell").first.click()   # make the notebook current
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(
                """() => [...document.querySelectorAll('.jp-InputArea-prompt')]
                          .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""",
                timeout=20_000)
            return
        except Exception:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")


_STATE = """() => {
    const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
    const idle = ind && ind.dataset.status === 'idle';
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
    if (!idle || prompts.length === 0) return false;
    if (prompts.every(p => /\\[\\d+\\]/.test(p.textContent))) return 'done';
    // every prompt blank again while idle: the kernel was replaced, the run is lost
    if (prompts.every(p => /^\\[\\s*\\]:?$/.test(p.textContent.trim()))) return 'lost';
    return false;
}"""


def open_and_run_all(page, base: str, token: str, notebook_name: str,
                     timeout_ms: int = 240_000, tries: int = 3) -> None:
    """Open the notebook, run every cell, wait until all have run; :class:`BrowserError` on
    a traceback.

    On a loaded machine JupyterLab sometimes replaces the kernel just after the notebook
    opens, and the run is lost (every prompt blank again): then it runs all cells again.
    """
    page.goto(f"{base}/lab/tree/{notebook_name}?reset&token={token}")
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]',
                           timeout=90_000)
    page.wait_for_timeout(1500)  # let the kernel session settle
    deadline = time.monotonic() + timeout_ms / 1000
    for attempt in range(tries):
        _run_all_cells(page)
        remaining = max(1000, int(1000 * (deadline - time.monotonic())))
        state = page.wait_for_function(_STATE, timeout=remaining).json_value()
        if state == "done":
            break
        print(f"the run of all cells was lost (attempt {attempt + 1}); running again")
    else:
        raise BrowserError(f"the notebook's cells did not all run in {tries} tries")
    if "Traceback (most recent call last)" in page.content():
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        bad = [o for o in outputs if "Traceback" in o or "Error" in o]
        raise BrowserError("a cell raised an error:\n"
                           + (bad[-1] if bad else outputs[-1])[-3000:])
