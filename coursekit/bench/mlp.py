"""Chapter 02: the MLP language model on names (NumPy, by hand), and NumPy vs PyTorch speed.

``python -m coursekit.bench mlp`` trains the chapter's full-mode recipe (Adam, batch 64,
25,000 steps, learning rate decayed from 3e-3 to 3e-4) and reports the dev and test losses
(target: dev <= 2.15), then the CPU time of one training step (forward, backward, SGD
update) in NumPy and in PyTorch, float64 and float32, at batch sizes 32 and 512. Run it as
``OMP_NUM_THREADS=1 python -m coursekit.bench mlp`` so that NumPy's BLAS, like torch, uses one
thread.
"""

from __future__ import annotations

import time

from coursekit.bench import Measurement, stopwatch
from lmlib.speed import BLOCK, N_EMBD, N_HIDDEN, step_times

# the chapter's full-mode recipe
STEPS, BATCH, LR0, SEED = 25_000, 64, 3e-3, 0


def train_full(log_every: int = 5000):
    """Train the chapter's full-mode MLP; returns ``(model, wall seconds, CPU seconds,
    data)``."""
    from lmlib.data import names
    from lmlib.scratch import optim
    from lmlib.scratch.mlp import MLPLM, build_dataset, train

    tok, tr, dv, te = names()
    data = {k: build_dataset(w, tok, BLOCK) for k, w in [("train", tr), ("dev", dv),
                                                          ("test", te)]}
    model = MLPLM(tok.vocab_size, BLOCK, N_EMBD, N_HIDDEN, seed=SEED)
    opt = optim.Adam(model.params, lr=LR0)
    cpu_start = time.process_time()
    with stopwatch() as elapsed:  # the same call as the chapter, so the same numbers
        hist = train(model, *data["train"], opt, steps=STEPS, batch_size=BATCH, seed=SEED,
                     lr_schedule=lambda s: LR0 * 0.1 ** (s / STEPS), eval_every=log_every,
                     X_dev=data["dev"][0], Y_dev=data["dev"][1])
    for step, dev in zip(hist["eval_step"], hist["dev"]):
        print(f"    step {step:>6}: dev {dev:.4f}")
    return model, elapsed(), time.process_time() - cpu_start, data


def run() -> list[Measurement]:
    import os

    model, seconds, cpu, data = train_full()
    threads = (f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
               f"torch threads {__import__('torch').get_num_threads()}")
    dev, test = model.loss(*data["dev"]), model.loss(*data["test"])
    rows = [
        Measurement("names dev loss, MLP (NumPy)", dev, "nats/char", "<= 2.15",
                    f"{model.num_params():,} params, Adam, {STEPS:,} steps x {BATCH}"),
        Measurement("names test loss, MLP (NumPy)", test, "nats/char", "",
                    "same model"),
        Measurement("MLP training CPU time (NumPy)", cpu, "s", "",
                    f"{cpu / STEPS * 1e3:.2f} ms/step incl. 5 dev evals; wall {seconds:.0f} s"),
    ]
    X, Y = data["train"]
    for name, sec in step_times(X, Y, repeats=7, steps=200).items():
        rows.append(Measurement(f"step CPU time {name}", sec * 1e3, "ms", "",
                                f"fwd+bwd+SGD, median of 7 x 200 steps; {threads}"))
    return rows
