"""A Llama-style model in PyTorch: GPT-2 with the five changes of 2023's open models.

1. RMSNorm instead of LayerNorm (no mean, no bias);
2. rotary position embeddings (RoPE) on queries and keys instead of a learned position
   table;
3. a SwiGLU feed-forward (``down(silu(gate(x)) * up(x))``) instead of the GELU MLP;
4. grouped-query attention: ``n_kv_head`` key/value heads shared by ``n_head`` query
   heads, so the KV cache shrinks by ``n_head / n_kv_head``;
5. no biases anywhere, and a head that may be untied from the embedding.

The blocks are pre-norm, as GPT-2's. Parameter names are those of Hugging Face's
``LlamaForCausalLM`` (``model.layers.0.self_attn.q_proj.weight`` ...), so its weights load
with :meth:`Llama.from_hf_llama`; RoPE uses its "half" layout (``rotate_half``). The
interface is :class:`lmlib.models.GPT`'s: ``forward(idx, targets)``, ``return_attention``,
the KV cache (``forward_cached``), so the trainer, checkpoints, ``lmlib.sampling`` and the
attention explorer work unchanged.

Shapes: ``B`` batch, ``T`` time, ``C`` channels (``n_embd``), ``H`` query heads, ``H_kv``
key/value heads, ``d`` head width (``C // H``), ``V`` vocabulary.

The NumPy twin of the forward pass is :func:`lmlib.scratch.llama.llama_forward`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlib.data import check_token_tensor
from lmlib.models.gpt import cached_length, check_inputs

__all__ = ["LlamaConfig", "Llama", "RMSNorm", "LlamaAttention", "LlamaMLP", "LlamaBlock",
           "swiglu_hidden", "rotate_half", "apply_rope", "repeat_kv"]


def swiglu_hidden(n_embd: int, multiple_of: int = 8) -> int:
    """Llama's width for the SwiGLU layer: two thirds of GPT-2's ``4 * n_embd`` (it has three
    matrices instead of two, so the parameter count stays ``8 * n_embd ** 2``), rounded up
    to a multiple of ``multiple_of``."""
    hidden = int(2 * 4 * n_embd / 3)
    return multiple_of * math.ceil(hidden / multiple_of)


@dataclass
class LlamaConfig:
    """The shape of a Llama. GPT-2's names where GPT-2 has the same idea; Hugging Face's
    Llama names (``rope_theta``, ``rms_norm_eps``, ``tie_word_embeddings``) for the rest.
    ``n_kv_head=None`` means ``n_head`` (multi-head attention); ``n_inner=None`` means
    :func:`swiglu_hidden` of ``n_embd``. ``block_size`` is the longest context, for the
    causal mask and the rotation table: RoPE itself has no table to outgrow."""

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    n_kv_head: int | None = None
    n_inner: int | None = None
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False

    def __post_init__(self):
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        if self.n_inner is None and isinstance(self.n_embd, int):
            self.n_inner = swiglu_hidden(self.n_embd)
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "n_kv_head",
                     "n_inner"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"LlamaConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(f"LlamaConfig.n_embd ({self.n_embd}) must be n_head "
                             f"({self.n_head}) times an even head width (RoPE turns pairs)")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"LlamaConfig.n_head ({self.n_head}) must be a multiple of "
                             f"n_kv_head ({self.n_kv_head})")
        for name in ("rope_theta", "rms_norm_eps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"LlamaConfig.{name} must be a number > 0, got {value!r}")
        if not isinstance(self.tie_word_embeddings, bool):
            raise ValueError(f"LlamaConfig.tie_word_embeddings must be True or False, got "
                             f"{self.tie_word_embeddings!r}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last axis (computed in float32)."""

    def __init__(self, n_embd: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float() if dtype in (torch.float16, torch.bfloat16) else x
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(a, b) -> (-b, a)`` on the two halves of the last axis: a quarter turn of every
    pair ``(i, i + d/2)``."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (B, H, T, d) by the angles whose cosines and sines are ``cos``, ``sin``
    (T, d) (each angle written twice, once per half)."""
    return x * cos + rotate_half(x) * sin


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``(B, H_kv, T, d) -> (B, H_kv * n_rep, T, d)``, each key/value head repeated
    ``n_rep`` times in place (query heads ``j * n_rep`` .. ``(j + 1) * n_rep - 1`` share
    head ``j``)."""
    if n_rep == 1:
        return x
    return x.repeat_interleave(n_rep, dim=1)


class LlamaAttention(nn.Module):
    """Causal grouped-query attention with RoPE and no biases.

    ``q_proj`` makes ``H`` query heads, ``k_proj`` and ``v_proj`` only ``H_kv`` heads each;
    queries and keys are rotated by their positions, then every group of ``H / H_kv`` query
    heads attends to the same key/value head. The KV cache stores the ``H_kv`` heads.
    """

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.d = config.n_head, config.n_kv_head, config.head_dim
        C = config.n_embd
        self.q_proj = nn.Linear(C, self.n_head * self.d, bias=False)
        self.k_proj = nn.Linear(C, self.n_kv_head * self.d, bias=False)
        self.v_proj = nn.Linear(C, self.n_kv_head * self.d, bias=False)
        self.o_proj = nn.Linear(self.n_head * self.d, C, bias=False)

    def _qkv(self, x, cos, sin):
        """``x`` (B, T, C) -> rotated q (B, H, T, d), rotated k and v (B, H_kv, T, d)."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.d).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.d).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.d).transpose(1, 2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def _attend(self, q, k, v, mask, return_attention: bool):
        """q (B, H, T, d), k and v (B, H_kv, S, d), mask (T, S) or None (causal, S == T) ->
        ``(y, att)``, y (B, T, C)."""
        n_rep = self.n_head // self.n_kv_head
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
        att = None
        if return_attention:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.d)       # (B, H, T, S)
            att = F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
            y = att @ v
        elif mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        B, _, T, _ = q.shape
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_head * self.d)), att

    def forward(self, x, cos, sin, mask, return_attention: bool = False):
        """``x`` (B, T, C), ``cos``/``sin`` (T, d) for positions 0..T-1, ``mask`` the causal
        (T, T) -> ``(y, att)``: y (B, T, C), att (B, H, T, T) or None."""
        q, k, v = self._qkv(x, cos, sin)
        return self._attend(q, k, v, mask if return_attention else None, return_attention)

    def forward_cached(self, x, cos, sin, mask, layer_past=None):
        """New positions only: ``x`` (B, T, C) at positions P..P+T-1 (``cos``/``sin`` (T, d)
        for them, ``mask`` (T, P + T)); ``layer_past`` None or ``(k, v)`` (B, H_kv, P, d).
        Returns ``(y, (k, v))`` with the keys and values of all P + T positions."""
        q, k, v = self._qkv(x, cos, sin)
        if layer_past is not None:
            k = torch.cat([layer_past[0], k], dim=2)
            v = torch.cat([layer_past[1], v], dim=2)
        y, _ = self._attend(q, k, v, None if x.size(1) == k.size(2) else mask, False)
        return y, (k, v)


class LlamaMLP(nn.Module):
    """SwiGLU: ``down_proj(silu(gate_proj(x)) * up_proj(x))``, C -> n_inner -> C."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.n_embd, config.n_inner, bias=False)
        self.up_proj = nn.Linear(config.n_embd, config.n_inner, bias=False)
        self.down_proj = nn.Linear(config.n_inner, config.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    """Pre-norm: ``x + self_attn(input_layernorm(x))``, then
    ``x + mlp(post_attention_layernorm(x))``."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(config.n_embd, config.rms_norm_eps)
        self.self_attn = LlamaAttention(config)
        self.post_attention_layernorm = RMSNorm(config.n_embd, config.rms_norm_eps)
        self.mlp = LlamaMLP(config)

    def forward(self, x, cos, sin, mask, return_attention: bool = False):
        a, att = self.self_attn(self.input_layernorm(x), cos, sin, mask, return_attention)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), att

    def forward_cached(self, x, cos, sin, mask, layer_past=None):
        a, present = self.self_attn.forward_cached(self.input_layernorm(x), cos, sin, mask,
                                                   layer_past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class Llama(nn.Module):
    """A decoder-only Transformer with Llama's pieces and Hugging Face Llama's names.

    >>> model = Llama(LlamaConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4,
    ...                           n_embd=32, n_kv_head=2))
    >>> logits, loss = model(torch.zeros(1, 8, dtype=torch.long))
    >>> tuple(logits.shape)
    (1, 8, 65)
    """

    def __init__(self, config: LlamaConfig):
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"config must be a LlamaConfig, got {type(config).__name__}")
        self.config = config
        self.model = nn.ModuleDict(dict(
            embed_tokens=nn.Embedding(config.vocab_size, config.n_embd),  # (V, C)
            layers=nn.ModuleList([LlamaBlock(config) for _ in range(config.n_layer)]),
            norm=RMSNorm(config.n_embd, config.rms_norm_eps),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
        for name, p in self.named_parameters():  # as GPT-2: residual writes scaled by depth
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        # float64 on the CPU, not buffers: .to(dtype) of the model must not round them
        self._cos, self._sin = self._rope_table(config.block_size)  # (block_size, d)
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)

    def _rope_table(self, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Cosines and sines (T, d) of RoPE's angles ``t * theta ** (-2i / d)``, each angle
        twice (pair i is features i and i + d/2), in float64."""
        d = self.config.head_dim
        inv_freq = self.config.rope_theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        angles = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)  # (T, d/2)
        angles = torch.cat([angles, angles], dim=-1)                            # (T, d)
        return angles.cos(), angles.sin()

    def _rope(self, start: int, T: int, like: torch.Tensor):
        """``cos``, ``sin`` (T, d) for positions start..start+T-1, on ``like``'s device and
        in its dtype."""
        return tuple(t[start:start + T].to(device=like.device, dtype=like.dtype)
                     for t in (self._cos, self._sin))

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters (a tied matrix counted once); ``non_embedding`` leaves out
        the token embedding (and an untied head)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.model.embed_tokens.weight.numel()
            if not self.config.tie_word_embeddings:
                n -= self.lm_head.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                return_attention: bool = False, past_kv=None, use_cache: bool = False):
        """``idx`` (B, T) -> ``(logits, loss)``, logits (B, T, V); as :meth:`GPT.forward`:
        ``loss`` the mean cross-entropy against ``targets`` (ids -1 ignored) or None;
        ``return_attention=True`` adds the weights (n_layer, B, H, T, T); ``use_cache`` or
        ``past_kv`` runs :meth:`forward_cached` and returns ``(logits, None, present_kv)``."""
        if use_cache or past_kv is not None:
            if targets is not None or return_attention:
                raise ValueError("past_kv/use_cache is for generation: it cannot be combined "
                                 "with targets or return_attention")
            logits, present = self.forward_cached(idx, past_kv)
            return logits, None, present
        check_inputs(idx, targets, self.config)
        B, T = idx.shape
        x = self.model.embed_tokens(idx)
        cos, sin = self._rope(0, T, x)
        atts = []
        for block in self.model.layers:
            x, att = block(x, cos, sin, self.mask[:T, :T], return_attention)
            atts.append(att)
        logits = self.lm_head(self.model.norm(x))                    # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1).long(),
                                   ignore_index=-1)
        if return_attention:
            return logits, loss, torch.stack(atts)
        return logits, loss

    def forward_cached(self, idx: torch.Tensor, past_kv=None):
        """Run only the NEW positions ``idx`` (B, T) after the P cached ones: ``past_kv`` is
        None or one ``(k, v)`` per layer, each (B, H_kv, P, d). Returns ``(logits,
        present_kv)``, logits (B, T, V) equal to :meth:`forward`'s on the whole sequence.
        The cache holds ``H_kv`` heads, not ``H``: that is what grouped-query attention
        saves. P + T may not exceed ``block_size``."""
        check_token_tensor(idx, vocab_size=self.config.vocab_size)
        B, T = idx.shape
        P = cached_length(past_kv, T, self.config.n_layer, self.config.block_size)
        x = self.model.embed_tokens(idx)
        cos, sin = self._rope(P, T, x)
        mask = self.mask[P:P + T, :P + T]
        present = []
        for i, block in enumerate(self.model.layers):
            x, kv = block.forward_cached(x, cos, sin, mask,
                                         None if past_kv is None else past_kv[i])
            present.append(kv)
        return self.lm_head(self.model.norm(x)), tuple(present)

    @classmethod
    def from_hf_llama(cls, state_dict: dict, config: LlamaConfig) -> Llama:
        """A Llama holding the weights of a Hugging Face ``LlamaForCausalLM`` state dict
        (same names and layouts: nothing to transpose). The rotary buffers
        (``rotary_emb.inv_freq``) are skipped, the head is taken from the embedding when the
        config ties them. A missing tensor or a wrong shape is a ``ValueError`` naming the
        key. (Meta's original checkpoints use the interleaved RoPE layout: Hugging Face's
        conversion permutes the rows of ``q_proj`` and ``k_proj`` into the half layout.)"""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict of tensors, got "
                            f"{type(state_dict).__name__}")
        model = cls(config)
        theirs = {k: torch.as_tensor(v) for k, v in state_dict.items()
                  if not k.endswith("rotary_emb.inv_freq")}
        with torch.no_grad():
            for key, target in model.state_dict().items():
                if key == "lm_head.weight" and config.tie_word_embeddings:
                    continue  # the embedding, loaded under its own name
                if key not in theirs:
                    raise ValueError(f"the Llama state dict has no tensor {key!r} "
                                     f"(expected shape {tuple(target.shape)})")
                if theirs[key].shape != target.shape:
                    raise ValueError(f"tensor {key!r} has shape {tuple(theirs[key].shape)} but "
                                     f"the config needs {tuple(target.shape)}")
                target.copy_(theirs[key])
        return model
