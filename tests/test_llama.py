"""The Llama of chapter 11: NumPy pieces against PyTorch (values and the RMSNorm gradient),
RoPE's properties, grouped-query attention, Hugging Face's LlamaForCausalLM (equal logits,
equal greedy generation with the KV cache), the course's trainer, checkpoints, sampling and
attention explorer unchanged, and bad input.

``transformers`` is a test-only dependency (the dev extra); the tests that need it are
skipped without it."""

import numpy as np
import pytest
import torch

from lmlib.models.llama import Llama, LlamaConfig, apply_rope, swiglu_hidden
from lmlib.models.llama import repeat_kv as torch_repeat_kv
from lmlib.scratch.gpt import params_from_torch
from lmlib.scratch.gradcheck import assert_gradcheck
from lmlib.scratch.llama import (
    grouped_query_attention,
    llama_forward,
    repeat_kv,
    rms_norm,
    rms_norm_backward,
    rope,
    rope_angles,
    rope_permutation,
    swiglu,
)

torch.set_num_threads(1)


def make(seed=0, scale=0.0, **kw):
    cfg = dict(vocab_size=29, block_size=24, n_layer=2, n_head=4, n_embd=32, n_kv_head=2)
    cfg.update(kw)
    torch.manual_seed(seed)
    model = Llama(LlamaConfig(**cfg))
    with torch.no_grad():  # larger weights than the init, so that every piece matters
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


# ----------------------------------------------------------------------------- the config

def test_config_defaults_and_names():
    c = LlamaConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    assert c.n_kv_head == 4 and c.n_inner == swiglu_hidden(128) == 344 and c.head_dim == 32
    assert LlamaConfig(**c.to_dict()) == c


@pytest.mark.parametrize("kw, match", [
    (dict(n_embd=30), "n_embd"),               # 30 / 4 heads is not an int
    (dict(n_embd=12, n_head=4), "even"),       # head width 3: RoPE needs pairs
    (dict(n_kv_head=3), "multiple of n_kv_head"),
    (dict(n_layer=0), "n_layer"),
    (dict(rope_theta=0.0), "rope_theta"),
    (dict(tie_word_embeddings=1), "tie_word_embeddings"),
])
def test_config_bad_input(kw, match):
    cfg = dict(vocab_size=29, block_size=24, n_layer=2, n_head=4, n_embd=32)
    cfg.update(kw)
    with pytest.raises(ValueError, match=match):
        LlamaConfig(**cfg)


def test_parameter_names_counts_and_no_biases():
    model = make()
    C, V, L, Ckv, F = 32, 29, 2, 16, swiglu_hidden(32)
    per_block = 2 * C + 2 * C * C + 2 * C * Ckv + 3 * C * F
    assert model.num_params() == 2 * V * C + L * per_block + C
    assert model.num_params(non_embedding=True) == L * per_block + C
    assert not any(name.endswith("bias") for name in model.state_dict())
    tied = make(tie_word_embeddings=True)
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    assert tied.num_params() == model.num_params() - V * C


# ----------------------------------------------------------------------------- the pieces

def test_rms_norm_equals_torch_and_has_no_mean():
    from lmlib.models.llama import RMSNorm

    x = np.random.default_rng(0).normal(2.0, 3.0, (3, 5, 8))  # mean 2: it is kept
    w = np.random.default_rng(1).normal(size=8)
    norm = RMSNorm(8, eps=1e-6).double()
    with torch.no_grad():
        norm.weight.copy_(torch.as_tensor(w))
        expected = norm(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(rms_norm(x, w), expected, rtol=0, atol=1e-12)
    y = rms_norm(x, np.ones(8))
    np.testing.assert_allclose((y ** 2).mean(-1), 1.0, atol=1e-6)
    assert abs(y.mean()) > 0.1  # unlike LayerNorm, the mean is not removed


def test_rms_norm_backward_gradcheck_and_torch():
    rng = np.random.default_rng(0)
    x, w, dout = rng.normal(size=(2, 3, 6)), rng.normal(size=6), rng.normal(size=(2, 3, 6))
    params = {"x": x, "weight": w}
    dx, dw = rms_norm_backward(dout, x, w)
    assert_gradcheck(lambda: float((rms_norm(params["x"], params["weight"]) * dout).sum()),
                     params, {"x": dx, "weight": dw}, tol=1e-7)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (xt * torch.rsqrt(xt.pow(2).mean(-1, keepdim=True) + 1e-6) * wt).backward(torch.as_tensor(dout))
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-12)


