"""A vanilla (Elman) recurrent network in NumPy, with backpropagation through time by hand.

One step reads an input ``x_t`` and the previous hidden state ``h_{t-1}``:

    h_t = tanh(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh)

The parameter names and shapes are those of ``torch.nn.RNN`` (``nonlinearity="tanh"``), so
weights copy across and the two give the same numbers (see ``tests/test_rnn.py``). The two
biases are redundant (only their sum matters); PyTorch keeps both, so we do too.

Shapes: ``T`` time steps, ``B`` sequences in the batch, ``I`` input features, ``H`` hidden units.
Sequences are time-major, ``x`` is ``(T, B, I)``, like PyTorch's default ``batch_first=False``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RNN", "check_sequence", "check_state"]


def check_sequence(x, input_size: int, name: str = "x") -> np.ndarray:
    """``x`` as an array after checking that it is ``(T, B, input_size)``; a ``ValueError``
    naming the shapes otherwise."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape (T, B, input_size={input_size}), got a "
                         f"{x.ndim}-d array of shape {x.shape}")
    if x.shape[2] != input_size:
        raise ValueError(f"{name} must have shape (T, B, input_size={input_size}), got shape "
                         f"{x.shape}: its last axis has {x.shape[2]} features, expected "
                         f"{input_size}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one time step, got shape {x.shape}")
    return x


def check_state(h, batch_size: int, hidden_size: int, name: str) -> np.ndarray:
    """``h`` as an array after checking that it is ``(B, H)``; a ``ValueError`` otherwise."""
    h = np.asarray(h)
    if h.shape != (batch_size, hidden_size):
        raise ValueError(f"{name} must have shape (B, H) = ({batch_size}, {hidden_size}) to "
                         f"match the input batch, got shape {h.shape}")
    return h


def _init_rng(rng):
    if rng is None:  # follow the global NumPy seed that lmlib.setup() sets
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, "
                        f"got {type(rng).__name__}")
    return rng


class RNN:
    """A one-layer tanh RNN over whole sequences.

    >>> rnn = RNN(input_size=3, hidden_size=5, rng=0)
    >>> hs, cache = rnn.forward(np.zeros((7, 2, 3)))   # 7 steps, batch of 2
    >>> hs.shape
    (7, 2, 5)

    ``params`` and ``grads`` are dicts with the same keys: ``weight_ih`` ``(H, I)``,
    ``weight_hh`` ``(H, H)``, ``bias_ih`` ``(H,)``, ``bias_hh`` ``(H,)``. Initialised like
    PyTorch: uniform in ``[-1/sqrt(H), 1/sqrt(H)]``.
    """

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype=np.float64):
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        rng = _init_rng(rng)
        H, I = self.hidden_size, self.input_size
        k = 1.0 / np.sqrt(H)
        self.params = {
            "weight_ih": rng.uniform(-k, k, (H, I)).astype(dtype),
            "weight_hh": rng.uniform(-k, k, (H, H)).astype(dtype),
            "bias_ih": rng.uniform(-k, k, H).astype(dtype),
            "bias_hh": rng.uniform(-k, k, H).astype(dtype),
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.dh0: np.ndarray | None = None  # gradient w.r.t. h0, set by backward

    def __repr__(self) -> str:
        return f"RNN(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def forward(self, x, h0=None):
        """Run over a whole sequence.

        x: ``(T, B, I)``; h0: ``(B, H)`` or None for zeros.
        Returns ``(hs, cache)``: ``hs`` ``(T, B, H)`` holds every hidden state
        ``h_1 .. h_T`` (the last one, ``hs[-1]``, is the state to carry on with), ``cache``
        is what ``backward`` needs.
        """
        x = check_sequence(x, self.input_size)
        T, B, _ = x.shape
        p = self.params
        dtype = np.result_type(x.dtype, p["weight_ih"].dtype)
        if h0 is None:
            h0 = np.zeros((B, self.hidden_size), dtype=dtype)
        h0 = check_state(h0, B, self.hidden_size, "h0")
        # the input part of every step at once: one big matrix product instead of T small ones
        xw = x @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])  # (T, B, H)
        hs = np.empty((T, B, self.hidden_size), dtype=dtype)
        h = h0
        for t in range(T):
            h = np.tanh(xw[t] + h @ p["weight_hh"].T)
            hs[t] = h
        return hs, {"x": x, "h0": h0, "hs": hs}

    def backward(self, dhs, cache, dh=None):
        """Backpropagation through time.

        dhs: ``(T, B, H)``, the loss gradient w.r.t. each ``hs[t]`` from above (the output
        layer); dh: optional ``(B, H)`` gradient w.r.t. the final state from later in time.
        Sets ``self.grads`` (overwriting) and ``self.dh0`` (gradient w.r.t. ``h0``) and
        returns ``dx`` ``(T, B, I)``.
        """
        x, h0, hs = cache["x"], cache["h0"], cache["hs"]
        T, B, _ = x.shape
        dhs = np.asarray(dhs)
        if dhs.shape != hs.shape:
            raise ValueError(f"dhs must have the shape of hs, (T, B, H) = {hs.shape}, "
                             f"got {dhs.shape}")
        p = self.params
        W_hh = p["weight_hh"]
        dh_next = (np.zeros((B, self.hidden_size), dtype=hs.dtype) if dh is None
                   else check_state(dh, B, self.hidden_size, "dh"))
        dpre = np.empty_like(hs)  # gradient w.r.t. the pre-activation at every step
        for t in reversed(range(T)):
            dh_t = dhs[t] + dh_next                 # from the output and from step t+1
            dpre[t] = dh_t * (1.0 - hs[t] ** 2)     # through tanh: d tanh(a) = 1 - tanh(a)^2
            dh_next = dpre[t] @ W_hh                # to h_{t-1}
        h_prev = np.concatenate([h0[None], hs[:-1]], axis=0)  # (T, B, H): h_{t-1} for each t
        g = self.grads
        g["weight_ih"] = np.einsum("tbh,tbi->hi", dpre, x)
        g["weight_hh"] = np.einsum("tbh,tbk->hk", dpre, h_prev)
        g["bias_ih"] = dpre.sum(axis=(0, 1))
        g["bias_hh"] = g["bias_ih"].copy()
        self.dh0 = dh_next
        return dpre @ p["weight_ih"]

    @classmethod
    def from_torch(cls, module, dtype=np.float64) -> RNN:
        """A NumPy copy of a one-layer, unidirectional ``torch.nn.RNN`` with tanh and biases."""
        import torch

        if not isinstance(module, torch.nn.RNN):
            raise TypeError(f"module must be a torch.nn.RNN, got {type(module).__name__}")
        if module.num_layers != 1 or module.bidirectional:
            raise ValueError(f"from_torch copies a one-layer, unidirectional RNN; got "
                             f"num_layers={module.num_layers}, "
                             f"bidirectional={module.bidirectional}")
        if module.nonlinearity != "tanh" or not module.bias:
            raise ValueError(f"from_torch needs nonlinearity='tanh' and bias=True, got "
                             f"nonlinearity={module.nonlinearity!r}, bias={module.bias}")
        rnn = cls(module.input_size, module.hidden_size, rng=0, dtype=dtype)
        for name in rnn.params:
            rnn.params[name] = getattr(module, f"{name}_l0").detach().cpu().numpy().astype(dtype)
        rnn.grads = {name: np.zeros_like(p) for name, p in rnn.params.items()}
        return rnn
