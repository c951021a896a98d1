"""The PyTorch GPT: GPT-2's names and layout, both attention paths, generation, loading
GPT-2-format weights, the NumPy forward's parity, and bad input."""

import numpy as np
import pytest
import torch

from lmlib.models.gpt import GPT, GPTConfig
from lmlib.scratch.gpt import generate_greedy, gpt_forward, params_from_torch
from lmlib.scratch.transformer import gelu, layer_norm

torch.set_num_threads(1)


def make(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg))


def test_parameter_names_are_gpt2s_and_the_head_is_tied():
    model = make()
    names = set(model.state_dict())
    for i in range(2):
        for part in ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                     "attn.c_proj.weight", "ln_2.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"):
            assert f"transformer.h.{i}.{part}" in names
    for name in ("transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
                 "lm_head.weight"):
        assert name in names
    assert model.lm_head.weight is model.transformer.wte.weight
    C, V, T, L = 16, 13, 12, 2
    per_block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
    assert model.num_params() == V * C + T * C + L * per_block + 2 * C
    assert model.num_params(non_embedding=True) == L * per_block + 2 * C
    assert sum(p.numel() for p in make(bias=False).parameters()) < model.num_params()


def test_forward_shapes_loss_and_both_attention_paths_agree():
    model = make().eval()
    idx = torch.randint(0, 13, (3, 12))
    logits, loss = model(idx)
    assert logits.shape == (3, 12, 13) and loss is None
    logits2, loss2, att = model(idx, idx, return_attention=True)
    torch.testing.assert_close(logits, logits2, rtol=1e-5, atol=1e-5)
    assert att.shape == (2, 3, 2, 12, 12)
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 3, 2, 12))
    assert torch.all(torch.triu(att, diagonal=1) == 0)
    expected = torch.nn.functional.cross_entropy(logits2.reshape(-1, 13), idx.reshape(-1))
    torch.testing.assert_close(loss2, expected)
    # at initialisation the loss is close to ln V
    assert abs(loss2.item() - np.log(13)) < 0.3


def test_causal_the_future_does_not_change_the_past():
    model = make().eval()
    a = torch.randint(0, 13, (1, 10))
    b = a.clone()
    b[0, 6:] = (b[0, 6:] + 1) % 13
    with torch.no_grad():
        torch.testing.assert_close(model(a)[0][:, :6], model(b)[0][:, :6])


def test_dropout_only_in_training():
    model = make(dropout=0.5)
    idx = torch.randint(0, 13, (2, 8))
    model.train()
    assert not torch.equal(model(idx)[0], model(idx)[0])
    model.eval()
    torch.testing.assert_close(model(idx)[0], model(idx)[0])


def test_generate():
    model = make()
    idx = torch.zeros(2, 3, dtype=torch.long)
    out = model.generate(idx, 20, temperature=0.8, top_k=3,
                         generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 23) and torch.equal(out[:, :3], idx)
    assert out.min() >= 0 and out.max() < 13
    again = model.generate(idx, 20, temperature=0.8, top_k=3,
                           generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # seeded
    # top_k=1 is greedy
    greedy = model.generate(idx[:1], 5, top_k=1)
    ids = idx[:1]
    for _ in range(5):
        nxt = model(ids[:, -12:])[0][:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], 1)
    assert torch.equal(greedy, ids)
    assert model.training  # mode restored


