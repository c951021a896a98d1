"""Decoding speed: 500 new tokens with and without the GPT's KV cache (issue 9).

``python -m coursekit.bench decoding``. The model is the shipped Shakespeare GPT, at its own
block size; the prompt is one newline, so the generation runs past the block and the
cache slides (rebuilt from the last ``block_size // 2`` tokens when full). Each timing is
the median of several runs; the same seeded sampling settings are used on both paths.

Also checked: within one block, greedy decoding gives the same tokens with and without
the cache.
"""

from __future__ import annotations

import statistics

from coursekit.bench import Measurement, stopwatch

NEW_TOKENS = 500
REPEATS = 3


def shipped_model():
    """``(model, tokenizer)``: the shipped Shakespeare GPT (an error if it is missing)."""
    from lmlib.pretrained import load_pretrained

    return load_pretrained("shakespeare-gpt")


def time_generation(model, prompt, n_new: int, use_cache: bool, repeats: int = REPEATS):
    """Median seconds of ``generate`` (seeded sampling, T = 1) over ``repeats`` runs, and
    the tokens of the last run."""
    from lmlib.sampling import generate

    times, out = [], None
    for _ in range(repeats):
        with stopwatch() as t:
            out = generate(model, prompt, n_new, seed=0, use_cache=use_cache)
        times.append(t())
    return statistics.median(times), out


def run() -> list[Measurement]:
    from lmlib.sampling import generate

    model, _ = shipped_model()
    block = model.config.block_size
    prompt = [0]
    time_generation(model, prompt, 20, True, repeats=1)  # warm-up
    slow, _ = time_generation(model, prompt, NEW_TOKENS, use_cache=False)
    fast, _ = time_generation(model, prompt, NEW_TOKENS, use_cache=True)
    greedy_cached = generate(model, prompt, block - 1, temperature=0, use_cache=True)
    greedy_plain = generate(model, prompt, block - 1, temperature=0, use_cache=False)
    where = f"shipped GPT, block_size {block}, {model.num_params() / 1e6:.2f}M params"
    return [
        Measurement(f"{NEW_TOKENS} new tokens, no cache", slow, "s", note=where),
        Measurement(f"{NEW_TOKENS} new tokens, KV cache", fast, "s", note=where),
        Measurement("KV cache speed-up", slow / fast, "x", target=">= 3"),
        Measurement("tokens/s with the cache", NEW_TOKENS / fast, "tok/s"),
        Measurement(f"greedy, {block - 1} tokens: same with and without cache",
                    float(greedy_cached == greedy_plain), "bool", target="1"),
    ]
