"""The README's pictures, made from the real code: ``make figures``, or

    python -m coursekit.figures [--only results|widgets] [--out docs/figures]

- ``results``: the validation loss on Tiny Shakespeare of every model family that is cheap
  to score (the n-grams are counted, the neural models are the shipped checkpoints, read
  when the command runs), computed with the same calls as ``make bench``; written as
  ``results.json`` (model, family, loss, the call that computed it) and ``results.png``
  (a bar chart). 15-25 s on one core.
- ``widgets``: screenshots of the AttentionExplorer (chapter 05) and the SamplingExplorer
  (chapter 09) on the shipped GPT, taken in a real JupyterLab in headless Chromium after
  using them as a learner would (``attention_explorer.png``, ``sampling_explorer.png``).
  Needs Playwright (the ``dev`` extra) and Chromium (``apt-get install chromium``); without
  them the command says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lmlib.scoring import score

__all__ = ["PARTS", "Result", "shakespeare_results", "write_results", "plot_results",
           "widget_screenshots", "make_figures", "main"]

COURSE_ROOT = Path(__file__).resolve().parent.parent
OUT = COURSE_ROOT / "docs" / "figures"
PARTS = ("results", "curve", "widgets")

# one colour per family (Okabe-Ito, readable by colour-blind readers)
FAMILY_COLORS = {"baseline": "#999999", "n-gram": "#0072B2", "attention": "#E69F00",
                 "recurrent": "#009E73", "transformer": "#D55E00"}


@dataclass
class Result:
    """One bar of the chart: a model (its key in :data:`MODELS` and its label), its family,
    its loss on Shakespeare val (nats/char) and the call that computed it."""

    key: str
    model: str
    family: str
    loss: float
    computed_by: str


# ---------------------------------------------------------------------------- results
def _ngram(order: int, smoothing: str, **kwargs):
    """A function of ``(train, val, V)``: the val score of an n-gram fitted on train."""
    from lmlib.ngram import NGramLM

    return lambda train, val, V: score(NGramLM(order, smoothing, **kwargs).fit(train, V), val)


def _uniform(train, val, V) -> float:
    from lmlib import metrics

    return metrics.nll(np.full(len(val) - 1, 1.0 / V))


def _attention_lm(train, val, V) -> float:
    from lmlib.pretrained import load_pretrained

    return score(load_pretrained("shakespeare-attention")[0], val)


def _lstm(train, val, V) -> float:
    from lmlib.pretrained import load_pretrained

    return score(load_pretrained("shakespeare-lstm")[0], val)


def _gpt(train, val, V) -> float:
    from lmlib.pretrained import load_pretrained

    return score(load_pretrained("shakespeare-gpt")[0], val)


def _gpt_label() -> str:
    """The shipped GPT's shape, read from its checkpoint (it may be retrained)."""
    from lmlib.pretrained import load_pretrained

    c = load_pretrained("shakespeare-gpt")[0].config
    return f"GPT {c.n_layer} layers × {c.n_head} heads × {c.n_embd} (shipped)"


# key -> (model, family, what is scored, function of (train, val, V)), the course's order;
# ``model`` may be a function giving the label when the checkpoint is read. Every loss is
# lmlib.scoring.score(model, val): the course's one protocol.
MODELS = {
    "uniform": ("uniform", "baseline", "1/V for every val character (ch00)", _uniform),
    "unigram": ("unigram", "baseline", "NGramLM(1, 'mle') (ch00)", _ngram(1, "mle")),
    "bigram-add1": ("bigram, add-1", "n-gram", "NGramLM(2, 'add-k', k=1.0) (ch01)",
                    _ngram(2, "add-k", k=1.0)),
    "5gram-addk": ("5-gram, add-k (k = 0.01)", "n-gram", "NGramLM(5, 'add-k', k=0.01) (ch01)",
                   _ngram(5, "add-k", k=0.01)),
    "6gram-kn": ("6-gram Kneser–Ney", "n-gram", "NGramLM(6, 'kneser-ney'), D = 0.75 (ch01)",
                 _ngram(6, "kneser-ney")),
    "7gram-mkn": ("7-gram modified Kneser–Ney", "n-gram",
                  "NGramLM(7, 'modified-kneser-ney') (ch01)", _ngram(7, "modified-kneser-ney")),
    "attention": ("attention LM (pre-LN blocks), 2 layers × 4 heads (shipped)", "attention",
                  "the shipped chapter-05 model (ch05)", _attention_lm),
    "lstm": ("LSTM 1 × 384 (shipped)", "recurrent", "the shipped LSTM, one stream (ch04)", _lstm),
    "gpt": (_gpt_label, "transformer", "the shipped GPT, windows sliding by half a block (ch07)",
            _gpt),
}


