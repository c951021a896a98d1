"""Decoding: from a model's next-token logits to text.

Every function here works on the LAST axis of a NumPy array or of a torch tensor and gives
back the same kind of object, so ``(V,)``, ``(B, V)`` or ``(B, T, V)`` logits all work.

The pipeline of :func:`sample`, in this order (the order of Hugging Face's warpers)::

    logits --temperature--> logits / T --top-k--> --top-p--> --min-p--> softmax --> draw

Filtered entries become ``-inf`` (probability exactly 0). The most likely token is never
filtered (on a tie for the top, at least one of the tied tokens survives). The rules are
those of Hugging Face's ``TopKLogitsWarper``, ``TopPLogitsWarper`` and ``MinPLogitsWarper``
(with ``min_tokens_to_keep=1``); only the order among EQUAL logits in top-p is lmlib's own:

- **top-k** keeps every token whose logit is ``>=`` the k-th largest logit. Tokens tied
  with the k-th one are all kept, so more than ``k`` tokens can survive.
- **top-p** sorts the tokens by logit in ascending order (a STABLE sort, so among equal
  logits the lower index comes first, i.e. counts as less likely), and removes a token
  when the probability of it plus every token before it is ``<= 1 - p``. Equivalently, a
  token is kept when the tokens ranked above it hold less than ``p``: the smallest set of
  top tokens whose mass reaches ``p``. Among tied tokens at the boundary, the higher
  indices are kept first. (Hugging Face sorts with ``torch.sort``, which is not stable,
  so which of several equal logits it keeps at the boundary is unspecified; without ties
  the two agree.) ``p = 1`` keeps everything (Hugging Face adds no warper then).
- **min-p** keeps every token whose probability is ``>= p * (largest probability)``.

Decoding a whole text: :func:`generate` (greedy or sampled, with a KV cache when the model
has one; also a stream of tokens) and :func:`beam_search`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from lmlib.data import check_ids

__all__ = ["apply_temperature", "top_k_filter", "top_p_filter", "min_p_filter",
           "repetition_penalty", "softmax", "sample", "generate", "beam_search",
           "distinct_n"]

NEG_INF = float("-inf")


# ----------------------------------------------------------------------------- checking input

def _as_logits(logits, name: str = "logits"):
    """``logits`` as a float NumPy array or a floating torch tensor, checked: at least one
    axis, a non-empty last axis, no NaN, no ``+inf`` (``-inf`` means "impossible")."""
    if isinstance(logits, torch.Tensor):
        if not logits.is_floating_point():
            logits = logits.float()
        bad_nan = bool(torch.isnan(logits).any())
        bad_inf = bool(torch.isposinf(logits).any())
    else:
        if isinstance(logits, (str, bytes)):
            raise TypeError(f"{name} must be a NumPy array or a torch tensor of numbers, got str")
        try:
            logits = np.asarray(logits)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a NumPy array or a torch tensor of numbers") from err
        if logits.dtype == object or not (np.issubdtype(logits.dtype, np.number)
                                          or logits.dtype == np.bool_):
            raise TypeError(f"{name} must hold numbers, got dtype {logits.dtype}")
        if not np.issubdtype(logits.dtype, np.floating):
            logits = logits.astype(np.float64)
        bad_nan = bool(np.isnan(logits).any())
        bad_inf = bool(np.isposinf(logits).any())
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty last axis (the vocabulary), got "
                         f"shape {tuple(logits.shape)}")
    if bad_nan:
        raise ValueError(f"{name} contains NaN: the model's output is broken (check the "
                         f"input ids, the weights, and the learning rate)")
    if bad_inf:
        raise ValueError(f"{name} contains +inf; logits must be finite (or -inf for a token "
                         f"that is impossible)")
    return logits


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    return value


def _check_temperature(temperature, allow_zero: bool) -> float:
    t = _number(temperature, "temperature")
    if t < 0 or (t == 0 and not allow_zero) or math.isinf(t):
        what = ">= 0 (0 means greedy)" if allow_zero else "> 0"
        hint = "" if allow_zero else "; for greedy decoding use sample(..., temperature=0)"
        raise ValueError(f"temperature must be a finite number {what}, got {temperature!r}{hint}")
    return t


def _check_k(k, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 1, got {type(k).__name__} {k!r}")
    if k < 1:
        raise ValueError(f"{name} must be an int >= 1 (the number of tokens kept), got {k}")
    return int(k)


def _check_p(p, name: str = "p") -> float:
    p = _number(p, name)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {p!r}")
    return p


def _check_penalty(penalty) -> float:
    penalty = _number(penalty, "penalty")
    if not 0.0 < penalty < math.inf:
        raise ValueError(f"penalty must be a finite number > 0 (1 = no penalty, > 1 "
                         f"discourages repeats), got {penalty!r}")
    return penalty


def _all_impossible(logits) -> bool:
    """True when some row has every entry ``-inf`` (no distribution to draw from)."""
    if isinstance(logits, torch.Tensor):
        return bool(torch.isneginf(logits).all(dim=-1).any())
    return bool(np.isneginf(logits).all(axis=-1).any())


# ----------------------------------------------------------------------------- the pieces

def softmax(logits):
    """Probabilities along the last axis, NumPy or torch; ``-inf`` gives exactly 0."""
    logits = _as_logits(logits)
    if _all_impossible(logits):
        raise ValueError("logits: every entry of some row is -inf, so there is no "
                         "distribution (softmax would be NaN)")
    if isinstance(logits, torch.Tensor):
        return torch.softmax(logits, dim=-1)
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def apply_temperature(logits, temperature: float):
    """``logits / temperature`` (temperature > 0).

    The temperature divides the LOGITS, before the softmax: ``T < 1`` sharpens the
    distribution, ``T > 1`` flattens it, ``T -> 0`` tends to greedy decoding and
    ``T -> inf`` to the uniform distribution over the tokens that are possible.
    """
    logits = _as_logits(logits)
    t = _check_temperature(temperature, allow_zero=False)
    return logits / t


def top_k_filter(logits, k: int):
    """Keep the ``k`` largest logits of the last axis, set the others to ``-inf``.

    Ties: every token whose logit equals the k-th largest is kept too (more than ``k``
    may survive), as in Hugging Face's ``TopKLogitsWarper``. ``k >= V`` keeps everything.
    """
    logits = _as_logits(logits)
    k = _check_k(k)
    V = logits.shape[-1]
    if k >= V:
        return logits.clone() if isinstance(logits, torch.Tensor) else logits.copy()
    if isinstance(logits, torch.Tensor):
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        return logits.masked_fill(logits < kth, NEG_INF)
    kth = np.sort(logits, axis=-1)[..., V - k, None]   # the k-th largest, shape (..., 1)
    return np.where(logits < kth, NEG_INF, logits).astype(logits.dtype, copy=False)


def top_p_filter(logits, p: float):
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability
    reaches ``p`` (``0 < p <= 1``); the others become ``-inf``.

    Rule (Hugging Face's ``TopPLogitsWarper``): sort the logits ascending, take the
    cumulative softmax, remove the entries whose cumulative probability is ``<= 1 - p``;
    the most likely token is always kept. lmlib's sort is stable, so among equal logits the
    lower index is removed first (Hugging Face's sort is not stable: on such ties its
    choice is unspecified). ``p = 1`` keeps every token.
    """
    logits = _as_logits(logits)
    p = _check_p(p)
    if p == 1.0:
        return logits.clone() if isinstance(logits, torch.Tensor) else logits.copy()
    if isinstance(logits, torch.Tensor):
        sorted_logits, order = torch.sort(logits, dim=-1, descending=False, stable=True)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        remove_sorted = cum <= 1 - p
        remove_sorted[..., -1] = False                 # the most likely token stays
        remove = remove_sorted.scatter(-1, order, remove_sorted)
        return logits.masked_fill(remove, NEG_INF)
    order = np.argsort(logits, axis=-1, kind="stable")
    sorted_logits = np.take_along_axis(logits, order, axis=-1)
    cum = np.cumsum(softmax(sorted_logits), axis=-1)
    remove_sorted = cum <= 1 - p
    remove_sorted[..., -1] = False
    remove = np.empty_like(remove_sorted)
    np.put_along_axis(remove, order, remove_sorted, axis=-1)
    return np.where(remove, NEG_INF, logits).astype(logits.dtype, copy=False)


