"""The NumPy MLP LM: dataset windows, gradient check, parity with its PyTorch twin."""

import numpy as np
import pytest
import torch

from lmlib.data import CharTokenizer
from lmlib.models import MLPLM as TorchMLPLM
from lmlib.scratch import optim
from lmlib.scratch.gradcheck import assert_gradcheck
from lmlib.scratch.mlp import MLPLM, build_dataset, train

TOK = CharTokenizer(".abcdefghijklmnopqrstuvwxyz")
WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper"]


def test_build_dataset_windows():
    X, Y = build_dataset(["emma", "al"], TOK, block_size=3)
    ctx = ["".join(TOK.itos[i] for i in row) for row in X]
    assert ctx == ["...", "..e", ".em", "emm", "mma", "...", "..a", ".al"]
    assert TOK.decode(Y) == "emma.al."
    assert X.dtype == Y.dtype == np.int64


def test_build_dataset_other_block_size():
    X, Y = build_dataset(["ab"], TOK, block_size=1)
    assert X[:, 0].tolist() == [0, 1, 2] and Y.tolist() == [1, 2, 0]


@pytest.mark.parametrize("words, block, exc, match", [
    ("emma", 3, TypeError, "words must be a list of strings"),
    (["emma"], 0, ValueError, "block_size must be a positive integer"),
    ([], 3, ValueError, "words must not be empty"),
    (["em.ma"], 3, ValueError, "boundary token"),
    (["Emma"], 3, ValueError, "not in the vocabulary"),
])
def test_build_dataset_bad_input(words, block, exc, match):
    with pytest.raises(exc, match=match):
        build_dataset(words, TOK, block_size=block)


def _small():
    model = MLPLM(27, block_size=3, n_embd=4, n_hidden=16, seed=1)
    X, Y = build_dataset(WORDS, TOK, 3)
    return model, X, Y


def test_numpy_mlp_passes_gradient_check():
    model, X, Y = _small()
    model.forward(X, Y)
    model.backward()
    grads = {k: v.copy() for k, v in model.grads.items()}
    errors = assert_gradcheck(lambda: model.forward(X, Y)[1], model.params, grads, tol=1e-6)
    assert set(errors) == {"emb.weight", "hidden.weight", "hidden.bias", "out.weight",
                           "out.bias"}


def test_numpy_and_torch_twins_agree_on_loss_and_every_gradient():
    model, X, Y = _small()
    twin = TorchMLPLM.from_numpy(model)
    assert [n for n, _ in twin.named_parameters()] == list(model.params)
    logits, loss = model.forward(X, Y)
    model.backward()
    tlogits, tloss = twin(torch.from_numpy(X), torch.from_numpy(Y))
    tloss.backward()
    assert tloss.dtype == torch.float64
    np.testing.assert_allclose(logits, tlogits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert abs(loss - tloss.item()) < 1e-10
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(model.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_twins_stay_equal_while_training():
    model, X, Y = _small()
    twin = TorchMLPLM.from_numpy(model)
    opt = optim.Adam(model.params, lr=1e-2)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-2)
    for _ in range(20):
        model.forward(X, Y)
        model.backward()
        opt.step(model.grads)
        topt.zero_grad()
        twin(torch.from_numpy(X), torch.from_numpy(Y))[1].backward()
        topt.step()
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(model.params[name], p.detach().numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=name)


def test_initial_loss_is_near_uniform_and_training_lowers_it():
    model, X, Y = _small()
    start = model.loss(X, Y)
    assert abs(start - np.log(27)) < 0.1
    hist = train(model, X, Y, optim.Adam(model.params, lr=1e-2), steps=200, batch_size=16,
                 eval_every=100, X_dev=X, Y_dev=Y)
    assert len(hist["loss"]) == 200 and hist["eval_step"] == [100, 200]
    assert model.loss(X, Y) < start - 1.0


def test_params_are_views_of_the_layers():
    model, X, Y = _small()
    model.params["out.bias"] += 1.0
    np.testing.assert_array_equal(model.out.params["bias"], 1.0)


def test_sample_gives_names():
    model, _, _ = _small()
    names = model.sample(TOK, n=5, seed=0, max_len=12)
    assert len(names) == 5
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyz") and len(n) <= 12 for n in names)
    assert names == model.sample(TOK, n=5, seed=0, max_len=12)


def test_float32_model():
    model = MLPLM(27, n_embd=4, n_hidden=8, dtype=np.float32)
    X, Y = build_dataset(WORDS, TOK, 3)
    logits, loss = model.forward(X, Y)
    assert logits.dtype == np.float32
    twin = TorchMLPLM.from_numpy(model)
    assert twin.out.weight.dtype == torch.float32


def test_bad_input():
    model, X, Y = _small()
    with pytest.raises(ValueError, match=r"idx must have shape \(B, 3\), got \(5, 2\)"):
        model.forward(X[:5, :2])
    with pytest.raises(RuntimeError, match="call forward"):
        MLPLM(27, n_hidden=4).backward()
    with pytest.raises(ValueError, match=r"targets must have shape \(5,\)"):
        model.forward(X[:5], Y[:4])
    twin = TorchMLPLM(27, n_embd=4, n_hidden=16)
    params = dict(model.params)
    del params["out.bias"]
    with pytest.raises(ValueError, match=r"missing \['out.bias'\]"):
        twin.load_numpy(params)
    with pytest.raises(ValueError, match=r"params\['hidden.weight'\] has shape \(16, 12\)"):
        TorchMLPLM(27, n_embd=4, n_hidden=8).load_numpy(model.params)
    with pytest.raises(ValueError, match="n_hidden must be a positive integer"):
        TorchMLPLM(27, n_hidden=0)


def test_bench_step_times_measure_both_libraries():
    from lmlib.speed import step_times

    X, Y = build_dataset(WORDS, TOK, 3)
    times = step_times(X, Y, batch_sizes=(4,), repeats=1, steps=2)
    assert set(times) == {"NumPy float64, B=4", "PyTorch float64, B=4", "NumPy float32, B=4",
                          "PyTorch float32, B=4"}
    assert all(0 < t < 5 for t in times.values())
