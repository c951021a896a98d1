"""The course trainer: it learns, checkpoints round-trip and are written atomically, a resumed
run equals an uninterrupted one, and bad input is a clear error."""

import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.checkpoint import load_checkpoint, load_state_dict_file, save_checkpoint, state_path
from lmlib.models.gpt import GPT, GPTConfig
from lmlib.scoring import score
from lmlib.train import TrainConfig, estimate_loss, lr_at, make_optimizer, train

torch.set_num_threads(1)  # tiny models: one thread is fastest (and fair on a shared machine)


def tiny_gpt(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg))


class Bigram(nn.Module):
    """The smallest model with the trainer's interface (no config at all)."""

    def __init__(self, vocab=11):
        super().__init__()
        self.table = nn.Embedding(vocab, vocab)
        nn.init.zeros_(self.table.weight)  # starts uniform: loss ln(vocab)

    def forward(self, idx, targets=None):
        logits = self.table(idx)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def data(n=3000, seed=0):
    """A stream with structure: mostly 'count up mod 11', with some noise."""
    rng = np.random.default_rng(seed)
    ids = np.cumsum(rng.choice([1, 1, 1, 2], size=n)) % 11
    return ids[: int(0.9 * n)], ids[int(0.9 * n):]


FAST = dict(steps=60, batch_size=8, block_size=8, lr=3e-2, warmup=5, eval_interval=20,
            eval_batches=4)


def test_loss_decreases_on_tiny_models():
    tr, va = data()
    for model in (Bigram(), tiny_gpt()):
        h = train(model, tr, va, TrainConfig(**FAST), progress=False, plot=False)
        assert h.steps == [20, 40, 60]
        assert len(h.val_loss) == len(h.train_loss) == len(h.tokens_per_s) == 3
        assert h.val_loss[-1] < math.log(11) - 0.5  # far below uniform
        assert h.val_loss[-1] < h.val_loss[0]
        assert all(t > 0 for t in h.tokens_per_s)
        assert h.best_val == min(h.val_loss) and not h.interrupted


