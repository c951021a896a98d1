"""See decoding: the :class:`SamplingExplorer` widget and its static twins.

- :func:`next_token_table`: the whole pipeline for one next-token distribution, as arrays
  (what the widget's table shows): logits -> logits / T -> probability -> cumulative ->
  kept by top-k / top-p / min-p -> final probability.
- :func:`plot_next_token`: the static twin (a matplotlib figure): probability bars, the
  part removed by the filters in grey, the cut-off drawn.
- :func:`plot_sampling`: a histogram of N sampled tokens against the distribution.
- :class:`SamplingExplorer`: the live widget (ipywidgets only: nothing comes from a CDN).
  Without a running kernel (GitHub, an exported notebook) it shows ``plot_next_token`` of
  its current state as a PNG and a one-line text description.

The filters are :mod:`lmlib.sampling`'s, with the same rules; in the widget, 0 turns top-k
and min-p off and 1 turns top-p off.
"""

from __future__ import annotations

import html
import time

import numpy as np

from lmlib import sampling
from lmlib.viz.static import StaticTwinBox

__all__ = ["next_token_table", "plot_next_token", "plot_sampling", "SamplingExplorer",
           "token_labels"]

KEPT_COLOUR = "#1f77b4"
REMOVED_COLOUR = "#c8c8c8"
CUT_COLOUR = "#d62728"
SAMPLED_COLOUR = "#ff7f0e"


# ----------------------------------------------------------------------------- the pipeline

def _label(token: str) -> str:
    """A visible label for a token: spaces and line breaks made readable."""
    return token.replace("\n", "\u21b5").replace(" ", "\u2423").replace("\t", "\u21e5") or "\u2205"


def token_labels(vocab, V: int) -> list[str]:
    """``V`` strings naming the token ids: from a tokenizer (``itos``, or ``decode([i])``),
    a list of strings, or ``None`` (the ids themselves)."""
    if vocab is None:
        return [str(i) for i in range(V)]
    if hasattr(vocab, "itos"):
        labels = list(vocab.itos)
    elif hasattr(vocab, "decode"):
        labels = [vocab.decode([i]) for i in range(V)]
    elif isinstance(vocab, str):
        labels = list(vocab)
    else:
        try:
            labels = [str(t) for t in vocab]
        except TypeError:
            raise TypeError(f"vocab must be a tokenizer, a list of strings or None, got "
                            f"{type(vocab).__name__}") from None
    if len(labels) != V:
        raise ValueError(f"vocab names {len(labels)} tokens but the logits have V = {V}")
    return [str(t) for t in labels]


def _settings(temperature, top_k, top_p, min_p):
    """Widget settings -> lmlib.sampling arguments (0 / 1 mean "off")."""
    k = None if top_k in (None, 0) else top_k
    p = None if top_p in (None, 1, 1.0) else top_p
    m = None if min_p in (None, 0, 0.0) else min_p
    return temperature, k, p, m


