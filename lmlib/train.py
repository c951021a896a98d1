"""The one training loop of the course, and its checkpoints.

Any PyTorch language model whose ``forward(idx, targets=None)`` returns ``(logits, loss)``
trains with :func:`train`::

    from lmlib.train import TrainConfig, train
    history = train(model, train_ids, val_ids, TrainConfig(steps=2000, lr=1e-3),
                    checkpoint="gpt.safetensors")

What it does, step by step:

- batches of random windows from :func:`lmlib.data.get_batch`, drawn from a NumPy
  generator seeded by ``config.seed`` (so a run is repeatable, and resumable exactly);
- AdamW, with weight decay on the matrices only (biases, LayerNorm gains are not decayed);
- a learning rate that rises linearly for ``warmup`` steps, then follows a cosine down to
  ``min_lr`` at the last step;
- gradient clipping by global norm;
- every ``eval_interval`` steps, the mean loss on FIXED batches of train and val (the same
  windows every time, so the curve is not noise), the best model written to the checkpoint
  and the full training state (optimizer, random generators, step, history) to a second
  file, both atomically;
- a progress bar, and in a notebook a loss plot that updates as it trains;
- Ctrl-C stops cleanly at the end of the step (and of the checkpoint being written): the
  state is saved, the best checkpoint kept, the history returned, and ``--resume`` then
  continues bit-exactly; a second Ctrl-C stops at once, keeping the last saved state.

Command line (the shipped model is trained this way)::

    python -m lmlib.train --preset shakespeare-gpt --checkpoint gpt.safetensors --resume

Checkpoints (:mod:`lmlib.checkpoint`) are safetensors files; nothing is ever unpickled.
Scaling up (a GPU, mixed precision, ``torch.compile``, several processes under
``torchrun``) is :mod:`lmlib.scaling`; it changes where a step runs, not what it computes::

    torchrun --nproc_per_node=2 -m lmlib.train --preset shakespeare-gpt --checkpoint gpt.safetensors
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from lmlib.checkpoint import (
    load_state_dict_file,
    load_train_state,
    save_checkpoint,
    save_train_state,
    state_path,
)
from lmlib.data import check_ids, get_batch
from lmlib.scaling import AMP_MODES, CompileError, Scaling, distributed_info, init_distributed

__all__ = ["TrainConfig", "History", "Trainer", "train", "lr_at", "make_optimizer",
           "estimate_loss", "PRESETS", "from_preset"]


# --------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------

@dataclass
class TrainConfig:
    """Everything that decides a training run (the model's shape is the model's config)."""

    steps: int = 2000             # optimizer updates in the whole run (the schedule's length)
    batch_size: int = 16          # windows per batch
    block_size: int = 64          # tokens per window
    lr: float = 1e-3              # peak learning rate, reached after warm-up
    min_lr: float | None = None   # end of the cosine; None means lr / 10
    warmup: int = 100             # steps of linear warm-up
    weight_decay: float = 0.1     # AdamW decay, on matrices only
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0        # max global gradient norm; 0 turns clipping off
    eval_interval: int = 250      # evaluate (and checkpoint) every this many steps
    eval_batches: int = 20        # fixed batches of train and of val per evaluation
    seed: int = 0                 # batches, dropout and the fixed eval batches
    device: str | None = None     # None: lmlib.get_device() (CUDA if present, else CPU)
    micro_batches: int = 1        # gradient accumulation: each process splits its share of
    #                               the batch into this many forward/backward passes
    amp: str = "auto"             # mixed precision: "auto" (bf16/fp16 on CUDA, off elsewhere),
    #                               "off", "bf16" or "fp16" (the last two need CUDA)
    compile: bool = False         # torch.compile the model (opt-in; never required)

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        ints = dict(steps=1, batch_size=1, block_size=1, warmup=0, eval_interval=1,
                    eval_batches=1, seed=0, micro_batches=1)
        for name, low in ints.items():
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"TrainConfig.{name} must be an int >= {low}, got {value!r}")
        for name in ("lr", "weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"TrainConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.lr <= 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if self.min_lr is not None and not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"TrainConfig.min_lr must be in [0, lr={self.lr}], got {self.min_lr!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"TrainConfig.amp must be one of {AMP_MODES}, got {self.amp!r}")
        if not isinstance(self.compile, bool):
            raise ValueError(f"TrainConfig.compile must be True or False, got {self.compile!r}")

    @property
    def final_lr(self) -> float:
        return self.lr / 10 if self.min_lr is None else self.min_lr

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class History:
    """What a run measured. ``steps[i]`` is the step after which ``train_loss[i]`` and
    ``val_loss[i]`` (means over the fixed batches) were measured; ``tokens_per_s[i]`` is the
    training speed since the previous evaluation (evaluation time not counted)."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_val: float = math.inf
    best_step: int = -1
    seconds: float = 0.0          # training wall time over all sessions of this run
    cpu_seconds: float = 0.0      # process CPU time of the training steps, all sessions
    final_step: int = 0           # updates done when the run (or this session of it) stopped
    interrupted: bool = False     # stopped by Ctrl-C, stop_at or time_limit before `steps`

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**d)


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate for update number ``step`` (0-based): linear warm-up from lr/warmup to
    lr over ``warmup`` steps, then a cosine from ``lr`` down to ``final_lr`` at the last step."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    span = max(1, config.steps - 1 - config.warmup)
    progress = min(1.0, (step - config.warmup) / span)
    return config.final_lr + 0.5 * (config.lr - config.final_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with two groups: matrices (dim >= 2: Linear weights, embeddings) are decayed,
    vectors (biases, LayerNorm weights) are not."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


@torch.no_grad()
def estimate_loss(model: nn.Module, batches: list, device=None) -> float:
    """Mean loss of ``model`` (in eval mode) over a list of ``(x, y)`` batches."""
    was_training = model.training
    model.eval()
    losses = []
    for x, y in batches:
        x, y = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
        losses.append(float(model(x, y)[1]))
    model.train(was_training)
    return float(np.mean(losses))


# --------------------------------------------------------------------------------------
# the training loop
# --------------------------------------------------------------------------------------

def _stream(ids, name: str, min_len: int, vocab_size: int | None) -> np.ndarray:
    """A checked 1-D stream of token ids as a NumPy int64 array (tensors are copied off)."""
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    return check_ids(ids, name, ndim=1, min_len=min_len, vocab_size=vocab_size)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
    except ImportError:
        return False


class _LivePlot:
    """A loss plot that redraws in place in a notebook after each evaluation."""

    def __init__(self):
        self.handle = None

    def update(self, history: History, title: str = "") -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig, ax = plt.subplots()
        ax.plot(history.steps, history.train_loss, "o-", ms=3, label="train (fixed batches)")
        ax.plot(history.steps, history.val_loss, "o-", ms=3, label="val (fixed batches)")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)")
        ax.set_title(title)
        ax.legend()
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