@pytest.mark.parametrize("call, exc, match", [
    (lambda m: m(torch.zeros(1, 13, dtype=torch.long)), ValueError, "block_size"),
    (lambda m: m(torch.full((1, 4), 13)), ValueError, "vocabulary"),
    (lambda m: m(torch.full((1, 4), -1)), ValueError, "vocabulary"),
    (lambda m: m(torch.zeros(4, dtype=torch.long)), ValueError, r"\(B, T\)"),
    (lambda m: m(torch.zeros(1, 4)), TypeError, "integer"),
    (lambda m: m([[1, 2]]), TypeError, "torch.Tensor"),
    (lambda m: m(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)),
     ValueError, "targets"),
    (lambda m: m.generate(torch.zeros(1, 2, dtype=torch.long), 3, temperature=-1), ValueError,
     "temperature"),
    (lambda m: m.generate(torch.zeros(1, 2, dtype=torch.long), 3, top_k=0), ValueError, "top_k"),
    (lambda m: m.generate(torch.zeros(1, 2, dtype=torch.long), -1), ValueError, "max_new_tokens"),
    (lambda m: GPT({"n_layer": 2}), TypeError, "GPTConfig"),
    (lambda m: GPTConfig(13, 12, 2, 3, 16), ValueError, "divisible"),
    (lambda m: GPTConfig(13, 0, 2, 2, 16), ValueError, "block_size"),
    (lambda m: GPTConfig(13, 12, 2, 2, 16, dropout=1.0), ValueError, "dropout"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(make())


# --- the NumPy twin -------------------------------------------------------------------------

def test_numpy_forward_equals_torch_float32():
    model = make(seed=4, n_layer=3).eval()
    params = params_from_torch(model)
    assert all(v.dtype == np.float32 for v in params.values())
    ids = np.random.default_rng(0).integers(0, 13, size=(2, 12))
    logits = gpt_forward(params, ids, model.config)
    assert logits.dtype == np.float32
    with torch.no_grad():
        ref, _, att_ref = model(torch.as_tensor(ids), return_attention=True)
    np.testing.assert_allclose(logits, ref.numpy(), atol=1e-4, rtol=0)
    _, att = gpt_forward(params, ids, model.config, return_attention=True)
    np.testing.assert_allclose(att, att_ref.numpy(), atol=1e-5)
    # (T,) input is a batch of one
    np.testing.assert_allclose(gpt_forward(params, ids[0], model.config)[0], logits[0])


def test_numpy_forward_float64_matches_tightly():
    model = make(seed=5).double().eval()
    params = params_from_torch(model, dtype=np.float64)
    ids = np.arange(12) % 13
    with torch.no_grad():
        ref = model(torch.as_tensor(ids)[None])[0].numpy()
    np.testing.assert_allclose(gpt_forward(params, ids, model.config), ref, rtol=1e-10, atol=1e-10)


def test_numpy_greedy_continuation_equals_torch():
    model = make(seed=6).eval()
    params = params_from_torch(model)
    start = np.array([1, 2, 3])
    ours = generate_greedy(params, start, model.config, 15)  # longer than block_size: crops
    theirs = model.generate(torch.as_tensor(start)[None], 15, top_k=1)[0].numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_numpy_forward_bad_input():
    model = make()
    params = params_from_torch(model)
    with pytest.raises(ValueError, match="block_size"):
        gpt_forward(params, np.zeros(13, dtype=np.int64), model.config)
    with pytest.raises(ValueError, match="in \\[0, 13\\)"):
        gpt_forward(params, np.array([0, 13]), model.config)
    with pytest.raises(TypeError, match="integer"):
        gpt_forward(params, np.array([0.5, 1.0]), model.config)


# --- GPT-2 weights ----------------------------------------------------------------------

def hf_state_dict(cfg: GPTConfig, seed=0, prefix="transformer."):
    """A random state dict in Hugging Face GPT-2's format: Conv1D weights are (in, out), and
    each block has the causal-mask buffers attn.bias and attn.masked_bias."""
    g = torch.Generator().manual_seed(seed)
    C, V, T = cfg.n_embd, cfg.vocab_size, cfg.block_size
    r = lambda *shape: torch.randn(*shape, generator=g) * 0.2
    sd = {prefix + "wte.weight": r(V, C), prefix + "wpe.weight": r(T, C),
          prefix + "ln_f.weight": 1 + r(C), prefix + "ln_f.bias": r(C)}
    for i in range(cfg.n_layer):
        p = f"{prefix}h.{i}."
        sd.update({
            p + "ln_1.weight": 1 + r(C), p + "ln_1.bias": r(C),
            p + "attn.c_attn.weight": r(C, 3 * C), p + "attn.c_attn.bias": r(3 * C),
            p + "attn.c_proj.weight": r(C, C), p + "attn.c_proj.bias": r(C),
            p + "attn.bias": torch.tril(torch.ones(T, T)).view(1, 1, T, T),
            p + "attn.masked_bias": torch.tensor(-1e4),
            p + "ln_2.weight": 1 + r(C), p + "ln_2.bias": r(C),
            p + "mlp.c_fc.weight": r(C, 4 * C), p + "mlp.c_fc.bias": r(4 * C),
            p + "mlp.c_proj.weight": r(4 * C, C), p + "mlp.c_proj.bias": r(C),
        })
    if prefix:
        sd["lm_head.weight"] = sd[prefix + "wte.weight"]
    return sd


def conv1d_reference(sd, ids, cfg, prefix="transformer."):
    """GPT-2's forward written directly on the Conv1D layout (x @ W + b), in float64."""
    P = {k: v.double().numpy() for k, v in sd.items()}
    x = P[prefix + "wte.weight"][ids] + P[prefix + "wpe.weight"][: len(ids)]
    T, C, H = len(ids), cfg.n_embd, cfg.n_head
    for i in range(cfg.n_layer):
        p = f"{prefix}h.{i}."
        h = layer_norm(x, P[p + "ln_1.weight"], P[p + "ln_1.bias"])
        q, k, v = np.split(h @ P[p + "attn.c_attn.weight"] + P[p + "attn.c_attn.bias"], 3, -1)
        out = np.zeros((T, C))
        d = C // H
        for j in range(H):
            s = q[:, j * d:(j + 1) * d] @ k[:, j * d:(j + 1) * d].T / np.sqrt(d)
            s = np.where(np.tril(np.ones((T, T))) > 0, s, -np.inf)
            w = np.exp(s - s.max(-1, keepdims=True))
            w /= w.sum(-1, keepdims=True)
            out[:, j * d:(j + 1) * d] = w @ v[:, j * d:(j + 1) * d]
        x = x + out @ P[p + "attn.c_proj.weight"] + P[p + "attn.c_proj.bias"]
        h = layer_norm(x, P[p + "ln_2.weight"], P[p + "ln_2.bias"])
        h = gelu(h @ P[p + "mlp.c_fc.weight"] + P[p + "mlp.c_fc.bias"])
        x = x + h @ P[p + "mlp.c_proj.weight"] + P[p + "mlp.c_proj.bias"]
    x = layer_norm(x, P[prefix + "ln_f.weight"], P[prefix + "ln_f.bias"])
    return x @ P[prefix + "wte.weight"].T


@pytest.mark.parametrize("prefix", ["transformer.", ""])
def test_from_hf_gpt2_transposes_conv1d_and_gives_the_same_logits(prefix):
    cfg = GPTConfig(vocab_size=17, block_size=10, n_layer=2, n_head=2, n_embd=8)
    sd = hf_state_dict(cfg, prefix=prefix)
    model = GPT.from_hf_gpt2(sd, cfg).double().eval()
    w = model.transformer.h[0].attn.c_attn.weight
    assert w.shape == (24, 8)
    torch.testing.assert_close(w, sd[prefix + "h.0.attn.c_attn.weight"].t().double())
    assert model.lm_head.weight is model.transformer.wte.weight
    ids = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    with torch.no_grad():
        logits = model(torch.as_tensor(ids)[None])[0][0].numpy()
    np.testing.assert_allclose(logits, conv1d_reference(sd, ids, cfg, prefix), rtol=1e-9,
                               atol=1e-9)


def test_from_hf_gpt2_bad_input():
    cfg = GPTConfig(vocab_size=17, block_size=10, n_layer=2, n_head=2, n_embd=8)
    sd = hf_state_dict(cfg)
    del sd["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(ValueError, match="transformer.h.1.mlp.c_fc.bias"):
        GPT.from_hf_gpt2(sd, cfg)
    sd = hf_state_dict(cfg)
    with pytest.raises(ValueError, match=r"wte.weight.*shape \(17, 8\).*\(17, 16\)"):
        GPT.from_hf_gpt2(sd, GPTConfig(vocab_size=17, block_size=10, n_layer=2, n_head=2,
                                       n_embd=16))
    with pytest.raises(TypeError, match="dict"):
        GPT.from_hf_gpt2([1, 2], cfg)


# --- checkpoints of GPTs, the shipped model ---------------------------------------------

def test_export_and_load_pretrained(tmp_path):
    from lmlib.checkpoint import export_checkpoint, load_checkpoint, save_checkpoint

    model = make(seed=7).eval()
    save_checkpoint(model, tmp_path / "full.safetensors", extra={"itos": list("abc"), "step": 3})
    half = export_checkpoint(tmp_path / "full.safetensors", tmp_path / "half.safetensors",
                             extra={"val_loss_full": 1.23})
    loaded, extra = load_checkpoint(half)
    assert not loaded.training and loaded.config == model.config
    assert extra == {"itos": ["a", "b", "c"], "step": 3, "val_loss_full": 1.23}
    x = torch.randint(0, 13, (1, 12))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], model(x)[0], atol=2e-3, rtol=0)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.safetensors.*safetensors"):
        load_checkpoint(tmp_path / "junk.safetensors")


def test_load_pretrained_by_name():
    from lmlib.models.gpt import ASSET
    from lmlib.pretrained import load_pretrained

    with pytest.raises(ValueError, match="unknown pre-trained model"):
        load_pretrained("gpt-5")
    assert ASSET.is_file(), "the shipped GPT checkpoint must be in lmlib/assets"
    import lmlib

    assert lmlib.load_pretrained is load_pretrained  # the top-level name
    model, tok = lmlib.load_pretrained("shakespeare-gpt")
    assert isinstance(model, GPT) and tok.vocab_size == model.config.vocab_size == 65
    assert ASSET.stat().st_size <= 10_000_000
    out = model.generate(torch.as_tensor(tok.encode("ROMEO:"))[None], 20,
                         generator=torch.Generator().manual_seed(0))
    assert tok.decode(out[0]).startswith("ROMEO:")


def test_generate_delegates_the_draw_to_lmlib_sampling(monkeypatch):
    """GPT.generate and LSTMLM.generate draw with lmlib.sampling.sample (one place for
    temperature and top-k); temperature 0 is greedy there."""
    import lmlib.models.gpt as gpt_module
    import lmlib.models.lstm as lstm_module
    from lmlib import sampling
    from lmlib.models import LSTMLM

    calls = []

    def spy(logits, **kw):
        calls.append(kw)
        return sampling.sample(logits, **kw)

    model = make()
    lstm = LSTMLM(13, 4, 8)
    for module in (gpt_module, lstm_module):
        monkeypatch.setattr(module, "sample", spy)
    idx = torch.zeros(2, 3, dtype=torch.long)
    model.generate(idx, 4, temperature=0.5, top_k=2)
    lstm.generate(idx, 3, temperature=0.5, top_k=2)
    assert len(calls) == 7 and all(c["temperature"] == 0.5 and c["top_k"] == 2 for c in calls)
    greedy = model.generate(idx[:1], 5, temperature=0)
    assert torch.equal(greedy, model.generate(idx[:1], 5, top_k=1))


def test_causal_false_is_an_encoder():
    """causal=False drops the mask: position 0 then depends on the last token; both
    attention paths agree; a KV cache is refused; a non-bool is a ValueError."""
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, causal=False)
    torch.manual_seed(0)
    enc = GPT(cfg).eval()
    dec = GPT(GPTConfig(11, 8, 2, 2, 16)).eval()
    dec.load_state_dict(enc.state_dict())
    x = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(1))
    x2 = x.clone()
    x2[:, -1] = (x2[:, -1] + 1) % 11
    with torch.no_grad():
        fused, _ = enc(x)
        explicit, _, att = enc(x, return_attention=True)
        torch.testing.assert_close(fused, explicit, rtol=1e-5, atol=1e-5)
        assert torch.all(att.triu(1).sum((-1, -2)) > 0)  # weights above the diagonal
        assert not torch.allclose(enc(x2)[0][:, 0], fused[:, 0])  # the future leaks
        torch.testing.assert_close(dec(x2)[0][:, :-1], dec(x)[0][:, :-1])  # not here
    with pytest.raises(ValueError, match="causal"):
        enc(x, use_cache=True)
    with pytest.raises(ValueError, match="causal"):
        GPTConfig(11, 8, 2, 2, 16, causal=1)


