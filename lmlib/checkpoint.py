"""Checkpoints: a model's weights in a safetensors file, its class and config in the metadata.

    from lmlib.checkpoint import save_checkpoint, load_checkpoint
    save_checkpoint(model, "gpt.safetensors", extra={"itos": tok.itos})
    model, extra = load_checkpoint("gpt.safetensors")     # rebuilt from the metadata

One writer, :func:`atomic_save` (a temp file in the same folder, flushed to disk, then
``os.replace``: a crash never leaves half a file behind), and one reader,
:func:`read_safetensors` (the file opened once; every error a ``ValueError`` or
``FileNotFoundError`` naming the path). Nothing is ever unpickled.

This module sits at the bottom of lmlib: it imports no other lmlib module, except
:mod:`lmlib.models` to rebuild a model by class name, and only when asked to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch
import torch.nn as nn

__all__ = ["atomic_save", "read_safetensors", "save_checkpoint", "load_checkpoint",
           "load_state_dict_file", "export_checkpoint", "state_path", "read_json", "config_diff",
           "save_train_state", "load_train_state"]


def atomic_save(tensors: dict[str, torch.Tensor], path, metadata: dict[str, str]) -> Path:
    """Write ``tensors`` (and the string ``metadata``) to the safetensors file ``path``.

    The bytes go to a temp file in the same folder, are flushed to disk (fsync), and the
    temp file then replaces ``path`` in one step (``os.replace``), so a reader sees either
    the old file or the new one, never a half-written one.
    """
    from safetensors.torch import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                metadata=metadata)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


def read_safetensors(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of the safetensors file ``path``, read in one opening.

    A missing file is a ``FileNotFoundError``; a file that is not a complete safetensors
    file (truncated, corrupted, something else) is a ``ValueError``; both name the path.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as err:  # safetensors raises its own SafetensorError (or OSError)
        raise ValueError(f"{path} is not a readable safetensors checkpoint (corrupted or "
                         f"truncated?): {type(err).__name__}: {err}") from err
    return tensors, metadata


def read_json(metadata: dict[str, str], key: str, path, default=None):
    """The JSON value stored under ``key`` in a checkpoint's metadata (``default`` when the
    key is absent); text that is not JSON is a ``ValueError`` naming ``path`` and ``key``."""
    text = metadata.get(key)
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: metadata {key!r} is not valid JSON ({err}): "
                         f"{text[:80]!r}") from err


def _unique_state(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The model's state dict without duplicates of tied tensors, and alias -> kept name."""
    tensors, aliases, seen = {}, {}, {}
    for name, t in model.state_dict().items():
        key = (t.data_ptr(), t.shape, t.dtype) if t.numel() else None
        if key is not None and key in seen:
            aliases[name] = seen[key]
            continue
        if key is not None:
            seen[key] = name
        tensors[name] = t
    return tensors, aliases


def _model_config(model: nn.Module) -> dict | None:
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict"):  # GPTConfig leaves out defaults
        return config.to_dict()
    if config is not None and dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    return None


