"""lmlib.scratch.layers against torch.nn (float64), gradient checks, bad input."""

import numpy as np
import pytest
import torch

from lmlib.scratch import functional as F
from lmlib.scratch.gradcheck import assert_gradcheck
from lmlib.scratch.layers import Embedding, Linear, Tanh


def test_linear_forward_backward_equal_torch():
    rng = np.random.default_rng(0)
    lin = Linear(5, 3, rng=1)
    x = rng.standard_normal((2, 4, 5))
    dout = rng.standard_normal((2, 4, 3))
    ref = torch.nn.Linear(5, 3).double()
    with torch.no_grad():  # same names and layout: the weights copy one to one
        for name, p in ref.named_parameters():
            p.copy_(torch.from_numpy(lin.params[name]))
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = ref(xt)
    y = lin.forward(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    yt.backward(torch.from_numpy(dout))
    dx = lin.backward(dout)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(lin.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_linear_without_bias():
    lin = Linear(3, 2, bias=False, rng=0)
    assert set(lin.params) == {"weight"} == set(lin.grads)
    x = np.ones((4, 3))
    lin.backward(np.ones_like(lin.forward(x)))
    assert lin.grads["weight"].shape == (2, 3)


def test_embedding_forward_backward_equal_torch():
    emb = Embedding(6, 4, rng=0)
    idx = np.array([[0, 5, 5], [2, 0, 1]])  # repeated ids: their gradients add up
    dout = np.random.default_rng(1).standard_normal((2, 3, 4))
    ref = torch.nn.Embedding(6, 4).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.params["weight"]))
    yt = ref(torch.from_numpy(idx))
    np.testing.assert_array_equal(emb.forward(idx), yt.detach().numpy())
    yt.backward(torch.from_numpy(dout))
    assert emb.backward(dout) is None
    np.testing.assert_allclose(emb.grads["weight"], ref.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(emb.grads["weight"][3], 0.0)  # unused row


def test_tanh_equal_torch():
    x = np.random.default_rng(0).standard_normal((3, 4)) * 3
    dout = np.random.default_rng(1).standard_normal((3, 4))
    t = Tanh()
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.tanh(xt)
    np.testing.assert_allclose(t.forward(x), yt.detach().numpy(), rtol=1e-14)
    yt.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(t.backward(dout), xt.grad.numpy(), rtol=1e-12)
    assert t.params == {} and t.grads == {}


def test_stack_passes_gradient_check():
    rng = np.random.default_rng(0)
    emb, lin1, act, lin2 = Embedding(7, 3, rng=1), Linear(6, 8, rng=2), Tanh(), Linear(8, 7, rng=3)
    idx = rng.integers(0, 7, size=(5, 2))
    y = rng.integers(0, 7, size=5)
    layers = {"emb": emb, "lin1": lin1, "lin2": lin2}
    params = {f"{ln}.{k}": v for ln, layer in layers.items() for k, v in layer.params.items()}

    def loss():
        h = act.forward(lin1.forward(emb.forward(idx).reshape(5, 6)))
        return F.cross_entropy(lin2.forward(h), y)

    value, d = loss()
    d = lin1.backward(act.backward(lin2.backward(d)))
    emb.backward(d.reshape(5, 2, 3))
    grads = {f"{ln}.{k}": v for ln, layer in layers.items() for k, v in layer.grads.items()}
    errors = assert_gradcheck(lambda: loss()[0], params, grads, tol=1e-6)
    assert set(errors) == set(params)


def test_bad_input():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Linear(0, 3)
    with pytest.raises(ValueError, match="embedding_dim must be a positive integer"):
        Embedding(3, 2.5)
    with pytest.raises(TypeError, match="rng must be"):
        Linear(2, 2, rng="seed")
    lin = Linear(3, 2, rng=0)
    with pytest.raises(RuntimeError, match="call forward before backward"):
        lin.backward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 3\), got shape \(4, 2\)"):
        lin.forward(np.zeros((4, 2)))
    lin.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(4, 2\)"):
        lin.backward(np.zeros((4, 3)))
    emb = Embedding(5, 2, rng=0)
    with pytest.raises(ValueError, match=r"idx must lie in \[0, 5\), got values in \[0, 5\]"):
        emb.forward(np.array([0, 5]))
    with pytest.raises(TypeError, match="idx must be integer"):
        emb.forward(np.array([0.0, 1.0]))
    t = Tanh()
    with pytest.raises(RuntimeError, match="call forward before backward"):
        t.backward(np.zeros(2))
