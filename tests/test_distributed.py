"""Scaling the trainer: data-parallel training with torch.distributed (gloo on the CPU) gives
the same loss curve as one process with the same global batch; only rank 0 writes; bad
input (a batch that cannot be split, an unavailable device, mixed precision on the CPU) is a
clear error, and a non-zero exit from the command line, not a hang."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from lmlib.checkpoint import load_checkpoint
from lmlib.scaling import resolve_amp
from lmlib.train import TrainConfig, Trainer, train

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds: a hung process group fails the test instead of blocking CI

# the run both sides do: a tiny GPT on a tiny structured stream, batch 8
SETUP = """
import numpy as np, torch
from lmlib.models.gpt import GPT, GPTConfig
from lmlib.train import Trainer, TrainConfig

def make(micro_batches):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16,
                          dropout=0.0))
    rng = np.random.default_rng(0)
    ids = np.cumsum(rng.choice([1, 1, 1, 2], size=2000)) % 11
    config = TrainConfig(steps=6, batch_size=8, block_size=8, lr=1e-2, warmup=2,
                         eval_interval=3, eval_batches=2, micro_batches=micro_batches)
    return model, ids[:1800], ids[1800:], config
"""

WORKER = SETUP + """
import json, os, sys
import torch.distributed as dist
torch.set_num_threads(1)
dist.init_process_group("gloo")
out, micro = sys.argv[1], int(sys.argv[2])
model, tr, va, config = make(micro)
trainer = Trainer(model, tr, va, config, checkpoint=os.path.join(out, "ddp.safetensors"))
losses = [trainer.step() for _ in range(config.steps)]
trainer.save_best()
weights = {k: v.tolist() for k, v in trainer.model.state_dict().items() if "attn" in k}
with open(os.path.join(out, f"rank{dist.get_rank()}.json"), "w") as f:
    json.dump(dict(losses=losses, is_main=trainer.is_main, weights=weights), f)
dist.destroy_process_group()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc, *args, cwd=ROOT):
    env = dict(os.environ, OMP_NUM_THREADS="1", LMLIB_THREADS="1", LMLIB_DIST_TIMEOUT="60",
               PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def one_process(micro_batches=1):
    ns = {}
    exec(SETUP, ns)
    model, tr, va, config = ns["make"](micro_batches)
    trainer = Trainer(model, tr, va, config)
    return [trainer.step() for _ in range(config.steps)], trainer


@pytest.mark.parametrize("micro", [1, 2])
def test_two_processes_give_the_one_process_loss_curve(tmp_path, micro):
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    res = torchrun(2, str(script), str(tmp_path), str(micro))
    assert res.returncode == 0, res.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["is_main"] for r in ranks] == [True, False]
    # both ranks report the loss of the whole global batch, and hold the same weights
    np.testing.assert_allclose(ranks[0]["losses"], ranks[1]["losses"], rtol=0, atol=1e-6)
    for key in ranks[0]["weights"]:
        np.testing.assert_allclose(ranks[0]["weights"][key], ranks[1]["weights"][key], atol=1e-6)
    # ... and it is the curve of one process with the same global batch and seed
    losses, trainer = one_process()
    assert losses[-1] < losses[0] - 0.1  # it learns (the comparison is not of two flat lines)
    np.testing.assert_allclose(ranks[0]["losses"], losses, rtol=0, atol=1e-5)
    # the checkpoint written by rank 0 loads, and holds one process's weights (to rounding:
    # Adam divides by sqrt(v), which magnifies float differences of near-zero gradients)
    model, _ = load_checkpoint(tmp_path / "ddp.safetensors")
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key].numpy(), value.numpy(), atol=1e-4)


def test_gradient_accumulation_in_one_process_gives_the_same_curve():
    whole, _ = one_process(micro_batches=1)
    accumulated, _ = one_process(micro_batches=4)
    np.testing.assert_allclose(accumulated, whole, rtol=0, atol=1e-5)


