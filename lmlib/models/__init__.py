"""PyTorch models of the course; each has a NumPy twin of the same name in ``lmlib.scratch``.

Names are imported lazily so that ``import lmlib.models`` stays cheap."""

import importlib

_WHERE = {
    "MLPLM": "mlp",
    "LSTMLM": "lstm",
    "LSTMConfig": "lstm",
    "GPT": "gpt",
    "GPTConfig": "gpt",
    "Llama": "llama",
    "LlamaConfig": "llama",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
