"""lmlib.viz.sampling without a browser: the pipeline table, the widget's kernel-side logic
(controls, sample N, step, error messages, speed), its static representation, and the
static twins plot_next_token / plot_sampling."""

import base64
import re

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

import lmlib  # noqa: E402
import lmlib.viz  # noqa: E402
from lmlib.data import CharTokenizer  # noqa: E402
from lmlib.models.gpt import GPT, GPTConfig  # noqa: E402
from lmlib.sampling import softmax  # noqa: E402
from lmlib.viz.sampling import (  # noqa: E402
    SamplingExplorer,
    next_token_table,
    plot_next_token,
    plot_sampling,
    token_labels,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEXT = "the cat sat on the mat.\n"
LOGITS = np.array([2.0, 1.0, 0.5, 0.0, -1.0])


@pytest.fixture(scope="module", autouse=True)
def course_setup():
    """The notebooks' configuration (lmlib.setup: seeds, torch threads for this machine),
    under which the widget's speed is measured; the thread count is restored after."""
    threads = torch.get_num_threads()
    lmlib.setup(quiet=True)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer(TEXT)


@pytest.fixture(scope="module")
def model(tok):
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=32))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))  # a peaked, non-trivial distribution
    return m.eval()


def shown_probabilities(ex):
    """The 'probability' column as the browser would see it."""
    return re.findall(r"<td class='prob'>([0-9.]+)</td>", ex.table.value)


# ----------------------------------------------------------------------------- the pipeline

