"""The NumPy RNN (lmlib.scratch.rnn) against torch.nn.RNN, its gradient check, truncated
BPTT, the NumPy char-RNN language model, and bad input."""

import numpy as np
import pytest
import torch

from lmlib.scratch.gradcheck import assert_gradcheck
from lmlib.scratch.rnn import RNN, RNNLM, stream_batches, train_tbptt

T, B, I, H = 7, 3, 4, 5
ATOL = 1e-10


def _inputs(seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, B, I)), rng.standard_normal((B, H)),
            rng.standard_normal((T, B, H)), rng.standard_normal((B, H)))


@pytest.mark.parametrize("with_state", [True, False])
def test_parity_with_torch_rnn_values_and_gradients(with_state):
    torch.manual_seed(0)
    ref = torch.nn.RNN(I, H, dtype=torch.float64)
    mine = RNN.from_torch(ref)
    x, h0, dhs, dh = _inputs()
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, hT = ref(xt, h0t if with_state else None)
    hs, cache = mine.forward(x, h0 if with_state else None)
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(hs[-1], hT[0].detach().numpy(), rtol=0, atol=ATOL)
    ((out * torch.tensor(dhs)).sum() + (hT[0] * torch.tensor(dh)).sum()).backward()
    dx = mine.backward(dhs, cache, dh=dh)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=ATOL)
    for name in mine.params:
        np.testing.assert_allclose(mine.grads[name], getattr(ref, f"{name}_l0").grad.numpy(),
                                   rtol=0, atol=ATOL, err_msg=name)
    if with_state:
        np.testing.assert_allclose(mine.dh0, h0t.grad[0].numpy(), rtol=0, atol=ATOL)


def test_one_step_is_the_formula():
    mine = RNN(I, H, rng=0)
    x, h0, _, _ = _inputs()
    p = mine.params
    hs, _ = mine.forward(x[:1], h0)
    expected = np.tanh(x[0] @ p["weight_ih"].T + p["bias_ih"] + h0 @ p["weight_hh"].T
                       + p["bias_hh"])
    np.testing.assert_allclose(hs[0], expected, rtol=0, atol=1e-15)


def test_gradcheck_parameters_inputs_and_h0():
    mine = RNN(I, H, rng=2)
    x, h0, dhs, dh = _inputs(3)

    def loss():
        hs, _ = mine.forward(x, h0)
        return (hs * dhs).sum() + (hs[-1] * dh).sum()

    _, cache = mine.forward(x, h0)
    dx = mine.backward(dhs, cache, dh=dh)
    assert_gradcheck(loss, mine.params, mine.grads, tol=1e-7)
    assert_gradcheck(loss, {"x": x, "h0": h0}, {"x": dx, "h0": mine.dh0}, tol=1e-7)


def test_gradcheck_catches_a_missing_tanh_derivative():
    mine = RNN(I, H, rng=2)
    x, _, dhs, _ = _inputs(3)
    hs, cache = mine.forward(x)
    mine.backward(dhs, cache)
    good = {k: v.copy() for k, v in mine.grads.items()}
    cache["hs"] = np.zeros_like(hs)  # the backward now believes tanh' = 1 everywhere
    mine.backward(dhs, cache)
    assert not np.allclose(mine.grads["weight_hh"], good["weight_hh"])
    with pytest.raises(AssertionError, match="relative error"):
        assert_gradcheck(lambda: (mine.forward(x)[0] * dhs).sum(), mine.params, mine.grads,
                         tol=1e-7)


def test_truncated_bptt_pieces_add_up_to_the_full_gradient():
    mine = RNN(I, H, rng=4)
    x, h0, dhs, _ = _inputs(5)
    _, cache = mine.forward(x, h0)
    dx_full = mine.backward(dhs, cache)
    full = {k: v.copy() for k, v in mine.grads.items()}
    hs1, c1 = mine.forward(x[:4], h0)
    _, c2 = mine.forward(x[4:], hs1[-1])
    dx2 = mine.backward(dhs[4:], c2)
    g2 = {k: v.copy() for k, v in mine.grads.items()}
    dx1 = mine.backward(dhs[:4], c1, dh=mine.dh0)
    np.testing.assert_allclose(np.concatenate([dx1, dx2]), dx_full, atol=1e-12)
    for k in full:
        np.testing.assert_allclose(mine.grads[k] + g2[k], full[k], atol=1e-12)