def test_fixed_eval_batches_give_the_same_number_twice():
    tr, va = data()
    h1 = train(tiny_gpt(), tr, va, TrainConfig(**FAST), progress=False, plot=False)
    h2 = train(tiny_gpt(), tr, va, TrainConfig(**FAST), progress=False, plot=False)
    assert h1.val_loss == h2.val_loss  # seeded: the same run, exactly


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(steps=110, lr=1.0, min_lr=0.1, warmup=10)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    assert lr_at(109, cfg) == pytest.approx(0.1)
    assert lr_at(10 + 99 / 2, cfg) == pytest.approx(0.55)
    lrs = [lr_at(s, cfg) for s in range(10, 110)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert TrainConfig(lr=2e-3).final_lr == pytest.approx(2e-4)


def test_weight_decay_on_matrices_only():
    model = tiny_gpt()
    opt = make_optimizer(model, TrainConfig(weight_decay=0.1))
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    assert opt.param_groups[0]["weight_decay"] == 0.1 and opt.param_groups[1]["weight_decay"] == 0
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (p.dim() >= 2), name
    # the tied matrix is one parameter, listed once
    n = sum(len(g["params"]) for g in opt.param_groups)
    assert n == len(list(model.parameters()))


def test_checkpoint_round_trip(tmp_path):
    model = tiny_gpt(seed=3)
    path = save_checkpoint(model, tmp_path / "m.safetensors", extra={"val_loss": 1.5})
    loaded, extra = load_checkpoint(path)
    assert isinstance(loaded, GPT) and loaded.config == model.config
    assert extra == {"val_loss": 1.5}
    x = torch.randint(0, 11, (2, 16))
    torch.testing.assert_close(loaded(x)[0], model(x)[0], rtol=0, atol=0)
    assert loaded.lm_head.weight is loaded.transformer.wte.weight  # still tied
    # half precision storage: a smaller file, close weights
    half = save_checkpoint(model, tmp_path / "h.safetensors", dtype=torch.float16)
    assert half.stat().st_size < 0.6 * path.stat().st_size
    loaded16, _ = load_checkpoint(half)
    assert loaded16.transformer.wte.weight.dtype == torch.float32
    torch.testing.assert_close(loaded16(x)[0], model(x)[0], rtol=0, atol=2e-3)


def test_checkpoint_for_a_model_without_config(tmp_path):
    model = Bigram()
    save_checkpoint(model, tmp_path / "b.safetensors")
    other = Bigram()
    load_checkpoint(tmp_path / "b.safetensors", model=other)
    torch.testing.assert_close(other.table.weight, model.table.weight)
    with pytest.raises(ValueError, match="shape"):
        load_checkpoint(tmp_path / "b.safetensors", model=Bigram(vocab=12))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    save_checkpoint(tiny_gpt(seed=1), path)
    assert synced, "the checkpoint writer must fsync the temp file before os.replace"
    before = path.read_bytes()

    def broken_fsync(fd):  # the bytes were written, but the disk fails to keep them
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tiny_gpt(seed=2), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]  # no temp file left behind


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_resume_equals_uninterrupted(tmp_path, dropout):
    tr, va = data()
    cfg = TrainConfig(**FAST)
    full = tiny_gpt(dropout=dropout)
    h_full = train(full, tr, va, cfg, checkpoint=tmp_path / "a.safetensors", progress=False,
                   plot=False)
    part = tiny_gpt(dropout=dropout)
    h1 = train(part, tr, va, cfg, checkpoint=tmp_path / "b.safetensors", stop_at=30,
               progress=False, plot=False)
    assert h1.interrupted and h1.steps == [20]
    assert state_path(tmp_path / "b.safetensors").is_file()
    fresh = tiny_gpt(seed=99, dropout=dropout)  # other weights: all must come from the state
    h2 = train(fresh, tr, va, cfg, checkpoint=tmp_path / "b.safetensors", resume=True,
               progress=False, plot=False)
    assert h2.steps == h_full.steps
    assert h2.val_loss == h_full.val_loss and h2.train_loss == h_full.train_loss
    for (n, p), q in zip(full.named_parameters(), fresh.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=n)
    a, _ = load_checkpoint(tmp_path / "a.safetensors")
    b, extra = load_checkpoint(tmp_path / "b.safetensors")
    torch.testing.assert_close(a.transformer.wte.weight, b.transformer.wte.weight, rtol=0, atol=0)
    assert extra["step"] == h_full.best_step and extra["val_loss"] == h_full.best_val


def test_best_checkpoint_is_the_best_val(tmp_path):
    tr, va = data()
    model = tiny_gpt()
    h = train(model, tr, va, TrainConfig(**FAST), checkpoint=tmp_path / "c.safetensors",
              progress=False, plot=False)
    best, extra = load_checkpoint(tmp_path / "c.safetensors")
    assert extra["val_loss"] == h.best_val
    from lmlib.data import get_batch

    rng = np.random.default_rng([0, 1])
    batches = [get_batch(tr, 8, 8, rng) for _ in range(4)]
    batches = [get_batch(va, 8, 8, rng) for _ in range(4)]  # val batches come after train's
    assert estimate_loss(best, batches) == pytest.approx(h.best_val, abs=1e-6)


def test_ctrl_c_stops_cleanly_and_keeps_the_state(tmp_path):
    tr, va = data()
    model = tiny_gpt()
    calls = {"n": 0}
    original = model.forward

    def forward(idx, targets=None, **kw):
        if model.training:
            calls["n"] += 1
            if calls["n"] == 25:
                raise KeyboardInterrupt
        return original(idx, targets, **kw)

    model.forward = forward
    h = train(model, tr, va, TrainConfig(**FAST), checkpoint=tmp_path / "k.safetensors",
              progress=False, plot=False)
    assert h.interrupted and h.steps == [20]
    assert (tmp_path / "k.safetensors").is_file() and state_path(tmp_path / "k.safetensors").is_file()


