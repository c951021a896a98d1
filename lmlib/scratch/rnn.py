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

from lmlib.scratch.layers import LayerStack, as_rng

__all__ = ["RNN", "RNNLM", "check_sequence", "check_state", "stream_batches", "train_tbptt",
           "train_rnnlm_on_names"]


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


def recurrent_params(input_size, hidden_size, gates: int, rng, dtype) -> dict[str, np.ndarray]:
    """PyTorch's layout and initialisation for a recurrent layer with ``gates`` stacked
    gates (1 for the RNN, 4 for the LSTM): ``weight_ih`` ``(gates*H, I)``, ``weight_hh``
    ``(gates*H, H)``, ``bias_ih`` and ``bias_hh`` ``(gates*H,)``, uniform in
    ``[-1/sqrt(H), 1/sqrt(H)]``. Sizes that are not positive ints are a ValueError."""
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    rng = as_rng(rng)
    H, I = int(hidden_size), int(input_size)
    k = 1.0 / np.sqrt(H)
    shapes = {"weight_ih": (gates * H, I), "weight_hh": (gates * H, H),
              "bias_ih": (gates * H,), "bias_hh": (gates * H,)}
    return {name: rng.uniform(-k, k, shape).astype(dtype) for name, shape in shapes.items()}


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
        self.params = recurrent_params(input_size, hidden_size, 1, rng, dtype)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
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


class RNNLM(LayerStack):
    """A character-level language model in NumPy: embedding -> tanh RNN -> linear read-out.

        idx (B, T) -> wte (B, T, C) -> RNN (B, T, H) -> lm_head (B, T, V) logits

    ``forward(idx, targets=None, h0=None) -> (logits, loss)`` keeps the last hidden state in
    ``self.h`` ``(B, H)``: pass it as ``h0`` to the next chunk of the same streams to carry
    the memory on (truncated BPTT: the gradient stops at the chunk boundary because nothing
    backpropagates into ``h0``). ``backward()`` fills ``grads``; ``params``/``grads`` are flat
    dicts (``"wte.weight"``, ``"rnn.weight_hh"``, ...) of the layers' own arrays.
    """

    def __init__(self, vocab_size: int, n_embd: int, hidden_size: int, rng=None,
                 dtype=np.float64):
        from lmlib.scratch.layers import Embedding, Linear

        rng = as_rng(rng)
        self.vocab_size, self.n_embd, self.hidden_size = vocab_size, n_embd, hidden_size
        self.wte = Embedding(vocab_size, n_embd, rng=rng, dtype=dtype)
        self.rnn = RNN(n_embd, hidden_size, rng=rng, dtype=dtype)
        self.lm_head = Linear(hidden_size, vocab_size, rng=rng, dtype=dtype)
        self.lm_head.params["weight"] *= 0.1  # near-uniform first predictions: loss ~ ln V
        self.layers = {"wte": self.wte, "rnn": self.rnn, "lm_head": self.lm_head}
        self.h: np.ndarray | None = None
        self._cache = None

    def __repr__(self) -> str:
        return (f"RNNLM(vocab_size={self.vocab_size}, n_embd={self.n_embd}, "
                f"hidden_size={self.hidden_size}) with {self.num_params():,} parameters")

    def forward(self, idx, targets=None, h0=None):
        """``idx`` int ``(B, T)`` -> ``(logits (B, T, V), loss)``; ``loss`` is the mean
        cross-entropy against ``targets`` ``(B, T)`` or None."""
        from lmlib.scratch import functional as F

        idx = np.asarray(idx)
        if idx.ndim != 2:
            raise ValueError(f"idx must have shape (B, T), got shape {idx.shape}")
        emb = self.wte.forward(idx.T)                      # (T, B, C): time-major for the RNN
        hs, rnn_cache = self.rnn.forward(emb, h0)          # (T, B, H)
        self.h = hs[-1]
        logits = self.lm_head.forward(hs).transpose(1, 0, 2)  # (B, T, V)
        loss, dlogits = (None, None) if targets is None else F.cross_entropy(logits, targets)
        self._cache = (rnn_cache, dlogits)
        return logits, loss

    def backward(self) -> None:
        """Backpropagate the loss of the last ``forward`` through time; fills ``grads``."""
        if self._cache is None or self._cache[1] is None:
            raise RuntimeError("call forward(idx, targets) before backward()")
        rnn_cache, dlogits = self._cache
        dhs = self.lm_head.backward(dlogits.transpose(1, 0, 2))  # (T, B, H)
        demb = self.rnn.backward(dhs, rnn_cache)                   # (T, B, C)
        self.wte.backward(demb)

    def loss_on_words(self, words, tokenizer) -> float:
        """Mean loss per character of ``words`` (names), each read from a zero state after
        the boundary ``.`` (id 0), its closing ``.`` predicted too. Names of the same length
        go through together."""
        from lmlib.scratch import functional as F

        by_len: dict[int, list] = {}
        for w in words:
            by_len.setdefault(len(w), []).append(tokenizer.encode(w))
        total, count = 0.0, 0
        for group in by_len.values():
            ids = np.stack(group)                                  # (N, n)
            zeros = np.zeros((len(ids), 1), dtype=np.int64)
            x, y = np.concatenate([zeros, ids], 1), np.concatenate([ids, zeros], 1)
            logits, _ = self.forward(x)
            loss, _ = F.cross_entropy(logits, y)
            total, count = total + loss * y.size, count + y.size
        return total / count

    def sample(self, tokenizer, n: int = 10, seed: int = 0, max_len: int = 30,
               temperature: float = 1.0) -> list[str]:
        """``n`` names, one character at a time from a zero state until ``.`` (id 0); the
        hidden state is carried, so each character costs one RNN step."""
        from lmlib.scratch import functional as F

        rng = np.random.default_rng(seed)
        cur = np.zeros((n, 1), dtype=np.int64)
        out = np.zeros((n, max_len), dtype=np.int64)
        h = None
        for t in range(max_len):
            logits, _ = self.forward(cur, h0=h)
            h = self.h
            p = F.softmax(logits[:, -1] / temperature)
            u = rng.random((n, 1))
            cur = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), self.vocab_size - 1)[:, None]
            out[:, t] = cur[:, 0]
        return [tokenizer.decode(row).split(".")[0] for row in out]


