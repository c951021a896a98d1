"""The recipes of the course's models: every shipped model's shape and training, in one place.

- :data:`PRESETS`: the language models, each a model shape and a :class:`lmlib.train.TrainConfig`
  (``python -m lmlib.train --preset NAME`` trains one; :func:`from_preset` builds it);
- :data:`RECIPES`: chapter 10's fine-tuning of the shipped GPT (a classifier, continued
  pre-training, instruction tuning), with :data:`LR_SWEEP`, the measurements behind its
  learning rates.
"""

from __future__ import annotations

from lmlib.train import TrainConfig

__all__ = ["PRESETS", "from_preset", "RECIPES", "LR_SWEEP"]


PRESETS: dict[str, dict] = {
    # nanoGPT's CPU recipe (its README's "baby GPT" for a laptop)
    "nanogpt-cpu": dict(
        model=dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
        train=dict(steps=2000, batch_size=12, block_size=64, lr=1e-3, min_lr=1e-4, warmup=100,
                   eval_interval=250, eval_batches=20)),
    # nanoGPT's GPU recipe for this corpus (its config/train_shakespeare_char.py): 10.65M
    # parameters without the position table, context 256, dropout 0.2; for a GPU
    "nanogpt-gpu": dict(
        model=dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2, bias=False),
        train=dict(steps=5000, batch_size=64, block_size=256, lr=1e-3, min_lr=1e-4, warmup=100,
                   eval_interval=250, eval_batches=200)),
    # the course's recommended 10-minute CPU configuration
    "cpu-10min": dict(
        model=dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
        train=dict(steps=4000, batch_size=16, block_size=64, lr=2e-3, min_lr=2e-4, warmup=100,
                   eval_interval=500, eval_batches=20)),
    # the shipped LSTM (lmlib/assets/lstm_shakespeare.safetensors, chapter 04)
    "shakespeare-lstm": dict(
        kind="lstm",
        model=dict(n_embd=64, hidden_size=384, n_layer=1, dropout=0.0),
        train=dict(steps=2000, batch_size=32, block_size=128, lr=3e-3, min_lr=3e-4, warmup=100,
                   weight_decay=0.1, grad_clip=1.0, eval_interval=100, eval_batches=20,
                   seed=0)),
    # chapter 04's LSTM on names.txt (the splits joined into streams by data.names_streams)
    "names-lstm": dict(
        kind="lstm", data="names",
        model=dict(n_embd=48, hidden_size=256, n_layer=1, dropout=0.1),
        train=dict(steps=3000, batch_size=32, block_size=32, lr=3e-3, min_lr=1e-4, warmup=100,
                   weight_decay=0.1, grad_clip=1.0, eval_interval=250, eval_batches=20,
                   seed=0)),
    # the shipped model (lmlib/assets/gpt_shakespeare.safetensors)
    "shakespeare-gpt": dict(
        model=dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.1),
        train=dict(steps=10000, batch_size=16, block_size=128, lr=2e-3, min_lr=1e-4,
                   warmup=200, eval_interval=250, eval_batches=40)),
    # chapter 05's small model, whose attention the AttentionExplorer shows: a GPT with its
    # own head and the exact GELU (lmlib/assets/attention_lm.safetensors was trained by an
    # earlier loop with this shape; see the chapter)
    "shakespeare-attention": dict(
        model=dict(block_size=64, n_layer=2, n_head=4, n_embd=64, dropout=0.0,
                   tie_weights=False, gelu="none"),
        train=dict(steps=1000, batch_size=32, block_size=64, lr=3e-3, min_lr=3e-4, warmup=50,
                   weight_decay=0.01, betas=(0.9, 0.999), eval_interval=100, eval_batches=10,
                   seed=0)),
}


def from_preset(name: str, vocab_size: int, **model_overrides):
    """``(model, TrainConfig)`` of the preset ``name``: a fresh model (its weights drawn from
    torch's global generator, so seed first) and the training recipe."""
    from lmlib.models.gpt import GPT, GPTConfig
    from lmlib.models.lstm import LSTMLM

    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    mkw = dict(preset["model"], **model_overrides)
    if preset.get("kind", "gpt") == "lstm":
        model = LSTMLM(vocab_size, **mkw)
    else:
        model = GPT(GPTConfig(vocab_size=vocab_size, **mkw))
    return model, TrainConfig(**preset["train"])


RECIPES: dict[str, dict] = {
    # how chapter 10 and its benchmark train on the speaker task: "pool" is GPTClassifier's,
    # the rest are keyword arguments of lmlib.finetune.train_classifier ("probe" trains the
    # head alone on cached features). Mean pooling: a speaker's style is spread over the
    # whole speech.
    # The learning rates are the best on val in LR_SWEEP where a sweep was run.
    "scratch": dict(pool="mean", steps=400, batch_size=32, lr=1e-3, eval_interval=40),
    "probe": dict(pool="mean", steps=1000, batch_size=32, lr=1e-1, weight_decay=0.0,
                  eval_interval=50),
    "full": dict(pool="mean", steps=400, batch_size=32, lr=1e-3, eval_interval=40),
    "last": dict(pool="mean", steps=400, batch_size=32, lr=1e-3, eval_interval=40),
    "lora": dict(pool="mean", steps=400, batch_size=32, lr=3e-3, eval_interval=40),
    # keyword arguments of lmlib.train.train for continued pre-training on one speaker
    "continued": dict(batch_size=16, block_size=128, lr=1e-4, min_lr=1e-5, warmup=20,
                      eval_interval=50, eval_batches=8),
    # keyword arguments of lmlib.finetune.train_sft for chapter 10's toy instruction set
    "sft": dict(steps=100, batch_size=32, lr=1e-3, warmup=10),
}

# Best validation accuracy of each learning rate tried for the speaker task (method -> {lr:
# val}): the recipe above (its steps, batch size, pooling, seed 0), the shipped GPT, the
# task's fixed split, one torch thread; measured on 2026-12-01 with the shipped GPT retrained
# that day (python -m coursekit.bench.lr_sweep METHOD LR ...).
# A method that is missing was not swept: its recipe keeps its earlier rate.
LR_SWEEP: dict[str, dict[float, float]] = {
    "probe": {3e-3: 0.2078, 1e-2: 0.2597, 3e-2: 0.2684, 1e-1: 0.2727, 3e-1: 0.2727},
    "full": {3e-5: 0.1385, 1e-4: 0.1905, 3e-4: 0.2338, 1e-3: 0.2857, 3e-3: 0.1991},
}