def test_torchrun_cli_trains_and_only_rank_0_writes(tmp_path):
    ck = tmp_path / "g.safetensors"
    res = torchrun(2, "-m", "lmlib.train", "--preset", "nanogpt-cpu", "--checkpoint", str(ck),
                   "--no-progress", "--set", "steps=2", "--set", "eval_interval=2",
                   "--set", "eval_batches=1", "--set", "model.n_layer=1",
                   "--set", "model.n_embd=16", "--set", "model.n_head=2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("stopped at step 2 of 2") == 1  # one log, from rank 0
    assert "processes 2" in res.stdout
    model, extra = load_checkpoint(ck)
    assert model.config.n_layer == 1 and extra["preset"] == "nanogpt-cpu"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.safetensors", "g.state.safetensors"]


def test_torchrun_with_a_batch_that_cannot_be_split_exits_with_a_clear_error(tmp_path):
    # 3 windows per batch cannot be split over 2 processes
    res = torchrun(2, "-m", "lmlib.train", "--preset", "nanogpt-cpu", "--no-progress",
                   "--checkpoint", str(tmp_path / "g.safetensors"), "--set", "steps=2",
                   "--set", "batch_size=3",
                   "--set", "model.n_layer=1", "--set", "model.n_embd=16",
                   "--set", "model.n_head=2")
    assert res.returncode != 0
    assert "must be divisible by the number of processes (2)" in res.stderr
    assert not (tmp_path / "g.safetensors").exists()


def test_batch_must_split_into_micro_batches():
    ns = {}
    exec(SETUP, ns)
    model, tr, va, config = ns["make"](3)  # 8 windows in 3 micro-batches
    with pytest.raises(ValueError, match="divisible"):
        Trainer(model, tr, va, config)


def test_cli_unavailable_device_is_a_clean_non_zero_exit(tmp_path, capsys):
    from lmlib.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: 'cuda' is available")  # never on the CPU CI
    code = main(["--preset", "nanogpt-cpu", "--checkpoint", str(tmp_path / "g.safetensors"),
                 "--no-progress", "--set", "device=cuda", "--set", "steps=1"])
    assert code != 0
    assert "CUDA" in capsys.readouterr().err


def test_mixed_precision_is_off_on_the_cpu():
    assert resolve_amp("auto", "cpu") is None
    assert resolve_amp("off", "cpu") is None
    for mode in ("bf16", "fp16"):
        with pytest.raises(ValueError, match="needs a CUDA device"):
            resolve_amp(mode, "cpu")
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="half")
    with pytest.raises(ValueError, match="compile"):
        TrainConfig(compile="yes")


def test_trainer_on_the_cpu_runs_in_float32_without_a_scaler():
    ns = {}
    exec(SETUP, ns)
    model, tr, va, config = ns["make"](1)
    trainer = Trainer(model, tr, va, config)
    assert trainer.amp_dtype is None and trainer.scaler is None
    assert trainer.is_main and (trainer.rank, trainer.world_size) == (0, 1)


def test_compile_where_torch_cannot_compile_is_a_clear_error(monkeypatch):
    import lmlib.scaling as lt

    monkeypatch.setattr(lt, "compile_unavailable_reason", lambda device: "no compiler here")
    ns = {}
    exec(SETUP, ns)
    model, tr, va, config = ns["make"](1)
    with pytest.raises(ValueError, match="compile=True, but no compiler here"):
        train(model, tr, va, config, compile=True, progress=False, plot=False)


def test_a_failing_compile_is_a_compile_error(monkeypatch):
    import lmlib.scaling as lt

    class Failing(Exception):
        __module__ = "torch._inductor.exc"

    def broken_compile(model):
        def call(*args):
            raise Failing("no working C++ compiler")
        return call

    monkeypatch.setattr(lt, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", broken_compile)
    ns = {}
    exec(SETUP, ns)
    model, tr, va, config = ns["make"](1)
    with pytest.raises(lt.CompileError, match="compile=False"):
        train(model, tr, va, config, compile=True, progress=False, plot=False)
