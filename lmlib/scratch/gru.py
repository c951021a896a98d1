"""A gated recurrent unit (GRU) layer in NumPy, forward and backward by hand.

One step reads ``x_t`` and the previous state ``h_{t-1}``. Three blocks of ``3H`` rows, in
PyTorch's order: reset ``r``, update ``z``, new ``n``:

    r   = sigmoid(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
    z   = sigmoid(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
    n   = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}      an interpolation: z = 1 keeps the old state

The parameters are named and laid out like ``torch.nn.GRU``'s (``weight_ih`` ``(3H, I)``,
``weight_hh`` ``(3H, H)``, ``bias_ih`` and ``bias_hh`` ``(3H,)``); unlike the RNN and the
LSTM, the two biases are not redundant: ``b_hn`` sits inside the product with ``r``.

Shapes: ``T`` steps, ``B`` batch, ``I`` input features, ``H`` hidden units; ``x`` is
time-major ``(T, B, I)``.
"""

from __future__ import annotations

import numpy as np

from lmlib.scratch.lstm import sigmoid
from lmlib.scratch.rnn import check_sequence, check_state, recurrent_params

__all__ = ["GRU", "GATES"]

GATES = ("reset", "update", "new")
"""The blocks of the ``3H`` axis, in PyTorch's order (r, z, n)."""


class GRU:
    """A one-layer GRU over whole sequences.

    >>> gru = GRU(input_size=3, hidden_size=5, rng=0)
    >>> hs, cache = gru.forward(np.zeros((7, 2, 3)))
    >>> hs.shape
    (7, 2, 5)

    ``params`` and ``grads`` are dicts with the same keys and PyTorch's layout, initialised
    like PyTorch: uniform in ``[-1/sqrt(H), 1/sqrt(H)]``.
    """

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype=np.float64):
        self.params = recurrent_params(input_size, hidden_size, 3, rng, dtype)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.dh0: np.ndarray | None = None  # gradient w.r.t. h0, set by backward

    def __repr__(self) -> str:
        return f"GRU(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def forward(self, x, h0=None):
        """x ``(T, B, I)``, h0 ``(B, H)`` or None for zeros -> ``(hs, cache)``: ``hs``
        ``(T, B, H)`` every state (``hs[-1]`` is the one to carry on with); ``cache["gates"]``
        ``(T, B, 3H)`` holds r, z, n."""
        x = check_sequence(x, self.input_size)
        T, B, _ = x.shape
        H, p = self.hidden_size, self.params
        dtype = np.result_type(x.dtype, p["weight_ih"].dtype)
        h0 = np.zeros((B, H), dtype=dtype) if h0 is None else check_state(h0, B, H, "h0")
        xw = x @ p["weight_ih"].T + p["bias_ih"]                  # (T, B, 3H), all steps at once
        gates = np.empty((T, B, 3 * H), dtype=dtype)
        hn = np.empty((T, B, H), dtype=dtype)                     # h_{t-1} W_hn^T + b_hn
        hs = np.empty((T, B, H), dtype=dtype)
        h = h0
        for t in range(T):
            hw = h @ p["weight_hh"].T + p["bias_hh"]              # (B, 3H)
            r = sigmoid(xw[t, :, :H] + hw[:, :H])
            z = sigmoid(xw[t, :, H:2 * H] + hw[:, H:2 * H])
            n = np.tanh(xw[t, :, 2 * H:] + r * hw[:, 2 * H:])
            h = (1.0 - z) * n + z * h
            gates[t] = np.concatenate([r, z, n], axis=1)
            hn[t], hs[t] = hw[:, 2 * H:], h
        return hs, {"x": x, "h0": h0, "hs": hs, "gates": gates, "hn": hn}

    def backward(self, dhs, cache, dh=None):
        """Backpropagation through time. dhs ``(T, B, H)``: the loss gradient on each state
        from above; dh: optional ``(B, H)`` gradient on the final state from later. Sets
        ``self.grads`` (overwriting) and ``self.dh0``; returns ``dx`` ``(T, B, I)``."""
        x, hs, gates = cache["x"], cache["hs"], cache["gates"]
        T, B, _ = x.shape
        H = self.hidden_size
        dhs = np.asarray(dhs)
        if dhs.shape != hs.shape:
            raise ValueError(f"dhs must have the shape of hs, (T, B, H) = {hs.shape}, "
                             f"got {dhs.shape}")
        dh_next = np.zeros((B, H), dtype=hs.dtype) if dh is None else check_state(dh, B, H, "dh")
        h_prev = np.concatenate([cache["h0"][None], hs[:-1]], axis=0)  # (T, B, H)
        dax = np.empty_like(gates)   # gradient w.r.t. x W_ih^T + b_ih, every step
        dah = np.empty_like(gates)   # gradient w.r.t. h W_hh^T + b_hh, every step
        W_hh = self.params["weight_hh"]
        for t in reversed(range(T)):
            r, z, n = np.split(gates[t], 3, axis=1)
            dh_t = dhs[t] + dh_next
            dn = dh_t * (1.0 - z) * (1.0 - n ** 2)               # through tanh
            dz = dh_t * (h_prev[t] - n) * z * (1.0 - z)
            dr = dn * cache["hn"][t] * r * (1.0 - r)
            dax[t] = np.concatenate([dr, dz, dn], axis=1)
            dah[t] = np.concatenate([dr, dz, dn * r], axis=1)   # b_hn sits inside r * (...)
            dh_next = dh_t * z + dah[t] @ W_hh
        g = self.grads
        g["weight_ih"] = np.einsum("tbg,tbi->gi", dax, x)
        g["weight_hh"] = np.einsum("tbg,tbk->gk", dah, h_prev)
        g["bias_ih"] = dax.sum(axis=(0, 1))
        g["bias_hh"] = dah.sum(axis=(0, 1))
        self.dh0 = dh_next
        return dax @ self.params["weight_ih"]

    @classmethod
    def from_torch(cls, module, dtype=np.float64) -> GRU:
        """A NumPy copy of a one-layer, unidirectional ``torch.nn.GRU`` with biases."""
        import torch

        if not isinstance(module, torch.nn.GRU):
            raise TypeError(f"module must be a torch.nn.GRU, got {type(module).__name__}")
        if module.num_layers != 1 or module.bidirectional or not module.bias:
            raise ValueError(f"from_torch copies a one-layer, unidirectional GRU with biases, "
                             f"got num_layers={module.num_layers}, "
                             f"bidirectional={module.bidirectional}, bias={module.bias}")
        gru = cls(module.input_size, module.hidden_size, rng=0, dtype=dtype)
        for name in gru.params:
            gru.params[name] = getattr(module, f"{name}_l0").detach().cpu().numpy().astype(dtype)
        gru.grads = {name: np.zeros_like(p) for name, p in gru.params.items()}
        return gru