def shakespeare_results(keys=None, verbose: bool = False) -> list[Result]:
    """The models of :data:`MODELS` named by ``keys`` (default: all) scored on the
    Shakespeare val split (nats/char)."""
    from lmlib.data import shakespeare

    keys = list(MODELS) if keys is None else list(keys)
    unknown = [k for k in keys if k not in MODELS]
    if unknown or not keys:
        raise ValueError(f"keys must be a non-empty list of {list(MODELS)}, got {keys!r}")
    tok, train, val = shakespeare()
    out = []
    for key in keys:
        model, family, how, loss = MODELS[key]
        start = time.perf_counter()
        value = float(loss(train, val, tok.vocab_size))
        model = model() if callable(model) else model
        if verbose:
            print(f"  {model}: {value:.4f} nats/char ({time.perf_counter() - start:.1f} s)",
                  flush=True)
        out.append(Result(key, model, family, value, how))
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_results(results: list[Result], path: Path) -> Path:
    """``results.json``: the numbers of the chart, and the checkpoints they come from."""
    from lmlib.pretrained import PRETRAINED

    assets = [PRETRAINED[name] for name in ("shakespeare-attention", "shakespeare-lstm",
                                            "shakespeare-gpt")]
    record = {
        "what": "loss on Tiny Shakespeare val (the last 10%, 111,540 characters), nats per "
                "character, lower is better",
        "protocol": "lmlib.scoring.score: every character after the first predicted once; "
                    "fixed-context models through windows sliding by half a window, recurrent "
                    "models as one stream, n-grams with their order",
        "command": "make figures (python -m coursekit.figures)",
        "results": [asdict(r) for r in results],
        "checkpoints": {f"lmlib/assets/{p.name}": {"sha256": _sha256(p)}
                        for p in assets if p.is_file()},
    }
    path = Path(path)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def plot_results(results: list[Result], path: Path) -> Path:
    """A horizontal bar chart of ``results`` (course order, top to bottom), coloured by
    family, the value on each bar and a dashed line at the best n-gram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results must hold at least one Result, got none")
    labels = [r.model for r in results]
    losses = [r.loss for r in results]
    ys = np.arange(len(results))[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(results) + 1.3), dpi=120)
    ax.barh(ys, losses, color=[FAMILY_COLORS.get(r.family, "#333333") for r in results],
            height=0.7, zorder=2)
    for y, v in zip(ys, losses):   # on a white box, so that the dashed line passes behind
        ax.text(v + 0.03, y, f"{v:.4f}", va="center", fontsize=9, zorder=3,
                bbox=dict(facecolor="white", edgecolor="none", pad=1))
    ngrams = [r.loss for r in results if r.family == "n-gram"]
    if ngrams:
        best = min(ngrams)
        ax.axvline(best, color=FAMILY_COLORS["n-gram"], linestyle="--", linewidth=1, zorder=1)
        ax.text(best, len(results) - 0.35, f" best n-gram {best:.4f}", fontsize=8,
                color=FAMILY_COLORS["n-gram"], va="bottom")
    ax.set_yticks(ys, labels, fontsize=9)
    ax.set_xlim(0, max(losses) * 1.12)
    ax.set_ylim(-0.6, len(results) - 0.1)
    ax.set_xlabel("validation loss, nats per character (lower is better)")
    ax.set_title("Tiny Shakespeare, validation split (111,540 characters)", fontsize=11)
    families = list(dict.fromkeys(r.family for r in results))
    handles = [plt.Rectangle((0, 0), 1, 1, color=FAMILY_COLORS.get(f, "#333333"))
               for f in families]
    ax.legend(handles, families, fontsize=8, loc="lower right", framealpha=0.95)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, metadata={"Software": None})   # no version stamp: same input, same file
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------- widgets
ATTENTION_TEXT = "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east"
SAMPLING_PROMPT = "ROMEO:\n"

_CELLS = [
    """import torch

import lmlib
from lmlib.pretrained import load_pretrained
from lmlib.viz import AttentionExplorer, SamplingExplorer

lmlib.setup()
model, tok = load_pretrained("shakespeare-gpt")""",
    f"""text = {ATTENTION_TEXT!r}
