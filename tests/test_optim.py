"""lmlib.scratch.optim equals torch.optim over 100 float64 steps; clip_grad_norm equals
torch.nn.utils.clip_grad_norm_; bad input is refused."""

import numpy as np
import pytest
import torch

from lmlib.scratch import optim


def _grad(name, p, t):
    """A deterministic gradient that depends on the parameter (a quadratic bowl plus a
    time-varying wobble), so the optimiser's path matters."""
    scale = {"w": 1.0, "b": 3.0}[name]
    return scale * p + np.sin(0.3 * t + np.arange(p.size).reshape(p.shape))


def _run_both(make_mine, make_torch, steps=100):
    rng = np.random.default_rng(0)
    init = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    mine = {k: v.copy() for k, v in init.items()}
    theirs = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    opt, topt = make_mine(mine), make_torch(list(theirs.values()))
    for t in range(steps):
        grads = {k: _grad(k, v, t) for k, v in mine.items()}
        tgrads = {k: _grad(k, v.detach().numpy(), t) for k, v in theirs.items()}
        opt.step(grads)
        for k, v in theirs.items():
            v.grad = torch.from_numpy(tgrads[k])
        topt.step()
    for k in init:
        assert not np.allclose(mine[k], init[k])  # it moved
        np.testing.assert_allclose(mine[k], theirs[k].detach().numpy(), rtol=1e-10, atol=1e-12)
    return opt


@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.9, 0.05)])
def test_sgd_equals_torch(momentum, wd):
    _run_both(lambda p: optim.SGD(p, lr=0.05, momentum=momentum, weight_decay=wd),
              lambda p: torch.optim.SGD(p, lr=0.05, momentum=momentum, weight_decay=wd))


@pytest.mark.parametrize("betas, wd", [((0.9, 0.999), 0.0), ((0.8, 0.99), 0.1)])
def test_adam_equals_torch(betas, wd):
    opt = _run_both(lambda p: optim.Adam(p, lr=0.01, betas=betas, eps=1e-8, weight_decay=wd),
                    lambda p: torch.optim.Adam(p, lr=0.01, betas=betas, eps=1e-8,
                                               weight_decay=wd))
    assert opt.t == 100


@pytest.mark.parametrize("wd", [0.0, 0.01, 0.3])
def test_adamw_equals_torch(wd):
    _run_both(lambda p: optim.AdamW(p, lr=0.01, betas=(0.9, 0.95), weight_decay=wd),
              lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.95), weight_decay=wd))


def test_adamw_default_weight_decay_matches_torch():
    p = {"w": np.ones(2)}
    assert optim.AdamW(p).weight_decay == torch.optim.AdamW([torch.ones(2)]).defaults[
        "weight_decay"]


def test_adam_and_adamw_differ_with_weight_decay():
    a, b = {"w": np.ones(3)}, {"w": np.ones(3)}
    oa, ob = optim.Adam(a, lr=0.1, weight_decay=0.5), optim.AdamW(b, lr=0.1, weight_decay=0.5)
    for _ in range(5):
        oa.step({"w": 0.01 * a["w"]})
        ob.step({"w": 0.01 * b["w"]})
    assert not np.allclose(a["w"], b["w"])


def test_step_updates_in_place():
    w = np.ones(3)
    params = {"w": w}
    optim.SGD(params, lr=0.5).step({"w": np.ones(3)})
    assert params["w"] is w
    np.testing.assert_allclose(w, 0.5)


@pytest.mark.parametrize("max_norm", [0.5, 2.0, 100.0])
def test_clip_grad_norm_equals_torch(max_norm):
    rng = np.random.default_rng(0)
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    ts = [torch.zeros(3, 4, dtype=torch.float64, requires_grad=True),
          torch.zeros(5, dtype=torch.float64, requires_grad=True)]
    for t, g in zip(ts, grads.values()):
        t.grad = torch.from_numpy(g.copy())
    ref = torch.nn.utils.clip_grad_norm_(ts, max_norm)
    before = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    norm = optim.clip_grad_norm(grads, max_norm)
    assert isinstance(norm, float)
    assert norm == pytest.approx(ref.item(), rel=1e-12) == pytest.approx(before)
    for t, g in zip(ts, grads.values()):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)
    after = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    assert after <= max_norm + 1e-9
    assert (after < before) == (before > max_norm)


def test_missing_gradient_is_a_value_error_naming_it():
    params = {"w": np.ones((2, 3)), "b": np.zeros(3)}
    for opt in (optim.SGD(params, lr=0.1), optim.Adam(params), optim.AdamW(params)):
        with pytest.raises(ValueError, match=r"grads is missing parameter 'b' \(shape \(3,\)\)"):
            opt.step({"w": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3, 2\).*\(2, 3\)"):
        optim.SGD(params, lr=0.1).step({"w": np.ones((3, 2)), "b": np.zeros(3)})
    with pytest.raises(ValueError, match=r"grads has entries \['c'\]"):
        optim.SGD(params, lr=0.1).step({"w": np.ones((2, 3)), "b": np.zeros(3),
                                        "c": np.zeros(1)})


def test_bad_hyperparameters():
    p = {"w": np.ones(2)}
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD(p, lr=-1.0)
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        optim.SGD(p, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0.0, 1.0\)"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="betas must be a pair"):
        optim.Adam(p, betas=0.9)
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.Adam(p, lr="fast")
    with pytest.raises(TypeError, match="params must be a non-empty dict"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match=r"params\['w'\] must be a floating NumPy array"):
        optim.SGD({"w": np.ones(2, dtype=int)}, lr=0.1)
    with pytest.raises(ValueError, match="max_norm must be positive"):
        optim.clip_grad_norm({"w": np.ones(2)}, 0.0)
    with pytest.raises(TypeError, match="grads must be a non-empty dict"):
        optim.clip_grad_norm([np.ones(2)], 1.0)


def test_clip_grad_norm_leaves_non_finite_gradients_alone():
    grads = {"a": np.array([1.0, np.nan]), "b": np.array([3.0])}
    assert np.isnan(optim.clip_grad_norm(grads, 1.0))
    assert grads["b"][0] == 3.0 and grads["a"][0] == 1.0


def test_clip_grad_norm_float32_in_place():
    g = {"w": np.full(4, 3.0, dtype=np.float32)}
    norm = optim.clip_grad_norm(g, 1.5)
    assert norm == pytest.approx(6.0)
    assert g["w"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(g["w"]), 1.5, rtol=1e-5)
