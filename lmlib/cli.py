"""The command line of the trainer: ``python -m lmlib.train`` (the shipped models were
trained this way)::

    python -m lmlib.train --preset shakespeare-gpt --checkpoint gpt.safetensors --resume
    torchrun --nproc_per_node=2 -m lmlib.train --preset shakespeare-gpt --checkpoint gpt.safetensors

It reads a recipe of :data:`lmlib.presets.PRESETS`, applies ``--set`` overrides, and runs
:class:`lmlib.train.Trainer` on the preset's corpus, logging one line per evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

from lmlib.checkpoint import load_state_dict_file, state_path
from lmlib.presets import PRESETS, from_preset
from lmlib.scaling import CompileError, distributed_info, init_distributed
from lmlib.train import TrainConfig, Trainer

__all__ = ["main"]


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
                        help="stop (resumably) after this many seconds of training "
                             "(evaluations not counted)")
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
