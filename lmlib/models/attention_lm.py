"""A tiny causal self-attention language model in PyTorch, for looking at attention patterns.

Chapter 05 trains it on Tiny Shakespeare in about a minute on a laptop CPU and shows its
heads in the :class:`lmlib.viz.AttentionExplorer`. It is a small Transformer decoder (token
and learned position embeddings, ``n_layer`` blocks of pre-LayerNorm causal multi-head
self-attention and a feed-forward layer, a final LayerNorm and a linear head), written with
an explicit attention so that it can return its attention weights: PyTorch's fused
``scaled_dot_product_attention`` does not return them.

    >>> model = AttentionLM.load_pretrained()          # the checkpoint shipped in lmlib/assets
    >>> logits, loss = model(x, y)                      # x, y: (B, T) token ids
    >>> attn = model.attention_maps(x[:1])              # (L, H, T, T)
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["AttentionLMConfig", "AttentionLM", "train_attention_lm", "evaluate", "CHECKPOINT"]

CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "attention_lm.safetensors"


@dataclass
class AttentionLMConfig:
    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention that also returns its weights ``(B, H, T, T)``."""

    def __init__(self, cfg: AttentionLMConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        mask = torch.tril(torch.ones(cfg.block_size, cfg.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):                                   # x: (B, T, C)
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)                # each (B, T, C)
        heads = lambda a: a.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)               # (B, H, T, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])   # (B, H, T, T)
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
        weights = scores.softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(B, T, C)         # merge heads
        return self.proj(out), weights


class Block(nn.Module):
    def __init__(self, cfg: AttentionLMConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x):
        a, weights = self.attn(self.ln1(x))
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x, weights


class AttentionLM(nn.Module):
    """A small decoder-only Transformer whose attention weights can be read out."""

    def __init__(self, cfg: AttentionLMConfig | None = None):
        super().__init__()
        cfg = cfg or AttentionLMConfig()
        if cfg.n_embd % cfg.n_head:
            raise ValueError(f"n_embd={cfg.n_embd} must be divisible by n_head={cfg.n_head}")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size)

    def forward(self, idx, targets=None, return_attention: bool = False):
        """``idx`` ``(B, T)`` ids -> ``(logits (B, T, V), loss or None)``; with
        ``return_attention`` also the weights ``(L, B, H, T, T)``."""
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (B, T), got {tuple(idx.shape)}")
        B, T = idx.shape
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))
        maps = []
        for block in self.blocks:
            x, w = block(x)
            maps.append(w)
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        if return_attention:
            return logits, loss, torch.stack(maps)
        return logits, loss

    @torch.no_grad()
    def attention_maps(self, idx) -> torch.Tensor:
        """Attention weights of every layer and head for one sequence: ``idx`` ``(T,)`` or
        ``(1, T)`` -> ``(L, H, T, T)``."""
        idx = torch.as_tensor(idx).reshape(1, -1)
        was_training = self.training
        self.eval()
        _, _, maps = self(idx, return_attention=True)
        self.train(was_training)
        return maps[:, 0]

    # -- checkpoints (safetensors only, written atomically)
    def save(self, path: str | os.PathLike = CHECKPOINT, **metadata) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"config": json.dumps(asdict(self.cfg))}
        meta.update({k: str(v) for k, v in metadata.items()})
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=meta)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    @classmethod
    def load_pretrained(cls, path: str | os.PathLike = CHECKPOINT) -> AttentionLM:
        """Load a checkpoint written by :meth:`save` (the shipped one by default)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if "config" not in meta:
            raise ValueError(f"{path} has no 'config' metadata: not an AttentionLM checkpoint")
        model = cls(AttentionLMConfig(**json.loads(meta["config"])))
        model.load_state_dict(load_file(str(path)))
        model.metadata = meta
        return model.eval()


@torch.no_grad()
def evaluate(model: AttentionLM, ids, batch_size: int = 64, max_windows: int | None = None):
    """Mean loss (nats/char) over non-overlapping windows of ``block_size`` of the stream
    ``ids`` (every position predicted once, with its in-window context)."""
    model.eval()
    T = model.cfg.block_size
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    n = (len(ids) - 1) // T
    if max_windows is not None:
        n = min(n, max_windows)
    x = ids[: n * T].view(n, T)
    y = ids[1: n * T + 1].view(n, T)
    total = 0.0
    for i in range(0, n, batch_size):
        _, loss = model(x[i:i + batch_size], y[i:i + batch_size])
        total += loss.item() * len(x[i:i + batch_size])
    model.train()
    return total / n


def train_attention_lm(train_ids, steps: int = 1500, batch_size: int = 32, lr: float = 3e-3,
                       cfg: AttentionLMConfig | None = None, seed: int = 0,
                       log_every: int = 100, callback=None):
    """Train an :class:`AttentionLM` with AdamW (linear warm-up, cosine decay) on random
    windows of ``train_ids``. Returns ``(model, history)`` where ``history`` is a list of
    ``(step, train_loss)`` averaged over each ``log_every`` steps."""
    from lmlib.data import get_batch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = AttentionLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup)
        * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))))
    history, running, start = [], 0.0, time.perf_counter()
    for step in range(1, steps + 1):
        x, y = get_batch(train_ids, batch_size, model.cfg.block_size, rng)
        _, loss = model(torch.from_numpy(x), torch.from_numpy(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running += loss.item()
        if step % log_every == 0 or step == steps:
            n = log_every if step % log_every == 0 else step % log_every
            history.append((step, running / n))
            running = 0.0
            if callback is not None:
                callback(step, history[-1][1], time.perf_counter() - start)
    return model.eval(), history


def main() -> None:
    """``python -m lmlib.models.attention_lm [STEPS]``: train and write the shipped checkpoint."""
    import sys

    import lmlib
    from lmlib.data import shakespeare

    lmlib.setup()
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    tok, train_ids, val_ids = shakespeare()
    cfg = AttentionLMConfig(vocab_size=tok.vocab_size)
    start = time.perf_counter()
    model, history = train_attention_lm(
        train_ids, steps=steps, cfg=cfg,
        callback=lambda s, l, t: print(f"step {s:5d}  train {l:.4f}  {t:6.1f} s", flush=True))
    seconds = time.perf_counter() - start
    val = evaluate(model, val_ids)
    print(f"val loss {val:.4f} after {steps} steps, {seconds:.1f} s")
    path = model.save(steps=steps, val_loss=f"{val:.4f}", train_seconds=f"{seconds:.1f}")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
