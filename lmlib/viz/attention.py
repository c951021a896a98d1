"""See attention: the :class:`AttentionExplorer` widget and its static twin :func:`plot_attention`.

Both take attention weights shaped ``(T, T)``, ``(H, T, T)`` or ``(L, H, T, T)`` (NumPy or
torch; rows are queries, columns are keys) and the ``T`` tokens they are about.

One colour scale everywhere, fixed (it does not change with the head shown): weights from 0
to 1 through a square-root map (``PowerNorm(gamma=0.5)``) so that the small weights of long
sequences stay visible; masked cells (exact zeros of a masked softmax, NaN, or ``False`` in
an optional ``mask``) are light grey, a colour that no weight gets.

The widget is built on ipywidgets and anywidget: its JavaScript travels through the kernel
connection, nothing is fetched from a CDN. Without a live kernel (GitHub, an untrusted or
exported notebook) it shows its static twin as a PNG and a one-line text description.
"""

from __future__ import annotations

import html

import numpy as np

from lmlib.viz.static import StaticTwinBox

__all__ = ["AttentionExplorer", "plot_attention", "head_scores", "prepare_attention"]

GAMMA = 0.5            # colour = weight ** GAMMA: one stable scale for every head and layer
CMAP = "viridis"
MASKED_COLOUR = "#dedede"   # = rgb(222, 222, 222), the same grey as the widget's
THUMB_MAX = 64              # thumbnails are at most THUMB_MAX x THUMB_MAX cells


# ----------------------------------------------------------------------------- input checking

def _to_numpy(attn) -> np.ndarray:
    if hasattr(attn, "detach"):  # a torch tensor, on any device
        attn = attn.detach().float().cpu().numpy()
    return np.asarray(attn, dtype=np.float32)


def prepare_attention(attn, tokens, mask=None):
    """Check and normalise the inputs of the explorer and of :func:`plot_attention`.

    Returns ``(weights, masked, tokens)``: ``weights`` float32 ``(L, H, T, T)`` with masked
    cells set to 0, ``masked`` bool ``(L, H, T, T)``, ``tokens`` a list of ``T`` strings.
    Raises ``ValueError`` naming the shapes when they do not fit together.
    """
    a = _to_numpy(attn)
    if a.ndim not in (2, 3, 4):
        raise ValueError(f"attn must have shape (T, T), (H, T, T) or (L, H, T, T), "
                         f"got rank {a.ndim} with shape {a.shape}")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"attn must be square in its last two axes (queries x keys), "
                         f"got shape {a.shape}")
    a = a.reshape((1,) * (4 - a.ndim) + a.shape)
    T = a.shape[-1]
    if T == 0 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"attn must have at least one layer, head and token, got shape {a.shape}")
    if isinstance(tokens, str):
        tokens = list(tokens)
    try:
        tokens = [str(t) for t in tokens]
    except TypeError:
        raise TypeError(f"tokens must be a list of T strings, got {type(tokens).__name__}") from None
    if len(tokens) != T:
        raise ValueError(f"tokens has {len(tokens)} entries but attn has T = {T} positions "
                         f"(attn shape {a.shape}): give one token per position")
    masked = np.isnan(a) | (a == 0)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be boolean (True = may attend), got dtype {mask.dtype}")
        try:
            allowed = np.broadcast_to(mask, a.shape)
        except ValueError:
            raise ValueError(f"mask of shape {mask.shape} does not broadcast to the attention "
                             f"shape {a.shape}") from None
        masked = ~allowed | np.isnan(a)
    a = np.where(masked, 0.0, a).astype(np.float32)
    if a.min() < -1e-6 or a.max() > 1 + 1e-5:
        raise ValueError(f"attn must hold attention weights in [0, 1], got values in "
                         f"[{a.min():.3g}, {a.max():.3g}]")
    return a, masked, tokens


