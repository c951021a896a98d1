"""Chapter 04's numbers: the LSTM language models and the NumPy vs PyTorch LSTM speed.

``OMP_NUM_THREADS=1 python -m coursekit.bench lstm`` (full mode; about 10 minutes of CPU on one
thread, half of it the Shakespeare LSTM, which is picked up instead of retrained when a
finished run lies in ``build/bench``) measures:

- the Shakespeare LSTM (1 layer x 384 units, 64-dim embeddings, batch 32 x 128 characters,
  AdamW 3e-3 with warm-up and cosine, clipping 1.0, one torch thread) trained with the
  course trainer: val loss reached (the trainer's fixed val batches, the whole val split in
  windows of 128, and the whole val split read as one stream), wall and CPU seconds;
- an LSTM on names.txt: test loss per character (each name scored from an empty state,
  ``.`` boundary tokens included, as makemore does);
- a NumPy RNN language model on names (chapter 03's model), test loss;
- the speed of the NumPy LSTM (``lmlib.scratch.lstm``) against ``torch.nn.LSTM``, forward +
  backward on the same batch, float32, one thread; the ratio is NumPy time / PyTorch time.

The shipped checkpoint ``lmlib/assets/lstm_shakespeare.safetensors`` is the model that
``train_shakespeare`` writes (``python -m coursekit.bench.lstm --ship`` trains it and copies it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from coursekit.bench import Measurement
from lmlib.data import names_streams
from lmlib.presets import PRESETS
from lmlib.scoring import score
from lmlib.speed import lstm_speed

SHAKESPEARE_MODEL, SHAKESPEARE_TRAIN = (PRESETS["shakespeare-lstm"][k] for k in ("model", "train"))
NAMES_MODEL, NAMES_TRAIN = (PRESETS["names-lstm"][k] for k in ("model", "train"))

_BUILD = Path(os.environ.get("LMLIB_BUILD_DIR", "build")) / "bench"


def train_shakespeare(checkpoint=None, log=None, progress: bool = False, **overrides) -> dict:
    """Train the Shakespeare LSTM with ``lmlib.train``; the best model (by val on the fixed
    batches) is kept at ``checkpoint``. Returns the history and the losses of the best model.

    The run resumes from the training state next to ``checkpoint`` when there is one, so a
    finished run is not trained again: its history (and training seconds) come back as saved."""
    import torch

    from lmlib.checkpoint import load_state_dict_file
    from lmlib.data import shakespeare
    from lmlib.models.lstm import LSTMLM
    from lmlib.train import train

    checkpoint = Path(checkpoint or _BUILD / "lstm_shakespeare.safetensors")
    tok, train_ids, val_ids = shakespeare()
    torch.manual_seed(0)
    model = LSTMLM(tok.vocab_size, **SHAKESPEARE_MODEL)
    config = dict(SHAKESPEARE_TRAIN, **overrides)
    times = checkpoint.with_suffix(".times.json")  # wall and CPU seconds of the training
    done = _saved_step(checkpoint) >= config["steps"] and times.is_file()
    wall, cpu = time.perf_counter(), time.process_time()
    history = train(model, train_ids, val_ids, checkpoint=checkpoint, progress=progress,
                    plot=False, log=log, resume=True, extra={"itos": tok.itos}, **config)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if done:  # a finished run picked up again: its times are the ones it measured
        wall, cpu = (json.loads(times.read_text(encoding="utf-8"))[k] for k in ("wall_s", "cpu_s"))
    else:
        times.write_text(json.dumps(dict(wall_s=wall, cpu_s=cpu)), encoding="utf-8")
    load_state_dict_file(model, checkpoint)
    return dict(history=history, wall_s=wall, cpu_s=cpu, checkpoint=checkpoint,
                val_stream=score(model, val_ids))


def _saved_step(checkpoint) -> int:
    """The step of the training state saved next to ``checkpoint`` (0 when there is none)."""
    from safetensors import safe_open

    from lmlib.checkpoint import state_path

    path = state_path(checkpoint)
    if not path.is_file():
        return 0
    with safe_open(str(path), framework="pt") as f:
        return int((f.metadata() or {}).get("step", 0))


def train_names(checkpoint=None, progress: bool = False, log=None, **overrides) -> dict:
    """Train an LSTM on names.txt (train split as a stream, dev for the trainer's evaluation)
    and score the best model on dev and test, name by name."""
    import torch

    from lmlib.checkpoint import load_state_dict_file
    from lmlib.data import names
    from lmlib.models.lstm import LSTMLM
    from lmlib.train import train

    checkpoint = Path(checkpoint or _BUILD / "lstm_names.safetensors")
    tok, tr_ids, dev_ids, _ = names_streams()
    _, _, dev, te = names()
    torch.manual_seed(0)
    model = LSTMLM(tok.vocab_size, **NAMES_MODEL)
    config = dict(NAMES_TRAIN, **overrides)
    wall, cpu = time.perf_counter(), time.process_time()
    history = train(model, tr_ids, dev_ids, checkpoint=checkpoint, progress=progress,
                    plot=False, log=log, **config)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    load_state_dict_file(model, checkpoint)
    return dict(history=history, wall_s=wall, cpu_s=cpu, dev=score(model, (dev, tok)),
                test=score(model, (te, tok)))


def train_rnn_names(steps: int = 6000, hidden_size: int = 128, log_every: int = 0) -> dict:
    """Chapter 03's NumPy RNN language model on names, trained here to measure its loss."""
    from lmlib.scratch.rnn import RNNLM, train_rnnlm_on_names

    model = RNNLM(vocab_size=27, n_embd=24, hidden_size=hidden_size, rng=0)
    t0 = time.perf_counter()
    result = train_rnnlm_on_names(model, steps=steps, log_every=log_every)
    result["wall_s"] = time.perf_counter() - t0
    return result


def run() -> list[Measurement]:
    import torch

    out = []
    sp = train_shakespeare()
    h = sp["history"]
    out += [
        Measurement("shakespeare val (fixed batches)", h.best_val, "nats/char", "<= 1.55",
                    f"best of {len(h.steps)} evals, step {h.best_step} of {h.steps[-1]}"),
        Measurement("shakespeare val (split, one stream)", sp["val_stream"], "nats/char", "",
                    "lmlib.scoring.score: every val char once, state carried"),
        Measurement("shakespeare train wall", sp["wall_s"], "s", "",
                    f"{torch.get_num_threads()} torch thread(s); includes evals; shared machine"),
        Measurement("shakespeare train CPU", sp["cpu_s"], "s", "<= 600",
                    "process CPU time (= wall on an idle core)"),
    ]
    nm = train_names()
    out += [
        Measurement("names LSTM test", nm["test"], "nats/char", "<= 2.06",
                    f"dev {nm['dev']:.4f}; {nm['wall_s']:.0f} s wall"),
    ]
    try:
        rnn = train_rnn_names()
        out.append(Measurement("names NumPy RNN test", rnn["test"], "nats/char", "~2.08",
                               f"dev {rnn['dev']:.4f}; {rnn['wall_s']:.0f} s wall"))
    except ImportError as err:  # chapter 02's layers missing
        print(f"skipping the NumPy RNN: {err}", file=sys.stderr)
    sp_ = lstm_speed()
    out += [
        Measurement("LSTM fwd+bwd NumPy", sp_["numpy_s"], "s", "",
                    "CPU time; T,B,I,H = 128,32,64,384"),
        Measurement("LSTM fwd+bwd PyTorch", sp_["torch_s"], "s", "", "float32"),
        Measurement("LSTM NumPy/PyTorch ratio", sp_["ratio"], "x", "",
                    f"median of 5; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"),
    ]
    return out


def ship(result: dict, dest=None, **measured) -> Path:
    """Copy the checkpoint of ``train_shakespeare``'s ``result`` to ``dest`` (by default the
    course's asset) and write ``dest`` with a ``.json`` suffix: the recipe, the training
    history and what was measured (``measured`` overrides, e.g. the CPU seconds of a run
    that was resumed). Both written atomically."""
    import torch

    from lmlib.models.lstm import ASSET

    dest = Path(dest or ASSET)
    h = result["history"]
    record = dict(model=SHAKESPEARE_MODEL, train=SHAKESPEARE_TRAIN, history=h.to_dict(),
                  wall_s=result["wall_s"], cpu_s=result["cpu_s"],
                  val_stream=result["val_stream"],
                  threads=torch.get_num_threads(), torch=torch.__version__)
    record.update(measured)
    for src, target, text in ((result["checkpoint"], dest, None),
                              (None, dest.with_suffix(".json"), json.dumps(record, indent=1))):
        tmp = target.with_name(target.name + ".tmp")
        if text is None:
            shutil.copyfile(src, tmp)
        else:
            tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, target)
    return dest


