"""A long short-term memory (LSTM) layer in NumPy, forward and backward by hand.

One step reads ``x_t`` and the previous state ``(h_{t-1}, c_{t-1})``. All four gates come
from one matrix product, in PyTorch's order: input ``i``, forget ``f``, cell candidate ``g``,
output ``o``:

    a   = x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh     (B, 4H)
    i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2H]), tanh(a[:, 2H:3H]), sigmoid(a[:, 3H:])
    c_t = f * c_{t-1} + i * g        the cell state: a running, gated sum
    h_t = o * tanh(c_t)              the hidden state: what the layer shows the world

The parameters are named and laid out like ``torch.nn.LSTM``'s (``weight_ih`` ``(4H, I)``,
``weight_hh`` ``(4H, H)``, ``bias_ih`` ``(4H,)``, ``bias_hh`` ``(4H,)``), so weights copy
across with ``LSTM.from_torch`` and the two agree to rounding (``tests/test_lstm.py``).

Shapes: ``T`` time steps, ``B`` batch, ``I`` input features, ``H`` hidden units; ``x`` is
time-major ``(T, B, I)`` like PyTorch's default ``batch_first=False``.
"""

from __future__ import annotations

import numpy as np

from lmlib.scratch.rnn import check_sequence, check_state, recurrent_params

__all__ = ["LSTM", "sigmoid", "GATES"]

GATES = ("input", "forget", "cell", "output")
"""The gate blocks of the ``4H`` axis, in PyTorch's order (i, f, g, o)."""