def min_p_filter(logits, p: float):
    """Min-p filtering: keep the tokens whose probability is at least ``p`` times the
    largest probability (``0 < p <= 1``); the others become ``-inf``.

    On a peaked distribution the bar is high (few tokens survive); on a flat one it is low
    (many survive). Ties with the bar are kept (Hugging Face's ``MinPLogitsWarper``).
    """
    logits = _as_logits(logits)
    p = _check_p(p)
    probs = softmax(logits)
    if isinstance(logits, torch.Tensor):
        bar = p * probs.amax(dim=-1, keepdim=True)
        return logits.masked_fill(probs < bar, NEG_INF)
    bar = p * probs.max(axis=-1, keepdims=True)
    return np.where(probs < bar, NEG_INF, logits).astype(logits.dtype, copy=False)


def repetition_penalty(logits, previous_ids, penalty: float):
    """The repetition penalty with Hugging Face's sign rule: for every token id in
    ``previous_ids``, divide its logit by ``penalty`` when positive and multiply it when
    negative (each token once, however often it occurred), which makes the token less
    likely for ``penalty > 1``. (The CTRL paper, Keskar et al. 2019, divides the logit
    whatever its sign, which makes a token with a negative logit MORE likely.)

    ``previous_ids``: a 1-D sequence of ids, applied to every row of ``logits``, or an
    array of shape ``logits.shape[:-1] + (n,)`` with one list per row.
    """
    logits = _as_logits(logits)
    penalty = _check_penalty(penalty)
    V = logits.shape[-1]
    is_torch = isinstance(logits, torch.Tensor)
    if isinstance(previous_ids, torch.Tensor):
        ids = previous_ids.detach().cpu().numpy()
    else:
        try:
            ids = np.asarray(list(previous_ids) if not isinstance(previous_ids, np.ndarray)
                             else previous_ids)
        except TypeError:
            raise TypeError(f"previous_ids must be a sequence of token ids, got "
                            f"{type(previous_ids).__name__}") from None
    if ids.size == 0:
        return logits.clone() if is_torch else logits.copy()
    ids = check_ids(ids, "previous_ids", vocab_size=V)
    seen = np.zeros(tuple(logits.shape), dtype=bool)
    if ids.ndim == 1:
        seen[..., ids] = True
    elif ids.shape[:-1] == tuple(logits.shape[:-1]):
        np.put_along_axis(seen, ids.astype(np.int64), True, axis=-1)
    else:
        raise ValueError(f"previous_ids must have shape (n,) or {tuple(logits.shape[:-1])} + "
                         f"(n,) to match logits of shape {tuple(logits.shape)}, got {ids.shape}")
    if is_torch:
        seen_t = torch.from_numpy(seen).to(logits.device)
        penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
        return torch.where(seen_t, penalised, logits)
    penalised = np.where(logits > 0, logits / penalty, logits * penalty)
    return np.where(seen, penalised, logits).astype(logits.dtype, copy=False)


