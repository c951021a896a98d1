"""The course as a website: every chapter with its outputs, readable without installing.

    python -m coursekit.site            # full mode (make site): build/site/index.html
    python -m coursekit.site --fast     # fast mode (make site-fast): build/site-fast/

The tool is Sphinx with MyST-NB and sphinx-book-theme, the stack of Jupyter Book 1.x used
directly (docs/site.md says why). This module does three things:

1. **stage** the pages into ``build/site-src/<mode>/``: ``site/index.md`` (the landing page,
   which includes the README), ``docs/*.md``, every ``chapters/NN_*.ipynb`` (found by glob,
   so a new chapter appears by itself) with a header of launch links (JupyterLab, Binder,
   Colab, download; for the chapter and for its exercises) and links to the ``lmlib`` source
   it uses, and one page per ``lmlib`` module. Relative links to files that are not pages
   become links to the repository on GitHub. Files are rewritten only when they change, so
   Sphinx rebuilds only what changed.
2. **vendor** the browser assets from npm packages (``npm pack``, checked against pinned
   sha256 sums, cached in ``build/site-vendor/``): MathJax 3 with its fonts, the Jupyter
   widget manager (``@jupyter-widgets/html-manager``) and require.js; anywidget's front end
   comes from the installed ``anywidget`` Python package. Nothing is loaded from a CDN when
   a page is viewed, so the site works offline and on an intranet.
3. **build** with Sphinx; MyST-NB executes each chapter through jupyter-cache
   (``build/site-cache/<mode>/``), so a rebuild re-runs only chapters whose code changed.

It is also the Sphinx extension named in ``site/conf.py``: a widget output becomes the
embedded widget (the state nbclient saved in the notebook, drawn by the widget manager)
with its static matplotlib twin beside it; the page shows the twin until the widget has
drawn itself, and keeps it where the widget cannot be drawn, so there is never an empty box.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import nbformat

__all__ = ["ROOT", "CHAPTER_GLOB", "VENDOR", "repository_url", "chapter_paths", "fetch_vendor",
           "stage", "library_stamp", "external_assets", "build", "main", "setup"]

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_GLOB = "chapters/[0-9][0-9]_*.ipynb"
BRANCH = "main"
LAB_URL = "http://localhost:8888/lab/tree/"   # what `make lab` serves (its default port)

FONTS = (".woff", ".woff2", ".ttf", ".eot", ".svg")
# npm packages served from the build: name -> (spec, sha256 of the tarball, what to copy:
# [(path in the tarball, path under _static/vendor/, only files ending so or None)])
VENDOR = {
    "mathjax": ("mathjax@3.2.2",
                "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
                [("package/es5/", "mathjax/", None)]),
    "html-manager": ("@jupyter-widgets/html-manager@1.0.15",
                     "2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638",
                     # the fonts once more where the bundled controls look for them
                     [("package/dist/", "@jupyter-widgets/html-manager/dist/", None),
                      ("package/dist/", "@jupyter-widgets/", FONTS)]),
    "requirejs": ("requirejs@2.3.8",
                  "777158e89275e16bd51aec3ef714fbcb5dc45789e7078659933bc814916d7dec",
                  [("package/require.js", "require.js", None)]),
}

# Loaded on pages with widgets, between require.js and the widget manager: tells require.js
# where the local copies of the widget modules that the manager does not bundle live.
WIDGETS_CONFIG_JS = """\
// Written by coursekit.site. Loaded on pages with widgets, after require.js and before the
// widget manager: the modules resolve under this folder (the manager finds its fonts beside
// itself), anywidget's front end is the local copy, never a CDN; and the manager's call to
// MathJax 2 (MathJax.Hub.Queue) is passed on to the MathJax 3 of the page.
(function () {
  var base = document.currentScript.src.replace(/[^/]*$/, "");
  window.requirejs.config({baseUrl: base, paths: {"anywidget": base + "anywidget/index"}});
  window.addEventListener("load", function () {
    var mj = window.MathJax;
    if (mj && !mj.Hub) {
      mj.Hub = {Queue: function (job) {
        var el = job && job[2];
        if (el && mj.typesetPromise) { mj.typesetPromise([el]).catch(function () {}); }
      }};
    }
  });
})();
"""


class SiteError(RuntimeError):
    """The site cannot be staged or built (missing tool, bad checksum, failed build)."""


# ----------------------------------------------------------------------------- helpers

def repository_url(root: Path = ROOT) -> str:
    """``https://github.com/OWNER/REPO`` from ``[project.urls] Repository`` in pyproject."""
    from coursekit.colab import repository

    return repository(Path(root) / "pyproject.toml")