def test_table_follows_the_pipeline():
    tab = next_token_table(LOGITS, temperature=2.0, top_k=3)
    np.testing.assert_array_equal(tab["order"], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(tab["scaled"], LOGITS / 2)
    np.testing.assert_allclose(tab["prob"], softmax(LOGITS / 2))
    np.testing.assert_allclose(tab["cum"], np.cumsum(softmax(LOGITS / 2)))
    np.testing.assert_array_equal(tab["kept"], [True, True, True, False, False])
    p = softmax(LOGITS / 2)[:3]
    np.testing.assert_allclose(tab["final"][:3], p / p.sum())
    assert tab["n_kept"] == 3 and tab["final"][3:].sum() == 0
    assert tab["entropy"] == pytest.approx(float(-(p / p.sum() * np.log(p / p.sum())).sum()))


def test_table_off_values_and_greedy():
    full = next_token_table(LOGITS, 1.0, top_k=0, top_p=1.0, min_p=0.0)
    assert full["n_kept"] == 5
    greedy = next_token_table(LOGITS, 0.0, top_k=0, top_p=0.5)
    assert greedy["greedy"] and greedy["n_kept"] == 1 and greedy["final"][0] == 1.0
    assert greedy["entropy"] == 0.0
    # ties keep the cut-off a clean line: the kept tokens are a prefix of the table
    tab = next_token_table(np.zeros(4), 1.0, top_p=0.5)
    assert tab["kept"].tolist() == [True, True, False, False]
    np.testing.assert_array_equal(tab["order"][:2], [3, 2])


def test_table_and_twins_reject_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        next_token_table(LOGITS, -1.0)
    with pytest.raises(ValueError, match="p must be"):
        next_token_table(LOGITS, 1.0, top_p=1.5)
    with pytest.raises(ValueError, match="NaN"):
        next_token_table(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"shape \(V,\)"):
        next_token_table(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="vocab"):
        plot_next_token(LOGITS, ["a", "b"])
    with pytest.raises(ValueError, match="rows"):
        plot_next_token(LOGITS, rows=0)
    with pytest.raises(ValueError, match="n must be"):
        plot_sampling(LOGITS, n=0)


def test_token_labels(tok):
    assert token_labels(tok, tok.vocab_size) == tok.itos
    assert token_labels(None, 3) == ["0", "1", "2"]
    assert token_labels("abc", 3) == ["a", "b", "c"]


def test_static_twins_draw_the_cut_off():
    fig = plot_next_token(LOGITS, list("abcde"), temperature=1.0, top_k=2)
    ax = fig.axes[0]
    cut = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(cut) == 1 and cut[0].get_ydata()[0] == pytest.approx(1.5)
    assert "2 of 5 tokens kept" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcde")
    fig2 = plot_sampling(LOGITS, list("abcde"), n=500, seed=1, top_k=2)
    heights = [p.get_width() for p in fig2.axes[0].patches]
    assert sum(heights[5:]) == pytest.approx(1.0)  # sampled shares add up to 1
    assert heights[7:] == [0, 0, 0]                 # nothing outside the top 2
    assert lmlib.viz.plot_next_token is plot_next_token
    assert lmlib.viz.plot_sampling is plot_sampling


# ----------------------------------------------------------------------------- the widget

def test_temperature_changes_the_probabilities_shown(model, tok):
    ex = SamplingExplorer(model, tok, "the c")
    assert ex.error is None
    before = shown_probabilities(ex)
    assert len(before) == 12
    ex.temperature.value = 0.2
    after = shown_probabilities(ex)
    assert before != after
    assert float(after[0]) > float(before[0])  # colder: the favourite gains
    times = []
    for t in (0.1, 0.3, 1.0, 3.0, 5.0):
        ex.temperature.value = t
        times.append(ex.last_update_ms)
    assert np.median(times) < 200, times  # median: the test machine is shared


def test_filters_and_mode_change_the_kept_tokens(model, tok):
    ex = SamplingExplorer(model, tok, "the c")
    assert ex.table_data()["n_kept"] == tok.vocab_size
    ex.top_k.value = 3
    assert ex.table_data()["n_kept"] >= 3 and "class='removed cut'" in ex.table.value
    ex.top_k.value = 0
    ex.min_p.value = 0.5
    assert ex.table_data()["n_kept"] < tok.vocab_size
    ex.min_p.value = 0.0
    ex.top_p.value = 0.3
    assert ex.table_data()["cum"][ex.table_data()["n_kept"] - 2] < 0.3
    ex.mode.value = "greedy"
    assert ex.table_data()["n_kept"] == 1
    assert "entropy</b> 0.000" in ex.status.value


def test_step_appends_a_token_and_shows_the_next_distribution(model, tok):
    ex = SamplingExplorer(model, tok, "the c", seed=3)
    logits0 = ex.logits.copy()
    text0 = ex.text.value
    token = ex.step()
    assert ex.text_value == "the c" + tok.itos[token]
    assert ex.text.value != text0 and "rgba(31,119,180," in ex.text.value
    ids = torch.tensor([list(tok.encode(ex.text_value))])
    with torch.no_grad():
        expected = model(ids)[0][0, -1].double().numpy()
    np.testing.assert_allclose(ex.logits, expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(ex.logits, logits0)
    times = [ex.last_update_ms]
    for _ in range(4):
        ex.step()
        times.append(ex.last_update_ms)
    assert np.median(times) < 200, times
    assert len(ex.generated) == 5
    # the same seed gives the same text
    again = SamplingExplorer(model, tok, "the c", seed=3)
    for _ in range(5):
        again.step()
    assert again.text_value == ex.text_value
    ex.reset()
    assert ex.text_value == "the c" and np.allclose(ex.logits, logits0)


def test_greedy_steps_follow_the_argmax(model, tok):
    ex = SamplingExplorer(model, tok, "the ")
    ex.mode.value = "greedy"
    for _ in range(4):
        best = int(np.argmax(ex.logits))
        assert ex.step() == best


def test_sample_n_histogram(model, tok):
    ex = SamplingExplorer(model, tok, "the c", n=4000, seed=0)
    ex.top_k.value = 4
    counts = ex.sample_n()
    tab = ex.table_data()
    assert counts.sum() == 4000 and counts[tab["n_kept"]:].sum() == 0
    np.testing.assert_allclose(counts / 4000, tab["final"], atol=0.03)
    assert "4000 samples" in ex.histogram.value
    np.testing.assert_array_equal(ex.sample_n(), counts)  # same seed, same draw
    ex.seed.value = 1
    assert not np.array_equal(ex.sample_n(), counts)
    assert ex.last_update_ms < 200


def test_impossible_settings_show_a_message(model, tok):
    ex = SamplingExplorer(model, tok, "the c")
    ex.top_k.value = -1
    assert "Impossible setting" in ex.status.value and "top-k" in ex.status.value
    assert ex.step_button.disabled and ex.sample_n() is None and ex.step() is None
    assert "impossible setting" in repr(ex)
    ex.top_k.value = 2
    assert ex.error is None and not ex.step_button.disabled
    ex.n.value = 0
    assert ex.sample_n() is None and "N must be" in ex.status.value


@pytest.mark.parametrize("kwargs,needle", [
    (dict(prompt=""), "prompt must be a non-empty str"),
    (dict(prompt="xyz!"), "not in the vocabulary"),
    (dict(top_p=2.0), "p must be"),
    (dict(temperature=-1.0), "temperature"),
    (dict(temperature=20.0), "temperature must be 0 (greedy) or in [0.01, 10.0]"),
    (dict(seed=-1), "seed must be an int >= 0, got -1"),
    (dict(rows=2.5), "rows must be an int >= 1, got float 2.5"),
    (dict(rows=0), "rows must be an int >= 1"),
])
def test_bad_input_shows_an_error_in_place_of_the_widget(model, tok, kwargs, needle):
    args = dict(prompt="the c")
    args.update(kwargs)
    ex = SamplingExplorer(model, tok, **args)
    assert ex.error is not None and needle in ex.error
    assert "cannot show this input" in ex.children[0].value
    assert "cannot show this input" in repr(ex)
    assert "image/png" not in ex._repr_mimebundle_()


def test_from_logits(tok):
    ex = SamplingExplorer.from_logits(LOGITS, list("abcde"))
    assert ex.error is None and ex.step_button.disabled and ex.step() is None
    ex.temperature.value = 0.5
    assert ex.table_data()["scaled"][0] == pytest.approx(4.0)
    assert SamplingExplorer.from_logits(torch.tensor(LOGITS)).error is None
    assert "give either a model" in SamplingExplorer().error
    assert "NaN" in SamplingExplorer.from_logits(np.array([np.nan, 1.0])).error


def test_static_representation_is_a_png_and_a_readable_line(model, tok):
    ex = SamplingExplorer(model, tok, "the c")
    ex.top_k.value = 5
    bundle = ex._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    line = bundle["text/plain"]
    assert line.startswith("SamplingExplorer: next token after 'the c'")
    assert "top-k 5" in line and "of 27" not in line and "plot_next_token" in line
    assert "object at 0x" not in line and "VBox(" not in line
    assert "application/vnd.jupyter.widget-view+json" in bundle
    fig = ex.static_figure()
    assert "5 of" in fig.axes[0].get_title()


def test_updates_stay_under_200_ms_with_a_large_vocabulary():
    logits = np.random.default_rng(0).normal(size=50257)  # GPT-2's vocabulary
    ex = SamplingExplorer.from_logits(logits)
    times = []
    for t in (0.1, 0.5, 2.0, 4.0):
        ex.temperature.value = t
        times.append(ex.last_update_ms)
    ex.top_p.value = 0.9
    times.append(ex.last_update_ms)
    ex.sample_n()
    times.append(ex.last_update_ms)
    assert np.median(times) < 200, times


def test_temperature_zero_is_greedy_and_the_slider_reaches_ten(model, tok):
    ex = SamplingExplorer(model, tok, prompt="the c", temperature=0)
    assert ex.error is None and ex.mode.value == "greedy" and ex.settings()["temperature"] == 0
    assert ex.temperature.value == pytest.approx(1.0)  # the slider waits for "sample"
    hot = SamplingExplorer(model, tok, prompt="the c", temperature=10)
    assert hot.error is None and hot.temperature.value == pytest.approx(10.0)
    assert hot.settings()["temperature"] == pytest.approx(10.0)  # not clamped to 5


def test_a_negative_seed_typed_in_is_a_message_not_a_numpy_error(model, tok):
    ex = SamplingExplorer(model, tok, prompt="the c")
    ex.seed.value = -1
    assert "seed must be an int &gt;= 0" in ex.status.value or "seed must be" in ex.status.value
    assert ex.sample_n() is None
    ex.seed.value = 3
    assert ex.sample_n() is not None
