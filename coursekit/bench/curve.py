"""The compute curve of chapter 07: val loss against CPU seconds for n-grams, LSTMs and GPTs.

    python -m coursekit.bench.curve list                 # every point and whether it is done
    python -m coursekit.bench.curve run ngram            # the n-gram points (seconds each)
    python -m coursekit.bench.curve run gpt-60-s0 ...    # named points (resumable)
    python -m coursekit.bench.curve run gpt-60-s0-lr1e-2 # a variant of the budget's sweep
    python -m coursekit.bench.curve run --budget 60      # every point of that budget
    python -m coursekit.bench.curve run shipped          # the shipped GPT and LSTM, marked

Every point is scored with ``lmlib.scoring.score`` (the course's protocol) and written to
``lmlib/assets/compute_curve.json`` (chapter 07 reads it): its loss, the train loss on the
same number of train characters (the train-val gap), parameters, tokens processed, process
CPU seconds, wall seconds and the exact command that re-runs it. A neural point trains one thread on a CPU budget: it first
measures the CPU seconds of a few steps, sets the run's length (and so its cosine schedule)
to fill the budget, and then trains to the end with the course trainer, keeping its state in
``build/curve/ID`` so that an interrupted run resumes. The GPT's point for about an hour is
the shipped GPT itself (its recipe, the preset ``shakespeare-gpt``, is sized for that
budget). Below an hour each budget's model is the winner of a small sweep (``VARIANTS``,
``CHOSEN``). The shipped models are marked points: their CPU seconds are those their
training recorded (its log), their loss is scored here.
``make figures`` draws ``docs/figures/compute_curve.png`` from the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "lmlib" / "assets" / "compute_curve.json"
WORK = Path(os.environ.get("LMLIB_BUILD_DIR", ROOT / "build")) / "curve"

BUDGETS = (60, 240, 960, 3840)  # CPU seconds: about 1, 4, 16 and 64 minutes
SEEDS = {60: (0, 1), 240: (0, 1), 960: (0,), 3840: (0,)}  # two seeds where the noise is largest

# Each budget's starting spec (set by rule: bigger budgets get bigger models and longer
# context, the hour gets dropout). Each is a trainer preset's override.
GPT_BY_BUDGET = {
    60: dict(model=dict(block_size=64, n_layer=2, n_head=4, n_embd=64, dropout=0.0),
             train=dict(batch_size=16, block_size=64, lr=3e-3)),
    240: dict(model=dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
              train=dict(batch_size=16, block_size=64, lr=2e-3)),
    960: dict(model=dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
              train=dict(batch_size=16, block_size=128, lr=2e-3)),
}  # about an hour: the shipped GPT's recipe (lmlib.presets "shakespeare-gpt"), point shipped-gpt
LSTM_BY_BUDGET = {
    60: dict(model=dict(n_embd=32, hidden_size=128, n_layer=1, dropout=0.0),
             train=dict(batch_size=32, block_size=64, lr=4e-3)),
    240: dict(model=dict(n_embd=64, hidden_size=256, n_layer=1, dropout=0.0),
              train=dict(batch_size=32, block_size=128, lr=3e-3)),
    960: dict(model=dict(n_embd=64, hidden_size=384, n_layer=1, dropout=0.0),
              train=dict(batch_size=32, block_size=128, lr=3e-3)),
    3840: dict(model=dict(n_embd=64, hidden_size=512, n_layer=2, dropout=0.2),
               train=dict(batch_size=32, block_size=128, lr=2e-3)),
}


def _context(n: int) -> dict:
    return dict(model=dict(block_size=n), train=dict(block_size=n))


# The sweep: at each budget below an hour, the starting spec and a few variants, each
# changing one thing (size, context or learning rate), seed 0, the same CPU budget. The
# curve's point for a budget is the variant with the lowest val loss; at the two smallest
# budgets a second seed trains that variant and the starting spec again (is the win larger
# than the noise?). An hour-long run is too dear to sweep: the hour keeps its starting spec.
VARIANTS = {
    ("gpt", 60): {"lr1e-2": dict(train=dict(lr=1e-2)), "lr3e-2": dict(train=dict(lr=3e-2)),
                  "ctx32": _context(32), "layers1": dict(model=dict(n_layer=1)),
                  "width128": dict(model=dict(n_embd=128))},
    ("lstm", 60): {"lr1e-2": dict(train=dict(lr=1e-2)), "lr3e-2": dict(train=dict(lr=3e-2)),
                   "lr1e-1": dict(train=dict(lr=1e-1)), "ctx32": dict(train=dict(block_size=32)),
                   "hidden192": dict(model=dict(hidden_size=192))},
    ("gpt", 240): {"lr4e-3": dict(train=dict(lr=4e-3)), "width64": dict(model=dict(n_embd=64)),
                   "layers2": dict(model=dict(n_layer=2))},
    ("lstm", 240): {"lr6e-3": dict(train=dict(lr=6e-3)),
                    "hidden384": dict(model=dict(hidden_size=384))},
    ("gpt", 960): {"lr4e-3": dict(train=dict(lr=4e-3)), "ctx64": _context(64)},
    ("lstm", 960): {"lr6e-3": dict(train=dict(lr=6e-3)),
                    "hidden512": dict(model=dict(hidden_size=512))},
}
# The winner of each sweep (lowest val among its seed-0 runs; a test checks it against the
# measurements). "base" is the starting spec.
CHOSEN = {("gpt", 60): "lr1e-2", ("lstm", 60): "lr3e-2", ("gpt", 240): "layers2",
          ("lstm", 240): "lr6e-3", ("gpt", 960): "ctx64", ("lstm", 960): "lr6e-3"}
NGRAMS = [(order, smoothing) for smoothing in ("kneser-ney", "modified-kneser-ney")
          for order in range(3, 9)]


def _variant(spec: dict, change: dict) -> dict:
    return {part: {**spec[part], **change.get(part, {})} for part in ("model", "train")}


def points() -> dict[str, dict]:
    """Every point of the curve by id: ``gpt-960-s0``, ``lstm-60-s1``, ``ngram-6-kneser-ney``,
    ``shipped-gpt``; a variant of the sweep adds its name: ``gpt-60-s0-lr1e-2``."""
    out = {f"ngram-{o}-{s}": dict(family="n-gram", order=o, smoothing=s) for o, s in NGRAMS}
    out["shipped-gpt"] = dict(family="gpt", shipped="shakespeare-gpt", budget_cpu_s=3840, seed=0)
    out["shipped-lstm"] = dict(family="lstm", shipped="shakespeare-lstm")
    for family, table in (("gpt", GPT_BY_BUDGET), ("lstm", LSTM_BY_BUDGET)):
        for budget, spec in table.items():
            variants = {"base": {}, **VARIANTS.get((family, budget), {})}
            chosen = CHOSEN.get((family, budget), "base")
            for name, change in variants.items():
                for seed in SEEDS[budget] if name in (chosen, "base") else (0,):
                    pid = f"{family}-{budget}-s{seed}" + ("" if name == "base" else f"-{name}")
                    out[pid] = dict(family=family, budget_cpu_s=budget, seed=seed,
                                    variant=name, **_variant(spec, change))
    return out


def load() -> dict:
    if RESULTS.is_file():
        return json.loads(RESULTS.read_text(encoding="utf-8"))
    return {"what": "val loss (lmlib.scoring.score) against process CPU seconds on one thread",
            "points": {}}


def save(record: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, RESULTS)


def run_ngram(spec: dict) -> dict:
    from lmlib.data import shakespeare
    from lmlib.ngram import NGramLM
    from lmlib.scoring import score

    tok, train_ids, val_ids = shakespeare()
    cpu, wall = time.process_time(), time.perf_counter()
    lm = NGramLM(spec["order"], spec["smoothing"]).fit(train_ids, tok.vocab_size)
    val = score(lm, val_ids)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return dict(val=val, train=score(lm, train_ids[:len(val_ids)]), cpu_s=cpu, wall_s=wall,
                tokens=len(train_ids), params=lm.num_ngrams, megabytes=lm.nbytes / 1e6)


def logged_compute(log: str) -> tuple[int, int, float, float]:
    """``(steps, tokens, CPU seconds, wall seconds)`` from the stop line of a training log
    written by ``python -m lmlib.train --log`` (its last one: the run's total)."""
    stops = [line for line in log.splitlines() if line.startswith("# stopped")]
    if not stops or " CPU s " not in stops[-1]:
        raise ValueError("the log has no stop line with CPU seconds (python -m lmlib.train "
                         "writes one when a run stops)")
    words = stops[-1].replace(",", "").replace(";", "").split()
    return (int(words[4]), int(words[words.index("tokens") - 1]),
            float(words[words.index("CPU") - 1]), float(words[words.index("wall") - 2]))


def run_shipped(spec: dict) -> dict:
    """A shipped model as a marked point: scored here, its training compute read from what
    its training recorded (the GPT's log, the LSTM's history file)."""
    from lmlib.data import shakespeare
    from lmlib.pretrained import PRETRAINED, load_pretrained
    from lmlib.scoring import score

    tok, train_ids, val_ids = shakespeare()
    model, _ = load_pretrained(spec["shipped"])
    asset = PRETRAINED[spec["shipped"]]
    if spec["family"] == "gpt":
        steps, tokens, cpu, wall = logged_compute(asset.with_suffix(".log").read_text("utf-8"))
    else:
        record = json.loads(asset.with_suffix(".json").read_text(encoding="utf-8"))
        cpu, wall, steps = record["cpu_s"], record.get("wall_s"), record["train"]["steps"]
        tokens = steps * record["train"]["batch_size"] * record["train"]["block_size"]
    return dict(val=score(model, val_ids), train=score(model, train_ids[:len(val_ids)]),
                cpu_s=cpu, wall_s=wall, steps=steps, tokens=tokens, shipped=True,
                params=sum(p.numel() for p in model.parameters()))


def _model(spec: dict, vocab_size: int):
    import torch

    from lmlib.models.gpt import GPT, GPTConfig
    from lmlib.models.lstm import LSTMLM

    torch.manual_seed(spec["seed"])
    if spec["family"] == "gpt":
        return GPT(GPTConfig(vocab_size=vocab_size, **spec["model"]))
    return LSTMLM(vocab_size, **spec["model"])


def _cpu_per_step(spec: dict, train_ids, val_ids, vocab_size: int, probe: int = 40) -> float:
    """CPU seconds of one training step of this point's model: the trainer's own count of
    the CPU time in its steps (set-up and evaluation excluded) over ``probe`` steps, after
    a few steps that warm the allocator up."""
    from lmlib.train import train

    model = _model(spec, vocab_size)
    kwargs = dict(warmup=0, eval_batches=1, progress=False, plot=False, **spec["train"])
    train(model, train_ids, val_ids, steps=5, eval_interval=5, **kwargs)
    history = train(model, train_ids, val_ids, steps=probe, eval_interval=probe, **kwargs)
    return history.cpu_seconds / probe


@contextlib.contextmanager
def _counted(path: Path, every: float = 30.0):
    """Add this session's process CPU and wall seconds to the totals in ``path``, writing
    them every ``every`` seconds as well as at the end, so that a session that is killed
    (not just stopped) loses at most that much of its count. Yields the totals (a dict that
    is final when the block ends)."""
    record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    base = {k: record.get(k, 0.0) + record.get("session", {}).get(k, 0.0)
            for k in ("cpu_s", "wall_s")}  # a killed session's last count joins the total
    cpu0, wall0 = time.process_time(), time.perf_counter()
    done = threading.Event()

    def write(final: bool) -> dict:
        now = dict(cpu_s=time.process_time() - cpu0, wall_s=time.perf_counter() - wall0)
        out = ({k: base[k] + now[k] for k in base} if final else dict(base, session=now))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out), encoding="utf-8")
        os.replace(tmp, path)
        return out

    def keep_writing():
        while not done.wait(every):
            write(final=False)

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    totals: dict = {}
    try:
        yield totals
    finally:
        done.set()
        writer.join()
        totals.update(write(final=True))