def save_checkpoint(model: nn.Module, path, *, dtype: torch.dtype | None = None,
                    extra: dict | None = None) -> Path:
    """Save ``model``'s weights to ``path`` (safetensors, atomically).

    The metadata holds the model's class name, its config as JSON (when ``model.config`` is a
    dataclass) and ``extra`` (JSON-able values, e.g. the step, the val loss, a vocabulary).
    ``dtype=torch.float16`` halves the file; loading converts back to the model's dtype.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    tensors, aliases = _unique_state(model)
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    config = _model_config(model)
    metadata = {
        "format": "lmlib-checkpoint-1",
        "model_class": type(model).__name__,
        "config_class": type(model.config).__name__ if config is not None else "",
        "config": json.dumps(config),
        "tied": json.dumps(aliases),
        "extra": json.dumps(extra or {}),
    }
    return atomic_save(tensors, path, metadata)


def config_diff(saved: dict | None, model: nn.Module, ignore: tuple[str, ...] = ()) -> dict:
    """``{field: (saved value, model's value)}`` where a saved config differs from
    ``model.config``. A field the file lacks (saved before the field existed) counts as its
    default value."""
    mine = _model_config(model)
    if saved is None or mine is None:
        return {}
    defaults = {f.name: f.default for f in dataclasses.fields(model.config)
                if f.default is not dataclasses.MISSING}
    saved, mine = ({**defaults, **saved}, {**defaults, **mine})
    return {k: (saved.get(k), mine.get(k)) for k in sorted(set(saved) | set(mine))
            if saved.get(k) != mine.get(k) and k not in ignore}


def _load_tensors(model: nn.Module, tensors: dict, metadata: dict, path,
                  ignore: tuple[str, ...] = ()) -> None:
    """Copy ``tensors`` into ``model`` after checking config, names and shapes."""
    diff = config_diff(read_json(metadata, "config", path), model, ignore)
    if diff:
        raise ValueError(f"{path} was saved for another config; differences "
                         f"(checkpoint, model): {diff}")
    own, aliases = _unique_state(model)
    for key, target in own.items():
        if key not in tensors:
            raise ValueError(f"{path} has no tensor {key!r} (the model needs shape "
                             f"{tuple(target.shape)})")
        if tuple(tensors[key].shape) != tuple(target.shape):
            raise ValueError(f"tensor {key!r} in {path} has shape {tuple(tensors[key].shape)}, "
                             f"the model needs {tuple(target.shape)}")
    unexpected = sorted(set(tensors) - set(own) - set(aliases))
    if unexpected:
        raise ValueError(f"{path} has tensors the model does not: {unexpected[:5]}")
    with torch.no_grad():
        for key, target in own.items():
            target.copy_(tensors[key].to(target.dtype))


def load_state_dict_file(model: nn.Module, path, *, prefix: str = "",
                         ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """Load tensors saved by :func:`save_checkpoint` into ``model``; return the metadata.

    A config that differs from ``model.config`` (in a field not named in ``ignore``, such as
    ``"dropout"``, which changes no tensor), a missing or unexpected tensor, or a tensor of
    another shape is a ``ValueError`` naming the path and the key (and the shapes).
    """
    tensors, metadata = read_safetensors(path)
    if prefix:
        tensors = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    _load_tensors(model, tensors, metadata, path, ignore)
    return metadata


def _build_model(metadata: dict, path) -> nn.Module:
    """The model a checkpoint's metadata names: class and config class from lmlib.models."""
    import lmlib.models as models

    names = (metadata.get("model_class"), metadata.get("config_class"))
    try:
        model_cls, config_cls = (getattr(models, n) for n in names)
    except (AttributeError, TypeError) as err:
        raise ValueError(f"{path} does not name an lmlib.models class and config "
                         f"(model_class, config_class = {names}); pass the model to load "
                         f"into") from err
    config = read_json(metadata, "config", path)
    try:
        return model_cls(config_cls(**config))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: its config {config} does not build a {names[0]}: {err}") \
            from err


def load_checkpoint(path, model: nn.Module | None = None, *, ignore: tuple[str, ...] = ()):
    """Load a checkpoint written by :func:`save_checkpoint`; returns ``(model, extra)``.

    Without ``model``, the model is built from the metadata: its class and config class
    are looked up in :mod:`lmlib.models` (e.g. ``GPT`` with ``GPTConfig``) and the model
    comes back in eval mode (call ``.train()`` to train it further). The file is opened once.
    """
    tensors, metadata = read_safetensors(path)
    if model is None:
        model = _build_model(metadata, path).eval()
    _load_tensors(model, tensors, metadata, path, ignore)
    return model, read_json(metadata, "extra", path, default={})


def export_checkpoint(src, dst, *, dtype: torch.dtype | None = torch.float16,
                      extra: dict | None = None) -> Path:
    """Copy the model checkpoint ``src`` to ``dst`` (e.g. to ship it), stored in ``dtype``
    (half precision by default: half the bytes), with ``extra`` merged into its metadata."""
    model, old = load_checkpoint(src)
    return save_checkpoint(model, dst, dtype=dtype, extra=dict(old, **(extra or {})))


def state_path(checkpoint) -> Path:
    """Where the resumable training state of ``checkpoint`` lives: ``x.safetensors`` ->
    ``x.state.safetensors``."""
    p = Path(checkpoint)
    stem = p.name[:-len(".safetensors")] if p.name.endswith(".safetensors") else p.name
    return p.with_name(stem + ".state.safetensors")


# --- the resumable state of a training run ---------------------------------------------

STATE_FORMAT = "lmlib-train-state-1"
# TrainConfig fields that may change when a run is resumed (they do not change its numbers,
# or, for steps and eval_interval, only extend or reschedule it)
RESUMABLE_CHANGES = ("steps", "eval_interval", "device", "micro_batches", "amp", "compile")


def save_train_state(path, model: nn.Module, optimizer, *, step: int, rng, history: dict,
                     train_config: dict) -> Path:
    """Everything a run needs to continue exactly (atomically, next to the checkpoint):
    the weights, the optimizer's moments, torch's and NumPy's generator states, the step,
    the history and the training config."""
    tensors = {f"model.{k}": v for k, v in _unique_state(model)[0].items()}
    for pid, st in optimizer.state_dict()["state"].items():
        for name, value in st.items():
            tensors[f"optim.{pid}.{name}"] = torch.as_tensor(value)
    tensors["rng.torch"] = torch.get_rng_state()
    metadata = {
        "format": STATE_FORMAT,
        "config": json.dumps(_model_config(model)),
        "train_config": json.dumps(train_config),
        "step": str(step),
        "history": json.dumps(history),
        "rng.numpy": json.dumps(rng.bit_generator.state),
    }
    return atomic_save(tensors, path, metadata)


def load_train_state(path, model: nn.Module, optimizer, *, rng,
                     train_config: dict) -> tuple[int, dict]:
    """Restore what :func:`save_train_state` wrote into ``model``, ``optimizer``, torch's
    generator and ``rng``; returns ``(step, history)``. A state written for another model
    config, or another training config (beyond :data:`RESUMABLE_CHANGES`), is a
    ``ValueError`` naming the path and the differences."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != STATE_FORMAT:
        raise ValueError(f"{path} is not an lmlib training state")
    saved = read_json(metadata, "train_config", path, default={})
    mine = json.loads(json.dumps(train_config))  # tuples as lists, as saved
    diff = {k: (saved.get(k), mine.get(k)) for k in mine
            if k not in RESUMABLE_CHANGES and saved.get(k) != mine.get(k)}
    if diff:
        raise ValueError(f"{path} was written for another training config; differences "
                         f"(state, now): {diff}")
    model_diff = config_diff(read_json(metadata, "config", path), model)
    if model_diff:
        raise ValueError(f"{path} was saved for another model config; differences "
                         f"(state, model): {model_diff}")
    own, _ = _unique_state(model)
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    with torch.no_grad():
        for key, target in own.items():
            if key not in weights or weights[key].shape != target.shape:
                raise ValueError(f"{path}: tensor {key!r} missing or of another shape")
            target.copy_(weights[key])
    device = next(model.parameters()).device
    opt = optimizer.state_dict()
    opt["state"] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            opt["state"].setdefault(int(pid), {})[name] = (value if name == "step"
                                                           else value.to(device))
    optimizer.load_state_dict(opt)
    torch.set_rng_state(tensors["rng.torch"])
    rng.bit_generator.state = read_json(metadata, "rng.numpy", path)
    return int(metadata["step"]), read_json(metadata, "history", path)
