"""Measure ``lmlib.presets.LR_SWEEP``: chapter 10's learning-rate grids on the speaker task.

    python -m coursekit.bench.lr_sweep probe 3e-3 1e-2 3e-2 1e-1
    python -m coursekit.bench.lr_sweep full 3e-5 1e-4 3e-4

Each learning rate is one run of the method's recipe (``lmlib.presets.RECIPES``) from the
shipped GPT, seed 0, one torch thread, scored by its best validation accuracy
(``lmlib.finetune.lr_sweep``). Prints the grid as the dict to put into ``LR_SWEEP``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def main(argv=None) -> int:
    from coursekit.bench.finetune import load_data
    from lmlib import setup
    from lmlib.finetune import METHODS, lr_sweep
    from lmlib.pretrained import load_pretrained

    parser = argparse.ArgumentParser(prog="python -m coursekit.bench.lr_sweep")
    parser.add_argument("method", choices=("scratch",) + METHODS)
    parser.add_argument("lrs", nargs="+", type=float)
    args = parser.parse_args(argv)
    setup(quiet=True)
    torch.set_num_threads(1)
    gpt, tok = load_pretrained("shakespeare-gpt")
    task, train, val, _ = load_data(tok, gpt.config.block_size)
    cpu = time.process_time()
    grid = lr_sweep(args.method, args.lrs, train, val,
                    lambda: load_pretrained("shakespeare-gpt")[0], task.n_classes)
    print(f"# {args.method}: {time.process_time() - cpu:.0f} CPU s", flush=True)
    print(f'"{args.method}": {{' + ", ".join(f"{lr:g}: {acc:.4f}" for lr, acc in grid.items())
          + "},")
    return 0


if __name__ == "__main__":
    sys.exit(main())