def _press_ctrl_c():
    """What Ctrl-C does: SIGINT to this process (handled at the next bytecode)."""
    import signal

    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_ctrl_c_during_a_step_then_resume_is_bit_exact(tmp_path, dropout):
    """Ctrl-C in the middle of step 25 (after its batch was drawn): the step finishes, the
    state is saved after it, and the resumed run equals an uninterrupted one exactly."""
    import signal

    tr, va = data()
    cfg = TrainConfig(**FAST)
    full = tiny_gpt(dropout=dropout)
    h_full = train(full, tr, va, cfg, progress=False, plot=False)
    part = tiny_gpt(dropout=dropout)
    calls = {"n": 0}
    original = part.forward

    def forward(idx, targets=None, **kw):
        if part.training:
            calls["n"] += 1
            if calls["n"] == 25:
                _press_ctrl_c()
        return original(idx, targets, **kw)

    part.forward = forward
    ck = tmp_path / "i.safetensors"
    h1 = train(part, tr, va, cfg, checkpoint=ck, progress=False, plot=False)
    assert h1.interrupted and h1.final_step == 25 and h1.steps == [20]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    fresh = tiny_gpt(seed=99, dropout=dropout)
    h2 = train(fresh, tr, va, cfg, checkpoint=ck, resume=True, progress=False, plot=False)
    assert h2.val_loss == h_full.val_loss and h2.train_loss == h_full.train_loss
    for (n, p), q in zip(full.named_parameters(), fresh.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=n)


def test_ctrl_c_while_the_best_checkpoint_is_written(tmp_path, monkeypatch):
    """Ctrl-C during the write of the best checkpoint is held until the write is done; a
    second one (KeyboardInterrupt in the middle of the write) keeps the last saved state,
    whose history names a checkpoint that is on disk with that step."""
    import lmlib.train as lt
    from lmlib.checkpoint import read_json, read_safetensors

    tr, va = data()
    real_save = lt.save_checkpoint
    writes = {"n": 0}

    def save_with_ctrl_c(model, path, **kw):
        writes["n"] += 1
        if writes["n"] == 2:
            _press_ctrl_c()  # first press: held
        return real_save(model, path, **kw)

    monkeypatch.setattr(lt, "save_checkpoint", save_with_ctrl_c)
    ck = tmp_path / "b.safetensors"
    h = train(tiny_gpt(), tr, va, TrainConfig(**FAST), checkpoint=ck, progress=False, plot=False)
    assert h.interrupted and h.steps == [20, 40] and h.best_step == 40
    state_history = read_json(read_safetensors(state_path(ck))[1], "history", ck)
    assert state_history["best_step"] == load_checkpoint(ck)[1]["step"] == 40

    def save_cut_short(model, path, **kw):
        raise KeyboardInterrupt  # a second press, before anything reached the disk

    ck2 = tmp_path / "c.safetensors"
    monkeypatch.setattr(lt, "save_checkpoint", real_save)
    train(tiny_gpt(), tr, va, TrainConfig(**FAST), checkpoint=ck2, stop_at=20, progress=False,
          plot=False)
    monkeypatch.setattr(lt, "save_checkpoint", save_cut_short)
    h = train(tiny_gpt(), tr, va, TrainConfig(**FAST), checkpoint=ck2, resume=True,
              progress=False, plot=False)
    assert h.interrupted
    state_history = read_json(read_safetensors(state_path(ck2))[1], "history", ck2)
    assert state_history["best_step"] == load_checkpoint(ck2)[1]["step"] == 20


