"""Slides of every chapter, made from its notebook with nbconvert's reveal.js exporter.

    python -m coursekit.slides                    # make slides: build/slides/NN_topic.slides.html
    python -m coursekit.slides --only 00 05       # two chapters
    python -m coursekit.slides --out /tmp/slides

The notebooks are converted as committed, without running them: the committed notebooks
have no outputs, so the slides show the prose and the code, not plots or printouts (run a
chapter in JupyterLab, or read the website, ``make site``, for those).

Slides: every markdown cell that starts with a ``#`` or ``##`` heading opens a new slide
(left-right; a cell with such a heading further down is first cut in two there); the cells under it are vertical sub-slides, a short code cell is a fragment of
the sub-slide before it. The Colab badge and the Colab install cell are skipped. The types
go into ``cell.metadata.slideshow.slide_type`` of a copy of the notebook; the committed
notebooks are never changed.

Offline: reveal.js (the version nbconvert's reveal template names) and MathJax 3 are served
from the output folder (``reveal.js/``, ``mathjax/``), fetched once with ``npm pack`` and
checked against pinned sha256 sums (reveal.js cached in ``build/slides-vendor/``, MathJax in
``build/site-vendor/`` through :func:`coursekit.site.fetch_vendor`, shared with ``make
site``). The page loads nothing from a CDN: no jQuery, require.js or mermaid (unused here).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tarfile
from pathlib import Path

import nbformat
from jinja2 import DictLoader

from coursekit import site

__all__ = ["REVEAL", "REVEAL_DIR", "MATHJAX_DIR", "slide_type", "with_slide_types",
           "split_at_headings", "fetch_reveal", "vendor", "convert", "build", "main"]

ROOT = site.ROOT
# reveal.js as nbconvert's reveal template expects it (its default prefix is
# https://unpkg.com/reveal.js@4.0.2; it loads dist/reveal.js, dist/reveal.css,
# dist/theme/<theme>.css and plugin/notes/notes.js); npm name -> (spec, sha256, copies)
REVEAL = {"reveal.js": ("reveal.js@4.0.2",
                        "0c234d5bfe539606c1af4bcc031f0d21ed99e264d90b7859abad34f7e3a0c587",
                        [("package/dist/", "reveal.js/dist/", None),
                         ("package/plugin/", "reveal.js/plugin/", None)])}
REVEAL_DIR = "reveal.js"          # beside the slides
MATHJAX_DIR = "mathjax"           # beside the slides: MathJax 3's es5/ folder
MATHJAX_JS = "tex-mml-chtml.js"
REVEAL_THEME = "white"            # its fonts are in reveal.js (others load Google Fonts)
FRAGMENT_LINES = 10               # a code cell this short is a fragment, not a sub-slide

# The course's reveal template: nbconvert's, with MathJax 3 and reveal.js from the output
# folder and no script from a CDN (jQuery, require.js and mermaid are not needed here).
TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_jquery -%}{%- endblock html_head_js_jquery -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}
<link rel="icon" href="data:,">
<script>
window.MathJax = {tex: {inlineMath: [["$", "$"], ["\\(", "\\)"]],
                        displayMath: [["$$", "$$"], ["\\[", "\\]"]], processEscapes: true}};
</script>
<script src="{{ resources.mathjax_url }}" defer></script>
{%- endblock html_head_js_mathjax -%}
{% block footer_js %}
<style>
/* a long cell scrolls inside its slide instead of running off it */
.reveal .slides section:not(.stack) { max-height: 100%; overflow-y: auto; }
</style>
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true, progress: true, history: true,
  transition: "{{ resources.reveal.transition }}",
  slideNumber: "{{ resources.reveal.number }}",
  width: {{ resources.reveal.width | default('960', true) }},
  height: {{ resources.reveal.height | default('700', true) }},
  plugins: [RevealNotes]
});
</script>
{% endblock footer_js %}
"""
TEMPLATE_NAME = "coursekit-slides.html.j2"


# ----------------------------------------------------------------------------- slide types

def slide_type(cell, previous: str | None) -> str:
    """The reveal.js slide type of ``cell``: ``"slide"`` for a markdown cell starting with a
    ``#``/``##`` heading, ``"skip"`` for the Colab badge and install cells, ``"fragment"``
    for a code cell of at most :data:`FRAGMENT_LINES` lines right after a shown cell
    (``previous`` is the type given to the cell before, None for the first cell), else
    ``"subslide"``."""
    source = cell.source.lstrip()
    if cell.cell_type == "markdown":
        if "colab-badge.svg" in source and len(source.splitlines()) == 1:
            return "skip"
        if source.startswith(("# ", "## ")):
            return "slide"
        return "subslide"
    if cell.cell_type == "code":
        if source.startswith("# Colab only:") or not source:
            return "skip"
        if previous not in (None, "skip") and len(source.splitlines()) <= FRAGMENT_LINES:
            return "fragment"
    return "subslide"


