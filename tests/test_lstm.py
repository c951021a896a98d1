"""The NumPy LSTM (lmlib.scratch.lstm) against torch.nn.LSTM, its gradient check, bad input,
and the PyTorch LSTM language model (lmlib.models.lstm) with its shipped checkpoint."""

import numpy as np
import pytest
import torch

from lmlib.scratch.gradcheck import assert_gradcheck
from lmlib.scratch.lstm import LSTM, sigmoid

T, B, I, H = 6, 3, 4, 5
ATOL = 1e-10


def _torch_pair(seed=0):
    torch.manual_seed(seed)
    ref = torch.nn.LSTM(I, H, dtype=torch.float64)
    return ref, LSTM.from_torch(ref)


def _inputs(seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, B, I)), rng.standard_normal((B, H)),
            rng.standard_normal((B, H)), rng.standard_normal((T, B, H)),
            rng.standard_normal((B, H)), rng.standard_normal((B, H)))


@pytest.mark.parametrize("with_state", [True, False])
def test_parity_with_torch_outputs_state_and_every_gradient(with_state):
    ref, mine = _torch_pair()
    x, h0, c0, dhs, dh, dc = _inputs()
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor(c0[None], requires_grad=True)
    out, (hT, cT) = ref(xt, (h0t, c0t) if with_state else None)
    hs, (h, c), cache = mine.forward(x, (h0, c0) if with_state else None)
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(h, hT[0].detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(c, cT[0].detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(h, hs[-1])
    # one scalar built from every output, so every gradient path is exercised
    loss = ((out * torch.tensor(dhs)).sum() + (hT[0] * torch.tensor(dh)).sum()
            + (cT[0] * torch.tensor(dc)).sum())
    loss.backward()
    dx = mine.backward(dhs, cache, dstate=(dh, dc))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=ATOL)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(mine.grads[name], getattr(ref, f"{name}_l0").grad.numpy(),
                                   rtol=0, atol=ATOL, err_msg=name)
    if with_state:
        np.testing.assert_allclose(mine.dstate0[0], h0t.grad[0].numpy(), rtol=0, atol=ATOL)
        np.testing.assert_allclose(mine.dstate0[1], c0t.grad[0].numpy(), rtol=0, atol=ATOL)


def test_gate_order_matches_torch():
    """Zero the recurrent weights and set one gate's bias: the cell must react as PyTorch's
    i, f, g, o layout says (g only through the cell state, o only through h)."""
    mine = LSTM(1, 1, rng=0)
    for p in mine.params.values():
        p[...] = 0.0
    mine.params["bias_ih"][:] = [100.0, -100.0, 0.5, 100.0]  # i open, f shut, g = tanh .5, o open
    _, (h, c), cache = mine.forward(np.zeros((1, 1, 1)))
    np.testing.assert_allclose(c, np.tanh(0.5))
    np.testing.assert_allclose(h, np.tanh(np.tanh(0.5)))
    np.testing.assert_allclose(cache["gates"][0, 0], [1.0, 0.0, np.tanh(0.5), 1.0], atol=1e-12)


def test_gradcheck_parameters_inputs_and_initial_state():
    mine = LSTM(I, H, rng=3)
    x, h0, c0, dhs, dh, dc = _inputs(2)

    def loss():
        hs, (h, c), _ = mine.forward(x, (h0, c0))
        return (hs * dhs).sum() + (h * dh).sum() + (c * dc).sum()

    _, _, cache = mine.forward(x, (h0, c0))
    dx = mine.backward(dhs, cache, dstate=(dh, dc))
    assert_gradcheck(loss, mine.params, mine.grads, tol=1e-7)
    assert_gradcheck(loss, {"x": x, "h0": h0, "c0": c0},
                     {"x": dx, "h0": mine.dstate0[0], "c0": mine.dstate0[1]}, tol=1e-7)


def test_gradcheck_catches_a_wrong_backward():
    mine = LSTM(I, H, rng=3)
    x, *_ = _inputs(2)

    def loss():
        return mine.forward(x)[0].sum()

    _, _, cache = mine.forward(x)
    mine.backward(np.ones((T, B, H)), cache)
    # an off-by-one: each column's gradient credited to its neighbour
    mine.grads["weight_hh"] = np.roll(mine.grads["weight_hh"], 1, axis=1)
    with pytest.raises(AssertionError, match="weight_hh"):
        assert_gradcheck(loss, mine.params, mine.grads, tol=1e-7)


def test_truncated_backward_chains_through_dstate():
    """Two halves with the state carried, backpropagated second half first with
    dstate = the first half's dstate0, give the gradients of the whole sequence."""
    mine = LSTM(I, H, rng=4)
    x, h0, c0, dhs, _, _ = _inputs(5)
    _, _, cache = mine.forward(x, (h0, c0))
    dx_full = mine.backward(dhs, cache)
    full = {k: v.copy() for k, v in mine.grads.items()}
    _, s1, c1 = mine.forward(x[:3], (h0, c0))
    _, _, c2 = mine.forward(x[3:], s1)
    dx2 = mine.backward(dhs[3:], c2)
    g2 = {k: v.copy() for k, v in mine.grads.items()}
    dx1 = mine.backward(dhs[:3], c1, dstate=mine.dstate0)
    np.testing.assert_allclose(np.concatenate([dx1, dx2]), dx_full, atol=1e-12)
    for k in full:
        np.testing.assert_allclose(mine.grads[k] + g2[k], full[k], atol=1e-12)


def test_sigmoid_is_stable_and_exact():
    a = np.array([-1000.0, -30.0, 0.0, 2.0, 1000.0])
    with np.errstate(over="raise"):
        s = sigmoid(a)
    np.testing.assert_allclose(s, torch.sigmoid(torch.tensor(a)).numpy(), rtol=1e-12, atol=1e-300)


def test_to_torch_round_trip_float32():
    mine = LSTM(I, H, rng=0, dtype=np.float32)
    ref = mine.to_torch()
    x = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
    out, _ = ref(torch.from_numpy(x))
    np.testing.assert_allclose(mine.forward(x)[0], out.detach().numpy(), atol=1e-5)
    assert ref.weight_hh_l0.dtype == torch.float32


# ---- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(T, I), (T, B, I, 1), (B, I)])
def test_wrong_rank_is_a_value_error_naming_the_shape(shape):
    with pytest.raises(ValueError, match=r"\(T, B, input_size=4\).*" + str(len(shape)) + "-d"):
        LSTM(I, H, rng=0).forward(np.zeros(shape))


def test_wrong_feature_size_is_a_value_error():
    with pytest.raises(ValueError, match=r"last axis has 7 features, expected 4"):
        LSTM(I, H, rng=0).forward(np.zeros((T, B, 7)))


@pytest.mark.parametrize("state, what", [
    ((np.zeros((B + 1, H)), np.zeros((B, H))), r"h0\) must have shape \(B, H\) = \(3, 5\)"),
    ((np.zeros((B, H)), np.zeros((B, H + 1))), r"c0\) must have shape \(B, H\) = \(3, 5\)"),
    ((np.zeros((1, B, H)), np.zeros((1, B, H))), r"got shape \(1, 3, 5\)"),
    (np.zeros((B, H)), r"state must be a pair \(h0, c0\)"),
])
def test_mismatched_state_is_a_value_error(state, what):
    with pytest.raises(ValueError, match=what):
        LSTM(I, H, rng=0).forward(np.zeros((T, B, I)), state)


def test_backward_checks_shapes():
    mine = LSTM(I, H, rng=0)
    _, _, cache = mine.forward(np.zeros((T, B, I)))
    with pytest.raises(ValueError, match=r"dhs must have the shape of hs"):
        mine.backward(np.zeros((T, B, H + 1)), cache)
    with pytest.raises(ValueError, match=r"dstate\[1\] \(dc\) must have shape"):
        mine.backward(np.zeros((T, B, H)), cache, dstate=(np.zeros((B, H)), np.zeros((H,))))


@pytest.mark.parametrize("kwargs, what", [
    (dict(num_layers=2), r"one-layer LSTM, got num_layers=2"),
    (dict(bidirectional=True), r"bidirectional=True"),
    (dict(proj_size=2), r"proj_size=2"),
    (dict(bias=False), r"bias=False"),
])
def test_from_torch_rejects_what_it_cannot_copy(kwargs, what):
    with pytest.raises(ValueError, match=what):
        LSTM.from_torch(torch.nn.LSTM(I, H, **kwargs))


def test_from_torch_needs_an_lstm():
    with pytest.raises(TypeError, match="torch.nn.LSTM, got GRU"):
        LSTM.from_torch(torch.nn.GRU(I, H))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_sizes_must_be_positive_ints(bad):
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        LSTM(I, bad)


# ---- the PyTorch language model -----------------------------------------------------

def test_lstmlm_shapes_loss_and_padding():
    from lmlib.models import LSTMLM

    torch.manual_seed(0)
    model = LSTMLM(vocab_size=11, n_embd=6, hidden_size=8)
    idx = torch.randint(0, 11, (2, 7))
    logits, loss = model(idx)
    assert logits.shape == (2, 7, 11) and loss is None
    targets = torch.randint(0, 11, (2, 7))
    _, loss = model(idx, targets)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1))
    torch.testing.assert_close(loss, expected)
    padded = targets.clone()
    padded[:, 4:] = -1  # padding is ignored
    _, loss_pad = model(idx, padded)
    expected = torch.nn.functional.cross_entropy(logits[:, :4].reshape(-1, 11),
                                                 targets[:, :4].reshape(-1))
    torch.testing.assert_close(loss_pad, expected)


