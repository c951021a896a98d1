"""lmlib.viz.attention without a browser: the widget's kernel-side logic, its error display,
its static representation, and plot_attention."""

import base64
import re
import time

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from lmlib.scratch.attention import causal_mask, scaled_dot_product_attention  # noqa: E402
from lmlib.viz import AttentionExplorer, plot_attention  # noqa: E402
from lmlib.viz.attention import head_scores, prepare_attention  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def causal_weights(L=2, H=3, T=10, seed=0):
    x = np.random.default_rng(seed).standard_normal((L, H, T, 4))
    return scaled_dot_product_attention(x, x, x, causal_mask(T))[1]


def test_changing_head_changes_the_drawn_data_and_caption():
    attn = causal_weights()
    ex = AttentionExplorer(attn, "abcdefghij")
    before, caption = ex.drawn.copy(), ex.caption
    np.testing.assert_allclose(np.nan_to_num(before), attn[0, 0], rtol=1e-6)
    ex.head = 2
    assert ex.view.head == 2
    np.testing.assert_allclose(np.nan_to_num(ex.drawn), attn[0, 2], rtol=1e-6)
    assert not np.allclose(np.nan_to_num(ex.drawn), np.nan_to_num(before))
    assert ex.caption != caption and ex.caption.startswith("layer 0, head 2:")


def test_front_end_changes_flow_back_to_the_selectors():
    """A click on a thumbnail sets the view's ``head``; the dropdown must follow."""
    attn = causal_weights()
    ex = AttentionExplorer(attn, list("abcdefghij"))
    ex.view.head = 1
    assert ex.head_select.value == 1
    np.testing.assert_allclose(np.nan_to_num(ex.drawn), attn[0, 1], rtol=1e-6)
    thumbs_before = ex.view.thumbs
    ex.layer = 1
    assert ex.view.layer == 1 and ex.view.thumbs != thumbs_before
    np.testing.assert_allclose(np.nan_to_num(ex.drawn), attn[1, 1], rtol=1e-6)


def test_masked_cells_are_sent_as_nan_and_small_weights_are_not():
    attn = causal_weights(1, 1, 6)[0, 0]
    attn[5, 0] = 1e-7  # a tiny weight, not masked
    ex = AttentionExplorer(attn, "abcdef")
    drawn = ex.drawn
    assert np.isnan(drawn[0, 1]) and np.isnan(drawn[2, 5])   # the causal mask
    assert drawn[5, 0] == pytest.approx(1e-7)
    assert ex.layer_select.disabled  # only one layer


def test_choosing_a_query_names_its_strongest_key():
    attn = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    attn[3] = [0.1, 0.6, 0.2, 0.1]
    ex = AttentionExplorer(attn, ["a", "b", " ", "d"])
    ex.query = 3
    assert "Query 3 'd' attends most to key 1 'b' (0.60)" in ex.caption
    with pytest.raises(ValueError, match="query must be"):
        ex.query = 4


def test_accepts_torch_and_every_rank():
    attn = torch.tensor(causal_weights(2, 2, 5))
    for a in (attn, attn[1], attn[1, 0]):
        ex = AttentionExplorer(a, "abcde")
        assert ex.error is None
        assert ex.view.n_heads == (a.shape[-3] if a.dim() > 2 else 1)


def test_thumbnails_show_every_head_with_masked_blocks():
    ex = AttentionExplorer(causal_weights(1, 3, 200), ["x"] * 200)
    s = ex.view.thumb_size
    assert s == 64 and len(ex.view.thumbs) == 3 * s * s
    thumbs = np.frombuffer(ex.view.thumbs, np.uint8).reshape(3, s, s)
    assert thumbs[0, 0, -1] == 255 and thumbs[0, -1, 0] != 255


@pytest.mark.parametrize("attn,tokens,message", [
    (np.full((5, 5), 0.2), "abcd", r"tokens has 4 entries but attn has T = 5"),
    (np.zeros((1, 2, 3, 4, 4)), "abcd", r"rank 5 with shape \(1, 2, 3, 4, 4\)"),
    (np.zeros(4), "abcd", r"rank 1"),
    (np.full((4, 5), 0.2), "abcd", r"square"),
    (np.full((4, 4), 3.0), "abcd", r"\[0, 1\]"),
])
def test_bad_input_is_a_message_in_the_widget_and_a_valueerror_for_the_plot(attn, tokens,
                                                                            message):
    ex = AttentionExplorer(attn, tokens)
    assert ex.error is not None

    assert re.search(message, ex.error)
    (box,) = ex.children
    assert "lmlib-attention-error" in box._dom_classes
    assert "cannot show this input" in box.value
    bundle = ex._repr_mimebundle_()
    assert "cannot show this input" in bundle["text/plain"] and "image/png" not in bundle
    with pytest.raises(ValueError, match=message):
        plot_attention(attn, tokens)


