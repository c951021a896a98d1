"""The course's own pre-trained models, shipped inside lmlib (no download).

    model, tok = load_pretrained("shakespeare-gpt")
    print(tok.decode(model.generate(torch.tensor([tok.encode("ROMEO:")]), 200)[0]))
"""

from __future__ import annotations

import importlib

__all__ = ["PRETRAINED", "load_pretrained"]

# name -> (module with a load_pretrained(path=None) -> (model, extra) function)
PRETRAINED = {
    "shakespeare-gpt": "lmlib.models.gpt",
    "shakespeare-lstm": "lmlib.models.lstm",
}


def load_pretrained(name: str = "shakespeare-gpt"):
    """``(model, tokenizer)`` of a shipped model, in eval mode. The character tokenizer is
    rebuilt from the vocabulary stored in the checkpoint, so no corpus is needed."""
    from lmlib.data import CharTokenizer

    if name not in PRETRAINED:
        raise ValueError(f"unknown pre-trained model {name!r}; choose one of {sorted(PRETRAINED)}")
    try:
        module = importlib.import_module(PRETRAINED[name])
    except ImportError as err:
        raise ValueError(f"{name!r} needs {PRETRAINED[name]}, which this lmlib lacks") from err
    model, extra = module.load_pretrained()
    if "itos" not in extra:
        raise ValueError(f"the {name!r} checkpoint does not store its vocabulary (extra['itos'])")
    return model, CharTokenizer("".join(extra["itos"]))