def next_token_table(logits, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None, min_p: float | None = None) -> dict:
    """Every stage of the decoding pipeline for one distribution, tokens sorted from most to
    least likely (ties: the higher id first, the order top-p uses, so that the kept tokens
    are always a prefix of the table).

    ``logits`` (V,) NumPy or torch; ``temperature = 0`` is greedy. ``top_k = 0``,
    ``top_p = 1`` and ``min_p = 0`` mean "off", like ``None``.

    Returns a dict of arrays of length V, in table order: ``order`` (token ids), ``logit``,
    ``scaled`` (logit / T; the logits themselves when greedy), ``prob`` (softmax of the
    scaled logits, before filtering), ``cum`` (its running sum), ``kept`` (bool),
    ``final`` (the distribution actually sampled), plus ``entropy`` (nats, of ``final``),
    ``n_kept`` and ``greedy``.
    """
    if hasattr(logits, "detach"):
        logits = logits.detach().double().cpu().numpy()
    x = sampling._as_logits(np.asarray(logits, dtype=np.float64))
    if x.ndim != 1:
        raise ValueError(f"logits must have shape (V,), got {x.shape}")
    t, k, p, m = _settings(temperature, top_k, top_p, min_p)
    t = sampling._check_sampling(t, k, p, m)
    greedy = t == 0
    with np.errstate(over="ignore"):
        scaled = x.copy() if greedy else x / t                    # what the table shows
        work = x - x.max() if greedy else (x - x.max()) / t       # the same, shifted: no overflow
    prob = sampling.softmax(work)
    if greedy:
        filtered = np.full_like(x, -np.inf)
        filtered[int(np.argmax(x))] = 0.0
    else:
        filtered = sampling._filter(work, k, p, m)
    kept = np.isfinite(filtered)
    final = np.where(kept, prob, 0.0)
    final = final / final.sum()
    order = np.argsort(work, kind="stable")[::-1]
    if greedy:  # the argmax (first on a tie) on top
        best = int(np.argmax(x))
        order = np.concatenate([[best], order[order != best]])
    nz = final[final > 0]
    return dict(order=order, logit=x[order], scaled=scaled[order], prob=prob[order],
                cum=np.cumsum(prob[order]), kept=kept[order], final=final[order],
                entropy=max(0.0, float(-(nz * np.log(nz)).sum())), n_kept=int(kept.sum()),
                greedy=greedy)


def _describe_settings(temperature, top_k, top_p, min_p) -> str:
    t, k, p, m = _settings(temperature, top_k, top_p, min_p)
    if t == 0:
        return "greedy (T = 0)"
    return (f"T = {t:.3g}, top-k {k if k else 'off'}, top-p {p if p else 'off'}, "
            f"min-p {m if m else 'off'}")


# ----------------------------------------------------------------------------- static twins

def plot_next_token(logits, vocab=None, *, temperature: float = 1.0, top_k: int | None = None,
                    top_p: float | None = None, min_p: float | None = None, rows: int = 20,
                    context: str | None = None, ax=None):
    """The static twin of :class:`SamplingExplorer`: horizontal probability bars of the
    ``rows`` most likely next tokens.

    Grey: the probability after the temperature, before filtering; blue: the final
    probability of the tokens the filters keep (renormalised); the red dashed line is the
    cut-off between kept and removed tokens. ``vocab`` names the tokens (a tokenizer, a list
    of strings, or None). Returns the ``Figure``; bad input is a ``ValueError``.
    """
    import matplotlib.pyplot as plt

    tab = next_token_table(logits, temperature, top_k, top_p, min_p)
    V = len(tab["order"])
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    labels = token_labels(vocab, V)
    n = min(rows, V)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.26 * n), layout="constrained")
    else:
        fig = ax.figure
    y = np.arange(n)
    names = [repr(_label(labels[i]))[1:-1] for i in tab["order"][:n]]
    ax.barh(y, tab["prob"][:n], color=REMOVED_COLOUR, height=0.8,
            label="after temperature, before filters")
    ax.barh(y, tab["final"][:n], color=KEPT_COLOUR, height=0.5, label="sampled from (kept)")
    ax.set_yticks(y, names, family="monospace", fontsize=8)
    ax.invert_yaxis()
    cut = tab["n_kept"]
    if cut < n:
        ax.axhline(cut - 0.5, color=CUT_COLOUR, ls="--", lw=1.5, label="cut-off")
    for i in range(n):
        if tab["final"][i] > 0:
            ax.text(tab["final"][i], i, f" {tab['final'][i]:.3f}", va="center", fontsize=7)
    ax.set_xlim(0, min(1.0, max(tab["prob"][:n].max(), tab["final"][:n].max()) * 1.18 + 0.02))
    ax.set_xlabel("probability")
    ax.grid(axis="y", visible=False)
    head = f"next token after {context!r}\n" if context else ""
    ax.set_title(f"{head}{_describe_settings(temperature, top_k, top_p, min_p)}: "
                 f"{cut} of {V} tokens kept, entropy {tab['entropy']:.2f} nats", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_sampling(logits, vocab=None, n: int = 1000, *, seed: int = 0,
                  temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, min_p: float | None = None, rows: int = 15):
    """``n`` tokens sampled from the filtered distribution (with ``seed``): their share
    against the probabilities they were drawn with, for the ``rows`` most likely tokens.
    Returns the ``Figure``."""
    import matplotlib.pyplot as plt

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    tab = next_token_table(logits, temperature, top_k, top_p, min_p)
    V = len(tab["order"])
    labels = token_labels(vocab, V)
    counts = _draw_counts(tab, n, seed)
    m = min(rows, V)
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.26 * m), layout="constrained")
    y = np.arange(m)
    ax.barh(y - 0.2, tab["final"][:m], height=0.4, color=KEPT_COLOUR, label="probability")
    ax.barh(y + 0.2, counts[:m] / n, height=0.4, color=SAMPLED_COLOUR,
            label=f"share of {n} samples")
    ax.set_yticks(y, [repr(_label(labels[i]))[1:-1] for i in tab["order"][:m]],
                  family="monospace", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("probability / share")
    ax.grid(axis="y", visible=False)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"{n} samples, seed {seed}: "
                 f"{_describe_settings(temperature, top_k, top_p, min_p)}", fontsize=9)
    return fig