def test_lstmlm_layer_equals_the_numpy_lstm():
    from lmlib.models import LSTMLM

    torch.manual_seed(0)
    model = LSTMLM(vocab_size=11, n_embd=6, hidden_size=8).double()
    idx = torch.randint(0, 11, (3, 5))
    emb = model.wte(idx)  # (B, T, C)
    out, _ = model.lstm(emb)
    mine = LSTM.from_torch(model.lstm)
    hs, _, _ = mine.forward(emb.detach().numpy().transpose(1, 0, 2))
    np.testing.assert_allclose(hs.transpose(1, 0, 2), out.detach().numpy(), atol=1e-12)


def test_lstmlm_state_is_carried():
    """Reading a sequence in two chunks with the state carried equals reading it at once."""
    from lmlib.models import LSTMLM

    torch.manual_seed(0)
    model = LSTMLM(vocab_size=11, n_embd=6, hidden_size=8, n_layer=2).double()
    idx = torch.randint(0, 11, (2, 9))
    full, _ = model.run(idx)
    a, state = model.run(idx[:, :4])
    b, _ = model.run(idx[:, 4:], state)
    torch.testing.assert_close(torch.cat([a, b], dim=1), full)


def test_lstmlm_generate():
    from lmlib.models import LSTMLM

    torch.manual_seed(0)
    model = LSTMLM(vocab_size=11, n_embd=6, hidden_size=8)
    g = torch.Generator().manual_seed(0)
    out = model.generate(torch.zeros((2, 3), dtype=torch.long), 10, generator=g)
    assert out.shape == (2, 13) and out.max() < 11
    again = model.generate(torch.zeros((2, 3), dtype=torch.long), 10,
                           generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, again)


