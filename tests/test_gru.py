"""The NumPy GRU (lmlib.scratch.gru) against torch.nn.GRU: outputs and every gradient; its
gradient check; bad input; and the PyTorch GRU language model (lmlib.models.gru)."""

import numpy as np
import pytest
import torch

from lmlib.scratch.gradcheck import gradcheck
from lmlib.scratch.gru import GRU

T, B, I, H = 6, 3, 4, 5


@pytest.mark.parametrize("with_state", [True, False])
def test_parity_with_torch_outputs_and_every_gradient(with_state):
    torch.manual_seed(0)
    ref = torch.nn.GRU(I, H, dtype=torch.float64)
    with torch.no_grad():
        ref.bias_hh_l0.normal_()  # b_hn matters: make it large enough to test
    mine = GRU.from_torch(ref)
    rng = np.random.default_rng(1)
    x, h0, dhs, dh = (rng.standard_normal(s) for s in ((T, B, I), (B, H), (T, B, H), (B, H)))
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, hT = ref(xt, h0t if with_state else None)
    ((out * torch.tensor(dhs)).sum() + (hT[0] * torch.tensor(dh)).sum()).backward()
    hs, cache = mine.forward(x, h0 if with_state else None)
    dx = mine.backward(dhs, cache, dh=dh)
    np.testing.assert_allclose(hs, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    if with_state:
        np.testing.assert_allclose(mine.dh0, h0t.grad[0].numpy(), atol=1e-10)
    for name in mine.params:
        np.testing.assert_allclose(mine.grads[name], getattr(ref, f"{name}_l0").grad.numpy(),
                                   atol=1e-10, err_msg=name)


def test_gradient_check():
    gru = GRU(3, 4, rng=0)
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 4))
    hs, cache = gru.forward(x)
    gru.backward(w, cache)
    errors = gradcheck(lambda: float((gru.forward(x)[0] * w).sum()), gru.params, gru.grads)
    assert max(errors.values()) < 1e-7, errors


def test_update_gate_open_keeps_the_state():
    gru = GRU(2, 3, rng=0)
    gru.params["bias_ih"][3:6] = 50.0   # z = sigmoid(50) = 1: h_t = h_{t-1}
    h0 = np.random.default_rng(0).standard_normal((1, 3))
    hs, _ = gru.forward(np.random.default_rng(1).standard_normal((4, 1, 2)), h0)
    np.testing.assert_allclose(hs[-1], h0)


def test_bad_input():
    gru = GRU(3, 4, rng=0)
    with pytest.raises(ValueError, match="input_size=3"):
        gru.forward(np.zeros((5, 2, 2)))
    with pytest.raises(ValueError, match="h0"):
        gru.forward(np.zeros((5, 2, 3)), np.zeros((3, 4)))
    with pytest.raises(TypeError, match="torch.nn.GRU"):
        GRU.from_torch(torch.nn.LSTM(3, 4))
    with pytest.raises(ValueError, match="hidden_size"):
        GRU(3, 0)


def test_grulm_forward_and_state():
    from lmlib.models.gru import GRULM

    torch.manual_seed(0)
    model = GRULM(10, 6, 8)
    idx = torch.randint(0, 10, (2, 7))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 7, 10) and loss.item() > 0
    first, h = model.run(idx[:, :3])
    rest, _ = model.run(idx[:, 3:], h)
    np.testing.assert_allclose(torch.cat([first, rest], 1).detach().numpy(),
                               logits.detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="hidden_size"):
        GRULM(10, 6, 0)