def _draw_counts(tab: dict, n: int, seed: int) -> np.ndarray:
    """Counts of ``n`` draws from ``tab['final']``, in table order."""
    rng = np.random.default_rng(int(seed))
    return rng.multinomial(n, tab["final"] / tab["final"].sum()).astype(np.int64)




# ----------------------------------------------------------------------------- the widget

def _check_knobs(temperature, rows, n, seed, temperatures) -> None:
    """The explorer's own arguments: a ValueError/TypeError naming the one that is wrong."""
    low, high = temperatures
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if temperature != 0 and not low <= temperature <= high:
        raise ValueError(f"temperature must be 0 (greedy) or in [{low}, {high}] (the "
                         f"slider's range), got {temperature!r}")
    for name, value, least in (("rows", rows, 1), ("n", n, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int >= {least}, got {type(value).__name__} "
                            f"{value!r}")
        if value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")


_CSS = """<style>
.lmlib-sampling-table table {border-collapse: collapse; font-size: 12px;}
.lmlib-sampling-table th, .lmlib-sampling-table td {padding: 1px 6px; text-align: right;}
.lmlib-sampling-table td.tok {font-family: monospace; text-align: left;}
.lmlib-sampling-table tr.removed td {color: #999;}
.lmlib-sampling-table tr.cut td {border-top: 2px dashed %s;}
.lmlib-sampling-explorer .bar {display: inline-block; height: 10px; vertical-align: middle;}
.lmlib-sampling-histogram table {border-collapse: collapse; font-size: 12px;}
.lmlib-sampling-histogram td {padding: 0 6px; text-align: right;}
.lmlib-sampling-histogram td.tok {font-family: monospace; text-align: left;}
.lmlib-sampling-histogram .hbar {height: 5px; margin: 1px 0;}
.lmlib-sampling-text {font-family: monospace; white-space: pre-wrap; font-size: 13px;
  border: 1px solid #ddd; padding: 4px; max-height: 180px; overflow-y: auto;}
.lmlib-sampling-error {color: #b00020;}
</style>""" % CUT_COLOUR


def _model_logits(model, ids: list[int]) -> np.ndarray:
    import torch

    block = getattr(getattr(model, "config", None), "block_size", None)
    context = ids[-block:] if block else ids
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(torch.tensor([context], dtype=torch.long, device=device))[0]
    finally:
        model.train(was_training)
    return logits[0, -1].double().cpu().numpy()


class SamplingExplorer(StaticTwinBox):
    """Play with the knobs of decoding, in JupyterLab.

    ``SamplingExplorer(model, tokenizer, prompt)`` shows the distribution of the token that
    follows ``prompt``; ``SamplingExplorer(logits=..., tokenizer=...)`` (or
    :meth:`from_logits`) explores a fixed distribution (no "step" then).

    Controls: temperature (log scale, 0.01 to 10; 0 is the greedy mode), top-k (0 = off), top-p (1 = off), min-p
    (0 = off), and a mode toggle (sample / greedy). It shows the pipeline table (token,
    logit, logit / T, probability, cumulative probability, kept, and the final probability
    as a bar, with the cut-off drawn as a red dashed line), the entropy, a "sample N"
    histogram with a seed, and "step": sample a token, append it, show the next
    distribution; the generated text is tinted by the probability of each token.
    Impossible settings are rejected with a message. Updates take well under 200 ms
    (``last_update_ms``).
    """

    TEMPERATURES = (0.01, 10.0)
    """The temperature slider's range (log scale); 0 is greedy (the mode toggle)."""

    def __init__(self, model=None, tokenizer=None, prompt: str = "\n", *, logits=None,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 min_p: float = 0.0, rows: int = 12, n: int = 200, seed: int = 0):
        import ipywidgets as w

        super().__init__()
        self.add_class("lmlib-sampling-explorer")
        self.model, self.tokenizer, self.rows = model, tokenizer, rows
        self.error: str | None = None
        self.last_update_ms = 0.0
        self.generated: list[tuple[int, float]] = []  # (token id, its probability)
        self._rng = None
        self._logits = None
        self.counts = None  # last "sample N" result, in table order
        try:
            self._read_input(model, tokenizer, prompt, logits)
            _check_knobs(temperature, rows, n, seed, self.TEMPERATURES)
            next_token_table(self._logits, temperature, top_k, top_p, min_p)
        except (ValueError, TypeError) as err:
            self.error = str(err)
            box = w.HTML(f"<div class='lmlib-sampling-error'><b>SamplingExplorer cannot show "
                         f"this input.</b> {html.escape(self.error)}</div>")
            box.add_class("lmlib-sampling-error")
            self.children = [box]
            return
        self._make_controls(temperature, top_k, top_p, min_p, n, seed)
        self._wire()
        self.children = self._layout()
        self._update()
        self._render_text()

    def _read_input(self, model, tokenizer, prompt, logits) -> None:
        """Check the model (with tokenizer and prompt) or the logits; set the logits shown."""
        if (model is None) == (logits is None):
            raise ValueError("give either a model (with a tokenizer and a prompt) or "
                             "logits, not both or neither")
        if model is not None:
            import torch

            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
            if tokenizer is None or not hasattr(tokenizer, "encode"):
                raise TypeError("tokenizer must have encode/decode (e.g. a CharTokenizer)")
            if not isinstance(prompt, str) or not prompt:
                raise ValueError("prompt must be a non-empty str (the model needs at least "
                                 "one token to start from)")
            self.prompt_ids = [int(i) for i in tokenizer.encode(prompt)]
            self.prompt = prompt
            self._logits = _model_logits(model, self.prompt_ids)
        else:
            if hasattr(logits, "detach"):
                logits = logits.detach().double().cpu().numpy()
            self._logits = sampling._as_logits(np.asarray(logits, dtype=np.float64))
            if self._logits.ndim != 1:
                raise ValueError(f"logits must have shape (V,), got {self._logits.shape}")
            self.prompt_ids, self.prompt = [], ""
        self.labels = token_labels(tokenizer, len(self._logits))

    def _make_controls(self, temperature, top_k, top_p, min_p, n, seed) -> None:
        import ipywidgets as w

        lay, wide = w.Layout, {"description_width": "initial"}
        low, high = self.TEMPERATURES
        self.temperature = w.FloatLogSlider(value=temperature or 1.0, base=10,
                                            min=np.log10(low), max=np.log10(high), step=0.01,
                                            description="temperature", readout_format=".3g",
                                            continuous_update=True, style=wide,
                                            layout=lay(width="440px"))
        self.mode = w.ToggleButtons(options=["sample", "greedy"],  # temperature 0 = greedy
                                    value="greedy" if temperature == 0 else "sample",
                                    style={"button_width": "70px"})
        self.top_k = w.IntText(value=top_k, description="top-k (0 = off)", style=wide,
                               layout=lay(width="200px"),
                               tooltip=f"0 = off; 1 to {len(self._logits)}")
        self.top_p = w.FloatSlider(value=top_p, min=0.01, max=1.0, step=0.01,
                                   description="top-p", layout=lay(width="300px"))
        self.min_p = w.FloatSlider(value=min_p, min=0.0, max=1.0, step=0.01,
                                   description="min-p", layout=lay(width="300px"))
        self.n = w.IntText(value=n, description="N", style=wide, layout=lay(width="130px"))
        self.seed = w.IntText(value=seed, description="seed", style=wide,
                              layout=lay(width="130px"))
        self.sample_button = w.Button(description="sample N", icon="random")
        self.step_button = w.Button(description="step", icon="step-forward",
                                    disabled=self.model is None,
                                    tooltip="sample a token, append it, show the next "
                                            "distribution")
        self.reset_button = w.Button(description="reset text", disabled=self.model is None)
        self.status, self.table, self.histogram, self.text = (w.HTML() for _ in range(4))
        for widget, name in ((self.temperature, "temperature"), (self.mode, "mode"),
                             (self.sample_button, "sample"), (self.step_button, "step"),
                             (self.reset_button, "reset"), (self.status, "status"),
                             (self.table, "table"), (self.histogram, "histogram"),
                             (self.text, "text")):
            widget.add_class(f"lmlib-sampling-{name}")

    def _wire(self) -> None:
        for control in (self.temperature, self.mode, self.top_k, self.top_p, self.min_p):
            control.observe(self._update, names="value")
        self.seed.observe(self._on_seed, names="value")
        self.sample_button.on_click(lambda _: self.sample_n())
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self._on_seed()

    def _layout(self) -> list:
        import ipywidgets as w

        return [
            w.HTML(_CSS),
            w.HBox([self.temperature, self.mode]),
            w.HBox([self.top_k, self.top_p, self.min_p]),
            self.status,
            w.HBox([self.table, self.histogram], layout=w.Layout(align_items="flex-start")),
            w.HBox([self.n, self.seed, self.sample_button, self.step_button,
                    self.reset_button]),
            self.text,
        ]

    @classmethod
    def from_logits(cls, logits, tokenizer=None, **kwargs) -> SamplingExplorer:
        """Explore one fixed distribution: ``logits`` (V,), ``tokenizer`` (or a list of V
        strings, or None) to name the tokens."""
        return cls(None, tokenizer, logits=logits, **kwargs)

    # -- state
    def settings(self) -> dict:
        """The current settings as :func:`next_token_table` arguments."""
        return dict(temperature=0.0 if self.mode.value == "greedy" else self.temperature.value,
                    top_k=self.top_k.value, top_p=self.top_p.value, min_p=self.min_p.value)

    @property
    def logits(self) -> np.ndarray:
        """The next-token logits shown now, (V,)."""
        return self._logits

    def table_data(self) -> dict:
        """The pipeline table for the current logits and settings."""
        return next_token_table(self._logits, **self.settings())

    def _check(self) -> str | None:
        V = len(self._logits)
        k = self.top_k.value
        if not 0 <= k <= V:
            return f"top-k must be 0 (off) or between 1 and {V}, got {k}"
        if self.n.value < 1 or self.n.value > 1_000_000:
            return f"N must be between 1 and 1,000,000, got {self.n.value}"
        if self.seed.value < 0:
            return f"seed must be an int >= 0, got {self.seed.value}"
        return None

    def _on_seed(self, change=None) -> None:
        if self.seed.value < 0:  # NumPy refuses negative seeds: say so, keep the generator
            self._update()
            return
        self._rng = np.random.default_rng(int(self.seed.value))
        if change is not None and change.get("old", 0) < 0:  # clear the message
            self._update()

    # -- updates
    def _update(self, change=None) -> None:
        start = time.perf_counter()
        problem = self._check()
        if problem is None:
            try:
                tab = self.table_data()
            except ValueError as err:
                problem = str(err)
        if problem is not None:
            self.error = problem
            self.status.value = (f"<span class='lmlib-sampling-error'><b>Impossible setting:</b>"
                                 f" {html.escape(problem)}</span>")
            self.sample_button.disabled = True
            self.step_button.disabled = True
            self.last_update_ms = 1000 * (time.perf_counter() - start)
            return
        self.error = None
        self.sample_button.disabled = False
        self.step_button.disabled = self.model is None
        self.counts = None
        self.histogram.value = ""
        self.table.value = self._table_html(tab)
        best = tab["order"][0]
        self.status.value = (
            f"<b>entropy</b> {tab['entropy']:.3f} nats &nbsp;|&nbsp; <b>kept</b> "
            f"{tab['n_kept']} of {len(tab['order'])} tokens &nbsp;|&nbsp; most likely "
            f"<code>{html.escape(repr(self.labels[best]))}</code> "
            f"({tab['final'][0]:.3f})")
        self.last_update_ms = 1000 * (time.perf_counter() - start)

    def _table_html(self, tab: dict) -> str:
        n = min(self.rows, len(tab["order"]))
        greedy = tab["greedy"]
        head = ("<tr><th title='the token'>token</th><th>logit</th><th>logit / T</th>"
                "<th title='softmax of logit / T, before filtering'>probability</th>"
                "<th title='running sum of the probabilities (what top-p cuts)'>cumulative"
                "</th><th>kept</th><th title='renormalised over the kept tokens'>"
                "final probability</th></tr>")
        rows = []
        for i in range(n):
            kept = bool(tab["kept"][i])
            cls = [] if kept else ["removed"]
            if i == tab["n_kept"]:
                cls.append("cut")
            tok = html.escape(repr(self.labels[tab["order"][i]]))
            width = int(round(160 * tab["final"][i]))
            ghost = int(round(160 * tab["prob"][i]))
            bar = (f"<span class='bar' style='width:{width}px;background:{KEPT_COLOUR}'></span>"
                   f"<span class='bar' style='width:{max(ghost - width, 0)}px;"
                   f"background:{REMOVED_COLOUR}'></span> {tab['final'][i]:.3f}")
            scaled = "&mdash;" if greedy else f"{tab['scaled'][i]:.3f}"
            rows.append(f"<tr class='{' '.join(cls)}'><td class='tok'>{tok}</td>"
                        f"<td class='logit'>{tab['logit'][i]:.3f}</td>"
                        f"<td class='scaled'>{scaled}</td>"
                        f"<td class='prob'>{tab['prob'][i]:.4f}</td>"
                        f"<td class='cum'>{tab['cum'][i]:.4f}</td>"
                        f"<td class='kept'>{'&#10003;' if kept else '&#10007;'}</td>"
                        f"<td class='final' style='text-align:left'>{bar}</td></tr>")
        more = len(tab["order"]) - n
        foot = (f"<tr><td colspan='7' style='text-align:left;color:#777'>&hellip; {more} more "
                f"tokens (red dashed line: the cut-off)</td></tr>" if more > 0 else "")
        return f"<table>{head}{''.join(rows)}{foot}</table>"

    def sample_n(self) -> np.ndarray | None:
        """Draw N tokens (seeded) from the current distribution; show and return their
        counts in table order."""
        problem = self._check()
        if problem is not None or self.error is not None:
            self.status.value = (f"<span class='lmlib-sampling-error'><b>Impossible setting:"
                                 f"</b> {html.escape(problem or self.error)}</span>")
            return None
        start = time.perf_counter()
        tab = self.table_data()
        n = int(self.n.value)
        self.counts = _draw_counts(tab, n, int(self.seed.value))
        m = min(self.rows, len(tab["order"]))
        rows = []
        for i in range(m):
            tok = html.escape(repr(self.labels[tab["order"][i]]))
            share = self.counts[i] / n
            rows.append(
                f"<tr><td class='tok'>{tok}</td><td style='text-align:left;width:170px'>"
                f"<div class='hbar' style='width:{int(160 * tab['final'][i])}px;"
                f"background:{KEPT_COLOUR}'></div><div class='hbar' style='width:"
                f"{int(160 * share)}px;background:{SAMPLED_COLOUR}'></div></td>"
                f"<td>{self.counts[i]}</td></tr>")
        self.histogram.value = (
            f"<div style='font-size:12px'><b>{n} samples</b> (seed {self.seed.value}): "
            f"<span style='color:{KEPT_COLOUR}'>&#9632; probability</span> "
            f"<span style='color:{SAMPLED_COLOUR}'>&#9632; share sampled</span></div>"
            f"<table><tr><th>token</th><th></th><th>count</th></tr>{''.join(rows)}</table>")
        self.last_update_ms = 1000 * (time.perf_counter() - start)
        return self.counts

    def step(self) -> int | None:
        """Sample the next token with the current settings, append it to the text and show
        the distribution after it. Returns the token id (None when impossible)."""
        if self.model is None:
            self.status.value = ("<span class='lmlib-sampling-error'>step needs a model: this "
                                 "explorer shows fixed logits</span>")
            return None
        if self._check() is not None or self.error is not None:
            self._update()
            return None
        start = time.perf_counter()
        tab = self.table_data()
        j = int(np.searchsorted(np.cumsum(tab["final"]), self._rng.random() * tab["final"].sum(),
                                side="right"))
        j = min(j, len(tab["final"]) - 1)
        while tab["final"][j] == 0:  # never an impossible token (float rounding at the end)
            j -= 1
        token = int(tab["order"][j])
        self.generated.append((token, float(tab["final"][j])))
        self._logits = _model_logits(self.model, self.prompt_ids + [t for t, _ in self.generated])
        self._update()
        self._render_text()
        self.last_update_ms = 1000 * (time.perf_counter() - start)
        return token

    def reset(self) -> None:
        """Forget the generated tokens and go back to the prompt's distribution."""
        if self.model is None:
            return
        self.generated = []
        self._on_seed()
        self._logits = _model_logits(self.model, self.prompt_ids)
        self._update()
        self._render_text()

    @property
    def text_value(self) -> str:
        """The prompt followed by the generated text."""
        return self.prompt + "".join(self.labels[t] for t, _ in self.generated)

    def _render_text(self) -> None:
        parts = [f"<span style='color:#666'>{html.escape(self.prompt)}</span>"]
        for t, p in self.generated:
            parts.append(f"<span title='p = {p:.3f}' style='background:rgba(31,119,180,"
                         f"{0.12 + 0.78 * p:.2f})'>{html.escape(self.labels[t])}</span>")
        legend = ("<div style='font-size:11px;color:#777'>generated tokens tinted by their "
                  "probability (darker = more likely); hover for p</div>")
        self.text.value = legend + "<div>" + "".join(parts) + "</div>"

    # -- static representations (GitHub, untrusted notebooks, no kernel)
    def _text_line(self) -> str:
        if self.error is not None and not hasattr(self, "temperature"):
            return f"SamplingExplorer: cannot show this input: {self.error}"
        where = (f"after {self.text_value[-40:]!r}" if self.model is not None
                 else "for the given logits")
        if self.error is not None:
            return f"SamplingExplorer {where}: impossible setting: {self.error}"
        tab = self.table_data()
        s = self.settings()
        best = tab["order"][0]
        return (f"SamplingExplorer: next token {where}: "
                f"{_describe_settings(**s)}; {tab['n_kept']} of {len(tab['order'])} tokens "
                f"kept, entropy {tab['entropy']:.2f} nats, most likely "
                f"{self.labels[best]!r} ({tab['final'][0]:.3f}); {len(self.generated)} tokens "
                f"generated (the live widget needs a running kernel; the static figure is "
                f"plot_next_token)")

    def static_figure(self):
        """The figure shown where the widget cannot run: :func:`plot_next_token` of the
        current state."""
        if self.error is not None:
            raise ValueError(self.error)
        context = self.text_value[-30:] if self.model is not None else None
        return plot_next_token(self._logits, self.labels, rows=self.rows, context=context,
                               **self.settings())