def test_lstmlm_bad_input():
    from lmlib.models import LSTMLM

    model = LSTMLM(vocab_size=11, n_embd=6, hidden_size=8)
    with pytest.raises(ValueError, match=r"idx must have shape \(B, T\), got shape \(5,\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match="integer token ids"):
        model(torch.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"targets must be a tensor of the shape of idx"):
        model(torch.zeros((2, 5), dtype=torch.long), torch.zeros((2, 4), dtype=torch.long))
    with pytest.raises(ValueError, match=r"state must be \(h, c\), each of shape \(L, B, H\) = "
                                         r"\(1, 2, 8\)"):
        model.run(torch.zeros((2, 5), dtype=torch.long), (torch.zeros(1, 3, 8),) * 2)
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        LSTMLM(11, 6, 0)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        LSTMLM(11, 6, 8, dropout=1.5)


def test_shipped_checkpoint_loads_and_predicts_shakespeare():
    from lmlib.data import shakespeare
    from lmlib.models.lstm import ASSET, LSTMLM
    from lmlib.pretrained import load_pretrained
    from lmlib.scoring import score

    assert ASSET.stat().st_size <= 5 * 1024 * 1024
    model, stok = load_pretrained("shakespeare-lstm")
    tok, _, val = shakespeare()
    assert isinstance(model, LSTMLM) and not model.training
    assert stok.itos == tok.itos
    loss = score(model, val[:5000])
    assert loss < 1.75, f"the shipped LSTM scores {loss:.3f} nats/char on the start of val"


def test_lstmlm_from_config_and_generic_checkpoint_loading(tmp_path):
    from lmlib.checkpoint import load_checkpoint, save_checkpoint
    from lmlib.models import LSTMLM, LSTMConfig

    torch.manual_seed(0)
    model = LSTMLM(LSTMConfig(vocab_size=11, n_embd=6, hidden_size=8, n_layer=2))
    assert model.config == LSTMConfig(11, 6, 8, 2, 0.0)
    path = save_checkpoint(model, tmp_path / "m.safetensors", extra={"note": "x"})
    loaded, extra = load_checkpoint(path)  # builds the model from the metadata alone
    assert isinstance(loaded, LSTMLM) and extra == {"note": "x"}
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)
    with pytest.raises(TypeError, match="either an LSTMConfig or the sizes"):
        LSTMLM(LSTMConfig(11, 6, 8), 6)