def chapter_paths(root: Path = ROOT, only: list[str] | None = None) -> list[Path]:
    """The chapter notebooks (``chapters/NN_*.ipynb``, sorted); ``only`` keeps those whose
    number or stem is listed (``["00", "05_attention"]``)."""
    paths = sorted(Path(root).glob(CHAPTER_GLOB))
    if only:
        keep = set(only)
        paths = [p for p in paths if p.stem in keep or p.stem[:2] in keep]
        missing = keep - {p.stem for p in paths} - {p.stem[:2] for p in paths}
        if missing:
            raise ValueError(f"only: no chapter {sorted(missing)} in {root}/chapters")
    return paths


class _Writer:
    """Writes files under ``dest`` only when their content changes (Sphinx then rebuilds
    only changed pages) and removes, at the end, every file it was not asked to write."""

    def __init__(self, dest: Path):
        self.dest = Path(dest)
        self.written: set[Path] = set()

    def write(self, rel: str, data: str | bytes) -> None:
        path = self.dest / rel
        blob = data.encode("utf-8") if isinstance(data, str) else data
        self.written.add(path)
        if path.exists() and path.read_bytes() == blob:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)

    def copy(self, src: Path, rel: str) -> None:
        self.write(rel, Path(src).read_bytes())

    def prune(self) -> None:
        for path in sorted(self.dest.rglob("*"), reverse=True):
            if path.is_file() and path not in self.written:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


# ----------------------------------------------------------------------------- vendor

