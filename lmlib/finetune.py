"""Fine-tuning a pre-trained GPT: a classification head, frozen layers and LoRA.

A GPT pre-trained on next-character prediction has learned features of its text. To use
them for a new task we put a small head on top of the body and train -- all of it, part of
it, or a few extra low-rank matrices:

    from lmlib.finetune import GPTClassifier, apply_lora, trainable_parameters
    clf = GPTClassifier(gpt, n_classes=10)           # body + a Linear head (C -> K)
    apply_lora(clf.gpt, r=8, alpha=16)               # body frozen, LoRA on attn.c_attn
    trainable_parameters(clf)                        # LoRA matrices + head

Shapes: ``B`` batch, ``T`` time, ``C`` channels (``n_embd``), ``K`` classes.

The model side works with any GPT laid out like :class:`lmlib.models.gpt.GPT` (GPT-2's
names: ``transformer.wte/wpe/h/ln_f``); LoRA works with any ``nn.Module`` whose layers to
adapt are ``nn.Linear``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.batches import accuracy, predict
from lmlib.presets import LR_SWEEP, RECIPES
from lmlib.train import TrainConfig, Trainer

__all__ = ["hidden_states", "pool", "GPTClassifier", "FeatureHead", "LoRALinear", "apply_lora", "merge_lora",
           "trainable_parameters", "freeze", "configure", "METHODS", "RECIPES", "train_classifier",
           "accuracy", "predict", "sft_batch", "train_sft", "LR_SWEEP", "lr_sweep"]


# --------------------------------------------------------------------------------------
# a classification head on a GPT
# --------------------------------------------------------------------------------------

def hidden_states(gpt: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """The GPT's features: ``idx`` (B, T) -> (B, T, C), the output of the final LayerNorm,
    i.e. what the language-model head would turn into next-token logits."""
    tr = gpt.transformer
    pos = torch.arange(idx.shape[1], device=idx.device)
    x = tr.drop(tr.wte(idx) + tr.wpe(pos))
    for block in tr.h:
        x = block(x)[0]  # each block returns (x, attention weights or None)
    return tr.ln_f(x)


def _check_mask(mask: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor of shape (B, T), got {type(mask).__name__}")
    if mask.shape != idx.shape:
        raise ValueError(f"mask must have the shape of idx {tuple(idx.shape)}, got {tuple(mask.shape)}")
    mask = mask.bool()
    if not mask[:, 0].all():
        raise ValueError("mask: every row needs at least one real token, at position 0")
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        raise ValueError("mask must mark right padding (True for real tokens, then False): "
                         "a causal model lets real tokens attend to any padding before them")
    return mask


def pool(h: torch.Tensor, mask: torch.Tensor | None, how: str = "last") -> torch.Tensor:
    """One vector per sequence from ``h`` (B, T, C) -> (B, C), padding ignored.

    ``"last"``: the features at the last real token (in a causal model, the only position
    that has seen the whole text). ``"mean"``: the average over the real tokens.
    ``mask`` (B, T) is True on real tokens (right padding); ``None`` means no padding.
    """
    B, T, _ = h.shape
    if mask is None:
        mask = torch.ones(B, T, dtype=torch.bool, device=h.device)
    lengths = mask.sum(1)  # (B,)
    if how == "last":
        return h[torch.arange(B, device=h.device), lengths - 1]
    if how == "mean":
        return (h * mask.unsqueeze(-1)).sum(1) / lengths.unsqueeze(-1)
    raise ValueError(f"pool must be 'last' or 'mean', got {how!r}")


class GPTClassifier(nn.Module):
    """A GPT body with a linear classification head: text (B, T) -> class logits (B, K).

    The body's features (B, T, C) are pooled over the real (non-padded) positions into one
    vector per text (``pool="last"`` or ``"mean"``), and ``head`` (a Linear C -> K) gives the
    logits. The GPT's own language-model head is kept but not used.
    """

    def __init__(self, gpt: nn.Module, n_classes: int, pool: str = "last", dropout: float = 0.0):
        super().__init__()
        if not isinstance(gpt, nn.Module) or not hasattr(gpt, "transformer"):
            raise TypeError(f"gpt must be a GPT (an nn.Module with .transformer), got "
                            f"{type(gpt).__name__}")
        if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2 (a classifier needs at least two "
                             f"classes), got {n_classes!r}")
        if pool not in ("last", "mean"):
            raise ValueError(f"pool must be 'last' or 'mean', got {pool!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.gpt, self.n_classes, self.pool = gpt, n_classes, pool
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(gpt.transformer.wte.weight.shape[1], n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def features(self, idx: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``idx`` (B, T), ``mask`` (B, T) or None -> pooled features (B, C)."""
        if mask is not None:
            mask = _check_mask(mask, idx)
            idx = idx[:, :int(mask.sum(1).max())]  # no need to run the all-padding tail
            mask = mask[:, :idx.shape[1]]
        return pool(hidden_states(self.gpt, idx), mask, self.pool)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                mask: torch.Tensor | None = None):
        """``idx`` (B, T) token ids, right-padded; ``mask`` (B, T) True on real tokens (None:
        no padding); ``targets`` (B,) class ids or None -> ``(logits (B, K), loss or None)``."""
        logits = self.head(self.dropout(self.features(idx, mask)))
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