def _filter(logits, top_k, top_p, min_p):
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    if min_p is not None:
        logits = min_p_filter(logits, min_p)
    return logits


def _check_sampling(temperature, top_k, top_p, min_p) -> float:
    t = _check_temperature(temperature, allow_zero=True)
    if top_k is not None:
        _check_k(top_k, "top_k")
    if top_p is not None:
        _check_p(top_p, "top_p")
    if min_p is not None:
        _check_p(min_p, "min_p")
    return t


def sample(logits, *, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, min_p: float | None = None, rng=None):
    """Draw one token id per row of ``logits`` (last axis = vocabulary).

    Order: temperature -> top-k -> top-p -> min-p -> softmax -> draw. ``temperature=0``
    is greedy decoding: the index of the largest logit (the first one on a tie).

    ``rng``: for NumPy logits a ``np.random.Generator`` or an int seed (``None``: NumPy's
    global generator, seeded by ``lmlib.setup``); for torch logits a ``torch.Generator``
    or an int seed (``None``: torch's global generator).

    Returns an ``int`` for NumPy ``(V,)`` logits, else an int64 array of shape
    ``logits.shape[:-1]``; for torch logits a long tensor of shape ``logits.shape[:-1]``.
    """
    logits = _as_logits(logits)
    t = _check_sampling(temperature, top_k, top_p, min_p)
    if _all_impossible(logits):
        raise ValueError("logits: every entry of some row is -inf; there is nothing to sample")
    is_torch = isinstance(logits, torch.Tensor)
    if t == 0:
        ids = logits.argmax(dim=-1) if is_torch else logits.argmax(axis=-1)
        return ids if is_torch or ids.ndim else int(ids)
    # shift so that the largest logit is 0 (same distribution): logits / T cannot overflow
    # (differences beyond the float range become -inf, i.e. probability 0)
    top = logits.amax(dim=-1, keepdim=True) if is_torch else logits.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):
        probs = softmax(_filter(apply_temperature(logits - top, t), top_k, top_p, min_p))
    if is_torch:
        if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
            rng = torch.Generator(device=probs.device).manual_seed(int(rng))
        elif rng is not None and not isinstance(rng, torch.Generator):
            raise TypeError(f"rng must be None, an int seed or a torch.Generator for torch "
                            f"logits, got {type(rng).__name__}")
        flat = probs.reshape(-1, probs.shape[-1])
        ids = torch.multinomial(flat, 1, generator=rng).reshape(probs.shape[:-1])
        return ids
    if rng is None:
        u = 1.0 - np.random.random_sample(probs.shape[:-1] + (1,))
    elif isinstance(rng, np.random.Generator):
        u = 1.0 - rng.random(probs.shape[:-1] + (1,))
    elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        u = 1.0 - np.random.default_rng(int(rng)).random(probs.shape[:-1] + (1,))
    else:
        raise TypeError(f"rng must be None, an int seed or a np.random.Generator for NumPy "
                        f"logits, got {type(rng).__name__}")
    # inverse CDF: the first token whose cumulative probability reaches u in (0, 1]
    cum = np.cumsum(probs, axis=-1)
    ids = np.minimum((cum < u * cum[..., -1:]).sum(axis=-1), probs.shape[-1] - 1)
    return int(ids) if ids.ndim == 0 else ids.astype(np.int64)