def run_neural(point: str, spec: dict) -> dict:
    import torch

    from lmlib.checkpoint import load_state_dict_file
    from lmlib.data import shakespeare
    from lmlib.scoring import score
    from lmlib.train import train

    torch.set_num_threads(1)
    tok, train_ids, val_ids = shakespeare()
    folder = WORK / point
    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / "plan.json"  # the run's length, fixed once so that a resume agrees
    if not plan.is_file():
        per_step = _cpu_per_step(spec, train_ids, val_ids, tok.vocab_size)
        # evaluations (10 of 2 x 10 batches) cost about 3% of a run: leave room for them
        steps = max(50, int(0.97 * spec["budget_cpu_s"] / per_step))
        plan.write_text(json.dumps(dict(steps=steps, cpu_per_step=per_step)), encoding="utf-8")
    steps = json.loads(plan.read_text(encoding="utf-8"))["steps"]
    model = _model(spec, tok.vocab_size)
    checkpoint = folder / "best.safetensors"
    with _counted(folder / "times.json") as spent:  # CPU and wall seconds, all sessions
        history = train(model, train_ids, val_ids, checkpoint=checkpoint, resume=True,
                        progress=False, plot=False, steps=steps, warmup=max(10, steps // 50),
                        eval_interval=max(1, steps // 10), eval_batches=10,
                        seed=spec["seed"], **spec["train"])
    cpu, wall = spent["cpu_s"], spent["wall_s"]
    if history.interrupted:  # Ctrl-C (SIGINT): the state is saved, the point is not done
        print(f"{point}: stopped at step {history.final_step} of {steps} after {cpu:,.0f} "
              f"CPU s; run the same command to resume", file=sys.stderr, flush=True)
        raise SystemExit(130)
    load_state_dict_file(model, checkpoint)
    cfg = spec["train"]
    return dict(val=score(model, val_ids), train=score(model, train_ids[:len(val_ids)]),
                cpu_s=cpu, wall_s=wall, steps=history.final_step, best_step=history.best_step,
                tokens=history.final_step * cfg["batch_size"] * cfg["block_size"],
                params=sum(p.numel() for p in model.parameters()))


def run(ids: list[str]) -> None:
    table = points()
    for point in ids:
        spec = table[point]
        print(f"# {point}: {spec}", flush=True)
        if "shipped" in spec:
            result = run_shipped(spec)
        elif spec["family"] == "n-gram":
            result = run_ngram(spec)
        else:
            result = run_neural(point, spec)
        result.update(spec=spec, command=f"python -m coursekit.bench.curve run {point}")
        record = load()  # read again: another process (one per core) may have added points
        record["points"][point] = result
        save(record)
        print(f"  val {result['val']:.4f} (train {result['train']:.4f}), "
              f"{result['cpu_s']:.1f} CPU s, {result['wall_s']:.0f} s wall", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.bench.curve")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    go = sub.add_parser("run")
    go.add_argument("ids", nargs="*", help="point ids, or 'ngram' (every n-gram point) or 'shipped'")
    go.add_argument("--budget", type=int, choices=BUDGETS)
    args = parser.parse_args(argv)
    table, done = points(), load()["points"]
    if args.command == "list":
        for point in table:
            print(f"{'done' if point in done else '    '}  {point}")
        return 0
    groups = {"ngram": [p for p in table if p.startswith("ngram")],
              "shipped": [p for p in table if p.startswith("shipped")]}
    ids = groups.get(args.ids[0], args.ids) if len(args.ids) == 1 else args.ids
    if args.budget:
        ids += [p for p, s in table.items() if s.get("budget_cpu_s") == args.budget]
    unknown = [p for p in ids if p not in table]
    if unknown or not ids:
        parser.error(f"name points from `list` (or 'ngram', or --budget); got {unknown or ids}")
    run(ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