def split_at_headings(source: str) -> list[str]:
    """The markdown ``source`` cut before every ``#``/``##`` heading line (outside code
    fences), so that each heading starts a piece of its own."""
    pieces, lines, fenced = [], [], False
    for line in source.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith(("# ", "## ")) and "".join(lines).strip():
            pieces.append("\n".join(lines).strip("\n"))
            lines = []
        lines.append(line)
    pieces.append("\n".join(lines).strip("\n"))
    return [piece for piece in pieces if piece.strip()] or [source]


def with_slide_types(nb):
    """A copy of the notebook ``nb`` whose cells carry ``metadata.slideshow.slide_type``
    (see :func:`slide_type`); a markdown cell with a ``#``/``##`` heading inside is first
    cut in two there (:func:`split_at_headings`). ``nb`` itself is left as it is."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        for i, piece in enumerate(split_at_headings(cell.source)):
            part = copy.deepcopy(cell)
            part.source = piece
            if i and "id" in cell:   # cell ids are unique
                part.id = f"{cell.id}-{i}"
            cells.append(part)
    nb.cells = cells
    previous = None
    for cell in nb.cells:
        kind = slide_type(cell, previous)
        cell.metadata["slideshow"] = {"slide_type": kind}
        previous = kind
    return nb


# ----------------------------------------------------------------------------- vendor

def fetch_reveal(cache: Path) -> Path:
    """The reveal.js tarball of :data:`REVEAL`, fetched once with ``npm pack`` into
    ``cache`` and checked against its sha256 (by :func:`coursekit.site.fetch_vendor`)."""
    return site.fetch_vendor(cache, REVEAL)["reveal.js"]


def _unpack(tarball: Path, copies, writer) -> None:
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.endswith(".map"):
                continue
            for prefix, target, _ in copies:
                if member.name.startswith(prefix):
                    rel = target + member.name[len(prefix):]
                    if ".." in Path(rel).parts:
                        raise site.SiteError(f"{tarball}: unsafe path {member.name}")
                    writer.write(rel, tar.extractfile(member).read())


def vendor(out: Path, root: Path = ROOT) -> None:
    """reveal.js (``dist/``, ``plugin/``) and MathJax 3 (its ``es5/`` folder) into ``out``,
    beside the slides; files are rewritten only when they change."""
    writer = site._Writer(Path(out))
    build_dir = Path(root) / "build"
    _unpack(fetch_reveal(build_dir / "slides-vendor"), REVEAL["reveal.js"][2], writer)
    mathjax = site.fetch_vendor(build_dir / "site-vendor")["mathjax"]
    _unpack(mathjax, [("package/es5/", MATHJAX_DIR + "/", None)], writer)


# ----------------------------------------------------------------------------- convert

def exporter():
    """nbconvert's SlidesExporter with the course's template: reveal.js and MathJax from the
    folder of the slides."""
    from nbconvert import SlidesExporter

    return SlidesExporter(extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})],
                          template_file=TEMPLATE_NAME, reveal_url_prefix=REVEAL_DIR,
                          reveal_theme=REVEAL_THEME,
                          mathjax_url=f"{MATHJAX_DIR}/{MATHJAX_JS}")


def convert(nb_path: Path, out: Path, slides_exporter=None) -> Path:
    """``out/<stem>.slides.html``: the slides of the notebook ``nb_path`` (not executed)."""
    nb = with_slide_types(nbformat.read(nb_path, as_version=4))
    body, _ = (slides_exporter or exporter()).from_notebook_node(
        nb, resources={"metadata": {"name": Path(nb_path).stem}})
    target = Path(out) / f"{Path(nb_path).stem}.slides.html"
    site._Writer(Path(out)).write(target.name, body)
    return target


def build(out: Path | None = None, root: Path = ROOT,
          only: list[str] | None = None) -> list[Path]:
    """The slides of every chapter (or those in ``only``, numbers or stems) in ``out``
    (default ``build/slides``), with reveal.js and MathJax beside them; returns the pages."""
    root = Path(root)
    out = Path(out) if out is not None else root / "build" / "slides"
    out.mkdir(parents=True, exist_ok=True)
    vendor(out, root)
    slides_exporter = exporter()
    return [convert(p, out, slides_exporter) for p in site.chapter_paths(root, only)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.slides", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default build/slides)")
    parser.add_argument("--only", nargs="+", metavar="NN",
                        help="only these chapters (numbers or stems)")
    args = parser.parse_args(argv)
    try:
        pages = build(args.out, only=args.only)
    except (site.SiteError, ValueError) as err:
        print(f"slides: {err}", file=sys.stderr)
        return 1
    for page in pages:
        print(page)
    if pages:
        print(f"{len(pages)} slide decks; open one in a browser through a local server, e.g. "
              f"python -m http.server -d {pages[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