# ----------------------------------------------------------------------------- whole texts

def _prompt_list(prompt_ids, vocab_size: int | None) -> list[int]:
    if isinstance(prompt_ids, str):
        raise TypeError("prompt_ids must be token ids, not a str: encode the text first "
                        "(e.g. tokenizer.encode(text))")
    if isinstance(prompt_ids, torch.Tensor):
        if prompt_ids.dim() == 2 and prompt_ids.shape[0] == 1:
            prompt_ids = prompt_ids[0]
        if prompt_ids.dim() != 1:
            raise ValueError(f"prompt_ids must be one sequence of shape (T,) or (1, T), got "
                             f"shape {tuple(prompt_ids.shape)}")
        prompt_ids = prompt_ids.tolist()
    arr = np.asarray(prompt_ids)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ValueError(f"prompt_ids must be one sequence of token ids, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("prompt_ids is empty: give at least one token to start from (for a "
                         "character model, e.g. the id of '\\n')")
    return [int(i) for i in check_ids(arr, "prompt_ids", vocab_size=vocab_size)]


def _stop_ids(stop_ids) -> frozenset:
    """``stop_ids`` checked: an iterable of int token ids (not None, not floats)."""
    if isinstance(stop_ids, (str, bytes)) or not isinstance(stop_ids, Iterable):
        raise TypeError(f"stop_ids must be an iterable of int token ids, got "
                        f"{type(stop_ids).__name__} {stop_ids!r}")
    stops = stop_ids.tolist() if hasattr(stop_ids, "tolist") else list(stop_ids)
    bad = [s for s in stops if isinstance(s, bool) or not isinstance(s, numbers.Integral)]
    if bad:
        raise TypeError(f"stop_ids must hold int token ids, got {bad[0]!r} "
                        f"({type(bad[0]).__name__}) in {stops!r}")
    return frozenset(int(s) for s in stops)


def _model_facts(model) -> tuple[int | None, int | None, torch.device]:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module language model, got "
                        f"{type(model).__name__}")
    config = getattr(model, "config", None)
    block = getattr(config, "block_size", None)
    vocab = getattr(config, "vocab_size", None)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    return block, vocab, device


def _supports_cache(model) -> bool:
    return callable(getattr(model, "forward_cached", None))


def _last_logits(model, context: list[int], device) -> torch.Tensor:
    idx = torch.tensor([context], dtype=torch.long, device=device)
    logits = model(idx)[0]
    return logits[0, -1].float()                        # (V,)


