"""A GPT in PyTorch: the GPT-2 architecture, small enough to train on a laptop CPU.

Token and learned position embeddings, ``n_layer`` pre-LN Transformer blocks (causal
multi-head self-attention, then a GELU feed-forward, each on a residual path), a final
LayerNorm and a language-model head that shares its weight with the token embedding.
Parameter names are GPT-2's, so real GPT-2 weights load with :meth:`GPT.from_hf_gpt2`.

Shapes: ``B`` batch, ``T`` time (sequence length), ``C`` channels (``n_embd``), ``H`` heads,
``V`` vocabulary.

The NumPy twin of the forward pass is :func:`lmlib.scratch.gpt.gpt_forward`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.data import check_token_tensor
from lmlib.sampling import sample

__all__ = ["GPTConfig", "GPT", "CausalSelfAttention", "MLP", "Block", "ASSET"]

ASSET = Path(__file__).resolve().parent.parent / "assets" / "gpt_shakespeare.safetensors"
"""The shipped character-level GPT trained on Tiny Shakespeare (see the assets' log);
``lmlib.load_pretrained("shakespeare-gpt")`` loads it."""


@dataclass
class GPTConfig:
    """The shape of a GPT. GPT-2 small is ``GPTConfig(50257, 1024, 12, 12, 768)``."""

    vocab_size: int
    block_size: int  # the longest context the model can see
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms, like GPT-2
    tie_weights: bool = True  # the head reuses the token embedding, like GPT-2; False: its
    #                          own (V, C) matrix, with a bias when ``bias`` (chapter 05's model)
    gelu: str = "tanh"  # GPT-2's tanh approximation of GELU, or "none" for the exact one
    causal: bool = True  # False drops the causal mask (an encoder; chapter 06 shows the leak)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig.n_embd ({self.n_embd}) must be divisible by "
                             f"n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.gelu not in ("tanh", "none"):
            raise ValueError(f"GPTConfig.gelu must be 'tanh' or 'none', got {self.gelu!r}")
        if not isinstance(self.causal, bool):
            raise ValueError(f"GPTConfig.causal must be True or False, got {self.causal!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["causal"]:  # the default is not written, so older checkpoints still match
            del d["causal"]
        return d


def cached_length(past_kv, T: int, n_layer: int, block_size: int) -> int:
    """P, the positions a KV cache ``past_kv`` holds (0 for None), after checking that it
    has one ``(k, v)`` pair per layer and that P + T new positions fit in ``block_size``.
    Shared by every model with a KV cache (the GPT here, the Llama of chapter 11)."""
    if past_kv is not None and (not isinstance(past_kv, (tuple, list))
                                or len(past_kv) != n_layer):
        raise ValueError(f"past_kv must be None or one (k, v) pair per layer "
                         f"({n_layer}), as returned by forward_cached")
    P = 0 if past_kv is None else past_kv[0][0].size(2)
    if T < 1:
        raise ValueError("idx must hold at least one new position")
    if P + T > block_size:
        raise ValueError(f"the cache holds {P} positions and idx adds {T}: more than this "
                         f"model's block_size {block_size}; start a new cache "
                         f"from the last tokens")
    return P


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees only positions <= t.

    One Linear (``c_attn``) makes queries, keys and values for all heads at once;
    ``c_proj`` mixes the heads' outputs back into the residual stream.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.causal = config.causal
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)  # (T, T), not saved

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """``x`` (B, T, C) -> ``(y, att)``: ``y`` (B, T, C) and, when ``return_attention``,
        the attention weights ``att`` (B, H, T, T) (else ``None``)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # (B, T, C) -> (B, H, T, C // H): each head attends on its own slice of channels
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = None
        if return_attention:
            # the explicit path: softmax(q k^T / sqrt(d_k)) with the future masked out
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))  # (B, H, T, T)
            if self.causal:
                scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
            att = F.softmax(scores, dim=-1)
            y = self.attn_dropout(att) @ v  # (B, H, T, C // H)
        else:  # the same maths in one fused kernel, which does not return the weights
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=self.causal, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y)), att

    def forward_cached(self, x: torch.Tensor, layer_past=None):
        """The same attention for NEW positions only, with a KV cache (chapter 09).

        ``x`` (B, T, C) holds the new positions; ``layer_past`` is ``None`` or the
        ``(k, v)`` of the P positions before them, each (B, H, P, C // H). Returns
        ``(y, (k, v))``: ``y`` (B, T, C) and the keys and values of all P + T positions,
        the cache for the next call. The new queries see every cached key and, among the
        new positions, only the earlier ones.
        """
        if not self.causal:
            raise ValueError("a KV cache needs causal attention: this model has causal=False, "
                             "so every position depends on later ones")
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if layer_past is not None:
            k = torch.cat([layer_past[0], k], dim=2)  # (B, H, P + T, C // H)
            v = torch.cat([layer_past[1], v], dim=2)
        S = k.size(2)  # P + T positions in all
        p = self.dropout if self.training else 0.0
        if T == 1:  # one new query may see every key: no mask at all
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        elif S == T:  # no past: the usual causal mask
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        else:  # rows P..P+T-1 of the causal mask
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask[S - T:S, :S],
                                               dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    """The feed-forward block: Linear C -> 4C, GELU (GPT-2's tanh form by default), Linear
    4C -> C."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A pre-LN Transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        a, att = self.attn(self.ln_1(x), return_attention)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, att

    def forward_cached(self, x: torch.Tensor, layer_past=None):
        """:meth:`forward` for new positions with a KV cache: ``(x, (k, v))``."""
        a, present = self.attn.forward_cached(self.ln_1(x), layer_past)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present


def check_inputs(idx, targets, config) -> None:
    """What a language model's ``forward`` checks (GPT and Llama alike): ``idx`` a (B, T)
    tensor of ids in the vocabulary with ``T <= config.block_size``; ``targets`` ``None`` or
    ids of the same shape, -1 marking a position to ignore."""
    check_token_tensor(idx, vocab_size=config.vocab_size)
    if idx.shape[1] > config.block_size:
        raise ValueError(f"idx has {idx.shape[1]} positions but this model's block_size is "
                         f"{config.block_size}; crop the context to the last "
                         f"{config.block_size} tokens")
    if targets is not None:
        check_token_tensor(targets, "targets", vocab_size=config.vocab_size, ignore_index=-1)
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, "
                             f"got {tuple(targets.shape)}")


class GPT(nn.Module):
    """A decoder-only Transformer language model with GPT-2's layout and parameter names.

    >>> model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=2, n_embd=32))
    >>> logits, loss = model(torch.zeros(1, 8, dtype=torch.long))
    >>> tuple(logits.shape)
    (1, 8, 65)
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embedding (V, C)
            wpe=nn.Embedding(config.block_size, config.n_embd),  # position embedding (T, C)
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size,
                                 bias=config.bias and not config.tie_weights)
        if config.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight  # weight tying: one (V, C) matrix
        self.apply(self._init_weights)
        # GPT-2: scale the projections that write into the residual stream by 1/sqrt(2 L),
        # so that the stream's variance does not grow with depth
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters (the tied matrix counted once); ``non_embedding`` leaves out
        the position embedding and the token embedding."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel() + self.transformer.wte.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                return_attention: bool = False, past_kv=None, use_cache: bool = False):
        """``idx`` (B, T) token ids -> ``(logits, loss)``, logits (B, T, V).

        ``loss`` is the mean cross-entropy against ``targets`` (B, T) (ids equal to -1 are
        ignored), or ``None`` without targets. With ``return_attention=True`` the attention
        is computed explicitly and ``(logits, loss, att)`` comes back, ``att`` of shape
        (n_layer, B, H, T, T).

        KV cache (chapter 09): with ``use_cache=True`` or a ``past_kv``, ``idx`` holds only
        the NEW positions and ``(logits, None, present_kv)`` comes back; see
        :meth:`forward_cached`.
        """
        if use_cache or past_kv is not None:
            if targets is not None or return_attention:
                raise ValueError("past_kv/use_cache is for generation: it cannot be combined "
                                 "with targets or return_attention")
            logits, present = self.forward_cached(idx, past_kv)
            return logits, None, present
        check_inputs(idx, targets, self.config)
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        atts = []
        for block in self.transformer.h:
            x, att = block(x, return_attention)
            atts.append(att)
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1).long(),
                                   ignore_index=-1)
        if return_attention:
            return logits, loss, torch.stack(atts)  # (n_layer, B, H, T, T)
        return logits, loss

    def forward_cached(self, idx: torch.Tensor, past_kv=None):
        """The forward pass with a KV cache: run only the NEW positions.

        ``idx`` (B, T) are the new token ids; ``past_kv`` is ``None`` (nothing seen yet) or
        what the previous call returned: one ``(k, v)`` per layer, each (B, H, P, C // H)
        for the P positions already seen. The new tokens get positions P .. P + T - 1.
        Returns ``(logits, present_kv)``: logits (B, T, V) and the cache of all P + T
        positions. The logits equal those of :meth:`forward` on the whole sequence (to
        float rounding). P + T may not exceed ``block_size``.
        """
        check_token_tensor(idx, vocab_size=self.config.vocab_size)
        B, T = idx.shape
        P = cached_length(past_kv, T, self.config.n_layer, self.config.block_size)
        pos = torch.arange(P, P + T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        present = []
        for i, block in enumerate(self.transformer.h):
            x, kv = block.forward_cached(x, None if past_kv is None else past_kv[i])
            present.append(kv)
        return self.lm_head(self.transformer.ln_f(x)), tuple(present)

    @torch.no_grad()
    def attention_maps(self, idx) -> torch.Tensor:
        """The attention weights of every layer and head for ONE sequence: ``idx`` ``(T,)``
        or ``(1, T)`` token ids -> ``(n_layer, n_head, T, T)`` (eval mode, no gradient)."""
        idx = torch.as_tensor(idx).reshape(1, -1)
        was_training = self.training
        self.eval()
        att = self(idx, return_attention=True)[2]
        self.train(was_training)
        return att[:, 0]

    @torch.no_grad()
    def residual_stds(self, idx) -> list[float]:
        """The standard deviation of the residual stream after each block for the batch
        ``idx`` (B, T): ``n_layer`` numbers (chapter 07 watches them grow with depth)."""
        out = []
        hooks = [b.register_forward_hook(lambda m, i, o: out.append(float(o[0].std())))
                 for b in self.transformer.h]
        try:
            self(torch.as_tensor(idx))
        finally:
            for h in hooks:
                h.remove()
        return out

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None):
        """Continue each row of ``idx`` (B, T) by ``max_new_tokens`` tokens -> (B, T + new).

        Each step feeds the last ``block_size`` tokens and draws the next token from the last
        logits with :func:`lmlib.sampling.sample` (``temperature``, ``top_k``; temperature 0
        is greedy). Chapter 09 builds more decoding methods, and a KV cache, in
        :func:`lmlib.sampling.generate`.
        """
        check_token_tensor(idx, vocab_size=self.config.vocab_size)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
                or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        was_training = self.training
        self.eval()
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.block_size:])
            nxt = sample(logits[:, -1, :], temperature=temperature, top_k=top_k, rng=generator)
            idx = torch.cat([idx, nxt[:, None].to(idx.dtype)], dim=1)
        self.train(was_training)
        return idx

    # --- real GPT-2 weights -------------------------------------------------------------
    _CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")

    @classmethod
    def from_hf_gpt2(cls, state_dict: dict, config: GPTConfig) -> GPT:
        """A GPT holding the weights of a Hugging Face GPT-2 state dict.

        Hugging Face's GPT-2 uses ``Conv1D`` layers, whose weight is ``(in, out)``: the
        transpose of ``nn.Linear``'s ``(out, in)``. Keys may carry the ``transformer.``
        prefix (``GPT2LMHeadModel``) or not (``GPT2Model``); the attention-mask buffers
        (``attn.bias``, ``attn.masked_bias``) are skipped. A missing tensor or a wrong
        shape is a ``ValueError`` naming the key.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict of tensors, got {type(state_dict).__name__}")
        model = cls(config)
        theirs = {}
        for key, value in state_dict.items():
            if key.endswith((".attn.bias", ".attn.masked_bias")):
                continue  # the causal-mask buffers, not parameters
            if key != "lm_head.weight" and not key.startswith("transformer."):
                key = "transformer." + key
            theirs[key] = torch.as_tensor(value)
        ours = model.state_dict()
        with torch.no_grad():
            for key, target in ours.items():
                if key == "lm_head.weight" and key not in theirs:
                    continue  # tied to transformer.wte.weight
                if key not in theirs:
                    raise ValueError(f"the GPT-2 state dict has no tensor {key!r} "
                                     f"(expected shape {tuple(target.shape)})")
                value = theirs[key]
                conv1d = key.endswith(cls._CONV1D)
                if conv1d:
                    value = value.t()
                if value.shape != target.shape:
                    note = " (after the Conv1D transpose)" if conv1d else ""
                    raise ValueError(f"tensor {key!r} has shape {tuple(value.shape)}{note} but "
                                     f"the config needs {tuple(target.shape)}")
                target.copy_(value)
        return model