def _label(token: str) -> str:
    """A visible label for a token: spaces and line breaks made readable."""
    return token.replace("\n", "\u21b5").replace(" ", "\u2423").replace("\t", "\u21e5") or "\u2205"


def head_scores(attn) -> dict[str, np.ndarray]:
    """Simple statistics of every head, to name what it does. ``attn`` ``(L, H, T, T)``
    (or ``(H, T, T)``/``(T, T)``). Returns arrays of shape ``(L, H)``, averaged over the
    queries ``t >= 1``:

    - ``previous``: weight on the previous token ``t - 1``;
    - ``self``: weight on the query's own position;
    - ``first``: weight on the first position;
    - ``entropy``: entropy of the weights in nats (0 = one key only).
    """
    a, masked, _ = prepare_attention(attn, [""] * _to_numpy(attn).shape[-1])
    T = a.shape[-1]
    if T < 2:
        raise ValueError("head_scores needs at least 2 positions")
    t = np.arange(1, T)
    p = np.clip(a, 1e-30, 1)
    entropy = -(np.where(masked, 0.0, a * np.log(p))).sum(-1)       # (L, H, T)
    return {
        "previous": a[..., t, t - 1].mean(-1),
        "self": a[..., t, t].mean(-1),
        "first": a[..., t, 0].mean(-1),
        "entropy": entropy[..., 1:].mean(-1),
    }


