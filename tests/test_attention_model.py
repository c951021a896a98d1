"""Chapter 05's model is a GPT configuration (preset "shakespeare-attention"): its shipped
checkpoint loads with the one loader, shows causal attention, and decodes with lmlib.sampling."""

import numpy as np
import torch

import lmlib
from lmlib import sampling
from lmlib.models import GPT, GPTConfig
from lmlib.presets import PRESETS, from_preset


def test_shipped_checkpoint_loads_as_a_gpt_and_has_causal_attention():
    model, tok = lmlib.load_pretrained("shakespeare-attention")
    assert isinstance(model, GPT) and not model.training and tok.vocab_size == 65
    cfg = model.config
    assert (cfg.tie_weights, cfg.gelu) == (False, "none")
    assert {k: v for k, v in cfg.to_dict().items() if k != "vocab_size"} == \
        PRESETS["shakespeare-attention"]["model"] | {"bias": True}
    assert model.num_params() == 112_577  # "about 113k parameters" in chapter 05
    idx = torch.randint(0, cfg.vocab_size, (cfg.block_size,),
                        generator=torch.Generator().manual_seed(0))
    maps = model.attention_maps(idx)
    assert maps.shape == (cfg.n_layer, cfg.n_head, cfg.block_size, cfg.block_size)
    np.testing.assert_allclose(maps.sum(-1).numpy(), 1.0, rtol=1e-5)
    assert torch.all(maps.triu(1) == 0)
    # sampling.generate works on it (it failed on the old AttentionLM), KV cache and all
    prompt = tok.encode("ROMEO:")
    cached = sampling.generate(model, prompt, 50, temperature=0, use_cache=True)  # < block_size
    assert cached == sampling.generate(model, prompt, 50, temperature=0, use_cache=False)


def test_shipped_weights_give_the_val_loss_recorded_before_the_conversion():
    """The checkpoint was re-exported from the old AttentionLM names with the same weights:
    on whole windows of 64 characters from an empty context (the old evaluate), val is
    1.978804 as before (the old code gave 1.9788041629)."""
    from lmlib.data import shakespeare
    from lmlib.scoring import score

    model, _ = lmlib.load_pretrained("shakespeare-attention")
    extra = lmlib.load_checkpoint(lmlib.pretrained.PRETRAINED["shakespeare-attention"])[1]
    _, _, val = shakespeare()
    n = (len(val) - 1) // 64
    assert abs(score(model, val[:n * 64 + 1], protocol="windows") - 1.9788041629) < 1e-6
    assert extra["val_loss"] == 1.9788 and extra["step"] == 1000


def test_attention_maps_match_a_manual_recomputation():
    """The weights the model returns are the ones it uses: recompute layer 0 by hand."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8,
                          tie_weights=False, gelu="none")).eval()
    idx = torch.randint(0, 11, (1, 6))
    maps = model.attention_maps(idx)
    tr = model.transformer
    x = tr.wte(idx) + tr.wpe(torch.arange(6))
    q, k, _ = tr.h[0].attn.c_attn(tr.h[0].ln_1(x)).split(8, dim=2)
    q = q.view(1, 6, 2, 4).transpose(1, 2)
    k = k.view(1, 6, 2, 4).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1) / 2.0).masked_fill(~torch.ones(6, 6).tril().bool(), -1e9)
    torch.testing.assert_close(maps[0], scores.softmax(-1)[0], rtol=1e-5, atol=1e-6)


def test_the_preset_trains_with_the_one_loop():
    from lmlib.train import train

    torch.manual_seed(0)
    model, config = from_preset("shakespeare-attention", 11, block_size=8)
    ids = np.arange(400) % 11
    h = train(model, ids[:300], ids[300:], config, steps=30, block_size=8, eval_interval=30,
              eval_batches=2, progress=False, plot=False)
    assert h.val_loss[-1] < np.log(11) - 0.5
    assert model.lm_head.weight is not model.transformer.wte.weight  # not tied
    assert model.lm_head.bias is not None
