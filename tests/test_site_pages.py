"""The pages of the course website as coursekit.site stages them (no Sphinx, no browser):
chapters found by glob, the launch box under each title, links rewritten, lmlib pages, and
the execution cache keyed to lmlib. The built site in a browser: tests/test_site.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from coursekit import site

ROOT = Path(__file__).resolve().parent.parent
REPO = site.repository_url(ROOT)


def test_chapters_are_found_by_glob(tmp_path):
    for name in ("00_intro.ipynb", "11_modern.ipynb", "notes.ipynb", "1_bad.ipynb"):
        (tmp_path / "chapters").mkdir(exist_ok=True)
        (tmp_path / "chapters" / name).write_text("{}")
    found = [p.name for p in site.chapter_paths(tmp_path)]
    assert found == ["00_intro.ipynb", "11_modern.ipynb"]
    assert [p.name for p in site.chapter_paths(tmp_path, ["11"])] == ["11_modern.ipynb"]
    with pytest.raises(ValueError, match="only"):
        site.chapter_paths(tmp_path, ["07"])


def test_links_go_to_pages_sources_or_github():
    links = site._Links(REPO, {"docs/teaching.md", "chapters/01_ngram.ipynb",
                               "lmlib/models/gpt.md"}, ROOT)
    assert links.target("README.md", "docs/teaching.md#grading") == "docs/teaching.md#grading"
    assert links.target("docs/teaching.md", "../chapters/01_ngram.ipynb") == \
        "../chapters/01_ngram.ipynb"
    assert links.target("chapters/07_gpt.ipynb", "../lmlib/models/gpt.py") == \
        "../lmlib/models/gpt.md"
    assert links.target("README.md", "Makefile") == f"{REPO}/blob/main/Makefile"
    assert links.target("README.md", "binder") == f"{REPO}/tree/main/binder"
    for kept in ("https://example.org/x", "#results", "mailto:a@b.c"):
        assert links.target("README.md", kept) == kept
    text = links("README.md", "see [the Makefile](Makefile) and ![x](docs/teaching.md)")
    assert f"[the Makefile]({REPO}/blob/main/Makefile)" in text


def test_staged_chapter_has_launch_box_and_no_external_badge(tmp_path):
    chapters = site.stage(tmp_path, ROOT, only=["05"], vendor=False)
    nb = nbformat.read(chapters[0], as_version=4)
    sources = [c.source for c in nb.cells]
    assert not any("colab-badge.svg" in s for s in sources), "the badge image is external"
    install = [c for c in nb.cells if c.source.startswith("# Colab only:")]
    assert install and "remove-cell" in install[0].metadata.tags
    title = next(i for i, c in enumerate(nb.cells) if c.source.startswith("# "))
    box = nb.cells[title + 1].source
    assert box.startswith(":::{container} lm-launch")
    for want in ("colab.research.google.com/github/", "mybinder.org/v2/gh/",
                 "localhost:8888/lab/tree/chapters/05_attention.ipynb",
                 "exercises/05_attention.ipynb", "_notebooks/chapters/05_attention.ipynb",
                 "../lmlib/scratch/attention.md"):
        assert want in box, f"{want} missing from the launch box:\n{box}"
    # the code cells are those of the chapter, in order: the execution cache key is the same
    code = [c.source for c in nbformat.read(ROOT / "chapters/05_attention.ipynb", 4).cells
            if c.cell_type == "code"]
    assert [c.source for c in nb.cells if c.cell_type == "code"] == code


def test_stage_writes_every_page_and_prunes(tmp_path):
    site.stage(tmp_path, ROOT, vendor=False)
    for p in site.chapter_paths(ROOT):
        assert (tmp_path / "chapters" / p.name).exists()
        assert (tmp_path / "_notebooks" / "chapters" / p.name).exists()
    assert (tmp_path / "index.md").exists() and (tmp_path / "README.md").exists()
    assert (tmp_path / "lmlib" / "index.md").exists()
    assert (tmp_path / "lmlib" / "ngram.md").exists()
    assert (tmp_path / "lmlib" / "scratch" / "attention.md").exists()
    stale = tmp_path / "chapters" / "99_gone.ipynb"
    stale.write_text("{}")
    before = (tmp_path / "index.md").stat().st_mtime_ns
    site.stage(tmp_path, ROOT, vendor=False)
    assert not stale.exists(), "a page whose notebook is gone stays"
    assert (tmp_path / "index.md").stat().st_mtime_ns == before, "unchanged page rewritten"


def test_modules_used_finds_imports_and_attributes():
    modules = site._lmlib_modules(ROOT)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import lmlib\nlmlib.setup()\nfrom lmlib import data, ngram"),
        nbformat.v4.new_code_cell("from lmlib.models import GPT\nlmlib.scratch.attention.x"),
    ])
    assert site.modules_used(nb, modules) == ["lmlib.data", "lmlib.ngram", "lmlib.models",
                                              "lmlib.scratch.attention"]


def test_cache_is_emptied_when_lmlib_changes(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "lmlib", root / "lmlib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.safetensors"))
    shutil.copy(ROOT / "constraints.txt", root)
    cache = tmp_path / "cache"
    site._check_cache(cache, root, quiet=True)
    (cache / "executed.txt").write_text("outputs")
    site._check_cache(cache, root, quiet=True)
    assert (cache / "executed.txt").exists(), "emptied although nothing changed"
    with open(root / "lmlib" / "ngram.py", "a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    site._check_cache(cache, root, quiet=True)
    assert not (cache / "executed.txt").exists(), "kept outputs made with another lmlib"


def test_external_assets_are_found(tmp_path):
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.example.org/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/f.css">'
        '<img alt="" src="https://example.org/badge.svg">'
        '<a href="https://example.org/page">a link is fine</a>'
        '<link rel="canonical" href="https://example.org/">'
        '<script src="_static/local.js"></script>', encoding="utf-8")
    assert site.external_assets(tmp_path) == [
        "a.html: https://cdn.example.org/x.js", "a.html: //fonts.example.org/f.css",
        "a.html: https://example.org/badge.svg"]