def test_rope_is_a_rotation_and_depends_only_on_the_offset():
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(1, 16)), rng.normal(size=(1, 16))
    for layout in ("half", "interleaved"):
        np.testing.assert_allclose(np.linalg.norm(rope(q, 7, layout=layout)),
                                   np.linalg.norm(q))  # lengths kept
        np.testing.assert_allclose(rope(q, 0, layout=layout), q)  # position 0: unchanged

        def score(m, n, layout=layout):
            return float((rope(q, m, layout=layout) * rope(k, n, layout=layout)).sum())

        for shift in (1, 10, 1000):
            assert abs(score(5, 2) - score(5 + shift, 2 + shift)) < 1e-9
        assert abs(score(5, 2) - score(5, 3)) > 1e-3  # but the offset matters


def test_the_two_layouts_are_equal_up_to_a_permutation():
    x = np.random.default_rng(0).normal(size=(2, 3, 9, 8))
    p = rope_permutation(8)
    assert p.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    np.testing.assert_allclose(rope(x[..., p], 3, layout="half"),
                               rope(x, 3, layout="interleaved")[..., p], atol=1e-12)
    assert not np.allclose(rope(x, 3, layout="half"), rope(x, 3, layout="interleaved"))


def test_rope_equals_torch_and_hugging_face():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    x = np.random.default_rng(0).normal(size=(2, 3, 9, 8))
    a = rope_angles(9, 8, 500.0, start=4)
    cos = torch.as_tensor(np.cos(np.concatenate([a, a], -1)))
    sin = torch.as_tensor(np.sin(np.concatenate([a, a], -1)))
    expected = apply_rope(torch.as_tensor(x), cos, sin).numpy()
    np.testing.assert_allclose(rope(x, 4, base=500.0), expected, atol=1e-12)
    theirs, _ = apply_rotary_pos_emb(torch.as_tensor(x), torch.as_tensor(x), cos[None], sin[None])
    np.testing.assert_allclose(theirs.numpy(), expected, atol=1e-12)


def test_swiglu_equals_torch():
    model = make(scale=0.3).double()
    mlp = model.model.layers[0].mlp
    x = np.random.default_rng(0).normal(size=(2, 5, 32))
    with torch.no_grad():
        expected = mlp(torch.as_tensor(x)).numpy()
    params = params_from_torch(model, np.float64)
    np.testing.assert_allclose(swiglu(x, params, "model.layers.0.mlp."), expected, atol=1e-12)


def test_repeat_kv_equals_torch_and_hugging_face():
    from transformers.models.llama.modeling_llama import repeat_kv as hf_repeat_kv

    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4))
    out = repeat_kv(x, 2)
    assert out.shape == (2, 6, 5, 4)
    np.testing.assert_array_equal(out[:, 2], x[:, 1])  # query heads 2 and 3 share kv head 1
    np.testing.assert_array_equal(out[:, 3], x[:, 1])
    np.testing.assert_array_equal(out, torch_repeat_kv(torch.as_tensor(x), 2).numpy())
    np.testing.assert_array_equal(out, hf_repeat_kv(torch.as_tensor(x), 2).numpy())
    np.testing.assert_array_equal(repeat_kv(x, 1), x)


