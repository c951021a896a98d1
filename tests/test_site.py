"""The course website (``make site``) in a real browser: builds the site in fast mode into a
temporary folder (``coursekit.site``: Sphinx + MyST-NB, every chapter executed) and opens
every page in headless Chromium, served from 127.0.0.1 with every other address blocked:

- no console error and no uncaught exception on any page;
- nothing is fetched from outside the site (no CDN: MathJax, fonts and the widget manager
  are served from the build), no local file is missing;
- every image loads; every internal link (and its #anchor) resolves;
- each chapter page shows its plots, its maths is typeset, its launch box is there;
- each widget output shows either the live embedded widget or its static twin, never an
  empty box, and the explorers of chapters 05 and 09 draw themselves live.

By default all chapters are built, two at a time (measured for chapters 00-10: 277 CPU
seconds for the build, kernels included, so about 2.5 minutes of wall time on two free
cores; then about 45 pages in Chromium); ``LMLIB_SITE_CHAPTERS="00 05"`` builds a subset,
``LMLIB_SITE_JOBS`` sets how many chapters run at once. Without Sphinx/MyST-NB or Chromium:
a failure under CI (``CI=true``), a skip elsewhere.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from browser_utils import CHROMIUM_ARGS, ROOT, SHOTS, block_outside, chromium_or_skip

from coursekit import site as coursesite

pytestmark = [pytest.mark.site,
              # the theme and MyST use Sphinx APIs that Sphinx 11 will drop: not ours to fix
              pytest.mark.filterwarnings("ignore:.*Check CHANGES for Sphinx API")]

WIDGET_CHAPTERS = {"05", "09"}   # chapters whose explorers must draw live on the page


class _Page(HTMLParser):
    """The ids and the links (href of <a>) of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def broken_links(site: Path) -> list[str]:
    """Every internal link of every page of ``site`` whose file or #anchor does not exist."""
    pages = {p: _Page() for p in site.rglob("*.html")
             if not p.relative_to(site).parts[0].startswith("_")}   # _static: templates
    for path, parsed in pages.items():
        parsed.feed(path.read_text(encoding="utf-8"))
    problems = []
    for path, parsed in pages.items():
        for href in parsed.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("mailto:"):
                continue
            target = (path if not parts.path
                      else (path.parent / unquote(parts.path)).resolve())
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site)}: {href}"
            if not target.exists():
                problems.append(f"{where} (no file)")
            elif parts.fragment and target.suffix == ".html" and target in pages \
                    and unquote(parts.fragment) not in pages[target].ids:
                problems.append(f"{where} (no #{parts.fragment})")
    return problems


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The site built in fast mode into a temporary folder (vendored npm packages cached in
    build/site-vendor, fetched once with npm)."""
    try:
        import myst_nb  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError as err:
        why = f"the site's tools are not installed ({err}): pip install -e '.[dev]'"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    only = os.environ.get("LMLIB_SITE_CHAPTERS", "").split() or None
    work = tmp_path_factory.mktemp("site")
    out = coursesite.build(fast=True, work=work, out=work / "html", only=only,
                           jobs=os.environ.get("LMLIB_SITE_JOBS", "2"),
                           vendor_cache=ROOT / "build" / "site-vendor", strict=True, quiet=True)
    return out, coursesite.chapter_paths(ROOT, only)


@pytest.fixture(scope="module")
def served(built_site):
    site, _ = built_site
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_every_chapter_is_a_page(built_site):
    site, chapters = built_site
    assert chapters, "no chapter found by the glob"
    index = (site / "index.html").read_text(encoding="utf-8")
    for nb in chapters:
        assert (site / "chapters" / f"{nb.stem}.html").exists(), f"no page for {nb.name}"
        assert f"chapters/{nb.stem}.html" in index, f"{nb.stem} is not in the table of contents"
    for here, after in zip(chapters, chapters[1:]):   # "next" goes to the next chapter
        page = (site / "chapters" / f"{here.stem}.html").read_text(encoding="utf-8")
        assert re.search(rf'class="right-next"\s+href="{after.stem}\.html"', page), \
            f"{here.stem} has no 'next' link to {after.stem}"


def test_internal_links_resolve(built_site):
    site, _ = built_site
    assert broken_links(site) == []


def test_every_page_in_chromium(built_site, served):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    site, chapters = built_site
    executable = chromium_or_skip("the course website")
    base = served
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if not p.relative_to(site).parts[0].startswith("_"))
    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 1000})

        current = [""]
        block_outside(context, base, lambda url: problems.append(
            f"{current[0]}: fetched from outside the site: {url}"))
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and problems.append(
            f"{current[0]}: console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"{current[0]}: uncaught: {e}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(
            f"{current[0]}: HTTP {r.status} for {r.url}"))
        for rel in pages:
            current[0] = rel
            page.goto(urljoin(base, rel), wait_until="load")
            is_chapter = rel.startswith("chapters/")
            if page.locator(".math").count():
                page.wait_for_function("() => document.querySelector('mjx-container')",
                                       timeout=30_000)
                page.wait_for_timeout(300)
                if page.locator("mjx-merror").count():
                    problems.append(f"{rel}: MathJax could not typeset "
                                    f"{page.locator('mjx-merror').first.inner_text()!r}")
            if page.locator(".lm-widget").count():
                try:   # the widget manager draws after load
                    page.wait_for_function("""() => [...document.querySelectorAll('.lm-widget')]
                        .every(b => b.classList.contains('lm-live'))""", timeout=20_000)
                except PlaywrightTimeout:
                    pass   # judged below: the twin must show instead
            broken = page.evaluate("""() => [...document.images]
                .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)""")
            problems += [f"{rel}: image does not load: {src}" for src in broken]
            if not is_chapter:
                continue
            stem = Path(rel).stem
            plots = page.locator(".cell_output img").count()
            if plots == 0:
                problems.append(f"{rel}: no plot in the outputs")
            if page.locator(".lm-launch a", has_text="Colab").count() < 1:
                problems.append(f"{rel}: no launch links under the title")
            for i in range(page.locator(".lm-widget").count()):
                box = page.locator(".lm-widget").nth(i)
                live = "lm-live" in (box.get_attribute("class") or "")
                twin = box.locator(".lm-widget-twin img")
                if not live and not (twin.count() and twin.first.is_visible()):
                    problems.append(f"{rel}: widget {i} shows neither itself nor its twin")
                if stem[:2] in WIDGET_CHAPTERS and not live:
                    problems.append(f"{rel}: widget {i} did not draw itself from its saved state")
                if live or stem[:2] in WIDGET_CHAPTERS:
                    box.scroll_into_view_if_needed()
                    box.screenshot(path=str(SHOTS / f"site_{stem}_widget{i}.png"))
        browser.close()
    assert problems == [], "\n".join(problems[:40])