def _describe(weights: np.ndarray, masked: np.ndarray) -> str:
    """One sentence about a head ``(T, T)``, computed from its weights."""
    if weights.shape[-1] < 2:  # one token: causal attention has nowhere else to look
        return "a single token: all of its weight goes to itself"
    s = head_scores(np.where(masked, np.nan, weights))
    prev, own, first, ent = (float(s[k][0, 0]) for k in ("previous", "self", "first", "entropy"))
    parts = [f"on average {prev:.0%} of the weight goes to the previous token, "
             f"{own:.0%} to the token itself, {first:.0%} to the first token; "
             f"mean entropy {ent:.2f} nats"]
    best = max((prev, "a previous-token head"), (own, "a self (current-token) head"),
               (first, "a first-token (resting) head"))
    if best[0] >= 0.4:
        parts.append(f"looks like {best[1]}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- static twin

def _norm():
    from matplotlib.colors import PowerNorm

    return PowerNorm(gamma=GAMMA, vmin=0.0, vmax=1.0)


def _cmap():
    import matplotlib

    return matplotlib.colormaps[CMAP].with_extremes(bad=MASKED_COLOUR)


def plot_attention(attn, tokens, layer=None, head=None, mask=None):
    """The static twin of :class:`AttentionExplorer`: a matplotlib figure.

    ``head=None`` with several heads draws every head of ``layer`` (default: layer 0) side
    by side; a given ``head`` draws that head large, with token labels when ``T <= 48``,
    next to small thumbnails of all heads of its layer. Rows are queries, columns keys;
    masked cells are light grey. Returns the ``Figure``; raises ``ValueError`` on bad input.
    """
    a, masked, tokens = prepare_attention(attn, tokens, mask)
    L, H, T, _ = a.shape
    layer = 0 if layer is None else layer
    if not isinstance(layer, (int, np.integer)) or not 0 <= layer < L:
        raise ValueError(f"layer must be an int in [0, {L}), got {layer!r}")
    if head is not None and (not isinstance(head, (int, np.integer)) or not 0 <= head < H):
        raise ValueError(f"head must be None or an int in [0, {H}), got {head!r}")
    data = np.ma.masked_array(a[layer], masked[layer])             # (H, T, T)
    where = f"layer {layer}, " if L > 1 else ""
    if head is None and H > 1:
        return _plot_all_heads(data, where)
    small = np.ma.masked_array(*_shrink(a[layer], masked[layer]))   # (H, <=64, <=64)
    return _plot_one_head(data, small, 0 if head is None else int(head), tokens, where)


def _plot_all_heads(data, where: str):
    """Every head of one layer, ``data`` (H, T, T), side by side (4 to a row)."""
    import matplotlib.pyplot as plt

    H = data.shape[0]
    cols = min(H, 4)
    rows = -(-H // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols + 0.8, 2.4 * rows),
                             squeeze=False, layout="constrained")
    for h, ax in enumerate(axes.flat):
        if h >= H:
            ax.axis("off")
            continue
        im = ax.imshow(data[h], cmap=_cmap(), norm=_norm(), interpolation="nearest")
        ax.set_title(f"head {h}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle(f"{where}all {H} heads (rows: queries, columns: keys; grey: masked)",
                 fontsize=10)
    return fig


def _plot_one_head(data, small, h: int, tokens, where: str):
    """Head ``h`` of ``data`` (H, T, T) large, with token labels when T <= 48, beside the
    thumbnails ``small`` of every head of the layer (head ``h`` framed)."""
    import matplotlib.pyplot as plt

    H, T, _ = data.shape
    if H == 1:
        fig, ax = plt.subplots(figsize=(5.6, 5.0), layout="constrained")
        thumbs = []
    else:
        fig = plt.figure(figsize=(8.6, 5.0), layout="constrained")
        grid = fig.add_gridspec(max(2, -(-H // 2)), 3, width_ratios=[4, 1, 1])
        ax = fig.add_subplot(grid[:, 0])
        thumbs = [fig.add_subplot(grid[i // 2, 1 + i % 2]) for i in range(H)]
    im = ax.imshow(data[h], cmap=_cmap(), norm=_norm(), interpolation="nearest")
    if T <= 48:
        labels = [_label(t) for t in tokens]
        ax.set_xticks(range(T), labels, fontsize=7, rotation=90, family="monospace")
        ax.set_yticks(range(T), labels, fontsize=7, family="monospace")
    ax.grid(False)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(f"{where}head {h}" + ("" if T <= 48 else f" ({T} tokens)"), fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="attention weight (grey: masked)")
    for i, tax in enumerate(thumbs):
        tax.imshow(small[i], cmap=_cmap(), norm=_norm(), interpolation="nearest")
        tax.set_xticks([])
        tax.set_yticks([])
        tax.grid(False)
        tax.set_title(f"head {i}", fontsize=8, color="#d62728" if i == h else "black")
        if i == h:
            for spine in tax.spines.values():
                spine.set_visible(True)
                spine.set_edgecolor("#ff7f0e")
                spine.set_linewidth(2.5)
    return fig




# ----------------------------------------------------------------------------- the widget

def _colormap_bytes() -> bytes:
    """The colour map as 256 RGB triples (uint8), index = round(255 * weight ** GAMMA)."""
    rgba = _cmap()(np.linspace(0, 1, 256))
    return (rgba[:, :3] * 255).round().astype(np.uint8).tobytes()


def _shrink(a: np.ndarray, masked: np.ndarray, size: int = THUMB_MAX):
    """Shrink ``(..., T, T)`` weights to at most ``(..., size, size)`` by taking the maximum
    of each block, so that thin diagonals stay visible; a block is masked when all its cells
    are. Returns ``(peak, all_masked)``."""
    T = a.shape[-1]
    s = min(T, size)
    starts = (np.arange(s) * T) // s
    peak = np.maximum.reduceat(np.maximum.reduceat(a, starts, axis=-2), starts, axis=-1)
    all_masked = np.minimum.reduceat(np.minimum.reduceat(masked.astype(np.uint8), starts,
                                                         axis=-2), starts, axis=-1).astype(bool)
    return peak, all_masked


def _thumbnails(a: np.ndarray, masked: np.ndarray) -> tuple[bytes, int]:
    """Every head of one layer, ``a`` ``(H, T, T)``, as ``(H, s, s)`` uint8 colour indices
    (see :func:`_shrink`); 255 = masked."""
    peak, all_masked = _shrink(a, masked)
    s = peak.shape[-1]
    idx = np.round(254 * np.clip(peak, 0, 1) ** GAMMA).astype(np.uint8)
    idx[all_masked] = 255
    return idx.tobytes(), s


def _view_class():
    """The anywidget class that draws the heatmap (created on first use, so that importing
    this module does not need anywidget)."""
    global _AttentionView
    if _AttentionView is not None:
        return _AttentionView
    from importlib.resources import files

    import anywidget
    import traitlets as t

    assets = files("lmlib") / "assets"

    class AttentionView(anywidget.AnyWidget):
        _esm = (assets / "attention_explorer.js").read_text(encoding="utf-8")
        _css = (assets / "attention_explorer.css").read_text(encoding="utf-8")
        tokens = t.List(t.Unicode()).tag(sync=True)       # shown in the text (line breaks kept)
        labels = t.List(t.Unicode()).tag(sync=True)       # shown in the readout
        n_tokens = t.Int(0).tag(sync=True)
        n_heads = t.Int(1).tag(sync=True)
        layer = t.Int(0).tag(sync=True)
        head = t.Int(0).tag(sync=True)
        query = t.Int(-1).tag(sync=True)
        matrix = t.Bytes(b"").tag(sync=True)              # float32 (T, T), NaN = masked
        thumbs = t.Bytes(b"").tag(sync=True)              # uint8 (H, s, s), 255 = masked
        thumb_size = t.Int(0).tag(sync=True)
        colormap = t.Bytes(b"").tag(sync=True)            # uint8 (256, 3)
        gamma = t.Float(GAMMA).tag(sync=True)
        caption = t.Unicode("").tag(sync=True)

    _AttentionView = AttentionView
    return AttentionView


_AttentionView = None


class AttentionExplorer(StaticTwinBox):
    """Explore attention weights in JupyterLab.

    Args:
        attn: weights ``(T, T)``, ``(H, T, T)`` or ``(L, H, T, T)``, NumPy or torch; rows are
            queries, columns keys.
        tokens: the ``T`` tokens (a list of strings, or a string of characters).
        layer, head: what to show first.
        mask: optional boolean mask (True = may attend) broadcastable to ``attn``; by
            default a weight of exactly 0 (or NaN) counts as masked, which is what a masked
            softmax produces.

    The widget has a layer selector, a head selector and a grid of thumbnails of every head
    (click one to show it), a heatmap (rows = queries, columns = keys; the value under the
    pointer is shown below it), and the text tinted by the weights of a query (hover a row
    or a token; click to keep it). Bad input shows an error message in place of the widget.
    """

    _tight_png = True  # the static twin is cropped to its content

    def __init__(self, attn, tokens, layer: int = 0, head: int = 0, mask=None):
        import ipywidgets as w

        super().__init__()
        self.add_class("lmlib-attention-explorer")
        self.error: str | None = None
        try:
            self._weights, self._masked, self.tokens = prepare_attention(attn, tokens, mask)
            L, H = self._weights.shape[:2]
            for name, val, n in (("layer", layer, L), ("head", head, H)):
                if not isinstance(val, (int, np.integer)) or not 0 <= val < n:
                    raise ValueError(f"{name} must be an int in [0, {n}), got {val!r}")
        except (ValueError, TypeError) as err:
            self.error = str(err)
            box = w.HTML(f"<div style='color:#b00020'><b>AttentionExplorer cannot show this "
                         f"input.</b> {html.escape(self.error)}</div>")
            box.add_class("lmlib-attention-error")
            self.children = [box]
            return
        L, H, T, _ = self._weights.shape
        # the description outside the box, the box as wide as its longest label plus the
        # arrow: "layer 11" and "head 11" are never cut (JupyterLab's defaults cut them)
        fit = dict(style={"description_width": "initial"},
                   layout=w.Layout(width="max-content", min_width="150px"))
        self.layer_select = w.Dropdown(options=[(f"layer {i}", i) for i in range(L)],
                                       value=int(layer), description="layer",
                                       disabled=L == 1, **fit)
        self.head_select = w.Dropdown(options=[(f"head {i}", i) for i in range(H)],
                                      value=int(head), description="head", **fit)
        self.layer_select.add_class("lmlib-attention-layer")
        self.head_select.add_class("lmlib-attention-head")
        View = _view_class()
        self.view = View(tokens=[t if t != "\n" else "\u21b5\n" for t in self.tokens],
                         labels=[_label(t) for t in self.tokens], n_tokens=T, n_heads=H,
                         layer=int(layer), head=int(head), colormap=_colormap_bytes())
        w.link((self.layer_select, "value"), (self.view, "layer"))
        w.link((self.head_select, "value"), (self.view, "head"))
        self.view.observe(self._on_layer, names="layer")
        self.view.observe(self._update, names=["head", "query"])
        self._on_layer()
        self.children = [w.HBox([self.layer_select, self.head_select]), self.view]

    # -- state
    @property
    def layer(self) -> int:
        return self.view.layer

    @layer.setter
    def layer(self, value: int) -> None:
        self.layer_select.value = int(value)

    @property
    def head(self) -> int:
        return self.view.head

    @head.setter
    def head(self, value: int) -> None:
        self.head_select.value = int(value)

    @property
    def query(self) -> int:
        return self.view.query

    @query.setter
    def query(self, value: int) -> None:
        T = self._weights.shape[-1]
        if not -1 <= int(value) < T:
            raise ValueError(f"query must be -1 (none) or in [0, {T}), got {value}")
        self.view.query = int(value)

    @property
    def drawn(self) -> np.ndarray:
        """The weights the heatmap is drawing now, decoded from what was sent to the
        browser: float32 ``(T, T)``, NaN where masked."""
        T = self.view.n_tokens
        return np.frombuffer(self.view.matrix, dtype=np.float32).reshape(T, T)

    @property
    def caption(self) -> str:
        return self.view.caption

    # -- updates (run in the kernel when the front end changes layer, head or query)
    def _on_layer(self, change=None) -> None:
        l = self.view.layer
        self.view.thumbs, self.view.thumb_size = _thumbnails(self._weights[l], self._masked[l])
        self._update()

    def _update(self, change=None) -> None:
        l, h, q = self.view.layer, self.view.head, self.view.query
        a, m = self._weights[l, h], self._masked[l, h]
        self.view.matrix = np.where(m, np.nan, a).astype("<f4").tobytes()
        L = self._weights.shape[0]
        text = (f"layer {l}, " if L > 1 else "") + f"head {h}: " + _describe(a, m)
        if q >= 0:
            row = np.where(m[q], -1.0, a[q])
            k = int(row.argmax())
            text += (f". Query {q} '{_label(self.tokens[q])}' attends most to key {k} "
                     f"'{_label(self.tokens[k])}' ({a[q, k]:.2f})" if row[k] >= 0 else
                     f". Query {q} '{_label(self.tokens[q])}' has every key masked")
        self.view.caption = text + "."

    # -- static representations (GitHub, untrusted notebooks, no kernel)
    def _text_line(self) -> str:
        if self.error is not None:
            return f"AttentionExplorer: cannot show this input: {self.error}"
        L, H, T, _ = self._weights.shape
        return (f"AttentionExplorer over {T} tokens, {L} layer{'s' * (L > 1)} x {H} "
                f"head{'s' * (H > 1)}, showing {self.caption} (the live widget needs a "
                f"running kernel; the static figure is plot_attention)")

    def static_figure(self):
        """The figure shown where the widget cannot run: ``plot_attention`` of the current
        layer and head."""
        if self.error is not None:
            raise ValueError(self.error)
        return plot_attention(self._weights, self.tokens, layer=self.layer, head=self.head,
                              mask=~self._masked)