def test_gqa_equals_multi_head_attention_with_copied_heads():
    """n_kv_head=2 of 4 equals MHA whose key/value heads 0,1 are copies of head 0 and 2,3 of
    head 1, in NumPy and in the PyTorch model."""
    gqa = make(scale=0.3).double()
    mha = make(n_kv_head=4).double()
    d = 8
    sd = {k: v.clone() for k, v in gqa.state_dict().items()}
    for key in list(sd):
        if key.endswith(("k_proj.weight", "v_proj.weight")):
            heads = sd[key].view(2, d, 32)
            sd[key] = heads.repeat_interleave(2, dim=0).reshape(4 * d, 32)
    mha.load_state_dict(sd)
    idx = torch.randint(0, 29, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(mha(idx)[0], gqa(idx)[0], atol=1e-12, rtol=0)
    x = np.random.default_rng(0).normal(size=(2, 7, 32))
    p_gqa, p_mha = params_from_torch(gqa, np.float64), params_from_torch(mha, np.float64)
    pre = "model.layers.0.self_attn."
    y1, w1 = grouped_query_attention(x, p_gqa, 4, 2, pre)
    y2, w2 = grouped_query_attention(x, p_mha, 4, 4, pre)
    np.testing.assert_allclose(y1, y2, atol=1e-12)
    np.testing.assert_allclose(w1, w2, atol=1e-12)


def test_gqa_with_as_many_kv_heads_as_query_heads_is_multi_head_attention():
    """n_kv_head == n_head: every head attends on its own, as in chapter 05."""
    from lmlib.scratch.attention import causal_mask, scaled_dot_product_attention

    params = params_from_torch(make(scale=0.3, n_kv_head=4), np.float64)
    pre = "model.layers.1.self_attn."
    x = np.random.default_rng(0).normal(size=(2, 7, 32))
    y, _ = grouped_query_attention(x, params, 4, 4, pre)
    heads = []
    for h in range(4):
        rows = slice(8 * h, 8 * h + 8)
        q, k, v = (x @ params[pre + f"{n}_proj.weight"][rows].T for n in "qkv")
        heads.append(scaled_dot_product_attention(rope(q), rope(k), v, causal_mask(7))[0])
    np.testing.assert_allclose(y, np.concatenate(heads, -1) @ params[pre + "o_proj.weight"].T,
                               atol=1e-12)


# ----------------------------------------------------------------------------- whole model

@pytest.mark.parametrize("kw", [dict(), dict(n_kv_head=1), dict(n_kv_head=4),
                                dict(tie_word_embeddings=True)])
def test_numpy_forward_equals_torch_float64(kw):
    model = make(scale=0.3, **kw).double()
    idx = torch.randint(0, 29, (2, 24))
    with torch.no_grad():
        expected, _, att = model(idx, return_attention=True)
    params = params_from_torch(model, np.float64)
    if kw.get("tie_word_embeddings"):
        params.pop("lm_head.weight")  # the NumPy forward falls back to the embedding
    logits, atts = llama_forward(params, idx.numpy(), model.config, return_attention=True)
    np.testing.assert_allclose(logits, expected.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(atts, att.numpy(), rtol=0, atol=1e-10)


def test_both_attention_paths_agree_and_are_causal():
    model = make(scale=0.3)
    idx = torch.randint(0, 29, (3, 24))
    with torch.no_grad():
        fused, _ = model(idx)
        explicit, loss, att = model(idx, idx, return_attention=True)
        b = idx.clone()
        b[:, 10:] = (b[:, 10:] + 1) % 29
        changed, _ = model(b)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    assert att.shape == (2, 3, 4, 24, 24) and torch.all(att.triu(1) == 0)
    torch.testing.assert_close(changed[:, :10], fused[:, :10])
    assert loss is not None and loss.ndim == 0


@pytest.mark.parametrize("split", [1, 9, 23])
def test_kv_cache_equals_the_full_pass_and_holds_only_the_kv_heads(split):
    model = make(scale=0.3)
    idx = torch.randint(0, 29, (2, 24))
    with torch.no_grad():
        full, _ = model(idx)
        first, past = model.forward_cached(idx[:, :split])
        steps = [first]
        for t in range(split, 24):
            logits, past = model.forward_cached(idx[:, t:t + 1], past)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
    assert past[0][0].shape == (2, 2, 24, 8)  # (B, H_kv, T, d): 2 kv heads, not 4
    logits, loss, present = model(idx[:, :5], use_cache=True)
    assert loss is None and present[0][1].shape == (2, 2, 5, 8)


# ----------------------------------------------------------------------------- Hugging Face

def hf_pair(tie=False, n_kv_head=2):
    import transformers  # a test-only dependency (the dev extra)

    hc = transformers.LlamaConfig(vocab_size=29, hidden_size=32, intermediate_size=40,
                                  num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=n_kv_head, max_position_embeddings=48,
                                  rms_norm_eps=1e-5, rope_theta=500.0,
                                  tie_word_embeddings=tie)
    torch.manual_seed(0)
    hf = transformers.LlamaForCausalLM(hc).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.1 * torch.randn_like(p))
    config = LlamaConfig(vocab_size=29, block_size=48, n_layer=2, n_head=4, n_embd=32,
                         n_kv_head=n_kv_head, n_inner=40, rms_norm_eps=1e-5, rope_theta=500.0,
                         tie_word_embeddings=tie)
    return hf, Llama.from_hf_llama(hf.state_dict(), config).eval()


@pytest.mark.parametrize("tie, n_kv_head", [(False, 2), (True, 1), (False, 4)])
def test_hugging_face_llama_gives_the_same_logits(tie, n_kv_head):
    hf, ours = hf_pair(tie, n_kv_head)
    idx = torch.randint(0, 29, (2, 48))
    with torch.no_grad():
        theirs = hf(idx).logits
        mine, _ = ours(idx)
    torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)
    assert (theirs.std() > 0.1)  # the logits are not all alike: the test could fail


def test_hugging_face_greedy_generation_with_the_kv_cache_is_the_same():
    from lmlib.sampling import generate

    hf, ours = hf_pair()
    prompt = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    with torch.no_grad():
        theirs = hf.generate(prompt, max_new_tokens=30, do_sample=False, use_cache=True,
                             pad_token_id=0, eos_token_id=None)
    mine = generate(ours, prompt, 30, temperature=0, use_cache=True)
    assert mine == theirs[0].tolist()
    assert mine == generate(ours, prompt, 30, temperature=0, use_cache=False)
    assert len(set(mine[8:])) > 2  # not one token repeated