def test_the_command_line_exits_130_after_ctrl_c(tmp_path, monkeypatch):
    import lmlib.train as lt
    from lmlib.cli import main

    real_step = lt.Trainer.step

    def step(self):
        if self.step_num == 2:
            _press_ctrl_c()
        return real_step(self)

    monkeypatch.setattr(lt.Trainer, "step", step)
    ck = tmp_path / "cli.safetensors"
    args = ["--preset", "shakespeare-attention", "--checkpoint", str(ck), "--no-progress",
            "--set", "steps=6", "--set", "eval_interval=2", "--set", "eval_batches=1",
            "--set", "batch_size=2", "--set", "block_size=16", "--log", str(tmp_path / "log")]
    assert main(args) == 130
    assert state_path(ck).is_file()
    monkeypatch.setattr(lt.Trainer, "step", real_step)
    assert main(args + ["--resume"]) == 0


def test_time_limit_stops_early(tmp_path):
    tr, va = data()
    h = train(tiny_gpt(), tr, va, TrainConfig(**FAST), checkpoint=tmp_path / "t.safetensors",
              time_limit=0.0, progress=False, plot=False)
    assert h.interrupted and h.final_step == 1 and h.steps == [1]  # the last step evaluated


def test_evaluate_scores_every_token_once():
    model = tiny_gpt()
    ids = np.random.default_rng(0).integers(0, 11, size=50)
    got = score(model, ids, protocol="windows", batch_size=2)
    x = torch.as_tensor(ids[:-1])
    y = torch.as_tensor(ids[1:])
    total = 0.0
    for s in range(0, 49, 16):
        logits = model(x[None, s:s + 16])[0][0]
        total += F.cross_entropy(logits, y[s:s + 16], reduction="sum").item()
    assert got == pytest.approx(total / 49, rel=1e-5)


# --- errors ----------------------------------------------------------------------------

def test_config_mismatch_is_a_value_error(tmp_path):
    save_checkpoint(tiny_gpt(), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="another config.*n_embd"):
        load_checkpoint(tmp_path / "m.safetensors", model=tiny_gpt(n_embd=32))
    # a training state for another training config
    tr, va = data()
    train(tiny_gpt(), tr, va, TrainConfig(**FAST), checkpoint=tmp_path / "s.safetensors",
          stop_at=10, progress=False, plot=False)
    with pytest.raises(ValueError, match="another training config.*lr"):
        train(tiny_gpt(), tr, va, TrainConfig(**dict(FAST, lr=0.5)),
              checkpoint=tmp_path / "s.safetensors", resume=True, progress=False, plot=False)