# --------------------------------------------------------------------------------------
# LoRA: a trainable low-rank update next to a frozen Linear
# --------------------------------------------------------------------------------------

class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update (Hu et al., 2021):

        y = x W^T + b + (alpha / r) * x A^T B^T

    ``A`` (r, in) starts random and ``B`` (out, r) starts at zero, so at first the layer is
    exactly the frozen one; training moves only A and B: ``r * (in + out)`` numbers instead
    of ``in * out``.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float = 1.0, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
            raise ValueError(f"r (the rank) must be an int > 0, got {r!r}")
        if not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ValueError(f"alpha must be a number > 0, got {alpha!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scale = r, alpha, alpha / r
        like = dict(dtype=base.weight.dtype, device=base.weight.device)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **like))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # nn.Linear's default init
        self.lora_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (..., in) -> (..., out)."""
        return self.base(x) + self.scale * (self.lora_dropout(x) @ self.lora_A.T @ self.lora_B.T)

    def delta_weight(self) -> torch.Tensor:
        """The update LoRA adds to the weight: ``(alpha / r) * B A``, shape (out, in)."""
        return self.scale * self.lora_B @ self.lora_A

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function: weight ``W + (alpha / r) B A``."""
        base = self.base
        out = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                        device=base.weight.device, dtype=base.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(base.weight + self.delta_weight())
            if base.bias is not None:
                out.bias.copy_(base.bias)
        out.requires_grad_(False)
        return out

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def apply_lora(model: nn.Module, r: int, alpha: float = 1.0, targets=("c_attn",),
               dropout: float = 0.0) -> list[LoRALinear]:
    """Wrap every ``nn.Linear`` of ``model`` whose name matches one of ``targets`` in a
    :class:`LoRALinear`, and freeze every other parameter of ``model``.

    A target matches a layer's full name or its last parts: ``"c_attn"`` matches
    ``transformer.h.0.attn.c_attn``; ``"attn.c_proj"`` matches the attention's output
    projection but not the MLP's ``mlp.c_proj``. Returns the new LoRA modules. Apply it to
    the body (``clf.gpt``) so that a classification head outside it stays trainable.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ValueError(f"r (the rank) must be an int > 0, got {r!r}")
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"alpha must be a number > 0, got {alpha!r}")
    if isinstance(targets, str):
        targets = (targets,)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"targets must be a tuple of layer names, got {targets!r}")
    found = []
    for name, module in model.named_modules():
        if not name or not any(_matches(name, t) for t in targets):
            continue
        if isinstance(module, LoRALinear):
            raise ValueError(f"targets: {name} already has LoRA (apply_lora was applied to it "
                             f"before); merge_lora(model) folds it in first")
        if not isinstance(module, nn.Linear):
            raise ValueError(f"targets: {name} is a {type(module).__name__}, but LoRA wraps "
                             f"nn.Linear layers; name Linear layers such as 'c_attn'")
        found.append(name)
    if not found:
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise ValueError(f"targets {tuple(targets)} match no layer of the model; its Linear "
                         f"layers are named like {linears[:4]}")
    for name, p in model.named_parameters():
        if not name.endswith(("lora_A", "lora_B")):  # LoRA added earlier stays trainable
            p.requires_grad_(False)
    wrapped = []
    for name in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        lora = LoRALinear(getattr(parent, child), r, alpha, dropout)
        setattr(parent, child, lora)
        wrapped.append(lora)
    return wrapped


def merge_lora(model: nn.Module) -> list[nn.Linear]:
    """Fold every LoRA update into its layer's weight and put the plain ``nn.Linear`` back.

    The model computes the same function (up to float rounding) without LoRA's extra
    matmuls. Returns the merged layers (frozen, as the base layers were).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    names = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    if not names:
        raise ValueError("model has no LoRALinear layers to merge (apply_lora first)")
    merged = []
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        linear = getattr(parent, child).merged()
        setattr(parent, child, linear)
        merged.append(linear)
    return merged


