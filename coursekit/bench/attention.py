"""Chapter 05 numbers: ``python -m coursekit.bench attention``.

- parity of the NumPy attention with PyTorch (largest absolute difference, float64);
- the AttentionExplorer's kernel-side update time at T = 256 (the browser's drawing time is
  measured by tests/test_browser.py);
- the small attention model of the chapter: its training time and validation loss with the
  chapter's recipe, and the validation loss of the shipped checkpoint.
"""

from __future__ import annotations

import numpy as np

from coursekit.bench import Measurement, stopwatch


def _parity() -> list[Measurement]:
    import torch
    import torch.nn.functional as F

    from lmlib.scratch import attention as A

    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((4, 8, 64, 32)) for _ in range(3))
    mask = A.causal_mask(64)
    ours, _ = A.scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(*(torch.tensor(a) for a in (q, k, v)),
                                         attn_mask=torch.tensor(mask)).numpy()
    torch.manual_seed(0)
    mha_t = torch.nn.MultiheadAttention(64, 8, batch_first=True).double()
    mha = A.MultiHeadAttention.from_torch(mha_t)
    x = rng.standard_normal((4, 32, 64))
    tx = torch.tensor(x, requires_grad=True)
    out_t, _ = mha_t(tx, tx, tx, attn_mask=torch.tensor(~A.causal_mask(32)))
    out, _ = mha(x, mask=A.causal_mask(32))
    dout = rng.standard_normal(out.shape)
    dx = mha.backward(dout)
    (out_t * torch.tensor(dout)).sum().backward()
    return [
        Measurement("sdpa vs torch (causal)", 1e12 * float(np.abs(ours - ref).max()),
                    "1e-12", "< 1", "max |diff|, B=4, H=8, T=64, d=32, float64"),
        Measurement("MHA vs torch output", 1e12 * float(np.abs(out - out_t.detach().numpy()).max()),
                    "1e-12", "< 1", "max |diff|, D=64, H=8, T=32"),
        Measurement("MHA vs torch d input", 1e12 * float(np.abs(dx - tx.grad.numpy()).max()),
                    "1e-12", "< 100", "max |diff|, hand-written backward vs autograd"),
    ]


def _widget() -> list[Measurement]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmlib.scratch.attention import causal_mask, scaled_dot_product_attention
    from lmlib.viz import AttentionExplorer, plot_attention

    rng = np.random.default_rng(0)
    T = 256
    x = rng.standard_normal((2, 8, T, 16))
    attn = scaled_dot_product_attention(x, x, x, causal_mask(T))[1]   # (2, 8, 256, 256)
    ex = AttentionExplorer(attn, ["a"] * T)
    heads, layers = [], []
    for h in list(range(1, 8)) * 3 + [0]:
        with stopwatch() as t:
            ex.head = h
        heads.append(t())
    for layer in [1, 0] * 5:
        with stopwatch() as t:
            ex.layer = layer
        layers.append(t())
    with stopwatch() as t:
        plt.close(plot_attention(attn, ["a"] * T, layer=0, head=3))
    return [
        Measurement("explorer head change, kernel", 1000 * float(np.median(heads)), "ms",
                    "< 200", "T=256, median of 22; browser draw: see test_browser"),
        Measurement("explorer layer change, kernel", 1000 * float(np.median(layers)), "ms",
                    "< 200", "T=256, 8 heads: new thumbnails too"),
        Measurement("plot_attention (static twin)", 1000 * t(), "ms", "",
                    "T=256, one head + 8 thumbnails"),
    ]


def _model() -> list[Measurement]:
    import torch

    from lmlib.data import shakespeare
    from lmlib.presets import from_preset
    from lmlib.pretrained import load_pretrained
    from lmlib.scoring import score
    from lmlib.train import train

    tok, train_ids, val_ids = shakespeare()
    shipped, _ = load_pretrained("shakespeare-attention")
    shipped_val = score(shipped, val_ids)
    torch.manual_seed(0)
    model, config = from_preset("shakespeare-attention", tok.vocab_size)
    with stopwatch() as t:
        train(model, train_ids, val_ids, config, progress=False, plot=False)
    val = score(model, val_ids)
    return [
        Measurement("AttentionLM shipped val loss", shipped_val, "nats/char", "< 2.05",
                    "2 layers x 4 heads, 64 dims, 113k params, full val split"),
        Measurement("AttentionLM retrained val loss", val, "nats/char", "< 2.05",
                    "the chapter's full-mode recipe: 1000 steps, batch 32 x 64"),
        Measurement("AttentionLM training time", t(), "s", "about 60-120",
                    "one torch thread, this machine"),
    ]


def run() -> list[Measurement]:
    return _parity() + _widget() + _model()