def main(argv=None) -> int:
    """``python -m coursekit.bench.lstm --ship``: train the Shakespeare LSTM once (or pick up the
    finished run in ``build/bench``) and copy the best model with its record into
    ``lmlib/assets`` (what the course ships)."""
    import argparse

    import lmlib

    parser = argparse.ArgumentParser(prog="python -m coursekit.bench.lstm")
    parser.add_argument("--ship", action="store_true", help="copy the result to lmlib/assets")
    parser.add_argument("--log", default=None)
    parser.add_argument("--cpu-s", type=float, default=None,
                        help="CPU seconds of the training, when it ran in an earlier process")
    parser.add_argument("--wall-s", type=float, default=None)
    args = parser.parse_args(argv)
    lmlib.setup()
    log = open(args.log, "a", encoding="utf-8") if args.log else sys.stdout
    sp = train_shakespeare(log=log)
    h = sp["history"]
    print(f"# best val (fixed batches) {h.best_val:.4f} at step {h.best_step}; val split "
          f"(one stream) {sp['val_stream']:.4f}; wall "
          f"{sp['wall_s']:.0f} s, CPU {sp['cpu_s']:.0f} s", file=log, flush=True)
    if args.ship:
        measured = {k: v for k, v in (("cpu_s", args.cpu_s), ("wall_s", args.wall_s))
                    if v is not None}
        dest = ship(sp, **measured)
        print(f"# shipped {dest} ({dest.stat().st_size / 1e6:.2f} MB) and its .json",
              file=log, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