def test_corrupted_or_incomplete_checkpoint_is_a_value_error(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(tiny_gpt(), path)
    data_ = path.read_bytes()
    path.write_bytes(data_[: len(data_) // 2])
    with pytest.raises(ValueError, match="corrupted"):
        load_checkpoint(path)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="corrupted"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nothing.safetensors")
    # a missing tensor is named
    from safetensors.torch import load_file, save_file

    save_checkpoint(tiny_gpt(), path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    del tensors["transformer.ln_f.weight"]
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ValueError, match="transformer.ln_f.weight"):
        load_state_dict_file(tiny_gpt(), path)


@pytest.mark.parametrize("bad, exc, match", [
    (dict(train_ids=np.zeros((10, 10), dtype=np.int64)), ValueError, "train_ids.*shape"),
    (dict(train_ids=np.zeros(5, dtype=np.int64)), ValueError, "train_ids.*at least"),
    (dict(val_ids=np.array([0.5] * 100)), TypeError, "val_ids.*integer"),
    (dict(val_ids=-np.ones(100, dtype=np.int64)), ValueError, "negative"),
    (dict(train_ids=np.full(100, 11)), ValueError, "vocabulary"),
    (dict(block_size=32), ValueError, "block_size"),
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(betas=(0.9, 1.5)), ValueError, "betas"),
    (dict(min_lr=1.0), ValueError, "min_lr"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(learning_rate=1e-3), TypeError, "unknown training option"),
    (dict(resume=True), ValueError, "checkpoint"),
    (dict(model="gpt"), TypeError, "nn.Module"),
    (dict(config={"steps": 3}), TypeError, "TrainConfig"),
])
def test_bad_input(bad, exc, match):
    tr, va = data()
    kwargs = dict(model=tiny_gpt(), train_ids=tr, val_ids=va, progress=False, plot=False)
    kwargs.update({k: v for k, v in bad.items()})
    with pytest.raises(exc, match=match):
        train(**kwargs)


def test_model_must_return_a_scalar_loss():
    class NoLoss(Bigram):
        def forward(self, idx, targets=None):
            return self.table(idx), None

    tr, va = data()
    with pytest.raises(ValueError, match="scalar loss"):
        train(NoLoss(), tr, va, TrainConfig(**FAST), progress=False, plot=False)


def test_cli_trains_and_resumes(tmp_path, monkeypatch, capsys):
    pytest.importorskip("lmlib.data")
    from lmlib.cli import main
    from lmlib.data import load_text

    try:
        load_text("shakespeare")
    except OSError:
        pytest.fail("the Shakespeare corpus must be available (LMLIB_DATA_DIR)")
    ck = tmp_path / "g.safetensors"
    args = ["--preset", "nanogpt-cpu", "--checkpoint", str(ck), "--no-progress",
            "--set", "steps=4", "--set", "eval_interval=2", "--set", "eval_batches=1",
            "--set", "model.n_layer=1", "--set", "model.n_embd=16", "--set", "model.n_head=2"]
    assert main(args) == 0
    assert main(args + ["--resume"]) == 0  # already finished: resumes to the end at once
    out = capsys.readouterr().out
    assert "step      4" in out and "stopped at step 4 of 4" in out
    model, extra = load_checkpoint(ck)
    assert model.config.n_layer == 1 and len(extra["itos"]) == 65


def test_python_m_lmlib_train_runs_the_command_line_without_warnings():
    """The command line lives in lmlib.cli; ``python -m lmlib.train`` stays its entry point
    (and lmlib must not import lmlib.train, or runpy warns about a module run twice)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-W", "error", "-m", "lmlib.train", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "usage: python -m lmlib.train" in res.stdout and "--preset" in res.stdout


def test_cli_init_from_copies_weights_and_allows_another_dropout(tmp_path, capsys):
    from lmlib.cli import main

    small = ["--preset", "nanogpt-cpu", "--no-progress", "--set", "eval_batches=1",
             "--set", "model.n_layer=1", "--set", "model.n_embd=16", "--set", "model.n_head=2"]
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert main(small + ["--checkpoint", str(first), "--set", "steps=2",
                         "--set", "eval_interval=2"]) == 0
    start, _ = load_checkpoint(first)
    # lr=1e-12: the second run barely moves, so its best checkpoint holds the first's weights
    assert main(small + ["--checkpoint", str(second), "--init-from", str(first),
                         "--set", "model.dropout=0.1", "--set", "steps=1", "--set", "lr=1e-12", "--set", "min_lr=0",
                         "--set", "warmup=0", "--set", "eval_interval=1"]) == 0
    assert "weights initialised from" in capsys.readouterr().out
    after, _ = load_checkpoint(second)
    assert after.config.dropout == 0.1
    for name, tensor in start.state_dict().items():
        torch.testing.assert_close(after.state_dict()[name], tensor, atol=1e-6, rtol=0)
    # another shape is refused with the key named, exit status 2
    assert main(small + ["--checkpoint", str(tmp_path / "c.safetensors"), "--init-from",
                         str(first), "--set", "model.n_embd=32", "--set", "steps=1"]) == 2
    assert "n_embd" in capsys.readouterr().err


def test_the_nanogpt_gpu_preset_is_nanogpts_shakespeare_char_model():
    from lmlib.presets import from_preset

    model, config = from_preset("nanogpt-gpu", 65)
    # nanoGPT counts parameters without the position table: "number of parameters: 10.65M"
    assert round((model.num_params() - model.transformer.wpe.weight.numel()) / 1e6, 2) == 10.65
    assert (model.config.block_size, model.config.dropout) == (256, 0.2)
    assert (config.steps, config.batch_size, config.block_size) == (5000, 64, 256)