class FeatureHead(nn.Module):
    """A classification head alone, on precomputed features: (B, C) -> (B, K).

    With a frozen body, a linear probe need not run the body at every step: compute the
    pooled features once (``clf.features``), then train ``FeatureHead(clf.head)`` on them.
    """

    def __init__(self, head: nn.Linear):
        super().__init__()
        self.head = head

    def forward(self, feats: torch.Tensor, targets: torch.Tensor | None = None, mask=None):
        logits = self.head(feats)
        return logits, None if targets is None else F.cross_entropy(logits, targets)


# --------------------------------------------------------------------------------------
# instruction tuning: the next-token loss on the answers only
# --------------------------------------------------------------------------------------

def sft_batch(pairs, mask_prompt: bool = True, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for supervised instruction tuning (SFT) of a language model.

    ``pairs``: a list of ``(prompt_ids, answer_ids)``, each a non-empty sequence of token
    ids. Each example is the prompt followed by the answer; position ``t`` of ``x`` holds
    token ``t`` and position ``t`` of ``y`` the token after it (``y[t] = x[t + 1]``). With
    ``mask_prompt`` the targets that are prompt tokens become ``-1``, which the GPT's loss
    ignores, so only the answer (from its first token on) is trained; without it every next
    token counts. Rows are right-padded to the longest: ``x`` with ``pad_id``, ``y`` with -1.
    Returns ``x, y``, both (B, T) int64 with ``T = max(len(prompt) + len(answer)) - 1``.
    """
    if isinstance(pairs, tuple) and len(pairs) == 2 and not isinstance(pairs[0], tuple):
        raise TypeError("pairs must be a list of (prompt_ids, answer_ids) pairs; for one "
                        "example write [(prompt_ids, answer_ids)]")
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty: give at least one (prompt_ids, answer_ids) pair")
    rows = []
    for i, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(f"pairs[{i}] must be (prompt_ids, answer_ids), got {len(pair)} items")
        prompt, answer = (torch.as_tensor(list(part), dtype=torch.long) for part in pair)
        if len(prompt) == 0 or len(answer) == 0:
            raise ValueError(f"pairs[{i}]: the prompt and the answer need at least one token each")
        seq = torch.cat([prompt, answer])
        y = seq[1:].clone()
        if mask_prompt:
            y[:len(prompt) - 1] = -1  # y[t] predicts seq[t + 1]: prompt tokens up to t = len - 2
        rows.append((seq[:-1], y))
    T = max(len(x) for x, _ in rows)
    x = torch.full((len(rows), T), pad_id, dtype=torch.long)
    y = torch.full((len(rows), T), -1, dtype=torch.long)
    for i, (xi, yi) in enumerate(rows):
        x[i, :len(xi)], y[i, :len(yi)] = xi, yi
    return x, y


def train_sft(gpt: nn.Module, pairs, *, mask_prompt: bool = True, **kwargs) -> dict:
    """Instruction-tune ``gpt`` on ``pairs`` of ``(prompt_ids, answer_ids)``: the batches
    of :func:`sft_batch` (the prompt's loss masked unless ``mask_prompt=False``), trained
    by the course's loop through :func:`train_classifier` (AdamW, warm-up + cosine,
    clipping; ``kwargs`` are its keyword arguments, e.g. ``steps``, ``lr``,
    ``batch_size``). Returns its history."""
    x, y = sft_batch(pairs, mask_prompt=mask_prompt)
    return train_classifier(gpt, (x, None, y), None, **kwargs)


# --------------------------------------------------------------------------------------
# which parameters train
# --------------------------------------------------------------------------------------

def trainable_parameters(model: nn.Module) -> int:
    """The number of parameters the optimizer will change (``requires_grad``), a tensor
    shared by two modules (tied weights) counted once."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def freeze(module: nn.Module, trainable: bool = False) -> nn.Module:
    """Set ``requires_grad`` of every parameter of ``module`` to ``trainable``; returns it."""
    for p in module.parameters():
        p.requires_grad_(trainable)
    return module


METHODS = ("full", "probe", "last", "lora")

# the recipes (RECIPES) and the learning-rate sweep behind them (LR_SWEEP) are in lmlib.presets


def lr_sweep(method: str, lrs, train: tuple, val: tuple, make_gpt, n_classes: int) -> dict:
    """Best validation accuracy of ``method``'s recipe (:data:`RECIPES`) at each learning
    rate of ``lrs``: ``{lr: best val accuracy}``. ``make_gpt()`` returns a fresh pre-trained
    GPT; ``train``, ``val`` are ``(idx, mask, labels)``. This is how :data:`LR_SWEEP` was
    measured (each point is one training run of the recipe: minutes on a CPU)."""
    out = {}
    for lr in lrs:
        recipe = dict(RECIPES[method], lr=lr)
        pool_how = recipe.pop("pool")
        gpt = make_gpt()
        if method == "scratch":
            torch.manual_seed(0)
            gpt = type(gpt)(gpt.config)
            clf = GPTClassifier(gpt, n_classes, pool_how)
        else:
            clf = configure(GPTClassifier(gpt, n_classes, pool_how), method)
        if method == "probe":
            with torch.no_grad():
                clf.eval()
                feats = [torch.cat([clf.features(d[0][i:i + 128], d[1][i:i + 128])
                                    for i in range(0, len(d[0]), 128)]) for d in (train, val)]
            hist = train_classifier(FeatureHead(clf.head), (feats[0], None, train[2]),
                                    (feats[1], None, val[2]), **recipe)
        else:
            hist = train_classifier(clf, train, val, **recipe)
        out[lr] = hist["best_val_acc"]
    return out


def configure(clf: GPTClassifier, method: str, *, n_last: int = 1, r: int = 8,
              alpha: float = 16.0) -> GPTClassifier:
    """Choose what trains in ``clf`` (the head always does):

    - ``"full"``: everything (full fine-tuning);
    - ``"probe"``: nothing in the body (a linear probe on frozen features);
    - ``"last"``: the last ``n_last`` blocks and the final LayerNorm;
    - ``"lora"``: LoRA of rank ``r`` on the attention projections ``c_attn``, body frozen.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    freeze(clf, trainable=(method == "full"))
    if method == "last":
        blocks = clf.gpt.transformer.h
        if not isinstance(n_last, int) or not 1 <= n_last <= len(blocks):
            raise ValueError(f"n_last must be an int in [1, {len(blocks)}], got {n_last!r}")
        for block in blocks[-n_last:]:
            freeze(block, trainable=True)
        freeze(clf.gpt.transformer.ln_f, trainable=True)
    if method == "lora":
        apply_lora(clf.gpt, r=r, alpha=alpha, targets=("c_attn",))
    freeze(clf.head, trainable=True)
    return clf


# --------------------------------------------------------------------------------------
# training a classifier: the course's one loop (lmlib.train.Trainer) on examples
# --------------------------------------------------------------------------------------

def train_classifier(model: nn.Module, train: tuple, val: tuple | None = None, *,
                     steps: int = 300, batch_size: int = 32, lr: float = 1e-3,
                     weight_decay: float = 0.01, warmup: int = 20, eval_interval: int = 50,
                     seed: int = 0, grad_clip: float = 1.0, keep_best: bool = True,
                     time_limit: float | None = None, progress: bool = False) -> dict:
    """Train a classifier on ``train = (idx, mask, labels)`` with the course's training loop
    (:class:`lmlib.train.Trainer`): AdamW on the parameters that require grad, warm-up +
    cosine, gradient clipping, batches of texts of similar length, epoch after epoch
    (:class:`lmlib.batches.Examples`); every ``eval_interval`` steps, accuracy on ``val``.

    ``idx`` may also be precomputed features (N, C) with ``mask=None`` (see
    :class:`FeatureHead`). With ``keep_best`` (and ``val``), the trainable weights end as
    they were at the best validation accuracy (early stopping). ``time_limit`` (seconds of
    training) stops early. The model trains on the device it is on. Returns a history dict:
    ``steps``, ``train_loss`` (mean since the last evaluation), ``val_acc``, ``seconds``
    (training time, evaluation excluded), ``best_val_acc`` and ``best_step``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if trainable_parameters(model) == 0:
        raise ValueError("model has no trainable parameters: every requires_grad is False")
    if not (isinstance(train, tuple) and len(train) == 3):
        raise TypeError(f"train must be a tuple (idx, mask, labels), got {type(train).__name__}")
    config = TrainConfig(steps=steps, batch_size=min(batch_size, len(train[0])), lr=lr,
                         weight_decay=weight_decay, warmup=min(warmup, steps),
                         grad_clip=grad_clip, eval_interval=eval_interval, seed=seed,
                         device=str(next(model.parameters()).device))
    trainer = Trainer(model, train, val, config, keep_best=keep_best and val is not None)
    h = trainer.run(progress=progress, plot=False, time_limit=time_limit)
    if trainer.best_weights is not None:
        trainer.load_best()
    return {"steps": h.steps, "train_loss": h.train_loss, "val_acc": h.val_acc,
            "seconds": h.seconds, "best_val_acc": h.best_val if val is not None else -1.0,
            "best_step": max(h.best_step, 0)}
