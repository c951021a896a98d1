"""The GPT's KV cache: cached logits equal the full forward pass, token for token."""

import pytest
import torch

from lmlib.models.gpt import GPT, GPTConfig
from lmlib.sampling import generate


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=23, block_size=24, n_layer=3, n_head=2, n_embd=32))
    with torch.no_grad():  # larger weights than the init, so that positions matter
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m.eval()


def test_one_token_at_a_time_equals_the_full_pass(model):
    idx = torch.randint(0, 23, (2, 24))
    full, _ = model(idx)
    past, steps = None, []
    for t in range(24):
        logits, past = model.forward_cached(idx[:, t:t + 1], past)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)
    assert past[0][0].shape == (2, 2, 24, 16)  # (B, H, T, C // H), one pair per layer
    assert len(past) == 3


@pytest.mark.parametrize("split", [1, 5, 13, 23])
def test_prompt_then_chunks_equals_the_full_pass(model, split):
    idx = torch.randint(0, 23, (1, 24))
    full, _ = model(idx)
    first, past = model.forward_cached(idx[:, :split])
    rest, past = model.forward_cached(idx[:, split:], past)  # several new positions at once
    torch.testing.assert_close(torch.cat([first, rest], dim=1), full, atol=1e-5, rtol=0)


def test_forward_with_use_cache_returns_the_present(model):
    idx = torch.randint(0, 23, (1, 6))
    logits, loss, present = model(idx, use_cache=True)
    assert loss is None and len(present) == 3
    nxt, _, present2 = model(idx[:, :1], past_kv=present)
    ref, _ = model(torch.cat([idx, idx[:, :1]], dim=1))
    torch.testing.assert_close(nxt[:, -1], ref[:, -1], atol=1e-5, rtol=0)
    assert present2[0][0].shape[2] == 7
    # the default call is unchanged: two results
    assert len(model(idx)) == 2


def test_cache_bad_input(model):
    idx = torch.randint(0, 23, (1, 20))
    _, past = model.forward_cached(idx)
    with pytest.raises(ValueError, match="block_size"):
        model.forward_cached(torch.zeros(1, 5, dtype=torch.long), past)
    with pytest.raises(ValueError, match="past_kv"):
        model.forward_cached(idx[:, :1], past[:1])
    with pytest.raises(ValueError, match="targets"):
        model(idx, targets=idx, use_cache=True)
    with pytest.raises(ValueError, match="vocabulary"):
        model.forward_cached(torch.full((1, 1), 23))


def test_greedy_generation_is_the_same_with_and_without_the_cache(model):
    prompt = [1, 2, 3]
    a = generate(model, prompt, 21, temperature=0, use_cache=True)
    b = generate(model, prompt, 21, temperature=0, use_cache=False)
    assert a == b and len(a) == 24


def test_sampled_generation_is_the_same_with_and_without_the_cache(model):
    a = generate(model, [4], 23, seed=3, use_cache=True)
    b = generate(model, [4], 23, seed=3, use_cache=False)
    assert a == b


def test_generation_beyond_the_block_slides_the_cache(model):
    out = generate(model, [1, 2], 60, temperature=0, use_cache=True)
    assert len(out) == 62
    # up to block_size both paths agree exactly
    ref = generate(model, [1, 2], 60, temperature=0, use_cache=False)
    assert out[:24] == ref[:24]


def test_training_mode_is_restored(model):
    model.train()
    generate(model, [1], 3, use_cache=True)
    assert model.training
    model.eval()