def stream_batches(ids, batch_size: int):
    """Cut one token stream into ``batch_size`` equal contiguous tracks, ``(B, N // B)``:
    row ``b`` continues where it was, so a hidden state can be carried chunk to chunk."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be one stream of shape (N,), got shape {ids.shape}")
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"ids has {len(ids)} tokens, too few for {batch_size} tracks")
    return ids[:n * batch_size].reshape(batch_size, n)


def train_tbptt(model: RNNLM, ids, optimizer, steps: int, batch_size: int = 32,
                bptt: int = 32, clip: float | None = 1.0, lr_schedule=None) -> dict:
    """Truncated backpropagation through time for a NumPy language model.

    The stream ``ids`` is cut into ``batch_size`` tracks; each step reads the next ``bptt``
    characters of every track, starting from the hidden state the previous chunk ended in
    (no gradient flows into it: that is the truncation), backpropagates through those
    ``bptt`` steps, clips the gradients by global norm (``lmlib.scratch.optim``) and takes
    one ``optimizer`` step. At the end of the tracks it starts again from a zero state.
    Returns ``{"loss": [...], "grad_norm": [...]}``, one entry per step (norm before clipping).
    """
    from lmlib.scratch.optim import clip_grad_norm

    tracks = stream_batches(ids, batch_size)
    hist = {"loss": [], "grad_norm": []}
    pos, h = 0, None
    for step in range(steps):
        if pos + bptt + 1 > tracks.shape[1]:
            pos, h = 0, None
        x, y = tracks[:, pos:pos + bptt], tracks[:, pos + 1:pos + bptt + 1]
        if lr_schedule is not None:
            optimizer.lr = lr_schedule(step)
        _, loss = model.forward(x, y, h0=h)
        model.backward()
        grads = model.grads
        norm = clip_grad_norm(grads, clip) if clip else float(
            np.sqrt(sum((g ** 2).sum() for g in grads.values())))
        optimizer.step(grads)
        h, pos = model.h, pos + bptt
        hist["loss"].append(loss)
        hist["grad_norm"].append(norm)
    return hist


def train_rnnlm_on_names(model: RNNLM, steps: int = 6000, batch_size: int = 32, bptt: int = 16,
                         lr: float = 5e-3, log_every: int = 0) -> dict:
    """Chapter 03's recipe: Adam, truncated BPTT over the names train split read as one
    stream (``.emma.olivia.``), clipping at 1, learning rate decayed by cosine to lr/20.
    Returns the history with the dev and test losses (name by name) at the end."""
    import math

    from lmlib.data import names
    from lmlib.scratch.optim import Adam

    tok, tr, dev, te = names()
    ids = tok.encode("." + ".".join(tr) + ".")
    opt = Adam(model.params, lr=lr)
    sched = lambda s: lr / 20 + 0.5 * (lr - lr / 20) * (1 + math.cos(math.pi * s / steps))
    hist = train_tbptt(model, ids, opt, steps, batch_size=batch_size, bptt=bptt, clip=1.0,
                       lr_schedule=sched)
    hist["dev"] = model.loss_on_words(dev, tok)
    hist["test"] = model.loss_on_words(te, tok)
    if log_every:
        print(f"dev {hist['dev']:.4f} test {hist['test']:.4f}")
    return hist