def test_bad_layer_or_head():
    attn = causal_weights()
    assert "head must be an int in [0, 3)" in AttentionExplorer(attn, "abcdefghij", head=3).error
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 2\)"):
        plot_attention(attn, "abcdefghij", layer=2)
    with pytest.raises(ValueError, match="head must be None or an int"):
        plot_attention(attn, "abcdefghij", head=-1)
    with pytest.raises(TypeError, match="mask must be boolean"):
        prepare_attention(attn, "abcdefghij", mask=np.ones((10, 10)))


def test_static_representation_is_png_plus_readable_text():
    ex = AttentionExplorer(causal_weights(), "abcdefghij", head=1)
    bundle = ex._repr_mimebundle_()
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(PNG_MAGIC)
    text = bundle["text/plain"]
    assert text.startswith("AttentionExplorer over 10 tokens, 2 layers x 3 heads")
    assert "head 1" in text and "object at 0x" not in text
    assert "application/vnd.jupyter.widget-view+json" in bundle   # live view where possible
    assert ex._repr_png_().startswith(PNG_MAGIC)
    assert repr(ex) == text


def test_plot_attention_layouts():
    attn = causal_weights(2, 3, 10)
    fig = plot_attention(attn, "abcdefghij", layer=1)           # all heads
    assert sum(ax.get_title().startswith("head") for ax in fig.axes) == 3
    fig = plot_attention(attn, "abcdefghij", layer=1, head=2)   # one head + thumbnails
    main = fig.axes[0]
    assert main.get_title() == "layer 1, head 2"
    image = main.get_images()[0].get_array()
    assert image.mask[0, 1] and not image.mask[1, 0]            # masked cells are masked
    np.testing.assert_allclose(image.data[~image.mask], attn[1, 2][~image.mask], rtol=1e-6)
    fig = plot_attention(attn[0, 0], "abcdefghij")              # a single (T, T) matrix
    assert fig.axes[0].get_title() == "head 0"


def test_head_scores_find_a_previous_token_head():
    T = 8
    prev = np.eye(T, k=-1)
    prev[0, 0] = 1.0
    uniform = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    s = head_scores(np.stack([prev, uniform]))
    assert s["previous"].shape == (1, 2)
    assert s["previous"][0, 0] == pytest.approx(1.0) and s["entropy"][0, 0] == pytest.approx(0)
    assert s["previous"][0, 1] < 0.5
    assert "previous-token head" in AttentionExplorer(prev, "abcdefgh").caption


def test_update_is_fast_for_256_tokens():
    """The kernel's share of one update (new head: weights, caption) at T = 256.
    The budget for a whole update is 200 ms; the kernel's part must be a small slice of it."""
    ex = AttentionExplorer(causal_weights(2, 8, 256), ["a"] * 256)
    times = []
    for h in [1, 2, 3, 4, 5, 6, 7, 0] * 2:
        start = time.perf_counter()
        ex.head = h
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.05


def test_front_end_loads_nothing_from_the_network():
    """The widget's JavaScript and CSS travel through the kernel: no URL, no import."""
    from importlib.resources import files

    for name in ("attention_explorer.js", "attention_explorer.css"):
        text = (files("lmlib") / "assets" / name).read_text(encoding="utf-8")
        assert "http" not in text and "//cdn" not in text and "@import" not in text
        assert not re.search(r"^\s*import\s", text, re.M)


def test_a_single_token_is_shown_not_an_error():
    """T = 1 (one token, one weight of 1) used to raise inside the head description."""
    ex = AttentionExplorer(np.ones((2, 2, 1, 1)), ["a"])
    assert getattr(ex, "error", None) is None
    assert "a single token" in repr(ex)
    assert "image/png" in ex._repr_mimebundle_()


def test_the_layer_and_head_dropdowns_fit_their_labels():
    """The labels "layer 1", "head 0" were cut in JupyterLab (160 px with the description
    inside): the description now sits outside and the box fits its longest label."""
    ex = AttentionExplorer(np.full((12, 12, 3, 3), 1 / 3), list("abc"))
    for dropdown in (ex.layer_select, ex.head_select):
        assert dropdown.style.description_width == "initial"
        assert dropdown.layout.width == "max-content" and dropdown.layout.min_width == "150px"