with torch.no_grad():
    _, _, attn = model(torch.as_tensor(tok.encode(text))[None], return_attention=True)
explorer = AttentionExplorer(attn[:, 0], list(text))
explorer.add_class("lmlib-figure-attention")
explorer""",
    f"""sampler = SamplingExplorer(model, tok, {SAMPLING_PROMPT!r}, top_p=0.95)
sampler.add_class("lmlib-figure-sampling")
sampler""",
]


def _write_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in _CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def _sharpest_head() -> tuple[int, int]:
    """(layer, head) of the shipped GPT whose attention over :data:`ATTENTION_TEXT` has the
    lowest mean entropy (the most focused head): the head the screenshot selects."""
    import torch

    from lmlib.pretrained import load_pretrained
    from lmlib.viz.attention import head_scores

    model, tok = load_pretrained("shakespeare-gpt")
    with torch.no_grad():
        _, _, attn = model(torch.as_tensor(tok.encode(ATTENTION_TEXT))[None],
                           return_attention=True)
    entropy = head_scores(attn[:, 0].numpy())["entropy"]
    layer, head = np.unravel_index(entropy.argmin(), entropy.shape)
    return int(layer), int(head)


def _wait_changed(page, locator, old: str, timeout: int = 20_000) -> None:
    page.wait_for_function("([el, old]) => el.textContent !== old",
                           arg=[locator.element_handle(), old], timeout=timeout)


def _shoot_attention(page, path: Path) -> str:
    """Select the most focused head (layer selector, then its thumbnail), click a query
    character so the text is tinted by its weights, and screenshot the widget. Returns the
    widget's caption (written by the kernel)."""
    layer, head = _sharpest_head()
    explorer = page.locator(".lmlib-attention-explorer.lmlib-figure-attention")
    explorer.wait_for(timeout=120_000)
    explorer.scroll_into_view_if_needed()
    caption = explorer.locator(".lmlib-attn-caption")
    page.wait_for_function("el => el.textContent.length > 0", arg=caption.element_handle())
    if layer != 0:
        old = caption.inner_text()
        explorer.locator(".lmlib-attention-layer select").select_option(label=f"layer {layer}")
        _wait_changed(page, caption, old)
    if head != 0:
        old = caption.inner_text()
        explorer.locator(".lmlib-attn-thumb").nth(head).click()
        _wait_changed(page, caption, old)
    query = ATTENTION_TEXT.index("yonder") + 3          # the 'd' of "yonder"
    explorer.locator(".lmlib-attn-token").nth(query).click()
    page.wait_for_function("([el, q]) => el.textContent.includes('Query ' + q)",
                           arg=[caption.element_handle(), query], timeout=20_000)
    text = caption.inner_text()
    if not text.startswith(f"layer {layer}, head {head}:"):
        raise RuntimeError(f"the explorer shows {text!r}, not layer {layer} head {head}")
    page.mouse.move(0, 0)
    explorer.screenshot(path=str(path))
    return text


