"""The chapter slides (``make slides``, coursekit/slides.py).

A fast test of the slide types given to the cells; and, marked ``browser``, chapters 00 and
05 built into a temporary folder, served from 127.0.0.1 and opened in headless Chromium with
every other address blocked: no console error, Reveal starts with more than five slides,
the right arrow key moves on, and nothing is fetched from another host (reveal.js and
MathJax come from the folder of the slides).
"""

from __future__ import annotations

import functools
import http.server
import threading

import nbformat
import pytest
from browser_utils import CHROMIUM_ARGS, ROOT, SHOTS, block_outside, chromium_or_skip

from coursekit import slides

BROWSER_CHAPTERS = ["00", "05"]


def _notebook():
    v4 = nbformat.v4
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("[![Open In Colab](https://colab.research.google.com/assets/"
                             "colab-badge.svg)](https://colab.research.google.com/x.ipynb)"),
        v4.new_markdown_cell("# 00 · Title\n\nIntro."),
        v4.new_code_cell("# Colab only: install the course library.\n%pip install lmlib"),
        v4.new_code_cell("import lmlib"),
        v4.new_markdown_cell("## 1. A section"),
        v4.new_markdown_cell("Some prose about $p(x)$."),
        v4.new_code_cell("x = 1\nprint(x)"),
        v4.new_code_cell("\n".join(f"y{i} = {i}" for i in range(slides.FRAGMENT_LINES + 1))),
        v4.new_markdown_cell("### A subheading\n\nMore."),
        v4.new_markdown_cell("  ## 2. Indented heading"),
        v4.new_markdown_cell("#hashtag is not a heading"),
        v4.new_markdown_cell("Closing words.\n\n```python\n# a comment, not a heading\n```"
                             "\n\n## 3. A heading inside a cell\n\nIts text."),
    ])


def test_slide_types_follow_the_headings():
    nb = _notebook()
    before = nbformat.writes(nb)
    typed = slides.with_slide_types(nb)
    kinds = [c.metadata.slideshow.slide_type for c in typed.cells]
    assert kinds == ["skip", "slide", "skip", "subslide", "slide", "subslide", "fragment",
                     "subslide", "subslide", "slide", "subslide", "subslide", "slide"], kinds
    assert typed.cells[-1].source == "## 3. A heading inside a cell\n\nIts text."
    assert typed.cells[-2].source.endswith("```"), "cut inside a code fence"
    assert len({c.id for c in typed.cells}) == len(typed.cells), "cell ids repeat"
    assert nbformat.writes(nb) == before, "with_slide_types changed the notebook it was given"


def test_committed_chapters_get_slides():
    for path in slides.site.chapter_paths(ROOT, BROWSER_CHAPTERS):
        nb = nbformat.read(path, as_version=4)
        kinds = [c.metadata.slideshow.slide_type for c in slides.with_slide_types(nb).cells]
        headings = sum(line.startswith(("# ", "## ")) for c in nb.cells
                       if c.cell_type == "markdown" for line in c.source.splitlines())
        assert kinds.count("slide") == headings > 5, (path.name, kinds.count("slide"), headings)
        assert all("slideshow" not in c.metadata for c in nb.cells), \
            f"{path.name}: the committed notebook carries slide metadata"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served_slides(tmp_path_factory):
    """Chapters 00 and 05 as slides in a temporary folder, served on 127.0.0.1."""
    out = tmp_path_factory.mktemp("slides")
    pages = slides.build(out, only=BROWSER_CHAPTERS)
    handler = functools.partial(_Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", pages
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_slides_in_chromium_offline(served_slides):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, pages = served_slides
    assert [p.name[:2] for p in pages] == BROWSER_CHAPTERS
    executable = chromium_or_skip("the chapter slides")
    problems: list[str] = []
    current = [""]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})

        block_outside(context, base, lambda url: problems.append(
            f"{current[0]}: request to another host: {url}"))
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and problems.append(
            f"{current[0]}: console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"{current[0]}: uncaught: {e}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(
            f"{current[0]}: HTTP {r.status} for {r.url}"))
        for deck in pages:
            current[0] = deck.name
            page.goto(base + deck.name, wait_until="load")
            try:
                page.wait_for_function("() => window.Reveal && Reveal.isReady && "
                                       "Reveal.isReady()", timeout=20_000)
            except PlaywrightTimeout:
                problems.append(f"{deck.name}: Reveal did not start")
                continue
            total = page.evaluate("() => Reveal.getTotalSlides()")
            if total <= 5:
                problems.append(f"{deck.name}: only {total} slides")
            page.wait_for_function("() => window.MathJax && MathJax.startup && "
                                   "MathJax.startup.promise", timeout=20_000)
            page.evaluate("() => MathJax.startup.promise")
            if page.locator("mjx-merror").count():
                problems.append(f"{deck.name}: MathJax could not typeset "
                                f"{page.locator('mjx-merror').first.inner_text()!r}")
            before = page.evaluate("() => Reveal.getIndices()")
            page.locator(".reveal").click()
            for _ in range(3):   # fragments first, then the next slide
                page.keyboard.press("ArrowRight")
            page.wait_for_timeout(1000)   # the slide transition, before the screenshot
            after = page.evaluate("() => Reveal.getIndices()")
            if after["h"] <= before["h"]:
                problems.append(f"{deck.name}: ArrowRight did not move on "
                                f"({before} -> {after})")
            page.screenshot(path=str(SHOTS / f"slides_{deck.stem}.png"))
        browser.close()
    assert problems == [], "\n".join(problems[:40])