def sigmoid(a):
    """The logistic function ``1 / (1 + exp(-a))``, computed from ``e = exp(-|a|)`` so that
    ``exp`` never overflows: ``1 / (1 + e)`` for ``a >= 0``, ``e / (1 + e)`` below."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0, e) / (1.0 + e)


class LSTM:
    """A one-layer LSTM over whole sequences.

    >>> lstm = LSTM(input_size=3, hidden_size=5, rng=0)
    >>> hs, (h, c), cache = lstm.forward(np.zeros((7, 2, 3)))
    >>> hs.shape, h.shape, c.shape
    ((7, 2, 5), (2, 5), (2, 5))

    ``params`` and ``grads`` are dicts with the same keys and PyTorch's layout. Initialised
    like PyTorch: uniform in ``[-1/sqrt(H), 1/sqrt(H)]``.
    """

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype=np.float64):
        self.params = recurrent_params(input_size, hidden_size, 4, rng, dtype)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.dstate0: tuple[np.ndarray, np.ndarray] | None = None  # (dh0, dc0), from backward

    def __repr__(self) -> str:
        return f"LSTM(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def forward(self, x, state=None):
        """Run over a whole sequence.

        x: ``(T, B, I)``; state: ``(h0, c0)``, each ``(B, H)``, or None for zeros.
        Returns ``(hs, (h, c), cache)``: ``hs`` ``(T, B, H)`` every hidden state, ``(h, c)``
        the final state (``h`` equals ``hs[-1]``), and ``cache``, a dict of what ``backward``
        needs; ``cache["gates"]`` ``(T, B, 4H)`` holds the gate activations i, f, g, o and
        ``cache["cs"]`` ``(T, B, H)`` the cell states.
        """
        x = check_sequence(x, self.input_size)
        T, B, _ = x.shape
        H = self.hidden_size
        p = self.params
        dtype = np.result_type(x.dtype, p["weight_ih"].dtype)
        if state is None:
            h0 = np.zeros((B, H), dtype=dtype)
            c0 = np.zeros((B, H), dtype=dtype)
        else:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ValueError("state must be a pair (h0, c0) of (B, H) arrays or None, got "
                                 f"{type(state).__name__}")
            h0 = check_state(state[0], B, H, "state[0] (h0)")
            c0 = check_state(state[1], B, H, "state[1] (c0)")
        xw = x @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])  # (T, B, 4H), all steps at once
        gates = np.empty((T, B, 4 * H), dtype=dtype)
        cs = np.empty((T, B, H), dtype=dtype)
        tanh_cs = np.empty((T, B, H), dtype=dtype)
        hs = np.empty((T, B, H), dtype=dtype)
        h, c = h0, c0
        for t in range(T):
            a = xw[t] + h @ p["weight_hh"].T
            gates[t, :, :2 * H] = sigmoid(a[:, :2 * H])         # i, f
            gates[t, :, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])  # g
            gates[t, :, 3 * H:] = sigmoid(a[:, 3 * H:])         # o
            i, f, g, o = np.split(gates[t], 4, axis=1)
            c = f * c + i * g
            tanh_cs[t] = np.tanh(c)
            h = o * tanh_cs[t]
            cs[t], hs[t] = c, h
        cache = {"x": x, "h0": h0, "c0": c0, "hs": hs, "cs": cs, "tanh_cs": tanh_cs,
                 "gates": gates}
        return hs, (h.copy(), c.copy()), cache

    def backward(self, dhs, cache, dstate=None):
        """Backpropagation through time.

        dhs: ``(T, B, H)``, the loss gradient w.r.t. each ``hs[t]`` from above; dstate:
        optional ``(dh, dc)``, the gradient w.r.t. the final state ``(h, c)`` from later.
        Sets ``self.grads`` (overwriting) and ``self.dstate0 = (dh0, dc0)``, the gradient
        w.r.t. the initial state, and returns ``dx`` ``(T, B, I)``.
        """
        x, hs, cs, gates = cache["x"], cache["hs"], cache["cs"], cache["gates"]
        T, B, _ = x.shape
        H = self.hidden_size
        dhs = np.asarray(dhs)
        if dhs.shape != hs.shape:
            raise ValueError(f"dhs must have the shape of hs, (T, B, H) = {hs.shape}, "
                             f"got {dhs.shape}")
        if dstate is None:
            dh_next = np.zeros((B, H), dtype=hs.dtype)
            dc_next = np.zeros((B, H), dtype=hs.dtype)
        else:
            if not isinstance(dstate, (tuple, list)) or len(dstate) != 2:
                raise ValueError("dstate must be a pair (dh, dc) of (B, H) arrays or None")
            dh_next = check_state(dstate[0], B, H, "dstate[0] (dh)")
            dc_next = check_state(dstate[1], B, H, "dstate[1] (dc)")
        W_hh = self.params["weight_hh"]
        da = np.empty_like(gates)  # gradient w.r.t. the pre-activations a, every step
        for t in reversed(range(T)):
            i, f, g, o = np.split(gates[t], 4, axis=1)
            c_prev = cs[t - 1] if t > 0 else cache["c0"]
            tanh_c = cache["tanh_cs"][t]
            dh = dhs[t] + dh_next
            dc = dc_next + dh * o * (1.0 - tanh_c ** 2)      # h = o * tanh(c)
            do = dh * tanh_c
            di, dg, df = dc * g, dc * i, dc * c_prev          # c = f * c_prev + i * g
            da[t, :, :H] = di * i * (1.0 - i)                 # sigmoid' = s (1 - s)
            da[t, :, H:2 * H] = df * f * (1.0 - f)
            da[t, :, 2 * H:3 * H] = dg * (1.0 - g ** 2)       # tanh' = 1 - tanh^2
            da[t, :, 3 * H:] = do * o * (1.0 - o)
            dc_next = dc * f
            dh_next = da[t] @ W_hh
        h_prev = np.concatenate([cache["h0"][None], hs[:-1]], axis=0)  # (T, B, H)
        gr = self.grads
        gr["weight_ih"] = np.einsum("tbg,tbi->gi", da, x)
        gr["weight_hh"] = np.einsum("tbg,tbk->gk", da, h_prev)
        gr["bias_ih"] = da.sum(axis=(0, 1))
        gr["bias_hh"] = gr["bias_ih"].copy()
        self.dstate0 = (dh_next, dc_next)
        return da @ self.params["weight_ih"]

    @classmethod
    def from_torch(cls, module, dtype=np.float64) -> LSTM:
        """A NumPy copy of a one-layer, unidirectional ``torch.nn.LSTM`` (with biases and no
        projection). Anything else is a ``ValueError``; a non-LSTM module a ``TypeError``."""
        import torch

        if not isinstance(module, torch.nn.LSTM):
            raise TypeError(f"module must be a torch.nn.LSTM, got {type(module).__name__}")
        if module.num_layers != 1:
            raise ValueError(f"from_torch copies a one-layer LSTM, got num_layers="
                             f"{module.num_layers}; copy each layer's weight_ih_lK, "
                             f"weight_hh_lK, ... into its own LSTM instead")
        if module.bidirectional or module.proj_size or not module.bias:
            raise ValueError(f"from_torch needs bidirectional=False, proj_size=0 and bias=True, "
                             f"got bidirectional={module.bidirectional}, "
                             f"proj_size={module.proj_size}, bias={module.bias}")
        lstm = cls(module.input_size, module.hidden_size, rng=0, dtype=dtype)
        for name in lstm.params:
            lstm.params[name] = getattr(module, f"{name}_l0").detach().cpu().numpy().astype(dtype)
        lstm.grads = {name: np.zeros_like(p) for name, p in lstm.params.items()}
        return lstm

    def to_torch(self):
        """A ``torch.nn.LSTM`` (one layer, ``batch_first=False``) holding a copy of these
        weights, in their dtype."""
        import torch

        dtype = torch.float64 if self.params["weight_ih"].dtype == np.float64 else torch.float32
        module = torch.nn.LSTM(self.input_size, self.hidden_size, dtype=dtype)
        with torch.no_grad():
            for name, p in self.params.items():
                getattr(module, f"{name}_l0").copy_(torch.from_numpy(p))
        return module