def fetch_vendor(cache: Path, packages: dict | None = None) -> dict[str, Path]:
    """The npm tarballs of ``packages`` (default :data:`VENDOR`; same form), fetched once
    with ``npm pack`` into ``cache`` and checked against their sha256; returns name ->
    tarball path."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (spec, sha, _) in (VENDOR if packages is None else packages).items():
        pkg, version = spec.rsplit("@", 1)
        tarball = cache / f"{pkg.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not tarball.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise SiteError(f"npm is needed once to fetch {spec} into {cache} (MathJax and "
                                f"the widget manager are served from the site, not a CDN); "
                                f"install Node.js (apt-get install npm) or copy {tarball.name} "
                                f"there")
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", tmp],
                               check=True, stdout=subprocess.DEVNULL)
                got = Path(tmp) / tarball.name
                if not got.exists():
                    raise SiteError(f"npm pack {spec} did not write {tarball.name}")
                shutil.move(str(got), tarball)
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != sha:
            tarball.unlink()
            raise SiteError(f"{tarball} has sha256 {digest}, expected {sha} for {spec}; "
                            f"removed it, run again to fetch it anew")
        out[name] = tarball
    return out


def _stage_vendor(writer: _Writer, cache: Path) -> None:
    for name, tarball in fetch_vendor(cache).items():
        copies = VENDOR[name][2]
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                if not member.isfile() or member.name.endswith(".map"):
                    continue
                for prefix, target, suffixes in copies:
                    if suffixes and not member.name.endswith(suffixes):
                        continue
                    if member.name == prefix or (prefix.endswith("/")
                                                 and member.name.startswith(prefix)):
                        rel = target + member.name[len(prefix):]
                        if ".." in Path(rel).parts:
                            raise SiteError(f"{tarball}: unsafe path {member.name}")
                        writer.write(f"_static/vendor/{rel}", tar.extractfile(member).read())
    try:
        import anywidget
    except ImportError:  # no anywidget: its widgets show their static twins
        pass
    else:
        amd = Path(anywidget.__file__).parent / "nbextension" / "index.js"
        if amd.exists():
            writer.copy(amd, "_static/vendor/anywidget/index.js")
    writer.write("_static/vendor/widgets-config.js", WIDGETS_CONFIG_JS)


# ----------------------------------------------------------------------------- pages

_LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_LMLIB_REF = re.compile(r"\blmlib((?:\.[A-Za-z_]\w*)+)")
_FROM_IMPORT = re.compile(r"^\s*from\s+lmlib((?:\.\w+)*)\s+import\s+\(?([\w\s,]+)\)?", re.M)


def _lmlib_modules(root: Path) -> dict[str, Path]:
    """The modules of lmlib: dotted name -> file."""
    mods = {}
    for path in sorted((root / "lmlib").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _page_of(path: Path, root: Path) -> str:
    """Docname of the source page of ``lmlib/.../x.py``."""
    return path.relative_to(root).with_suffix("").as_posix()


def modules_used(nb, modules: dict[str, Path]) -> list[str]:
    """The lmlib modules (dotted names, in :func:`_lmlib_modules`) that the code cells of
    ``nb`` name, deepest module first found, in order of first use."""
    found: list[str] = []

    def add(dotted: str) -> None:
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):
            name = ".".join(parts[:n])
            if name in modules:
                if name not in found:
                    found.append(name)
                return

    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.startswith("# Colab only:"):
            continue
        for m in _FROM_IMPORT.finditer(cell.source):
            for item in m.group(2).replace("\n", " ").split(","):
                item = item.strip().split(" as ")[0].strip()
                if item:
                    add(f"lmlib{m.group(1)}.{item}")
        for m in _LMLIB_REF.finditer(cell.source):
            add("lmlib" + m.group(1))
    return [m for m in found if m != "lmlib"]


class _Links:
    """Rewrites relative Markdown links of a staged page: to a page or file of the site,
    kept; to an lmlib module, its source page; to anything else, the repository on GitHub."""

    def __init__(self, repo: str, staged: set[str], root: Path):
        self.repo, self.staged, self.root = repo, staged, root

    def target(self, page: str, target: str) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
            return target
        path, _, anchor = target.partition("#")
        here = posixpath.dirname(page)
        resolved = posixpath.normpath(posixpath.join(here, path))
        if resolved in self.staged:
            return target
        if resolved.startswith("lmlib/") and resolved.endswith(".py") \
                and resolved[:-3] + ".md" in self.staged:
            new = posixpath.relpath(resolved[:-3] + ".md", here or ".")
            return new + (f"#{anchor}" if anchor else "")
        kind = "tree" if (self.root / resolved).is_dir() else "blob"
        return f"{self.repo}/{kind}/{BRANCH}/{resolved}" + (f"#{anchor}" if anchor else "")

    def __call__(self, page: str, text: str) -> str:
        return _LINK.sub(lambda m: m.group(1) + self.target(page, m.group(2)) + m.group(3), text)


def _launch_links(repo: str, path: str) -> str:
    owner_name = repo.removeprefix("https://github.com/")
    lab = LAB_URL + path
    binder = (f"https://mybinder.org/v2/gh/{owner_name}/{BRANCH}"
              f"?labpath={quote(path, safe='')}")
    colab = f"https://colab.research.google.com/github/{owner_name}/blob/{BRANCH}/{path}"
    return (f'[JupyterLab]({lab} "your own JupyterLab: run make lab in the course folder first")'
            f" · [Binder]({binder}) · [Colab]({colab})")


def chapter_header(repo: str, path: str, exercises: str | None, used: list[str],
                   modules: dict[str, Path], root: Path) -> str:
    """The MyST markdown of the box under a chapter's title: launch and download links for
    the chapter and its exercises, and links to the lmlib source the chapter uses."""
    here = posixpath.dirname(path)
    lines = [":::{container} lm-launch",
             f"**This chapter:** {_launch_links(repo, path)} · "
             f"{{download}}`download <{posixpath.relpath('_notebooks/' + path, here)}>`", ""]
    if exercises:
        lines += [f"**Its exercises:** {_launch_links(repo, exercises)} · "
                  f"{{download}}`download <{posixpath.relpath('_notebooks/' + exercises, here)}>`",
                  ""]
    if used:
        links = [f"[`{modules[m].relative_to(root).as_posix()}`]"
                 f"({posixpath.relpath(_page_of(modules[m], root) + '.md', here)})"
                 for m in used]
        lines += ["**lmlib code used here:** " + " · ".join(links), ""]
    lines.append(":::")
    return "\n".join(lines)


def stage_chapter(nb_path: Path, root: Path, repo: str, links: _Links,
                  modules: dict[str, Path]) -> tuple[str, list[str]]:
    """The staged chapter notebook (JSON text) and the lmlib modules it uses: the Colab badge
    cell (its image would come from elsewhere) is replaced by the header box under the
    title, the Colab install cell is hidden, relative links are rewritten."""
    path = nb_path.relative_to(root).as_posix()
    nb = nbformat.read(nb_path, as_version=4)
    cells = [c for c in nb.cells
             if not (c.cell_type == "markdown" and "colab-badge.svg" in c.source
                     and len(c.source.splitlines()) == 1)]
    for cell in cells:
        if cell.cell_type == "code" and cell.source.startswith("# Colab only:"):
            tags = cell.metadata.setdefault("tags", [])
            if "remove-cell" not in tags:
                tags.append("remove-cell")
        elif cell.cell_type == "markdown":
            cell.source = links(path, cell.source)
    used = modules_used(nb, modules)
    exercises = f"exercises/{nb_path.name}"
    header = chapter_header(repo, path, exercises if (root / exercises).exists() else None,
                            used, modules, root)
    title = next((i for i, c in enumerate(cells)
                  if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), -1)
    box = nbformat.v4.new_markdown_cell(header, id="site-launch")
    if title >= 0 and len(cells[title].source.split("\n\n", 1)) == 2:
        # the title cell holds more than the title: split it, so the box sits under the title
        head, rest = cells[title].source.lstrip().split("\n", 1)
        cells[title].source = head
        cells[title + 1:title + 1] = [box, nbformat.v4.new_markdown_cell(rest, id="site-intro")]
    else:
        cells.insert(title + 1, box)
    nb.cells = cells
    return nbformat.writes(nb), used


def _docstring_summary(path: Path) -> str:
    """The first paragraph of the module docstring of ``path``, on one line ("" if none)."""
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _module_page(name: str, path: Path, root: Path, repo: str, users: list[Path]) -> str:
    rel = path.relative_to(root).as_posix()
    here = posixpath.dirname(_page_of(path, root))
    doc = _docstring_summary(path)
    used_by = " · ".join(f"[{p.stem}]({posixpath.relpath('chapters/' + p.name, here)})"
                         for p in users)
    return "\n".join([
        f"# `{rel}`", "",
        f"`{name}`: {doc}" if doc else f"`{name}`", "",
        f"[View on GitHub]({repo}/blob/{BRANCH}/{rel})"
        + (f" · used in: {used_by}" if used_by else ""), "",
        f"```{{literalinclude}} {posixpath.relpath('_src/' + rel, here)}",
        ":language: python", ":linenos:", "```", ""])


def _library_index(modules: dict[str, Path], root: Path, users: dict[str, list[Path]]) -> str:
    lines = ["# The course library, `lmlib`", "",
             "The canonical version of every piece the chapters build; later chapters import "
             "it. One page per module, with the chapters that use it.", "",
             "| module | what | used in |", "|---|---|---|"]
    for name, path in modules.items():
        page = _page_of(path, root).removeprefix("lmlib/")
        chapters = ", ".join(f"[{p.stem[:2]}](../chapters/{p.name})" for p in users.get(name, []))
        what = _docstring_summary(path).replace("|", "\\|")
        lines.append(f"| [`{name}`]({page}.md) | {what} | {chapters} |")
    lines += ["", "```{toctree}", ":hidden:", ""]
    lines += [_page_of(path, root).removeprefix("lmlib/") for path in modules.values()]
    lines += ["```", ""]
    return "\n".join(lines)


def stage(dest: Path, root: Path = ROOT, only: list[str] | None = None,
          vendor_cache: Path | None = None, vendor: bool = True) -> list[Path]:
    """Lay the site's pages out in ``dest`` (see the module docstring); returns the staged
    chapter notebooks. ``vendor=False`` leaves out the npm packages (pages only)."""
    root, dest = Path(root), Path(dest)
    repo = repository_url(root)
    writer = _Writer(dest)
    chapters = chapter_paths(root, only)
    modules = _lmlib_modules(root)
    docs = sorted(p for p in (root / "docs").glob("*.md"))
    staged = {p.relative_to(root).as_posix() for p in chapters + docs}
    staged |= {p.relative_to(root).as_posix() for p in (root / "docs" / "figures").glob("*")}
    staged |= {_page_of(p, root) + ".md" for p in modules.values()}
    staged.add("README.md")
    links = _Links(repo, staged, root)

    for p in (root / "site").rglob("*"):
        if p.is_file() and p.name != "conf.py" and "__pycache__" not in p.parts:
            writer.copy(p, p.relative_to(root / "site").as_posix())
    writer.write("README.md", links("README.md", (root / "README.md").read_text("utf-8")))
    for p in docs:
        rel = p.relative_to(root).as_posix()
        writer.write(rel, links(rel, p.read_text(encoding="utf-8")))
    for p in sorted((root / "docs" / "figures").glob("*")):
        writer.copy(p, p.relative_to(root).as_posix())

    users: dict[str, list[Path]] = {}
    for nb_path in chapters:
        rel = nb_path.relative_to(root).as_posix()
        text, used = stage_chapter(nb_path, root, repo, links, modules)
        writer.write(rel, text)
        writer.copy(nb_path, f"_notebooks/{rel}")
        ex = root / "exercises" / nb_path.name
        if ex.exists():
            writer.copy(ex, f"_notebooks/exercises/{nb_path.name}")
        for m in used:
            users.setdefault(m, []).append(nb_path)

    for name, path in modules.items():
        rel = path.relative_to(root).as_posix()
        writer.copy(path, f"_src/{rel}")
        writer.write(_page_of(path, root) + ".md",
                     _module_page(name, path, root, repo, users.get(name, [])))
    writer.write("lmlib/index.md", _library_index(modules, root, users))
    if vendor:
        _stage_vendor(writer, Path(vendor_cache or root / "build" / "site-vendor"))
    writer.prune()
    return [dest / p.relative_to(root) for p in chapters]


# ----------------------------------------------------------------------------- build

def library_stamp(root: Path = ROOT) -> str:
    """sha256 over what every chapter's outputs depend on besides its own code: lmlib (code
    and shipped assets) and the pinned versions (constraints.txt)."""
    h = hashlib.sha256()
    files = sorted(p for p in (Path(root) / "lmlib").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    for p in files + [Path(root) / "constraints.txt"]:
        if p.exists():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _check_cache(cache: Path, root: Path, quiet: bool) -> None:
    """jupyter-cache keys a notebook by its own code only: when lmlib or the pins changed,
    every chapter may change, so the cache of this mode is emptied first."""
    stamp, file = library_stamp(root), cache / "lmlib.sha256"
    if cache.exists() and (not file.exists() or file.read_text().strip() != stamp):
        if not quiet:
            print(f"coursekit.site: lmlib or constraints.txt changed since {cache} was "
                  f"filled: every chapter runs again")
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    file.write_text(stamp + "\n")


_ASSET = re.compile(r"<(script|link|img|iframe|source)\b[^>]*?\b(src|href)=[\"']"
                    r"((?:https?:)?//[^\"']+)", re.I)


def external_assets(site: Path) -> list[str]:
    """``PAGE: URL`` for every script, style sheet, image or frame that a page of ``site``
    would load from another site (links a reader clicks are fine)."""
    found = []
    for page in sorted(Path(site).rglob("*.html")):
        for m in _ASSET.finditer(page.read_text(encoding="utf-8")):
            tag = m.group(0).lower()
            if m.group(1).lower() == "link" and not re.search(
                    r"rel=[\"'](stylesheet|preload|icon|modulepreload)", tag):
                continue
            found.append(f"{page.relative_to(site).as_posix()}: {m.group(3)}")
    return found


def _prune_pages(out: Path, src: Path) -> None:
    """Remove the pages of ``out`` whose source is no longer staged in ``src`` (a chapter
    renamed or left out with ``--only``): Sphinx never deletes a page it wrote."""
    sources = {p.relative_to(src).with_suffix("").as_posix()
               for ext in ("*.md", "*.ipynb") for p in src.rglob(ext)
               if not p.relative_to(src).parts[0].startswith("_")}
    keep = sources | {"genindex", "search", "py-modindex"}
    for page in out.rglob("*.html") if out.is_dir() else []:
        rel = page.relative_to(out)
        if not rel.parts[0].startswith("_") and rel.with_suffix("").as_posix() not in keep:
            page.unlink()


@contextlib.contextmanager
def _environ(changes: dict[str, str | None]):
    """``os.environ`` with ``changes`` (None: unset) inside the block, as before after it."""
    saved = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build(fast: bool = False, out: Path | None = None, root: Path = ROOT,
          only: list[str] | None = None, jobs: str = "1", work: Path | None = None,
          vendor_cache: Path | None = None, strict: bool = False, quiet: bool = False,
          static_widgets: bool = False) -> Path:
    """Stage and build the site; returns the folder holding ``index.html``.

    ``fast`` runs the chapters in fast mode (``LMLIB_FAST=1``) with their own cache;
    ``work`` holds the staged pages, doctrees and execution cache (default ``build/``);
    ``jobs`` is Sphinx's ``-j`` (chapters execute in parallel); ``strict`` turns warnings
    into errors; ``static_widgets`` runs the kernels with ``LMLIB_WIDGETS=static``, so that
    widgets leave only their static twins (the fallback if embedding ever breaks)."""
    from sphinx.cmd.build import build_main

    root = Path(root)
    mode = "fast" if fast else "full"
    key = mode + ("-static" if static_widgets else "")   # outputs differ: own cache
    work = Path(work or root / "build")
    out = Path(out or work / ("site-fast" if fast else "site"))
    src = work / "site-src" / mode
    stage(src, root, only, vendor_cache or work / "site-vendor")
    cache = (work / "site-cache" / key).resolve()
    _check_cache(cache, root, quiet)

    paths = os.environ.get("PYTHONPATH", "")
    env = {  # for the kernels (they inherit it) and for site/conf.py
        "LMLIB_FAST": "1" if fast else "0",
        "MPLBACKEND": None,                        # the kernels draw inline PNGs
        "LMLIB_WIDGETS": "static" if static_widgets else os.environ.get("LMLIB_WIDGETS"),
        "COURSEKIT_SITE_CACHE": str(cache),
        "COURSEKIT_SITE_STATIC": str((src / "_static").resolve()),
        "COURSEKIT_SITE_REPO": repository_url(root),
        # the kernels import this checkout's lmlib
        "PYTHONPATH": paths if str(root) in paths.split(os.pathsep)
        else os.pathsep.join(p for p in (str(root), paths) if p),
    }
    args = ["-b", "html", "-c", str(root / "site"), "-d", str(work / "site-doctrees" / key),
            "-j", str(jobs), str(src), str(out)]
    if strict:
        args[:0] = ["-W", "--keep-going"]
    if quiet:
        args[:0] = ["-q"]
    start = time.perf_counter()
    with _environ(env):
        rc = build_main(args)
    _prune_pages(out, src)
    if rc != 0:
        raise SiteError(f"sphinx-build failed (exit {rc}); see the log above and "
                        f"{out}/reports/ for notebook tracebacks")
    outside = external_assets(out)
    if outside:
        listing = "\n  ".join(outside[:20])
        message = f"{len(outside)} asset(s) would load from another site:\n  {listing}"
        if strict:
            raise SiteError(message)
        print(f"coursekit.site: warning: {message}", file=sys.stderr)
    if not quiet:
        print(f"site ({mode} mode) built in {time.perf_counter() - start:.0f} s: "
              f"{out / 'index.html'}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.site", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true",
                        help="run the chapters in fast mode (LMLIB_FAST=1), into build/site-fast")
    parser.add_argument("--out", type=Path, help="output folder (default build/site[-fast])")
    parser.add_argument("--only", nargs="+", metavar="NN",
                        help="only these chapters (numbers or stems), for a quick look")
    parser.add_argument("-j", "--jobs", default="1",
                        help="chapters executed in parallel (a number or 'auto'; default 1)")
    parser.add_argument("--strict", action="store_true", help="warnings are errors")
    parser.add_argument("--static-widgets", action="store_true",
                        help="widgets as their static figures only (LMLIB_WIDGETS=static)")
    args = parser.parse_args(argv)
    shared = ROOT.parent / "shared" / "data"   # the course's own machines (as in the Makefile)
    if shared.is_dir():
        os.environ.setdefault("LMLIB_DATA_DIR", str(shared))
    try:
        build(fast=args.fast, out=args.out, only=args.only, jobs=args.jobs, strict=args.strict,
              static_widgets=args.static_widgets)
    except (SiteError, ValueError) as err:
        print(f"coursekit.site: {err}", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------- Sphinx extension

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TWIN_MIMES = ("image/png", "image/svg+xml", "image/jpeg")


def _widget_with_twin(doctree) -> None:
    """Each output that is both a widget view and a picture (lmlib's explorers: the static
    twin rides in the same bundle) becomes a ``lm-widget`` box holding both; ``course.js``
    hides the twin once the widget has drawn itself, and keeps it where it has not."""
    from docutils import nodes

    for bundle in list(doctree.findall(nodes.container)):
        if bundle.get("nb_element") != "mime_bundle":
            continue
        kids = {c.get("mime_type"): c for c in bundle.children}
        twin = next((kids[m] for m in TWIN_MIMES if m in kids), None)
        if WIDGET_VIEW not in kids or twin is None:
            continue
        box = nodes.container(classes=["lm-widget"])
        box += nodes.container("", *kids[WIDGET_VIEW].children, classes=["lm-widget-live"])
        note = nodes.paragraph(classes=["lm-widget-note"])
        note += nodes.Text("Interactive snapshot: the widget as the notebook left it. Its "
                           "controls need the Python kernel; open the notebook (links at the "
                           "top) to use them.")
        box += note
        box += nodes.container("", *twin.children, classes=["lm-widget-twin"])
        bundle.replace_self(box)


def setup(app):
    """Sphinx extension: widget + static twin (see :func:`_widget_with_twin`), run before
    MyST-NB picks one type from each output bundle."""
    from sphinx.transforms.post_transforms import SphinxPostTransform

    class WidgetWithTwin(SphinxPostTransform):
        default_priority = 3      # MyST-NB's SelectMimeType runs at 4
        formats = ("html",)

        def run(self, **kwargs) -> None:
            _widget_with_twin(self.document)

    app.add_post_transform(WidgetWithTwin)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(main())
