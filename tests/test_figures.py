"""``python -m coursekit.figures`` (``make figures``): the results chart and its JSON carry the
numbers the benchmarks compute, bad options are refused, and (browser-marked) the widget
screenshots come out of a real JupyterLab.

The unit tests score only the cheap models (counts and the small attention model), once."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib.image
import pytest

from coursekit import figures
from lmlib.data import shakespeare
from lmlib.ngram import NGramLM
from lmlib.scoring import score

ROOT = Path(__file__).resolve().parent.parent
CHEAP = ["uniform", "unigram", "bigram-add1", "5gram-addk", "6gram-kn", "7gram-mkn",
         "attention"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data():
    return shakespeare()


@pytest.fixture(scope="module")
def cheap_results():
    return figures.shakespeare_results(CHEAP)


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory, cheap_results):
    """``python -m coursekit.figures --only results --out DIR`` with the cheap models only (their
    losses computed once, by the fixture above)."""
    out = tmp_path_factory.mktemp("figures")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "shakespeare_results", lambda **kwargs: cheap_results)
        assert figures.main(["--only", "results", "--out", str(out)]) == 0
    return out


def test_losses_are_what_the_benchmarks_compute(data, cheap_results):
    tok, train, val = data
    V = tok.vocab_size
    by_key = {r.key: r.loss for r in cheap_results}
    assert by_key["uniform"] == pytest.approx(math.log(V), abs=1e-12)
    # every row is lmlib.scoring.score, the course's one protocol
    expected = {"unigram": NGramLM(1, "mle"), "bigram-add1": NGramLM(2, "add-k", k=1.0),
                "5gram-addk": NGramLM(5, "add-k", k=0.01), "6gram-kn": NGramLM(6, "kneser-ney"),
                "7gram-mkn": NGramLM(7, "modified-kneser-ney")}
    for key, lm in expected.items():
        assert by_key[key] == score(lm.fit(train, V), val), key
    from lmlib.pretrained import load_pretrained

    assert by_key["attention"] == score(load_pretrained("shakespeare-attention")[0], val)
    # the course's order, from worse to better n-grams
    ngrams = [r.loss for r in cheap_results if r.family == "n-gram"]
    assert ngrams == sorted(ngrams, reverse=True)


def test_the_chart_shows_the_readme_numbers(cheap_results):
    """The counted models' losses, to 4 decimals, are the ones the README's table prints."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = readme[readme.index("## Results"):]
    results = results[:results.index("\n## ", 1)]
    for r in cheap_results:
        assert re.search(rf"\b{r.loss:.4f}\b", results), (r.model, f"{r.loss:.4f}")


def test_cli_writes_the_json_and_a_small_png(cli_out, cheap_results):
    record = json.loads((cli_out / "results.json").read_text(encoding="utf-8"))
    assert [(r["key"], r["loss"]) for r in record["results"]] == \
        [(r.key, r.loss) for r in cheap_results]
    assert all(r["computed_by"] and r["family"] in figures.FAMILY_COLORS
               for r in record["results"])
    assert set(record["checkpoints"]) >= {"lmlib/assets/gpt_shakespeare.safetensors"}
    png = cli_out / "results.png"
    assert png.read_bytes()[:8] == PNG
    assert 10_000 < png.stat().st_size < 150_000
    height, width = matplotlib.image.imread(png).shape[:2]
    assert width >= 800 and height >= 400


def test_the_chart_is_deterministic(tmp_path, cheap_results):
    a = figures.plot_results(cheap_results, tmp_path / "a.png").read_bytes()
    b = figures.plot_results(cheap_results, tmp_path / "b.png").read_bytes()
    assert a == b


def test_bad_input_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        figures.main(["--only", "charts", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--only" in err and "results" in err and "widgets" in err
    with pytest.raises(ValueError, match="only must be one of"):
        figures.make_figures(tmp_path, only="chart")
    with pytest.raises(ValueError, match="keys must be"):
        figures.shakespeare_results(["gpt-5"])
    with pytest.raises(ValueError, match="results must hold"):
        figures.plot_results([], tmp_path / "empty.png")
    assert not list(tmp_path.iterdir())


def test_missing_chromium_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("coursekit.browser.shutil.which", lambda name: None)
    assert figures.main(["--only", "widgets", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "chromium is not installed" in err and "apt-get install" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.browser
def test_widget_screenshots(tmp_path):
    from browser_utils import chromium_or_skip

    chromium_or_skip("the README's widget screenshots")
    paths = figures.widget_screenshots(tmp_path)
    assert [p.name for p in paths] == ["attention_explorer.png", "sampling_explorer.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG
        assert 20_000 < p.stat().st_size < 300_000, (p.name, p.stat().st_size)
        height, width = matplotlib.image.imread(p).shape[:2]
        assert 600 <= width <= 1400 and 300 <= height, (p.name, width, height)