class _Decoder:
    """Next-token logits for a growing sequence, with or without the model's KV cache.

    Without the cache, every step runs the model on the last ``block_size`` tokens. With
    it, the prompt (cropped to ``block_size``) is run once, then each step feeds only the
    newest token and reuses the keys and values stored for the earlier ones. A model with
    learned positions cannot see past ``block_size``: when the cache is full, it is rebuilt
    from the last ``block_size // 2`` tokens (a sliding window), so beyond ``block_size``
    the cached and uncached paths see different contexts.
    """

    def __init__(self, model, use_cache: bool):
        self.model = model
        self.block, _, self.device = _model_facts(model)
        self.use_cache = bool(use_cache) and _supports_cache(model)
        self.past = None
        self.cached_len = 0                              # tokens the cache holds

    def _prefill(self, ids: list[int]) -> torch.Tensor:
        context = ids[-self.block:] if self.block else ids
        idx = torch.tensor([context], dtype=torch.long, device=self.device)
        logits, self.past = self.model.forward_cached(idx)
        self.cached_len = len(context)
        return logits[0, -1].float()

    def first(self, ids: list[int]) -> torch.Tensor:
        if self.use_cache:
            return self._prefill(ids)
        return _last_logits(self.model, ids[-self.block:] if self.block else ids, self.device)

    def next(self, ids: list[int]) -> torch.Tensor:
        """Logits after ``ids``, whose last token is new since the previous call."""
        if not self.use_cache:
            return _last_logits(self.model, ids[-self.block:] if self.block else ids,
                                self.device)
        if self.block and self.cached_len >= self.block:  # full: slide the window
            return self._prefill(ids[-(self.block // 2):] if self.block > 1 else ids[-1:])
        idx = torch.tensor([[ids[-1]]], dtype=torch.long, device=self.device)
        logits, self.past = self.model.forward_cached(idx, self.past)
        self.cached_len += 1
        return logits[0, -1].float()


def _stream(model, ids: list[int], max_new_tokens: int, temperature, top_k, top_p, min_p,
            penalty, stop_ids: frozenset, seed, use_cache) -> Iterator[int]:
    was_training = model.training
    model.eval()
    try:
        decoder = _Decoder(model, use_cache)
        gen = None
        if seed is not None:
            gen = torch.Generator(device=decoder.device).manual_seed(int(seed))
        with torch.no_grad():
            for step in range(max_new_tokens):
                logits = decoder.first(ids) if step == 0 else decoder.next(ids)
                if penalty is not None:
                    logits = repetition_penalty(logits, ids, penalty)
                nxt = int(sample(logits, temperature=temperature, top_k=top_k, top_p=top_p,
                                 min_p=min_p, rng=gen))
                ids.append(nxt)
                yield nxt
                if nxt in stop_ids:
                    return
    finally:
        model.train(was_training)


def generate(model, prompt_ids, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, min_p: float | None = None,
             repetition_penalty: float | None = None, stop_ids: Iterable[int] = (),
             seed: int | None = None, use_cache: bool = True, stream: bool = False):
    """Continue ``prompt_ids`` by up to ``max_new_tokens`` tokens.

    Args:
        model: a language model whose ``forward(idx)`` returns ``(logits, ...)`` with logits
            ``(1, T, V)``; ``model.config.block_size`` (if any) is its longest context.
        prompt_ids: one sequence of token ids (list, 1-D array, ``(T,)`` or ``(1, T)``
            tensor), at least one token. A prompt longer than ``block_size`` is CROPPED:
            the model sees its last ``block_size`` tokens (the output still starts with the
            whole prompt).
        temperature, top_k, top_p, min_p: as in :func:`sample`; ``temperature=0`` is greedy.
        repetition_penalty: the repetition penalty (see :func:`repetition_penalty`) over every
            token of the sequence so far, or ``None``.
        stop_ids: generation ends right after one of these tokens (which is included).
        seed: an int makes the draws repeatable (its own ``torch.Generator``); ``None``
            uses torch's global generator.
        use_cache: use the model's KV cache when it has one (``lmlib.models.GPT`` does);
            other models run on the whole context at each step. Within ``block_size`` both
            give the same tokens; beyond it the cache slides (see ``_Decoder``).
        stream: ``True`` returns an iterator that yields each new token id as it is made.

    Returns: the list of ids, prompt then new tokens (or, with ``stream=True``, an
    iterator over the new ids).
    """
    block, vocab, _ = _model_facts(model)
    ids = _prompt_list(prompt_ids, vocab)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) \
            or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    _check_sampling(temperature, top_k, top_p, min_p)
    if repetition_penalty is not None:
        _check_penalty(repetition_penalty)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be None or an int, got {type(seed).__name__}")
    stops = _stop_ids(stop_ids)
    tokens = _stream(model, ids, int(max_new_tokens), temperature, top_k, top_p, min_p,
                     repetition_penalty, stops, seed, use_cache)
    if stream:
        return tokens
    for _ in tokens:
        pass
    return ids


def _check_beam(beam_width, max_new_tokens, length_penalty) -> tuple[int, float]:
    for name, value in (("beam_width", beam_width), ("max_new_tokens", max_new_tokens)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    lp = _number(length_penalty, "length_penalty")
    if math.isinf(lp):
        raise ValueError(f"length_penalty must be finite, got {length_penalty!r}")
    return int(beam_width), lp


def beam_search(model, prompt_ids, beam_width: int, max_new_tokens: int,
                length_penalty: float = 1.0, *, stop_ids: Iterable[int] = (),
                return_all: bool = False):
    """Beam search: keep the ``beam_width`` continuations with the highest total
    log-probability, extending each by every token at each step.

    A finished hypothesis (one that ends with a token of ``stop_ids``, or that reached
    ``max_new_tokens``) is scored ``sum of log-probs / (new tokens) ** length_penalty``
    (Hugging Face's rule): ``length_penalty > 0`` favours longer texts, ``< 0`` shorter.
    The search stops after ``max_new_tokens``, or earlier once ``beam_width`` hypotheses
    have finished and the best live beam, scored at its current length, does not beat the
    worst of them (Hugging Face's default stopping rule).

    Returns the best sequence (prompt + new ids) as a list; with ``return_all=True`` a
    list of ``(ids, score)`` for every finished hypothesis, best first.
    """
    block, vocab, device = _model_facts(model)
    ids = _prompt_list(prompt_ids, vocab)
    W, lp = _check_beam(beam_width, max_new_tokens, length_penalty)
    stops = _stop_ids(stop_ids)

    def final(score: float, n_new: int) -> float:
        return score / (n_new ** lp)

    beams: list[tuple[list[int], float]] = [(ids, 0.0)]
    finished: list[tuple[list[int], float]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for step in range(1, int(max_new_tokens) + 1):
                ctx = torch.tensor([b[0][-block:] if block else b[0] for b in beams],
                                   dtype=torch.long, device=device)      # (beams, T)
                logp = F.log_softmax(model(ctx)[0][:, -1].double(), dim=-1).cpu()  # (beams, V)
                total = torch.tensor([b[1] for b in beams], dtype=torch.float64)[:, None] + logp
                flat = total.flatten()
                order = torch.argsort(flat, descending=True, stable=True)[:2 * W]
                V = logp.shape[-1]
                alive = []
                for j in order.tolist():
                    b, tok = divmod(j, V)
                    if flat[j].item() == NEG_INF:
                        break
                    seq, score = beams[b][0] + [tok], flat[j].item()
                    if tok in stops:
                        finished.append((seq, final(score, step)))
                    else:
                        alive.append((seq, score))
                    if len(alive) == W:
                        break
                beams = alive
                if not beams:
                    break
                if len(finished) >= W:
                    worst = sorted(s for _, s in finished)[-W]
                    best_alive = max(final(s, step) for _, s in beams)
                    if best_alive <= worst:
                        break
            finished.extend((seq, final(s, len(seq) - len(ids))) for seq, s in beams)
    finally:
        model.train(was_training)
    finished.sort(key=lambda h: -h[1])
    return finished if return_all else finished[0][0]


def distinct_n(ids, n: int) -> float:
    """Diversity of a text: distinct n-grams / all n-grams (1.0 = no n-gram repeats; near
    0 = the same n-gram over and over).

    ``ids``: one sequence of token ids, or a list of sequences (several samples): their
    n-grams, taken within each sequence, are pooled, so repeats ACROSS samples count too.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    seqs = list(ids.tolist() if hasattr(ids, "tolist") else ids)
    if not seqs or not isinstance(seqs[0], (list, tuple, np.ndarray, torch.Tensor)):
        seqs = [seqs]
    grams = []
    for seq in seqs:
        seq = list(seq.tolist() if hasattr(seq, "tolist") else seq)
        grams += [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]
    if not grams:
        raise ValueError(f"ids is too short for {n}-grams")
    return len(set(grams)) / len(grams)
