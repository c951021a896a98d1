"""Layers with hand-written backward passes: ``Linear``, ``Embedding``, ``Tanh``.

Every layer has the same small interface:

- ``forward(x)`` computes the output and keeps what the backward pass needs;
- ``backward(dout)`` takes ``d loss / d output``, stores ``d loss / d parameter`` in
  ``self.grads`` (replacing what was there) and returns ``d loss / d input``;
- ``params`` and ``grads`` are dicts ``name -> array`` with the same keys and shapes.
  Optimisers update ``params`` in place.

Parameter names and layouts follow PyTorch (``Linear.weight`` is ``(out, in)``), so weights
copy one to one into ``torch.nn.Linear`` / ``torch.nn.Embedding``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Linear", "Embedding", "Tanh", "as_rng"]


def _check_size(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_rng(rng) -> np.random.Generator:
    """The one ``rng`` rule of lmlib.scratch: a ``np.random.Generator`` is used as it is, an
    int seeds a new one, and ``None`` draws a seed from NumPy's global generator, the one
    ``lmlib.setup(seed)`` seeds (so a notebook is repeatable without passing ``rng``)."""
    if rng is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got "
                    f"{type(rng).__name__}")


class Linear:
    """``y = x @ weight.T + bias``.

    Shapes: ``x`` ``(..., in_features)`` -> ``y`` ``(..., out_features)``;
    ``weight`` ``(out_features, in_features)`` (PyTorch's layout), ``bias`` ``(out_features,)``.
    Initialisation: ``weight ~ N(0, 1 / in_features)`` (unit-variance inputs give
    unit-variance outputs), ``bias = 0``; scale ``params["weight"]`` afterwards for a gain.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None,
                 dtype=np.float64):
        self.in_features = _check_size(in_features, "in_features")
        self.out_features = _check_size(out_features, "out_features")
        rng = as_rng(rng)
        w = rng.standard_normal((self.out_features, self.in_features)) / np.sqrt(in_features)
        self.params: dict[str, np.ndarray] = {"weight": w.astype(dtype)}
        if bias:
            self.params["bias"] = np.zeros(self.out_features, dtype=dtype)
        self.grads: dict[str, np.ndarray] = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have shape (..., {self.in_features}), got shape {x.shape}")
        self._x = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y = y + self.params["bias"]
        return y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout`` ``(..., out)`` -> ``dx`` ``(..., in)``; fills ``grads``:
        ``dweight = dout.T @ x`` ``(out, in)``, ``dbias = dout summed over positions``."""
        if self._x is None:
            raise RuntimeError("call forward before backward")
        dout = np.asarray(dout)
        expected = self._x.shape[:-1] + (self.out_features,)
        if dout.shape != expected:
            raise ValueError(f"dout must have the output's shape {expected}, got {dout.shape}")
        x2 = self._x.reshape(-1, self.in_features)         # (N, in)
        d2 = dout.reshape(-1, self.out_features)           # (N, out)
        self.grads["weight"] = d2.T @ x2                   # (out, in)
        if "bias" in self.params:
            self.grads["bias"] = d2.sum(axis=0)            # (out,)
        return dout @ self.params["weight"]                # (..., in)

    __call__ = forward

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={'bias' in self.params})")


class Embedding:
    """A lookup table: row ``i`` of ``weight`` is the vector of token ``i``.

    Shapes: ``idx`` integer ``(...)`` with values in ``[0, num_embeddings)`` -> ``(..., dim)``;
    ``weight`` ``(num_embeddings, embedding_dim)``, initialised ``N(0, 1)`` as in PyTorch.
    Looking up row ``i`` equals ``onehot(i) @ weight``, so the backward pass adds each
    position's ``dout`` into the row it came from (rows used twice get both).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng=None, dtype=np.float64):
        self.num_embeddings = _check_size(num_embeddings, "num_embeddings")
        self.embedding_dim = _check_size(embedding_dim, "embedding_dim")
        w = as_rng(rng).standard_normal((self.num_embeddings, self.embedding_dim))
        self.params = {"weight": w.astype(dtype)}
        self.grads = {"weight": np.zeros_like(self.params["weight"])}
        self._idx: np.ndarray | None = None

    def forward(self, idx) -> np.ndarray:
        idx = np.asarray(idx)
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"idx must be integer token ids, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ValueError(f"idx must lie in [0, {self.num_embeddings}), got values in "
                             f"[{idx.min()}, {idx.max()}]")
        self._idx = idx
        return self.params["weight"][idx]

    def backward(self, dout: np.ndarray) -> None:
        """``dout`` ``(..., dim)``; fills ``grads["weight"]`` ``(num_embeddings, dim)``.
        Returns ``None``: integer ids have no gradient."""
        if self._idx is None:
            raise RuntimeError("call forward before backward")
        dout = np.asarray(dout)
        expected = self._idx.shape + (self.embedding_dim,)
        if dout.shape != expected:
            raise ValueError(f"dout must have the output's shape {expected}, got {dout.shape}")
        grad = np.zeros_like(self.params["weight"])
        np.add.at(grad, self._idx.reshape(-1), dout.reshape(-1, self.embedding_dim))
        self.grads["weight"] = grad
        return None

    __call__ = forward

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


class Tanh:
    """Element-wise ``tanh``; its local gradient is ``1 - tanh(x)**2``, which vanishes where
    a unit saturates (``|tanh| -> 1``). No parameters. Shape in = shape out."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._out: np.ndarray | None = None

    def forward(self, x) -> np.ndarray:
        self._out = np.tanh(x)
        return self._out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._out is None:
            raise RuntimeError("call forward before backward")
        dout = np.asarray(dout)
        if dout.shape != self._out.shape:
            raise ValueError(f"dout must have the output's shape {self._out.shape}, "
                             f"got {dout.shape}")
        return dout * (1.0 - self._out ** 2)

    __call__ = forward

    def __repr__(self) -> str:
        return "Tanh()"


class LayerStack:
    """A model made of named layers (``self.layers``, a dict name -> layer): its ``params``
    and ``grads`` are the layers' own arrays under ``"layer.param"`` names, so updating
    ``params`` in place updates the model."""

    layers: dict

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{ln}.{k}": v for ln, layer in self.layers.items()
                for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradients from the last ``backward``, same names and shapes as ``params``."""
        return {f"{ln}.{k}": v for ln, layer in self.layers.items()
                for k, v in layer.grads.items()}

    def num_params(self) -> int:
        return sum(p.size for p in self.params.values())