def test_from_hf_gpt2_equals_hugging_face_gpt2lmheadmodel():
    """Hugging Face's own GPT2LMHeadModel (random weights from a small GPT2Config) and
    GPT.from_hf_gpt2 of its state dict give the same logits (transformers is a test-only
    dependency, in the dev extra)."""
    import transformers

    hf_config = transformers.GPT2Config(vocab_size=37, n_positions=16, n_embd=32, n_layer=3,
                                        n_head=4, resid_pdrop=0.0, embd_pdrop=0.0,
                                        attn_pdrop=0.0, activation_function="gelu_new")
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    with torch.no_grad():  # move the biases and LayerNorms off their initial 0 / 1
        for p in hf.parameters():
            p.add_(0.02 * torch.randn_like(p))
    ours = GPT.from_hf_gpt2(hf.state_dict(), GPTConfig(37, 16, 3, 4, 32)).eval()
    ids = torch.randint(0, 37, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = hf(ids).logits
        mine = ours(ids)[0]
    torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-5)


def test_residual_stds_gives_one_std_per_block_and_removes_its_hooks():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=3, n_head=2, n_embd=16))
    idx = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(0))
    stds = model.residual_stds(idx)
    assert len(stds) == 3 and all(s > 0 for s in stds)
    assert all(not b._forward_hooks for b in model.transformer.h)
    x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(8))
    for block, want in zip(model.transformer.h, stds):
        x = block(x)[0]
        assert abs(float(x.std()) - want) < 1e-6
