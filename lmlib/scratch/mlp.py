"""A Bengio-style MLP language model in NumPy, with its backward pass written by hand.

The model reads the last ``block_size`` characters, looks up an embedding for each,
concatenates them, passes them through one tanh hidden layer and scores every character of
the vocabulary:

    idx (B, T) -> emb (B, T, C) -> reshape (B, T*C) -> hidden (B, H) -> tanh (B, H)
        -> out (B, V) logits -> softmax cross-entropy

Its PyTorch twin is ``lmlib.models.MLPLM``, with the same parameter names
(``emb.weight``, ``hidden.weight``, ``hidden.bias``, ``out.weight``, ``out.bias``).

    X, Y = build_dataset(train_words, tok, block_size=3)
    model = MLPLM(tok.vocab_size)
    logits, loss = model.forward(X[:32], Y[:32])
    model.backward()                 # fills model.grads
"""

from __future__ import annotations

import numpy as np

from lmlib.scratch import functional as F
from lmlib.scratch.layers import Embedding, LayerStack, Linear, Tanh

__all__ = ["build_dataset", "MLPLM", "train"]


def build_dataset(words, tokenizer, block_size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Every (context, next character) pair of ``words``.

    Each word is padded with ``block_size`` boundary tokens ``.`` in front and one after, so
    ``"emma"`` with ``block_size=3`` gives the contexts ``...``, ``..e``, ``.em``, ``emm``,
    ``mma`` followed by ``e``, ``m``, ``m``, ``a``, ``.``.

    Returns ``X`` int64 ``(N, block_size)`` and ``Y`` int64 ``(N,)`` with
    ``N = sum(len(w) + 1 for w in words)``.
    """
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise TypeError("words must be a list of strings, e.g. the train split of "
                        "lmlib.data.names()")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    words = list(words)
    if not words:
        raise ValueError("words must not be empty")
    if any("." in w for w in words):
        raise ValueError("words must not contain '.', the boundary token")
    pad = "." * block_size
    ids = tokenizer.encode("".join(pad + w + "." for w in words))
    n_pairs = np.array([len(w) + 1 for w in words])         # windows per word
    seg_len = n_pairs + block_size                          # padded length per word
    seg_start = np.cumsum(seg_len) - seg_len
    first = np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    starts = np.repeat(seg_start, n_pairs) + np.arange(n_pairs.sum()) - first
    windows = ids[starts[:, None] + np.arange(block_size + 1)]
    return windows[:, :block_size].astype(np.int64), windows[:, block_size].astype(np.int64)


class MLPLM(LayerStack):
    """MLP language model: embedding -> linear -> tanh -> linear, in NumPy.

    Args:
        vocab_size: ``V``, the number of tokens.
        block_size: ``T``, how many previous tokens the model sees.
        n_embd: ``C``, the size of each token's embedding.
        n_hidden: ``H``, the number of tanh units.
        seed: seeds the initialisation.
        dtype: ``np.float64`` (default, for exact comparisons) or ``np.float32``.

    Initialisation: embeddings ``N(0, 1)``; ``hidden.weight ~ N(0, 1/(T*C))`` so the
    pre-activations have about unit variance and few tanh units saturate; ``out.weight``
    scaled down by ``out_scale`` (0.1) so that the first predictions are nearly uniform
    (loss close to ``ln V``); biases 0.
    """

    def __init__(self, vocab_size: int, block_size: int = 3, n_embd: int = 10,
                 n_hidden: int = 200, seed: int = 0, dtype=np.float64, out_scale: float = 0.1):
        rng = np.random.default_rng(seed)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_embd, self.n_hidden = n_embd, n_hidden
        self.emb = Embedding(vocab_size, n_embd, rng=rng, dtype=dtype)
        self.hidden = Linear(block_size * n_embd, n_hidden, rng=rng, dtype=dtype)
        self.tanh = Tanh()
        self.out = Linear(n_hidden, vocab_size, rng=rng, dtype=dtype)
        self.out.params["weight"] *= out_scale
        self.layers = {"emb": self.emb, "hidden": self.hidden, "out": self.out}
        self.h: np.ndarray | None = None        # last hidden activations (B, H), for plots
        self._dlogits: np.ndarray | None = None

    def forward(self, idx, targets=None):
        """``idx`` int ``(B, T)`` -> ``(logits (B, V), loss)``; ``loss`` is the mean
        cross-entropy against ``targets`` ``(B,)``, or ``None`` without targets."""
        idx = np.asarray(idx)
        if idx.ndim != 2 or idx.shape[1] != self.block_size:
            raise ValueError(f"idx must have shape (B, {self.block_size}), got {idx.shape}")
        e = self.emb.forward(idx)                              # (B, T, C)
        x = e.reshape(len(idx), -1)                            # (B, T*C)
        self.h = self.tanh.forward(self.hidden.forward(x))     # (B, H)
        logits = self.out.forward(self.h)                      # (B, V)
        if targets is None:
            self._dlogits = None
            return logits, None
        loss, self._dlogits = F.cross_entropy(logits, targets)
        return logits, loss

    def backward(self, dlogits=None) -> None:
        """Backpropagate ``dlogits`` ``(B, V)`` (by default the gradient of the loss of the
        last ``forward``) and fill ``grads``."""
        if dlogits is None:
            if self._dlogits is None:
                raise RuntimeError("call forward(idx, targets) before backward(), or pass dlogits")
            dlogits = self._dlogits
        dh = self.out.backward(dlogits)                        # (B, H)
        dpre = self.tanh.backward(dh)                          # (B, H)
        dx = self.hidden.backward(dpre)                        # (B, T*C)
        self.emb.backward(dx.reshape(len(dx), self.block_size, self.n_embd))  # (B, T, C)

    def loss(self, X, Y, batch_size: int = 8192) -> float:
        """Mean cross-entropy over a whole split, without gradients (in chunks)."""
        X, Y = np.asarray(X), np.asarray(Y)
        if len(X) != len(Y) or len(X) == 0:
            raise ValueError(f"X and Y must be non-empty with the same length, got "
                             f"{len(X)} and {len(Y)}")
        total = 0.0
        for i in range(0, len(X), batch_size):
            logits, _ = self.forward(X[i:i + batch_size])
            logp = F.log_softmax(logits)
            total -= logp[np.arange(len(logits)), Y[i:i + batch_size]].sum()
        return float(total / len(X))

    def sample(self, tokenizer, n: int = 10, seed: int = 0, max_len: int = 30) -> list[str]:
        """``n`` names drawn one character at a time until the boundary token ``.`` (id 0)."""
        rng = np.random.default_rng(seed)
        ctx = np.zeros((n, self.block_size), dtype=np.int64)
        out = np.zeros((n, max_len), dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        for t in range(max_len):
            logits, _ = self.forward(ctx)
            p = F.softmax(logits)                                # (n, V)
            u = rng.random((n, 1))
            nxt = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), self.vocab_size - 1)
            nxt[~alive] = 0
            out[:, t] = nxt
            alive &= nxt != 0
            ctx = np.concatenate([ctx[:, 1:], nxt[:, None]], axis=1)
            if not alive.any():
                break
        return [tokenizer.decode(row).split(".")[0] for row in out]

    def __repr__(self) -> str:
        return (f"MLPLM(vocab_size={self.vocab_size}, block_size={self.block_size}, "
                f"n_embd={self.n_embd}, n_hidden={self.n_hidden}) with {self.num_params():,} "
                f"parameters")


def train(model: MLPLM, X, Y, optimizer, steps: int, batch_size: int = 32, seed: int = 0,
          lr_schedule=None, eval_every: int = 0, X_dev=None, Y_dev=None) -> dict:
    """Minibatch training: sample ``batch_size`` rows, forward, backward, ``optimizer.step``.

    ``lr_schedule(step) -> lr`` (optional) sets ``optimizer.lr`` before each step. Returns
    ``{"step": [...], "loss": [...]}`` with the loss of every minibatch, plus
    ``"eval_step"``/``"dev"`` every ``eval_every`` steps when a dev split is given.
    """
    rng = np.random.default_rng(seed)
    X, Y = np.asarray(X), np.asarray(Y)
    hist = {"step": [], "loss": [], "eval_step": [], "dev": []}
    for step in range(steps):
        if lr_schedule is not None:
            optimizer.lr = lr_schedule(step)
        ix = rng.integers(0, len(X), size=batch_size)
        _, loss = model.forward(X[ix], Y[ix])
        model.backward()
        optimizer.step(model.grads)
        hist["step"].append(step)
        hist["loss"].append(loss)
        if eval_every and X_dev is not None and ((step + 1) % eval_every == 0
                                                 or step == steps - 1):
            hist["eval_step"].append(step + 1)
            hist["dev"].append(model.loss(X_dev, Y_dev))
    return hist
