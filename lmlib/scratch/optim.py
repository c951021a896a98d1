"""Optimisers in NumPy: SGD (with momentum), Adam and AdamW, plus clipping by global norm.

Each optimiser holds the dict ``params`` (name -> array) and updates those arrays in place on
``step(grads)``, where ``grads`` has the same names and shapes. With the same settings the
updates equal ``torch.optim.SGD``, ``torch.optim.Adam`` and ``torch.optim.AdamW`` (tests run
both for 100 steps in float64).

    opt = AdamW(model.params, lr=1e-3, weight_decay=0.1)
    loss = model.loss(x, y)         # forward + backward fill model.grads
    clip_grad_norm(model.grads, 1.0)
    opt.step(model.grads)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm"]


def check_grads(params: dict, grads) -> None:
    """``grads`` must hold an array of each parameter's shape under each name of ``params``
    (a ``TypeError``/``ValueError`` naming the key and the shapes otherwise)."""
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict name -> array, got {type(grads).__name__}")
    for name, p in params.items():
        if name not in grads:
            raise ValueError(f"grads is missing parameter {name!r} (shape {np.shape(p)}); "
                             f"grads has {sorted(grads)}")
        if np.shape(grads[name]) != np.shape(p):
            raise ValueError(f"grads[{name!r}] has shape {np.shape(grads[name])}, but "
                             f"params[{name!r}] has shape {np.shape(p)}")
    extra = sorted(set(grads) - set(params))
    if extra:
        raise ValueError(f"grads has entries {extra} that are not in params {sorted(params)}")


def _check_hyper(name: str, value, low: float = 0.0, high: float | None = None,
                 high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    ok = math.isfinite(value) and value >= low
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        bound = f"in [{low}, {high}{')' if high_open else ']'}" if high is not None \
            else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def _check_array_dict(name: str, arrays, use: str) -> None:
    """``arrays`` must be a non-empty dict name -> floating NumPy array; TypeError otherwise."""
    if not isinstance(arrays, dict) or not arrays:
        raise TypeError(f"{name} must be a non-empty dict name -> array, got "
                        f"{type(arrays).__name__}")
    for key, a in arrays.items():
        if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"{name}[{key!r}] must be a floating NumPy array ({use}), got "
                            f"{type(a).__name__} {getattr(a, 'dtype', '')}")


class Optimizer:
    """Base class: keeps ``params`` and checks ``grads`` on every ``step``."""

    def __init__(self, params: dict, lr: float):
        _check_array_dict("params", params, "updated in place")
        self.params = params
        self.lr = _check_hyper("lr", lr)
        self.t = 0  # number of steps taken

    def step(self, grads: dict) -> None:
        check_grads(self.params, grads)
        self.t += 1
        for name, p in self.params.items():
            self._update(name, p, np.asarray(grads[name], dtype=p.dtype))

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum and (L2) weight decay.

        g = grad + weight_decay * p
        v = momentum * v + g          (v = g on the first step)
        p = p - lr * v                (v = g when momentum = 0)
    """

    def __init__(self, params: dict, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = _check_hyper("momentum", momentum)
        self.weight_decay = _check_hyper("weight_decay", weight_decay)
        self.velocity: dict[str, np.ndarray] = {}

    def _update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            if name not in self.velocity:
                self.velocity[name] = g.copy()
            else:
                self.velocity[name] = self.momentum * self.velocity[name] + g
            g = self.velocity[name]
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba): a running mean ``m`` and a running mean of squares ``v`` of the
    gradient, both bias-corrected; each entry moves by about ``lr`` whatever its scale.

        g = grad + weight_decay * p                    (L2 penalty, as in torch.optim.Adam)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t);  v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, params: dict, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_hyper("betas[0]", betas[0], 0.0, 1.0, high_open=True),
                      _check_hyper("betas[1]", betas[1], 0.0, 1.0, high_open=True))
        self.eps = _check_hyper("eps", eps)
        self.weight_decay = _check_hyper("weight_decay", weight_decay)
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def _decay(self, p, g):
        """Adam adds the L2 penalty to the gradient (AdamW overrides this)."""
        return g + self.weight_decay * p if self.weight_decay else g

    def _update(self, name, p, g):
        b1, b2 = self.betas
        g = self._decay(p, g)
        self.m[name] = b1 * self.m[name] + (1 - b1) * g
        self.v[name] = b2 * self.v[name] + (1 - b2) * g * g
        m_hat = self.m[name] / (1 - b1 ** self.t)
        v_hat = self.v[name] / (1 - b2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the parameters shrink by
    ``lr * weight_decay`` of themselves before the Adam step, instead of the penalty going
    through ``m`` and ``v``:

        p = p * (1 - lr * weight_decay);  then Adam with weight_decay = 0
    """

    def __init__(self, params: dict, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _decay(self, p, g):
        if self.weight_decay:
            p *= 1 - self.lr * self.weight_decay
        return g


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale every gradient in ``grads`` in place so that their global L2 norm is at most
    ``max_norm``; returns the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``).

    The global norm is ``sqrt(sum of g**2 over every entry of every array)``; when it exceeds
    ``max_norm`` every array is multiplied by ``max_norm / (norm + 1e-6)``, which keeps the
    direction of the update and only shortens it. A non-finite norm (a nan or inf gradient)
    is returned as it is and the gradients are left untouched: skip that step.
    """
    _check_array_dict("grads", grads, "scaled in place")
    max_norm = _check_hyper("max_norm", max_norm)
    if max_norm == 0:
        raise ValueError("max_norm must be positive, got 0.0")
    total = float(np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2))
                              for g in grads.values())))
    coef = max_norm / (total + 1e-6)
    if math.isfinite(total) and coef < 1.0:
        for g in grads.values():
            g *= coef
    return total
