"""The course's own pre-trained models, shipped inside lmlib (no download).

    model, tok = lmlib.load_pretrained("shakespeare-gpt")
    print(tok.decode(lmlib.sampling.generate(model, tok.encode("ROMEO:"), 200)))

Each is a checkpoint in ``lmlib/assets`` written by :func:`lmlib.checkpoint.save_checkpoint`;
the model's class and config come from its metadata, and the character tokenizer is rebuilt
from the vocabulary stored with it (``extra["itos"]``). For the metadata itself (training
step, validation loss), read the file with :func:`lmlib.checkpoint.load_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRETRAINED", "COMPUTE_CURVE", "compute_curve", "load_pretrained"]

_ASSETS = Path(__file__).resolve().parent / "assets"

PRETRAINED: dict[str, Path] = {
    "shakespeare-gpt": _ASSETS / "gpt_shakespeare.safetensors",          # chapter 07
    "shakespeare-lstm": _ASSETS / "lstm_shakespeare.safetensors",        # chapter 04
    "shakespeare-attention": _ASSETS / "attention_lm.safetensors",       # chapter 05
}
"""name -> checkpoint file. The names are those of the training presets
(:data:`lmlib.presets.PRESETS`) that made them."""


def load_pretrained(name: str = "shakespeare-gpt"):
    """``(model, tokenizer)`` of the shipped model ``name`` (see :data:`PRETRAINED`), the
    model in eval mode. The file is read once."""
    from lmlib.checkpoint import load_checkpoint
    from lmlib.data import CharTokenizer

    if name not in PRETRAINED:
        raise ValueError(f"unknown pre-trained model {name!r}; choose one of {sorted(PRETRAINED)}")
    path = PRETRAINED[name]
    model, extra = load_checkpoint(path)
    if "itos" not in extra:
        raise ValueError(f"{path} does not store its vocabulary (extra['itos'])")
    return model.eval(), CharTokenizer("".join(extra["itos"]))


COMPUTE_CURVE = _ASSETS / "compute_curve.json"
"""Chapter 07's compute curve: every point's val loss, CPU seconds, tokens, parameters and
the command that measured it (``python -m coursekit.bench.curve``)."""


def compute_curve() -> dict[str, dict]:
    """The measured points of the compute curve, ``{point id: measurement}`` (see
    :data:`COMPUTE_CURVE`); ``lmlib.viz.plot_compute_curve`` draws them."""
    import json

    return json.loads(COMPUTE_CURVE.read_text(encoding="utf-8"))["points"]
