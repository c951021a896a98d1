"""lmlib.models.attention_lm: the small model of chapter 05 and its shipped checkpoint."""

import numpy as np
import pytest
import torch

from lmlib.models.attention_lm import CHECKPOINT, AttentionLM, AttentionLMConfig, evaluate


def test_shipped_checkpoint_loads_and_has_causal_attention():
    model = AttentionLM.load_pretrained()
    assert CHECKPOINT.stat().st_size < 1_000_000
    cfg = model.cfg
    idx = torch.randint(0, cfg.vocab_size, (cfg.block_size,), generator=torch.Generator().manual_seed(0))
    maps = model.attention_maps(idx)
    assert maps.shape == (cfg.n_layer, cfg.n_head, cfg.block_size, cfg.block_size)
    np.testing.assert_allclose(maps.sum(-1).numpy(), 1.0, rtol=1e-5)
    assert torch.all(maps.triu(1) == 0)
    assert float(model.metadata["val_loss"]) < 2.05


def test_attention_maps_match_a_manual_recomputation():
    """The weights the model returns are the ones it uses: recompute layer 0 by hand."""
    torch.manual_seed(0)
    model = AttentionLM(AttentionLMConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2,
                                          n_embd=8)).eval()
    idx = torch.randint(0, 11, (1, 6))
    maps = model.attention_maps(idx)
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(6))
    attn = model.blocks[0].attn
    q, k, _ = attn.qkv(model.blocks[0].ln1(x)).split(8, dim=2)
    q = q.view(1, 6, 2, 4).transpose(1, 2)
    k = k.view(1, 6, 2, 4).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1) / 2.0).masked_fill(~torch.ones(6, 6).tril().bool(), -1e9)
    torch.testing.assert_close(maps[0], scores.softmax(-1)[0], rtol=1e-5, atol=1e-6)


def test_save_and_load_roundtrip(tmp_path):
    torch.manual_seed(1)
    model = AttentionLM(AttentionLMConfig(vocab_size=7, block_size=5, n_layer=1, n_head=1,
                                          n_embd=4))
    path = model.save(tmp_path / "m.safetensors", steps=3)
    loaded = AttentionLM.load_pretrained(path)
    assert loaded.cfg == model.cfg and loaded.metadata["steps"] == "3"
    idx = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(loaded(idx)[0], model.eval()(idx)[0])
    assert not list(tmp_path.glob("*.tmp"))


def test_evaluate_and_bad_input():
    model = AttentionLM(AttentionLMConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1,
                                          n_embd=4))
    loss = evaluate(model, np.arange(40) % 5)
    assert 0 < loss < 5
    with pytest.raises(ValueError, match="exceeds block_size 4"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        AttentionLM(AttentionLMConfig(n_embd=10, n_head=3))
