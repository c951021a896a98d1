"""The one training loop of the course, and its checkpoints.

Any PyTorch model whose ``forward(idx, targets=None)`` returns ``(logits, loss)`` trains
with :func:`train`: a language model on a stream of token ids, a classifier on labelled
examples (:mod:`lmlib.batches` says where the batches come from and what is evaluated)::

    from lmlib.train import TrainConfig, train
    history = train(model, train_ids, val_ids, TrainConfig(steps=2000, lr=1e-3),
                    checkpoint="gpt.safetensors")

What it does, step by step:

- batches of random windows from :func:`lmlib.data.get_batch` (or epochs of examples),
  drawn from a NumPy generator seeded by ``config.seed`` (so a run is repeatable, and
  resumable exactly);
- AdamW, with weight decay on the matrices only (biases, LayerNorm gains are not decayed);
- a learning rate that rises linearly for ``warmup`` steps, then follows a cosine down to
  ``min_lr`` at the last step;
- gradient clipping by global norm;
- every ``eval_interval`` steps, the mean loss on FIXED batches of train and val (the same
  windows every time, so the curve is not noise; for examples, the accuracy on val), the
  best model written to the checkpoint (or kept in memory) and the full training state
  (optimizer, random generators, step, history) to a second file, both atomically;
- a progress bar, and in a notebook a loss plot that updates as it trains;
- Ctrl-C stops cleanly at the end of the step (and of the checkpoint being written): the
  state is saved, the best checkpoint kept, the history returned, and ``--resume`` then
  continues bit-exactly; a second Ctrl-C stops at once, keeping the last saved state.

Command line (the shipped model is trained this way; :mod:`lmlib.cli`, with the recipes
of :mod:`lmlib.presets`)::

    python -m lmlib.train --preset shakespeare-gpt --checkpoint gpt.safetensors --resume

Checkpoints (:mod:`lmlib.checkpoint`) are safetensors files; nothing is ever unpickled.
Scaling up (a GPU, mixed precision, ``torch.compile``, several processes under
``torchrun``) is :mod:`lmlib.scaling`; it changes where a step runs, not what it computes::

    torchrun --nproc_per_node=2 -m lmlib.train --preset shakespeare-gpt --checkpoint gpt.safetensors
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from lmlib.batches import Examples, Windows, estimate_loss
from lmlib.checkpoint import load_train_state, save_checkpoint, save_train_state, state_path
from lmlib.interactive import LABELS, LivePlot, held_ctrl_c, in_notebook
from lmlib.scaling import AMP_MODES, Scaling

__all__ = ["TrainConfig", "History", "Trainer", "train", "lr_at", "make_optimizer",
           "estimate_loss"]


# --------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------

@dataclass
class TrainConfig:
    """Everything that decides a training run (the model's shape is the model's config)."""

    steps: int = 2000             # optimizer updates in the whole run (the schedule's length)
    batch_size: int = 16          # windows (or examples) per batch
    block_size: int = 64          # tokens per window (windows only)
    lr: float = 1e-3              # peak learning rate, reached after warm-up
    min_lr: float | None = None   # end of the cosine; None means lr / 10
    warmup: int = 100             # steps of linear warm-up
    weight_decay: float = 0.1     # AdamW decay, on matrices only
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0        # max global gradient norm; 0 turns clipping off
    eval_interval: int = 250      # evaluate (and checkpoint) every this many steps
    eval_batches: int = 20        # fixed batches of train and of val per evaluation (windows)
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
    ``val_loss[i]`` (means over the fixed batches) were measured, or, for examples, the
    mean train loss of the steps since the last evaluation and ``val_acc[i]``;
    ``tokens_per_s[i]`` is the training speed since the previous evaluation (evaluation
    time not counted). ``best_val`` is the best val score (loss, or accuracy)."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
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


# --------------------------------------------------------------------------------------
# the training loop
# --------------------------------------------------------------------------------------

class Trainer:
    """One training run: model, optimizer, data, schedule, checkpoints. :func:`train` is the
    convenient front door; the class is there so that each piece can be read (and extended)
    on its own.

    ``train`` and ``val`` are token streams (1-D arrays of ids: a language model trained on
    random windows, :class:`lmlib.batches.Windows`) or tuples ``(idx, mask, labels)`` of
    examples (a classifier trained in epochs, :class:`lmlib.batches.Examples`; ``val`` may
    be None). ``keep_best`` also keeps the best weights in memory (:meth:`load_best`).
    """

    def __init__(self, model: nn.Module, train, val, config: TrainConfig,
                 checkpoint=None, checkpoint_dtype: torch.dtype | None = None,
                 extra: dict | None = None, keep_best: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        # where the batches come from, and what an evaluation measures
        self.data = (Examples(train, val, config) if isinstance(train, tuple)
                     else Windows(train, val, config, model))
        self.scaling = Scaling(model, config.device, config.amp, config.compile,
                               config.batch_size, config.micro_batches)
        self.model, self.device = self.scaling.model, self.scaling.device
        self.optimizer = make_optimizer(model, config)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.checkpoint_dtype = checkpoint_dtype
        self.extra = dict(extra or {})
        self.keep_best, self.best_weights = keep_best, None
        self.rank, self.world_size = self.scaling.rank, self.scaling.world_size
        self.is_main = self.scaling.is_main  # the process that writes checkpoints and logs
        self.amp_dtype, self.scaler = self.scaling.amp_dtype, self.scaling.scaler
        self.step_num = 0  # updates done so far
        self.stop_reason = None  # after run(): "interrupt" (Ctrl-C), "time_limit" or None
        self.history = History(best_val=-math.inf if self.data.higher_is_better else math.inf)
        # training batches: the SAME generator on every rank draws the whole (global) batch,
        # and each rank keeps its own slice, so N processes see exactly the windows one
        # process would, and the run is repeatable and resumable whatever N is
        self.rng = np.random.default_rng(config.seed)
        # dropout, and anything else random in the model: a different stream per rank
        torch.manual_seed(config.seed + self.rank)

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
        pieces = sc.pieces(self.data.batch(self.rng))  # e.g. [(x, y)], on the device
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for i, piece in enumerate(pieces):
            with sc.sync(last=i == len(pieces) - 1):
                loss = sc.loss(*piece) / len(pieces)
                sc.backward(loss)
            total += loss.detach()
        sc.update(self.optimizer, cfg.grad_clip)
        self.step_num += 1
        return sc.mean(total)

    def evaluate(self, train_loss: float = math.nan) -> dict:
        """The data's evaluation of the model now, e.g. ``{"train_loss": ..., "val_loss":
        ...}`` (``train_loss``: the mean loss of the steps since the last evaluation)."""
        return self.data.evaluate(self.model, self.device, train_loss)

    # ---- the best model, and checkpoints ---------------------------------------------
    def save_best(self, score: float | None = None) -> None:
        """Keep the model now as the best: in memory with ``keep_best``, and in the
        checkpoint file, with ``score`` (default: the history's best) and the step in its
        metadata."""
        if self.keep_best:
            self.best_weights = [p.detach().clone() for p in self.model.parameters()
                                 if p.requires_grad]
        if self.checkpoint is None or not self.is_main:
            return
        score = self.history.best_val if score is None else score
        extra = {**self.extra, "step": self.step_num, self.data.score: score,
                 "train_config": self.config.to_dict()}
        save_checkpoint(self.model, self.checkpoint, dtype=self.checkpoint_dtype, extra=extra)

    @torch.no_grad()
    def load_best(self) -> None:
        """Put the best weights kept in memory (``keep_best``) back into the model."""
        if self.best_weights is None:
            raise ValueError("no best weights in memory: train with keep_best=True and a val set")
        for p, best in zip([p for p in self.model.parameters() if p.requires_grad],
                           self.best_weights):
            p.copy_(best)

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
        """Train until ``config.steps`` (or ``stop_at`` steps, or Ctrl-C, or ``time_limit``
        seconds of training in this session, evaluations not counted), evaluating and
        checkpointing every ``eval_interval`` steps, at the last step and at the time limit."""
        from tqdm.auto import tqdm

        cfg = self.config
        end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
        live = LivePlot() if (plot is True or (plot == "auto" and in_notebook())) else None
        bar = tqdm(total=cfg.steps, initial=self.step_num, disable=not progress or not self.is_main,
                   desc="training", unit="step", dynamic_ncols=True)
        seconds_before = self.history.seconds
        t_train, losses = 0.0, []  # since the last evaluation
        self.history.interrupted, self.stop_reason = False, None
        self.model.train()
        consistent = True  # False once a step or a save was cut in the middle
        try:
            with held_ctrl_c() as ctrl_c:
                while self.step_num < end:
                    consistent = False
                    t0, c0 = time.perf_counter(), time.process_time()
                    loss = self.step()
                    dt = time.perf_counter() - t0
                    t_train += dt
                    self.history.seconds += dt
                    self.history.cpu_seconds += time.process_time() - c0
                    losses.append(loss)
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                    out_of_time = time_limit is not None and self.scaling.agree(
                        self.history.seconds - seconds_before > time_limit)
                    if (self.step_num % cfg.eval_interval == 0 or self.step_num == cfg.steps
                            or out_of_time):
                        tok_s = len(losses) * self.data.tokens / max(t_train, 1e-9)
                        self._evaluate_and_save(tok_s, float(np.mean(losses)), live, bar, log)
                        t_train, losses = 0.0, []
                    consistent = True
                    if self.scaling.agree(ctrl_c()):
                        self.stop_reason = "interrupt"
                        break
                    if out_of_time:
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

    def _evaluate_and_save(self, tok_s: float, train_loss: float, live, bar, log) -> None:
        h, data = self.history, self.data
        results = self.evaluate(train_loss)  # e.g. {"train_loss": 1.52, "val_loss": 1.61}
        h.steps.append(self.step_num)
        for key, value in results.items():
            getattr(h, key).append(value)
        h.tokens_per_s.append(tok_s)
        h.lr.append(lr_at(self.step_num - 1, self.config))
        score = results.get(data.score, math.nan)  # no val set: never an improvement
        improved = score > h.best_val if data.higher_is_better else score < h.best_val
        if improved:
            self.save_best(score)  # on disk first: the history never names a missing file
            h.best_val, h.best_step = score, self.step_num
        self.save_state()
        shown = " | ".join(f"{LABELS[key]} {value:.4f}" for key, value in results.items())
        line = (f"step {self.step_num:6d} | {shown}{' *' if improved else '  '} | "
                f"lr {h.lr[-1]:.2e} | {tok_s:,.0f} tok/s | "
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
    """Train ``model`` on ``train_ids`` (a 1-D array of token ids), evaluating on ``val_ids``
    (or on examples ``(idx, mask, labels)``: see :class:`Trainer`).

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


if __name__ == "__main__":  # python -m lmlib.train runs the command line, lmlib/cli.py
    import runpy

    runpy.run_module("lmlib.cli", run_name="__main__", alter_sys=True)