def _shoot_sampling(page, path: Path, min_steps: int = 20, max_steps: int = 80,
                    min_entropy: float = 1.0) -> str:
    """Set the temperature to about 0.8, press "step" at least ``min_steps`` times and
    until the next character is uncertain (entropy >= ``min_entropy`` nats, at most
    ``max_steps``), draw a histogram of samples, and screenshot the widget. Returns the
    widget's status line."""
    explorer = page.locator(".lmlib-sampling-explorer.lmlib-figure-sampling")
    explorer.wait_for(timeout=60_000)
    explorer.scroll_into_view_if_needed()
    table = explorer.locator(".lmlib-sampling-table")
    page.wait_for_function("el => el.querySelectorAll('td.prob').length > 0",
                           arg=table.element_handle(), timeout=20_000)
    old = table.inner_text()
    readout = explorer.locator(".lmlib-sampling-temperature .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("0.8")
    page.keyboard.press("Enter")
    _wait_changed(page, table, old)
    text = explorer.locator(".lmlib-sampling-text")
    status = explorer.locator(".lmlib-sampling-status")
    for step in range(max_steps):
        entropy = float(re.search(r"entropy ([\d.]+) nats", status.inner_text()).group(1))
        if step >= min_steps and entropy >= min_entropy:
            break
        before = len(text.inner_text())
        explorer.locator(".lmlib-sampling-step").click()
        page.wait_for_function("([el, n]) => el.innerText.length > n",
                               arg=[text.element_handle(), before], timeout=20_000)
    explorer.locator(".lmlib-sampling-sample").click()
    page.wait_for_function("el => el.innerText.includes('samples')",
                           arg=explorer.locator(".lmlib-sampling-histogram").element_handle(),
                           timeout=20_000)
    page.mouse.move(0, 0)
    explorer.screenshot(path=str(path))
    return status.inner_text()


def widget_screenshots(out: Path, verbose: bool = False) -> list[Path]:
    """Screenshots of both explorers, used in a real JupyterLab in headless Chromium:
    ``out/attention_explorer.png`` and ``out/sampling_explorer.png``.

    Raises ``coursekit.browser.ChromiumMissing`` without Chromium and
    ``coursekit.browser.PlaywrightMissing`` without Playwright."""
    from coursekit.browser import (
        CHROMIUM_ARGS,
        find_chromium,
        jupyter_lab,
        open_and_run_all,
        sync_playwright,
    )

    executable = find_chromium("python -m coursekit.figures --only widgets")
    playwright = sync_playwright()   # before starting anything: it may be missing
    out = Path(out)
    paths = [out / "attention_explorer.png", out / "sampling_explorer.png"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "src").mkdir()
        notebook = _write_notebook(tmp / "src" / "readme_figures.ipynb")
        with jupyter_lab(notebook, tmp) as (base, token, log), playwright as p:
            browser = p.chromium.launch(executable_path=executable, headless=True,
                                        args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                open_and_run_all(page, base, token, notebook.name)
                captions = [_shoot_attention(page, paths[0]), _shoot_sampling(page, paths[1])]
                if verbose:
                    for path, caption in zip(paths, captions):
                        print(f"  {path.name}: {caption}", flush=True)
            except Exception:
                print("JupyterLab log:\n" + log.read_text(encoding="utf-8")[-3000:],
                      file=sys.stderr)
                raise
            finally:
                browser.close()
    return paths


# ---------------------------------------------------------------------------- command
def plot_curve(curve: Path, path: Path) -> Path:
    """The compute curve (``python -m coursekit.bench.curve``) drawn by chapter 07's own
    ``lmlib.viz.plot_compute_curve``, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmlib.viz.curve import plot_compute_curve

    points = json.loads(Path(curve).read_text(encoding="utf-8"))["points"]
    if not points:
        raise ValueError(f"{curve} holds no points yet: run python -m coursekit.bench.curve")
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    plot_compute_curve(points, ax=ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def make_figures(out: Path = OUT, only: str | None = None, verbose: bool = True) -> list[Path]:
    """Write the figures of ``only`` (``"results"``, ``"widgets"``, or ``None`` for both)
    into ``out``; returns the paths written."""
    if only is not None and only not in PARTS:
        raise ValueError(f"only must be one of {PARTS} or None, got {only!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if only in (None, "results"):
        start = time.perf_counter()
        if verbose:
            print("results: scoring every model on Shakespeare val ...", flush=True)
        results = shakespeare_results(verbose=verbose)
        written += [write_results(results, out / "results.json"),
                    plot_results(results, out / "results.png")]
        if verbose:
            print(f"results: {time.perf_counter() - start:.1f} s", flush=True)
    from lmlib.pretrained import COMPUTE_CURVE

    if only in (None, "curve") and COMPUTE_CURVE.is_file():
        written.append(plot_curve(COMPUTE_CURVE, out / "compute_curve.png"))
    if only in (None, "widgets"):
        start = time.perf_counter()
        if verbose:
            print("widgets: JupyterLab + headless Chromium ...", flush=True)
        written += widget_screenshots(out, verbose=verbose)
        if verbose:
            print(f"widgets: {time.perf_counter() - start:.1f} s", flush=True)
    return written


def main(argv=None) -> int:
    from coursekit.browser import ChromiumMissing, PlaywrightMissing

    parser = argparse.ArgumentParser(prog="python -m coursekit.figures",
                                     description="Make the README's figures from the code.")
    parser.add_argument("--only", choices=PARTS, default=None,
                        help="make only this part (default: both)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help=f"output folder (default: {OUT.relative_to(COURSE_ROOT)})")
    args = parser.parse_args(argv)
    try:
        paths = make_figures(args.out, args.only)
    except (ChromiumMissing, PlaywrightMissing) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for p in paths:
        print(f"wrote {p} ({p.stat().st_size / 1000:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
