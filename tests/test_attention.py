"""lmlib.scratch.attention: parity with PyTorch (values and gradients, float64), gradient
checks of the hand-written backward, masks, positions and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmlib.scratch.attention import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    sinusoidal_positions,
    split_heads,
)
from lmlib.scratch.gradcheck import numerical_gradient


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------- worked example

def test_two_token_example_is_not_uniform():
    x = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    out, w = scaled_dot_product_attention(x, x, x)
    np.testing.assert_allclose(w, [[0.474, 0.526], [0.4354, 0.5646]], atol=5e-4)
    np.testing.assert_allclose(out, [[0.2578, 0.3578, 0.4578], [0.2694, 0.3694, 0.4694]],
                               atol=5e-5)
    assert not np.allclose(w, 0.5, atol=0.01)


# ----------------------------------------------------------------------------- parity with torch

@pytest.mark.parametrize("shape_q,shape_k,d_v", [((5, 4), (7, 4), 3),
                                                 ((2, 3, 6, 8), (2, 3, 6, 8), 8),
                                                 ((2, 1, 4, 5), (2, 3, 9, 5), 2)])
def test_sdpa_matches_torch_without_mask(shape_q, shape_k, d_v):
    q = rand(*shape_q, seed=1)
    k = rand(*shape_k, seed=2)
    v = rand(*shape_k[:-1], d_v, seed=3)
    out, w = scaled_dot_product_attention(q, k, v)
    ref = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v))
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)


def test_sdpa_matches_torch_with_causal_and_padding_masks():
    B, H, T, d = 2, 3, 6, 4
    q, k, v = rand(B, H, T, d, seed=4), rand(B, H, T, d, seed=5), rand(B, H, T, d, seed=6)
    lengths = np.array([6, 4])  # sequence 1 has two padding positions at the end
    padding = (np.arange(T)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, T)
    for mask in (causal_mask(T), padding, causal_mask(T) & padding):
        out, w = scaled_dot_product_attention(q, k, v, mask)
        ref = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                             attn_mask=torch.tensor(mask))
        np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-12)
        assert np.all(np.where(np.broadcast_to(mask, w.shape), 0.0, w) == 0.0)
    ref_causal = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k),
                                                torch.tensor(v), is_causal=True)
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(T))
    np.testing.assert_allclose(out, ref_causal.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_gradients_match_torch_autograd():
    T, d = 5, 4
    q, k, v = rand(2, T, d, seed=7), rand(2, T, d, seed=8), rand(2, T, 3, seed=9)
    dout = rand(2, T, 3, seed=10)
    mask = causal_mask(T)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    dq, dk, dv = scaled_dot_product_attention_backward(dout, q, k, v, w)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ref = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(mask))
    (ref * torch.tensor(dout)).sum().backward()
    for mine, theirs in ((dq, tq), (dk, tk), (dv, tv)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- gradient check

@pytest.mark.parametrize("with_mask", [False, True])
def test_sdpa_backward_gradient_check(with_mask):
    T_q, T_k, d, d_v = 4, 5, 3, 2
    q, k, v = rand(T_q, d, seed=11), rand(T_k, d, seed=12), rand(T_k, d_v, seed=13)
    dout = rand(T_q, d_v, seed=14)
    mask = np.tril(np.ones((T_q, T_k), dtype=bool), k=1) if with_mask else None
    if with_mask:
        mask[0] = False  # one fully masked row too
    loss = lambda: float((scaled_dot_product_attention(q, k, v, mask)[0] * dout).sum())
    out, w = scaled_dot_product_attention(q, k, v, mask)
    grads = scaled_dot_product_attention_backward(dout, q, k, v, w)
    for analytic, x in zip(grads, (q, k, v)):
        numeric = numerical_gradient(loss, x)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_backward_sums_over_broadcast_axes():
    q, k, v = rand(3, 4, 2, seed=15), rand(1, 5, 2, seed=16), rand(5, 2, seed=17)
    dout = rand(3, 4, 2, seed=18)
    out, w = scaled_dot_product_attention(q, k, v)
    dq, dk, dv = scaled_dot_product_attention_backward(dout, q, k, v, w)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape
    loss = lambda: float((scaled_dot_product_attention(q, k, v)[0] * dout).sum())
    np.testing.assert_allclose(dk, numerical_gradient(loss, k), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dv, numerical_gradient(loss, v), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- masks

def test_causal_mask_is_lower_triangular_bool():
    m = causal_mask(4)
    assert m.dtype == bool and m.shape == (4, 4)
    assert m[2, 2] and m[3, 0] and not m[0, 1] and m.sum() == 10


def test_fully_masked_row_gives_zeros_not_nan():
    q = k = v = rand(3, 4, seed=19)
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert np.isfinite(out).all() and np.isfinite(w).all()
    assert np.all(w[1] == 0) and np.all(out[1] == 0)
    np.testing.assert_allclose(w[[0, 2]].sum(-1), 1.0)
    # PyTorch's scaled_dot_product_attention makes the same choice (zeros, no NaN)
    t = torch.tensor(q)
    ref = F.scaled_dot_product_attention(t, t, t, attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-12)


def test_mask_changes_only_masked_rows():
    q, k, v = rand(4, 3, seed=20), rand(4, 3, seed=21), rand(4, 3, seed=22)
    out_full, _ = scaled_dot_product_attention(q, k, v)
    out_causal, w = scaled_dot_product_attention(q, k, v, causal_mask(4))
    np.testing.assert_allclose(out_causal[-1], out_full[-1])  # the last row sees everything
    np.testing.assert_allclose(out_causal[0], v[0])           # the first row sees only itself
    assert np.all(w[np.triu_indices(4, 1)] == 0)


# ----------------------------------------------------------------------------- positions

def test_sinusoidal_positions_values():
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16)
    t, i = 7, 3
    np.testing.assert_allclose(pe[t, 2 * i], np.sin(t / 10000 ** (2 * i / 16)))
    np.testing.assert_allclose(pe[t, 2 * i + 1], np.cos(t / 10000 ** (2 * i / 16)))
    np.testing.assert_allclose(pe[0, 1::2], 1.0)
    assert sinusoidal_positions(5, 7).shape == (5, 7)


def test_attention_is_permutation_equivariant():
    x = rand(6, 4, seed=23)
    perm = np.random.default_rng(0).permutation(6)
    out, _ = scaled_dot_product_attention(x, x, x)
    out_p, _ = scaled_dot_product_attention(x[perm], x[perm], x[perm])
    np.testing.assert_allclose(out_p, out[perm], atol=1e-12)


# ----------------------------------------------------------------------------- heads, MHA

def test_split_merge_heads_roundtrip():
    x = rand(2, 5, 12, seed=24)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(h[:, 1], x[..., 4:8])
    np.testing.assert_array_equal(merge_heads(h), x)


def _torch_mha(D, H, bias=True, seed=0):
    torch.manual_seed(seed)
    m = torch.nn.MultiheadAttention(D, H, bias=bias, batch_first=True).double()
    with torch.no_grad():  # torch starts the biases at zero: make them matter
        if bias:
            m.in_proj_bias.normal_()
            m.out_proj.bias.normal_()
    return m


@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_torch_self_attention_with_causal_mask(bias):
    B, T, D, H = 2, 6, 8, 2
    ref = _torch_mha(D, H, bias)
    mha = MultiHeadAttention.from_torch(ref)
    x = rand(B, T, D, seed=25)
    mask = causal_mask(T)
    out, w = mha(x, mask=mask)
    tx = torch.tensor(x, requires_grad=True)
    # torch's boolean attn_mask marks what may NOT be attended: the opposite of ours
    tout, tw = ref(tx, tx, tx, attn_mask=torch.tensor(~mask), average_attn_weights=False)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-10, atol=1e-12)
    # gradients: inputs and every parameter
    dout = rand(B, T, D, seed=26)
    dx = mha.backward(dout)
    (tout * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    Dm = D
    tw_in = ref.in_proj_weight.grad.numpy()
    for i, name in enumerate("qkv"):
        np.testing.assert_allclose(mha.grads[f"w_{name}"], tw_in[i * Dm:(i + 1) * Dm],
                                   rtol=1e-9, atol=1e-11)
        if bias:
            np.testing.assert_allclose(mha.grads[f"b_{name}"],
                                       ref.in_proj_bias.grad.numpy()[i * Dm:(i + 1) * Dm],
                                       rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(mha.grads["w_o"], ref.out_proj.weight.grad.numpy(),
                               rtol=1e-9, atol=1e-11)
    if bias:
        np.testing.assert_allclose(mha.grads["b_o"], ref.out_proj.bias.grad.numpy(),
                                   rtol=1e-9, atol=1e-11)


def test_mha_cross_attention_matches_torch():
    D, H = 6, 3
    ref = _torch_mha(D, H, seed=1)
    mha = MultiHeadAttention.from_torch(ref)
    x, memory = rand(2, 4, D, seed=27), rand(2, 7, D, seed=28)
    out, w = mha(x, memory, memory)
    assert w.shape == (2, H, 4, 7)
    tx = torch.tensor(x, requires_grad=True)
    tm = torch.tensor(memory, requires_grad=True)
    tout, _ = ref(tx, tm, tm)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    dout = rand(2, 4, D, seed=29)
    dq, dk, dv = mha.backward(dout)
    (tout * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(dq, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dk + dv, tm.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_mha_unbatched_and_gradient_check():
    D, H, T = 4, 2, 3
    mha = MultiHeadAttention(D, H, rng=np.random.default_rng(1))
    for name in ("b_q", "b_k", "b_v", "b_o"):
        mha.params[name] = rand(D, seed=30)
    x = rand(T, D, seed=31)
    dout = rand(T, D, seed=32)
    mask = causal_mask(T)
    out, w = mha(x, mask=mask)
    assert out.shape == (T, D) and w.shape == (H, T, T)
    dx = mha.backward(dout)
    loss = lambda: float((mha(x, mask=mask)[0] * dout).sum())
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name in ("w_q", "w_v", "b_k", "w_o"):
        np.testing.assert_allclose(mha.grads[name], numerical_gradient(loss, mha.params[name]),
                                   rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- bad input

def test_q_k_feature_sizes_differ():
    with pytest.raises(ValueError, match=r"same feature size.*\(3, 4\).*\(3, 5\)"):
        scaled_dot_product_attention(rand(3, 4), rand(3, 5), rand(3, 5))


def test_k_v_lengths_differ():
    with pytest.raises(ValueError, match="T_k"):
        scaled_dot_product_attention(rand(3, 4), rand(3, 4), rand(2, 4))


def test_mask_not_broadcastable():
    q = rand(2, 3, 4)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\) does not broadcast.*\(2, 3, 3\)"):
        scaled_dot_product_attention(q, q, q, np.ones((4, 4), dtype=bool))


def test_mask_must_be_bool():
    q = rand(3, 4)
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, q, q, np.ones((3, 3)))


def test_rank_too_small():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        scaled_dot_product_attention(rand(4), rand(3, 4), rand(3, 4))


def test_bad_sizes_for_masks_positions_heads():
    with pytest.raises(ValueError, match="T must be a positive integer"):
        causal_mask(0)
    with pytest.raises(ValueError, match="d must be a positive integer"):
        sinusoidal_positions(4, 0)
    with pytest.raises(ValueError, match="divisible by n_head=5"):
        split_heads(rand(2, 3, 8), 5)
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match=r"query must have shape \(B, T, 8\)"):
        MultiHeadAttention(8, 2)(rand(2, 3, 5))
    with pytest.raises(TypeError, match="MultiheadAttention"):
        MultiHeadAttention.from_torch(torch.nn.Linear(3, 3))
    with pytest.raises(RuntimeError, match="forward before backward"):
        MultiHeadAttention(4, 2).backward(rand(3, 4))