def test_from_hf_llama_bad_input():
    hf, ours = hf_pair()
    sd = hf.state_dict()
    with pytest.raises(TypeError, match="state_dict"):
        Llama.from_hf_llama([1, 2], ours.config)
    missing = {k: v for k, v in sd.items() if "layers.1.mlp.up_proj" not in k}
    with pytest.raises(ValueError, match="up_proj"):
        Llama.from_hf_llama(missing, ours.config)
    wrong = LlamaConfig(**dict(ours.config.to_dict(), n_kv_head=4))
    with pytest.raises(ValueError, match="k_proj.*shape"):
        Llama.from_hf_llama(sd, wrong)


# ----------------------------------------------------------------------------- course tools

def test_trainer_checkpoint_sampling_and_explorer_work_unchanged(tmp_path):
    from lmlib.checkpoint import load_checkpoint
    from lmlib.sampling import generate
    from lmlib.scoring import score
    from lmlib.train import train
    from lmlib.viz import AttentionExplorer

    rng = np.random.default_rng(0)
    ids = np.tile(rng.integers(0, 29, 40), 30)  # a repeated pattern: learnable
    model = make(block_size=32)
    history = train(model, ids[:1000], ids[1000:], steps=40, batch_size=8, block_size=16,
                    lr=1e-2, warmup=5, eval_interval=20, eval_batches=2,
                    checkpoint=tmp_path / "llama.safetensors", progress=False, plot=False)
    assert history.best_val < np.log(29) - 2  # it learned the pattern
    loaded, extra = load_checkpoint(tmp_path / "llama.safetensors")
    assert isinstance(loaded, Llama) and loaded.config == model.config
    # RoPE has no table: scoring with a longer window (32) than the training one (16) works
    assert np.isfinite(score(loaded, ids[1000:]))
    out = generate(loaded, [1, 2, 3], 40, temperature=0.8, seed=0)
    assert len(out) == 43  # past block_size 32: the cache slides
    _, _, att = loaded(torch.as_tensor(ids[:10])[None], return_attention=True)
    explorer = AttentionExplorer(att[:, 0].detach(), [str(i) for i in ids[:10]], layer=1, head=3)
    assert explorer.layer == 1


@pytest.mark.parametrize("call, exc, match", [
    (lambda m: m([[1, 2]]), TypeError, "torch.Tensor"),
    (lambda m: m(torch.zeros(1, 3)), TypeError, "integer"),
    (lambda m: m(torch.zeros(3, dtype=torch.long)), ValueError, r"\(B, T\)"),
    (lambda m: m(torch.zeros(1, 25, dtype=torch.long)), ValueError, "block_size"),
    (lambda m: m(torch.full((1, 3), 29)), ValueError, "vocabulary"),
    (lambda m: m(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long)),
     ValueError, "targets"),
    (lambda m: m(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long),
                 use_cache=True), ValueError, "generation"),
    (lambda m: m.forward_cached(torch.zeros(1, 3, dtype=torch.long), past_kv=[None]),
     ValueError, "past_kv"),
    (lambda m: Llama(dict(vocab_size=3)), TypeError, "LlamaConfig"),
])
def test_model_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(make())


def test_numpy_bad_input():
    x = np.zeros((2, 4, 6))
    with pytest.raises(ValueError, match="layout"):
        rope(x, layout="pairs")
    with pytest.raises(ValueError, match="even"):
        rope(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="n_rep"):
        repeat_kv(np.zeros((1, 2, 3, 4)), 0)
    with pytest.raises(ValueError, match=r"\(B, H_kv, T, d\)"):
        repeat_kv(x, 2)
    with pytest.raises(ValueError, match="dout"):
        rms_norm_backward(np.zeros((2, 3)), x, np.ones(6))
    with pytest.raises(ValueError, match="multiple of n_kv_head"):
        grouped_query_attention(np.zeros((1, 2, 32)), {}, 4, 3)
    with pytest.raises(ValueError, match="block_size"):
        llama_forward(params_from_torch(make()), np.zeros(25, dtype=int), make().config)


def test_tied_checkpoint_round_trip(tmp_path):
    from lmlib.checkpoint import load_checkpoint, save_checkpoint

    model = make(scale=0.1, tie_word_embeddings=True)
    save_checkpoint(model, tmp_path / "tied.safetensors", extra={"note": "tied"})
    loaded, extra = load_checkpoint(tmp_path / "tied.safetensors")
    assert extra == {"note": "tied"} and loaded.lm_head.weight is loaded.model.embed_tokens.weight
    idx = torch.randint(0, 29, (1, 10))
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(idx)[0], model(idx)[0])