@contextlib.contextmanager
def _held_ctrl_c():
    """Hold Ctrl-C (SIGINT) until the step and the checkpoint being written are complete:
    yields a function that says whether Ctrl-C was pressed. A second Ctrl-C interrupts at
    once (KeyboardInterrupt). Outside the main thread nothing is held."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    presses = []

    def handler(signum, frame):
        presses.append(signum)
        if len(presses) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(presses)
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """One training run: model, optimizer, data, schedule, checkpoints. :func:`train` is the
    convenient front door; the class is there so that each piece can be read (and extended)
    on its own."""

    def __init__(self, model: nn.Module, train_ids, val_ids, config: TrainConfig,
                 checkpoint=None, checkpoint_dtype: torch.dtype | None = None,
                 extra: dict | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        mconf = getattr(model, "config", None)
        vocab = getattr(mconf, "vocab_size", None)
        self.train_ids = _stream(train_ids, "train_ids", config.block_size + 1, vocab)
        self.val_ids = _stream(val_ids, "val_ids", config.block_size + 1, vocab)
        model_block = getattr(mconf, "block_size", None)
        if model_block is not None and config.block_size > model_block:
            raise ValueError(f"TrainConfig.block_size ({config.block_size}) is longer than the "
                             f"model's block_size ({model_block})")
        self.scaling = Scaling(model, config.device, config.amp, config.compile,
                               config.batch_size, config.micro_batches)
        self.model, self.device = self.scaling.model, self.scaling.device
        self.optimizer = make_optimizer(model, config)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.checkpoint_dtype = checkpoint_dtype
        self.extra = dict(extra or {})
        self.rank, self.world_size = self.scaling.rank, self.scaling.world_size
        self.is_main = self.scaling.is_main  # the process that writes checkpoints and logs
        self.amp_dtype, self.scaler = self.scaling.amp_dtype, self.scaling.scaler
        self.step_num = 0  # updates done so far
        self.stop_reason = None  # after run(): "interrupt" (Ctrl-C), "time_limit" or None
        self.history = History()
        # training batches: the SAME generator on every rank draws the whole (global) batch,
        # and each rank keeps its own slice, so N processes see exactly the windows one
        # process would, and the run is repeatable and resumable whatever N is
        self.rng = np.random.default_rng(config.seed)
        # dropout, and anything else random in the model: a different stream per rank
        torch.manual_seed(config.seed + self.rank)
        # the fixed evaluation batches: the same windows at every evaluation
        eval_rng = np.random.default_rng([config.seed, 1])
        self.eval_sets = {
            split: [get_batch(ids, config.batch_size, config.block_size, eval_rng)
                    for _ in range(config.eval_batches)]
            for split, ids in (("train", self.train_ids), ("val", self.val_ids))}

    # ---- one update ------------------------------------------------------------------
    def step(self) -> float:
        """Draw a batch, forward, backward, clip, one AdamW update. Returns the batch loss
        (the mean over the whole batch, all processes together).

        With several processes or ``micro_batches``, :class:`lmlib.scaling.Scaling` cuts the
        batch into pieces; the gradients of ``loss / micro_batches`` add up over this
        process's pieces and are averaged over processes: the gradient of the mean loss
        over the whole batch, as one process with the whole batch would get.
        """
        cfg, sc = self.config, self.scaling
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step_num, cfg)
        x, y = get_batch(self.train_ids, cfg.batch_size, cfg.block_size, self.rng)
        pieces = sc.pieces(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for i, (xb, yb) in enumerate(pieces):
            with sc.sync(last=i == len(pieces) - 1):
                loss = sc.loss(xb, yb) / len(pieces)
                sc.backward(loss)
            total += loss.detach()
        sc.update(self.optimizer, cfg.grad_clip)
        self.step_num += 1
        return sc.mean(total)

    def evaluate(self) -> tuple[float, float]:
        return (estimate_loss(self.model, self.eval_sets["train"], self.device),
                estimate_loss(self.model, self.eval_sets["val"], self.device))

    # ---- checkpoints -----------------------------------------------------------------
    def save_best(self, val_loss: float | None = None) -> None:
        """Write the model now as the best checkpoint, with ``val_loss`` (default: the
        history's best) and the step in its metadata."""
        if self.checkpoint is None or not self.is_main:
            return
        val_loss = self.history.best_val if val_loss is None else val_loss
        extra = dict(self.extra, step=self.step_num, val_loss=val_loss,
                     train_config=self.config.to_dict())
        save_checkpoint(self.model, self.checkpoint, dtype=self.checkpoint_dtype, extra=extra)

    def save_state(self) -> None:
        """The full state of the run (current weights, optimizer, generators, history) so
        that :meth:`load_state` continues exactly where it stopped."""
        if self.checkpoint is None or not self.is_main:
            return
        save_train_state(state_path(self.checkpoint), self.model, self.optimizer,
                         step=self.step_num, rng=self.rng, history=self.history.to_dict(),
                         train_config=self.config.to_dict())

    def load_state(self, path=None) -> None:
        path = Path(path) if path is not None else state_path(self.checkpoint)
        self.step_num, history = load_train_state(path, self.model, self.optimizer,
                                                  rng=self.rng,
                                                  train_config=self.config.to_dict())
        self.history = History.from_dict(history)

    # ---- the loop --------------------------------------------------------------------
    def run(self, *, progress: bool = True, plot: bool | str = "auto", stop_at: int | None = None,
            time_limit: float | None = None, log=None) -> History:
        """Train until ``config.steps`` (or ``stop_at`` steps, or ``time_limit`` seconds of
        this session, or Ctrl-C), evaluating and checkpointing every ``eval_interval``."""
        from tqdm.auto import tqdm

        cfg = self.config
        end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
        live = _LivePlot() if (plot is True or (plot == "auto" and _in_notebook())) else None
        bar = tqdm(total=cfg.steps, initial=self.step_num, disable=not progress or not self.is_main,
                   desc="training", unit="step", dynamic_ncols=True)
        tokens = cfg.batch_size * cfg.block_size
        session_start = time.perf_counter()
        t_train, n_since = 0.0, 0
        self.history.interrupted, self.stop_reason = False, None
        self.model.train()
        consistent = True  # False once a step or a save was cut in the middle
        try:
            with _held_ctrl_c() as ctrl_c:
                while self.step_num < end:
                    consistent = False
                    t0, c0 = time.perf_counter(), time.process_time()
                    loss = self.step()
                    dt = time.perf_counter() - t0
                    t_train += dt
                    self.history.seconds += dt
                    self.history.cpu_seconds += time.process_time() - c0
                    n_since += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                    if self.step_num % cfg.eval_interval == 0 or self.step_num == cfg.steps:
                        self._evaluate_and_save(n_since * tokens / max(t_train, 1e-9), live,
                                                bar, log)
                        t_train, n_since = 0.0, 0
                    consistent = True
                    if self.scaling.agree(ctrl_c()):
                        self.stop_reason = "interrupt"
                        break
                    if time_limit is not None and self.scaling.agree(
                            time.perf_counter() - session_start > time_limit):
                        self.stop_reason = "time_limit"
                        break
        except KeyboardInterrupt:  # a second Ctrl-C, or one raised inside the model
            self.stop_reason = "interrupt"
        finally:
            bar.close()
        self.history.final_step = self.step_num
        if self.step_num < cfg.steps:
            self.history.interrupted = True
            if consistent:  # the state after a whole step: resuming continues exactly
                self.save_state()
            if self.stop_reason == "interrupt" and self.is_main:
                print("interrupted: " + ("training state saved at step "
                                         f"{self.step_num}" if consistent else
                                         "stopped in the middle of a step; the state saved "
                                         "at the last evaluation is kept")
                      + "; the best checkpoint is kept", file=sys.stderr)
        return self.history

    def _evaluate_and_save(self, tok_s: float, live, bar, log) -> None:
        h = self.history
        train_loss, val_loss = self.evaluate()
        h.steps.append(self.step_num)
        h.train_loss.append(train_loss)
        h.val_loss.append(val_loss)
        h.tokens_per_s.append(tok_s)
        h.lr.append(lr_at(self.step_num - 1, self.config))
        improved = val_loss < h.best_val
        if improved:
            self.save_best(val_loss)  # on disk first: the history never names a missing file
            h.best_val, h.best_step = val_loss, self.step_num
        self.save_state()
        line = (f"step {self.step_num:6d} | train {train_loss:.4f} | val {val_loss:.4f}"
                f"{' *' if improved else '  '} | lr {h.lr[-1]:.2e} | {tok_s:,.0f} tok/s | "
                f"{h.seconds:,.0f} s wall, {h.cpu_seconds:,.0f} CPU s")
        if not self.is_main:
            return
        if log is not None:
            print(line, file=log, flush=True)
        if live is not None:
            live.update(h, f"best val {h.best_val:.4f} at step {h.best_step}")
        elif bar is not None and not bar.disable:
            bar.write(line)


def train(model: nn.Module, train_ids, val_ids, config: TrainConfig | None = None, *,
          checkpoint=None, resume: bool = False, progress: bool = True,
          plot: bool | str = "auto", stop_at: int | None = None, time_limit: float | None = None,
          checkpoint_dtype: torch.dtype | None = None, extra: dict | None = None, log=None,
          **overrides) -> History:
    """Train ``model`` on ``train_ids`` (a 1-D array of token ids), evaluating on ``val_ids``.

    ``config`` is a :class:`TrainConfig`; keyword ``overrides`` replace its fields, e.g.
    ``train(model, tr, va, steps=500, lr=3e-3)``. With ``checkpoint`` (a path), the best
    model so far is kept there and the training state next to it (:func:`state_path`);
    ``resume=True`` continues from that state when it exists. ``plot``: ``"auto"`` draws a
    live loss plot in notebooks only, ``True`` always, ``False`` never. ``stop_at`` /
    ``time_limit`` stop early (resumable). Returns the :class:`History`.
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(TrainConfig)})
        if unknown:
            raise TypeError(f"unknown training option(s) {unknown}; TrainConfig has "
                            f"{[f.name for f in dataclasses.fields(TrainConfig)]}")
        config = dataclasses.replace(config, **overrides)
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path to resume from")
    trainer = Trainer(model, train_ids, val_ids, config, checkpoint=checkpoint,
                      checkpoint_dtype=checkpoint_dtype, extra=extra)
    if resume and state_path(checkpoint).is_file():
        trainer.load_state()
    return trainer.run(progress=progress, plot=plot, stop_at=stop_at, time_limit=time_limit,
                       log=log)


# --------------------------------------------------------------------------------------
# command line: python -m lmlib.train --preset shakespeare-gpt --checkpoint out.safetensors
# --------------------------------------------------------------------------------------

PRESETS: dict[str, dict] = {
    # nanoGPT's CPU recipe (its README's "baby GPT" for a laptop)
    "nanogpt-cpu": dict(
        model=dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
        train=dict(steps=2000, batch_size=12, block_size=64, lr=1e-3, min_lr=1e-4, warmup=100,
                   eval_interval=250, eval_batches=20)),
    # the course's recommended 10-minute CPU configuration
    "cpu-10min": dict(
        model=dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
        train=dict(steps=4000, batch_size=16, block_size=64, lr=2e-3, min_lr=2e-4, warmup=100,
                   eval_interval=500, eval_batches=20)),
    # the shipped model (lmlib/assets/gpt_shakespeare.safetensors)
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


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lmlib.train",
        description="Train a preset model (GPT or LSTM) with the course trainer (resumable).")
    parser.add_argument("--preset", default="shakespeare-gpt", choices=sorted(PRESETS))
    parser.add_argument("--checkpoint", required=True, help="where the best model is kept")
    parser.add_argument("--resume", action="store_true", help="continue from the saved state")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a TrainConfig field (e.g. steps=5000) or, with the "
                             "model. prefix, a GPTConfig field (e.g. model.n_layer=6)")
    parser.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                        help="start from this checkpoint's weights (same shape; dropout may "
                             "differ) with a fresh optimizer and schedule")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="stop (resumably) after this many seconds")
    parser.add_argument("--half", action="store_true", help="store the best model in float16")
    parser.add_argument("--log", default=None, help="append evaluation lines to this file")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    import lmlib
    from lmlib.data import names_streams, shakespeare

    lmlib.setup(quiet=True)
    preset = PRESETS[args.preset]
    mkw, tkw = dict(preset["model"]), dict(preset["train"])
    for item in args.set:
        if "=" not in item:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        if key.startswith("model."):
            mkw[key[len("model."):]] = _parse_value(value)
        else:
            tkw[key] = _parse_value(value)
    if preset.get("data", "shakespeare") == "names":
        tok, train_ids, val_ids, _ = names_streams()
    else:
        tok, train_ids, val_ids = shakespeare()
    try:
        model, _ = from_preset(args.preset, tok.vocab_size, **mkw)
        config = TrainConfig(**tkw)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1  # started by torchrun
    try:
        if distributed:
            init_distributed(config.device)
        return _run_cli(args, model, config, tok, train_ids, val_ids, mkw, tkw)
    except (ValueError, CompileError) as err:  # bad input found once the device is known
        print(f"python -m lmlib.train: error: {err}", file=sys.stderr, flush=True)
        return 2
    finally:
        if distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _run_cli(args, model, config, tok, train_ids, val_ids, mkw, tkw) -> int:
    rank, world = distributed_info()
    main_process = rank == 0
    if main_process:
        log = open(args.log, "a", encoding="utf-8") if args.log else sys.stdout
    else:
        log = None  # only rank 0 writes logs (and checkpoints)
    resuming = args.resume and state_path(args.checkpoint).is_file()
    if args.init_from and not resuming:
        load_state_dict_file(model, args.init_from, ignore=("dropout",))
        if log is not None:
            print(f"# weights initialised from {args.init_from}", file=log, flush=True)
    trainer = Trainer(model, train_ids, val_ids, config, checkpoint=args.checkpoint,
                      checkpoint_dtype=torch.float16 if args.half else None,
                      extra={"itos": tok.itos, "preset": args.preset})
    if log is not None:
        print(f"# {args.preset}: {model.num_params():,} parameters, model {mkw}, train {tkw}, "
              f"threads {torch.get_num_threads()}, processes {world}, device {trainer.device}, "
              f"amp {trainer.amp_dtype}", file=log, flush=True)
    if resuming:
        trainer.load_state()
    history = trainer.run(progress=not args.no_progress and main_process, plot=False,
                          time_limit=args.time_limit, log=log)
    if log is not None:
        print(f"# stopped at step {history.final_step} of {config.steps}; "
              f"best val (fixed batches) {history.best_val:.4f} at step {history.best_step}; "
              f"{history.cpu_seconds:,.0f} CPU s and {history.seconds:,.0f} s wall of training; "
              f"{history.final_step * config.batch_size * config.block_size:,} tokens",
              file=log, flush=True)
        if log is not sys.stdout:
            log.close()
    return 130 if trainer.stop_reason == "interrupt" else 0  # 130: stopped by Ctrl-C


if __name__ == "__main__":
    sys.exit(main())