def test_stream_loss_carries_the_state_across_chunks():
    from lmlib.models import LSTMLM
    from lmlib.scoring import _stream_losses, score

    torch.manual_seed(0)
    model = LSTMLM(vocab_size=11, n_embd=6, hidden_size=8).double()
    ids = torch.randint(0, 11, (50,))
    logits, _ = model.run(ids[None, :-1])
    expected = torch.nn.functional.cross_entropy(logits[0], ids[1:]).item()
    assert abs(_stream_losses(model, ids.numpy(), chunk=7).mean() - expected) < 1e-6
    assert abs(score(model, ids) - expected) < 1e-6


def test_names_loss_reads_each_name_from_an_empty_state():
    from lmlib.data import CharTokenizer
    from lmlib.models import LSTMLM
    from lmlib.scoring import score

    tok = CharTokenizer(".abcdefghijklmnopqrstuvwxyz")
    torch.manual_seed(0)
    model = LSTMLM(27, 5, 8).double()
    words = ["emma", "bo", "ava", "christopher"]
    total, count = 0.0, 0
    for w in words:
        ids = torch.as_tensor(tok.encode("." + w + "."))
        logits, _ = model(ids[None, :-1])
        total += torch.nn.functional.cross_entropy(logits[0], ids[1:], reduction="sum").item()
        count += len(w) + 1
    assert abs(score(model, (words, tok)) - total / count) < 1e-10


def test_lstm_speed_measures_both():
    from lmlib.speed import lstm_speed

    r = lstm_speed(T=4, B=2, I=3, H=5, repeats=2)
    assert r["numpy_s"] > 0 and r["torch_s"] > 0
    assert abs(r["ratio"] - r["numpy_s"] / r["torch_s"]) < 1e-12
