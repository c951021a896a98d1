"""The NumPy Transformer block against PyTorch (float64): LayerNorm values and gradients
(plus a finite-difference gradient check), GELU, the feed-forward block, attention, the block."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmlib.models.gpt import GPT, Block, GPTConfig
from lmlib.scratch.gradcheck import numerical_gradient
from lmlib.scratch.transformer import (
    LayerNorm,
    block_forward,
    causal_self_attention,
    feed_forward,
    gelu,
    gelu_backward,
    layer_norm,
)

torch.set_num_threads(1)




def test_layer_norm_forward_and_backward_match_torch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 6)) * 3 + 1
    ln = LayerNorm(6)
    ln.params["weight"] = rng.normal(size=6)
    ln.params["bias"] = rng.normal(size=6)
    dout = rng.normal(size=x.shape)
    y = ln(x)
    dx = ln.backward(dout)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(ln.params["weight"], requires_grad=True)
    bt = torch.tensor(ln.params["bias"], requires_grad=True)
    yt = F.layer_norm(xt, (6,), wt, bt, eps=1e-5)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ln.grads["weight"], wt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ln.grads["bias"], bt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(layer_norm(x, ln.params["weight"], ln.params["bias"]), y)


def test_layer_norm_gradient_check():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))
    ln = LayerNorm(4)
    ln.params["weight"] = rng.normal(size=4)
    ln.params["bias"] = rng.normal(size=4)
    dout = rng.normal(size=x.shape)
    loss = lambda: float((ln.forward(x) * dout).sum())
    loss()
    dx = ln.backward(dout)
    grads = dict(ln.grads)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(grads[name], numerical_gradient(loss, ln.params[name]),
                                   rtol=1e-6, atol=1e-8)


def test_layer_norm_output_is_normalised_and_bad_input():
    y = LayerNorm(8)(np.random.default_rng(2).normal(size=(4, 8)) * 10 + 5)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        LayerNorm(8)(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="n_features"):
        LayerNorm(0)
    with pytest.raises(RuntimeError, match="forward"):
        LayerNorm(3).backward(np.zeros(3))
    ln = LayerNorm(3)
    ln(np.ones((2, 3)))
    with pytest.raises(ValueError, match="dout"):
        ln.backward(np.zeros((3, 3)))


def test_gelu_matches_torch_and_its_gradient():
    x = np.linspace(-5, 5, 101)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.gelu(xt, approximate="tanh")
    yt.sum().backward()
    np.testing.assert_allclose(gelu(x), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gelu_backward(np.ones_like(x), x), xt.grad.numpy(),
                               rtol=1e-10, atol=1e-12)
    # close to the exact x * Phi(x)
    np.testing.assert_allclose(gelu(x), F.gelu(torch.tensor(x)).numpy(), atol=1e-3)


@pytest.fixture
def block64():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)
    block = Block(cfg).double().eval()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.1 * torch.randn_like(p))  # LayerNorms away from 1 / 0
    params = {k: v.numpy() for k, v in block.state_dict().items()}
    x = np.random.default_rng(3).normal(size=(2, 6, 8))
    return block, params, x


def test_feed_forward_attention_and_block_match_torch(block64):
    block, params, x = block64
    xt = torch.tensor(x)
    with torch.no_grad():
        np.testing.assert_allclose(feed_forward(x, params), block.mlp(xt).numpy(),
                                   rtol=1e-10, atol=1e-12)
        y, w = causal_self_attention(x, params, n_head=2)
        yt, wt = block.attn(xt, return_attention=True)
        np.testing.assert_allclose(y, yt.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(w, wt.numpy(), rtol=1e-10, atol=1e-12)
        out, _ = block_forward(x, params, n_head=2)
        np.testing.assert_allclose(out, block(xt)[0].numpy(), rtol=1e-10, atol=1e-12)
    # causal: no weight on the future
    assert np.all(np.triu(w, k=1) == 0)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_block_is_causal(block64):
    _, params, x = block64
    out1, _ = block_forward(x, params, n_head=2)
    x2 = x.copy()
    x2[:, 4:] += 1.0  # change the future
    out2, _ = block_forward(x2, params, n_head=2)
    np.testing.assert_allclose(out1[:, :4], out2[:, :4])
    assert not np.allclose(out1[:, 4:], out2[:, 4:])


def test_block_forward_with_a_whole_gpt_state_dict():
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=8)).double()
    params = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    x = np.random.default_rng(4).normal(size=(1, 5, 8))
    out, _ = block_forward(x, params, 2, prefix="transformer.h.1.")
    with torch.no_grad():
        ref = model.transformer.h[1](torch.tensor(x))[0].numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