def test_rnnlm_matches_torch_and_passes_gradcheck():
    """The NumPy char-RNN LM against the same network built from torch modules."""
    model = RNNLM(vocab_size=7, n_embd=3, hidden_size=4, rng=0)
    rng = np.random.default_rng(0)
    idx, targets = rng.integers(0, 7, (2, 5)), rng.integers(0, 7, (2, 5))
    h0 = rng.standard_normal((2, 4))
    logits, loss = model.forward(idx, targets, h0=h0)
    model.backward()
    assert logits.shape == (2, 5, 7) and model.h.shape == (2, 4)
    emb = torch.nn.Embedding(7, 3, dtype=torch.float64)
    rnn = torch.nn.RNN(3, 4, batch_first=True, dtype=torch.float64)
    head = torch.nn.Linear(4, 7, dtype=torch.float64)
    with torch.no_grad():
        for name, p in model.params.items():
            layer, key = name.split(".")
            module = {"wte": emb, "rnn": rnn, "lm_head": head}[layer]
            getattr(module, key if layer != "rnn" else f"{key}_l0").copy_(torch.from_numpy(p))
    out, _ = rnn(emb(torch.from_numpy(idx)), torch.from_numpy(h0)[None])
    ref_logits = head(out)
    ref_loss = torch.nn.functional.cross_entropy(ref_logits.reshape(-1, 7),
                                                 torch.from_numpy(targets).reshape(-1))
    ref_loss.backward()
    np.testing.assert_allclose(logits, ref_logits.detach().numpy(), atol=1e-12)
    assert abs(loss - ref_loss.item()) < 1e-12
    np.testing.assert_allclose(model.grads["rnn.weight_hh"], rnn.weight_hh_l0.grad.numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(model.grads["wte.weight"], emb.weight.grad.numpy(), atol=1e-12)
    assert_gradcheck(lambda: model.forward(idx, targets, h0=h0)[1], model.params, model.grads,
                     tol=1e-6)


def test_train_tbptt_learns_a_pattern_and_clips():
    from lmlib.scratch.optim import Adam

    ids = np.tile(np.array([0, 1, 2, 3, 1, 2]), 400)
    model = RNNLM(vocab_size=4, n_embd=4, hidden_size=16, rng=0)
    hist = train_tbptt(model, ids, Adam(model.params, lr=1e-2), steps=150, batch_size=8,
                       bptt=12, clip=0.5)
    assert hist["loss"][0] > 1.2 and np.mean(hist["loss"][-10:]) < 0.1
    assert len(hist["grad_norm"]) == 150
    norm_after = np.sqrt(sum((g ** 2).sum() for g in model.grads.values()))
    # the grads left in the model are the clipped ones: norm min(before, 0.5)
    assert abs(norm_after - min(hist["grad_norm"][-1], 0.5)) < 1e-5
    assert max(hist["grad_norm"]) > 0.5  # so clipping did act at some step


def test_stream_batches_keeps_tracks_contiguous():
    tracks = stream_batches(np.arange(23), 4)
    np.testing.assert_array_equal(tracks[1], np.arange(5, 10))
    with pytest.raises(ValueError, match=r"ids must be one stream of shape \(N,\)"):
        stream_batches(np.zeros((2, 3)), 2)


def test_loss_on_words_equals_a_per_name_loop():
    from lmlib.data import CharTokenizer
    from lmlib.scratch import functional as F

    tok = CharTokenizer(".abcdefghijklmnopqrstuvwxyz")
    model = RNNLM(27, 5, 8, rng=0)
    words = ["emma", "bo", "ava", "li"]
    total, count = 0.0, 0
    for w in words:
        ids = tok.encode("." + w + ".")
        logits, _ = model.forward(ids[None, :-1])
        loss, _ = F.cross_entropy(logits, ids[None, 1:])
        total, count = total + loss * len(w + "."), count + len(w + ".")
    assert abs(model.loss_on_words(words, tok) - total / count) < 1e-12
    samples = model.sample(tok, n=3, seed=0, max_len=5)
    assert len(samples) == 3 and all(set(s) <= set("abcdefghijklmnopqrstuvwxyz") for s in samples)


# ---- bad input ----------------------------------------------------------------------

def test_wrong_rank_and_feature_size():
    mine = RNN(I, H, rng=0)
    with pytest.raises(ValueError, match=r"\(T, B, input_size=4\), got a 2-d array"):
        mine.forward(np.zeros((T, I)))
    with pytest.raises(ValueError, match=r"last axis has 3 features, expected 4"):
        mine.forward(np.zeros((T, B, 3)))
    with pytest.raises(ValueError, match=r"at least one time step"):
        mine.forward(np.zeros((0, B, I)))


def test_mismatched_h0_and_gradients():
    mine = RNN(I, H, rng=0)
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(3, 5\) .* got "
                                         r"shape \(1, 3, 5\)"):
        mine.forward(np.zeros((T, B, I)), np.zeros((1, B, H)))
    _, cache = mine.forward(np.zeros((T, B, I)))
    with pytest.raises(ValueError, match=r"dhs must have the shape of hs"):
        mine.backward(np.zeros((T, B)), cache)
    with pytest.raises(ValueError, match=r"dh must have shape \(B, H\)"):
        mine.backward(np.zeros((T, B, H)), cache, dh=np.zeros(H))


def test_from_torch_rejects_other_modules():
    with pytest.raises(ValueError, match=r"one-layer, unidirectional RNN; got num_layers=2"):
        RNN.from_torch(torch.nn.RNN(I, H, num_layers=2))
    with pytest.raises(ValueError, match=r"nonlinearity='relu'"):
        RNN.from_torch(torch.nn.RNN(I, H, nonlinearity="relu"))
    with pytest.raises(TypeError, match="torch.nn.RNN, got LSTM"):
        RNN.from_torch(torch.nn.LSTM(I, H))
    with pytest.raises(ValueError, match="input_size must be a positive int"):
        RNN(0, H)
    with pytest.raises(TypeError, match="rng must be None, an int seed"):
        RNN(I, H, rng="seed")
    with pytest.raises(ValueError, match=r"idx must have shape \(B, T\)"):
        RNNLM(5, 2, 3, rng=0).forward(np.zeros(4, dtype=np.int64))
