"""lmlib.scoring: the one protocol every compared loss of the course uses."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmlib.data import CharTokenizer
from lmlib.models.gpt import GPT, GPTConfig
from lmlib.models.lstm import LSTMLM
from lmlib.ngram import NGramLM
from lmlib.scoring import score, token_losses

rng = np.random.default_rng(0)
IDS = rng.integers(0, 11, size=301)


def small_gpt(block_size=8):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=block_size, n_layer=1, n_head=2, n_embd=16))


def brute_force(model, ids, block_size, stride):
    """Token t+1 is scored in the window that first contains it, with that window's context."""
    out = []
    for t in range(len(ids) - 1):
        start = 0 if t < block_size else ((t - block_size) // stride + 1) * stride
        x = torch.as_tensor(ids[start:t + 1])[None]
        logits = model(x)[0][0, -1]
        out.append(float(-F.log_softmax(logits, -1)[ids[t + 1]]))
    return np.array(out)


@torch.no_grad()
def test_gpt_windows_slide_by_half_a_window_and_score_each_token_once():
    model = small_gpt().eval()
    mine = token_losses(model, IDS)
    assert mine.shape == (len(IDS) - 1,) and not np.isnan(mine).any()
    np.testing.assert_allclose(mine, brute_force(model, IDS, 8, 4), atol=1e-5)
    assert score(model, IDS) == pytest.approx(mine.mean())


@torch.no_grad()
def test_windows_protocol_starts_every_window_from_nothing():
    model = small_gpt().eval()
    np.testing.assert_allclose(token_losses(model, IDS, protocol="windows"),
                               brute_force(model, IDS, 8, 8), atol=1e-5)
    # more context helps a trained model; a random one just differs
    assert score(model, IDS, protocol="windows") != score(model, IDS)


@torch.no_grad()
def test_lstm_reads_one_stream_with_the_state_carried():
    torch.manual_seed(0)
    model = LSTMLM(11, 8, 16).eval()
    logits, _ = model(torch.as_tensor(IDS[:-1])[None])
    whole = F.cross_entropy(logits[0], torch.as_tensor(IDS[1:]), reduction="none").numpy()
    np.testing.assert_allclose(token_losses(model, IDS), whole, atol=1e-5)


def test_ngram_scores_every_token_after_the_first():
    lm = NGramLM(3, "kneser-ney").fit(IDS, vocab_size=11)
    losses = token_losses(lm, IDS[:50])
    assert losses.shape == (49,)
    np.testing.assert_allclose(losses[1:], -lm.log_probs(IDS[:50]))
    assert losses[0] == pytest.approx(-np.log(lm.next_token_probs(IDS[:1])[IDS[1]]))


def test_names_read_each_name_from_an_empty_context():
    tok = CharTokenizer(".abcdefghijklmnopqrstuvwxyz")
    words = ["emma", "ava", "x"]
    torch.manual_seed(0)
    model = LSTMLM(27, 8, 16).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for w in words:
            ids = torch.as_tensor(tok.encode("." + w + "."))
            logits, _ = model(ids[None, :-1])
            total += float(F.cross_entropy(logits[0], ids[1:], reduction="sum"))
            count += len(w) + 1
    assert score(model, (words, tok)) == pytest.approx(total / count, abs=1e-6)
    lm = NGramLM(2, "add-k", k=1.0).fit(np.asarray(tok.encode(".emma.ava.")), vocab_size=27)
    assert score(lm, (words, tok)) == pytest.approx(
        -np.mean(np.concatenate([lm.log_probs(np.asarray(tok.encode("." + w + ".")))
                                 for w in words])))


def test_bad_input_is_named():
    model = small_gpt()
    with pytest.raises(ValueError, match="protocol"):
        score(model, IDS, protocol="nanogpt")
    with pytest.raises(ValueError, match="1-D"):
        score(model, IDS.reshape(7, 43))
    with pytest.raises(TypeError, match="integer"):
        score(model, IDS.astype(float))
    with pytest.raises(TypeError, match="cannot score"):
        score(torch.nn.Linear(2, 2), IDS)
