"""lmlib.checkpoint: one atomic writer, one reader whose errors name the file; and the import
graph of lmlib runs one way (no loops)."""

import ast
import importlib
import json
import pkgutil
from pathlib import Path

import pytest
import torch

import lmlib
from lmlib.checkpoint import load_checkpoint, read_safetensors, save_checkpoint
from lmlib.models import GPT, LSTMLM, GPTConfig


def tiny_lstm():
    torch.manual_seed(0)
    return LSTMLM(11, 6, 8)


def test_a_corrupt_lstm_file_is_a_value_error_naming_the_path(tmp_path):
    path = save_checkpoint(tiny_lstm(), tmp_path / "lstm.safetensors")
    data = path.read_bytes()
    for bad in (data[: len(data) // 2], b"\x08\x00\x00\x00\x00\x00\x00\x00{}", b"junk"):
        path.write_bytes(bad)
        with pytest.raises(ValueError, match=r"lstm\.safetensors.*(corrupted|truncated)") as err:
            load_checkpoint(path)
        assert type(err.value) is ValueError  # not safetensors' own SafetensorError
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_metadata_that_is_not_json_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    model = tiny_lstm()
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    tensors, meta = read_safetensors(path)
    for key in ("config", "extra"):
        save_file(tensors, str(path), metadata=dict(meta, **{key: "{not json"}))
        with pytest.raises(ValueError, match=rf"m\.safetensors: metadata '{key}' is not valid JSON"):
            load_checkpoint(path)
    save_file(tensors, str(path), metadata=dict(meta, model_class="Nope"))
    with pytest.raises(ValueError, match=r"m\.safetensors does not name an lmlib.models class"):
        load_checkpoint(path)


def test_shipped_gpt_is_read_in_one_opening(monkeypatch):
    import safetensors

    opened = []
    real = safetensors.safe_open

    def counting(path, *args, **kwargs):
        opened.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(safetensors, "safe_open", counting)
    model, tok = lmlib.load_pretrained("shakespeare-gpt")
    assert opened == ["gpt_shakespeare.safetensors"]
    assert isinstance(model, GPT) and not model.training and tok.vocab_size == 65


def test_load_checkpoint_builds_the_model_in_eval_mode_with_extra(tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=1, n_embd=8, dropout=0.1))
    path = save_checkpoint(model, tmp_path / "g.safetensors", extra={"step": 3})
    loaded, extra = load_checkpoint(path)
    assert extra == {"step": 3} and not loaded.training
    assert json.loads(read_safetensors(path)[1]["tied"]) == {"lm_head.weight": "transformer.wte.weight"}


# --- the import graph ------------------------------------------------------------------

# each module may import modules of a LOWER layer, or of its own layer without a loop
# (lmlib.sampling works on logits and on any model's forward: the models' generate uses it)
LAYERS = [
    ("lmlib", "lmlib.data", "lmlib.metrics"),                                   # the basics
    ("lmlib.tokenizers", "lmlib.ngram", "lmlib.tasks", "lmlib.scratch",         # counting, NumPy,
     "lmlib.sampling"),                                                         # decoding
    ("lmlib.models",),                                                          # PyTorch twins
    ("lmlib.checkpoint", "lmlib.scaling", "lmlib.batches", "lmlib.interactive",  # using models
     "lmlib.train", "lmlib.presets", "lmlib.cli", "lmlib.pretrained", "lmlib.scoring",
     "lmlib.finetune", "lmlib.speed"),
    ("lmlib.viz",),                                                             # widgets
]
ROOT = Path(lmlib.__file__).parent


def _modules() -> list[str]:
    names = ["lmlib"]
    for info in pkgutil.walk_packages([str(ROOT)], prefix="lmlib."):
        names.append(info.name)
    return sorted(names)


def _layer(name: str) -> int:
    best = None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if name == prefix or (prefix != "lmlib" and name.startswith(prefix + ".")):
                best = i
    assert best is not None, f"{name} is in no layer of LAYERS: add it"
    return best


def _file(name: str) -> Path:
    path = ROOT.joinpath(*name.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _is_main_block(node) -> bool:
    """``if __name__ == "__main__":``: runs only when the file is the program
    (``python -m lmlib.train``), as a module of its own, so its imports are no edge."""
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def _imports(name: str) -> set[str]:
    """The lmlib modules that ``name`` imports anywhere (top level or inside functions;
    not in its ``if __name__ == "__main__":`` block)."""
    known = set(_modules())
    found = set()
    tree = ast.parse(_file(name).read_text(encoding="utf-8"))
    tree.body = [node for node in tree.body if not _is_main_block(node)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m in known and m != name}


def test_every_module_imports():
    for name in _modules():
        importlib.import_module(name)


def test_the_import_graph_runs_one_way():
    graph = {name: _imports(name) for name in _modules()}
    upward = [(a, b) for a, deps in graph.items() for b in deps
              if _layer(b) > _layer(a) and not (a == "lmlib" or b.startswith(a + "."))]
    assert not upward, f"imports from a higher layer (see LAYERS): {upward}"
    assert "lmlib.train" not in graph["lmlib.models.gpt"] | graph["lmlib.models.lstm"]
    # no loop: a depth-first search never meets a module on its own path
    # (a package importing its own submodules, lazily, is not a loop)
    state = {}

    def visit(node, path):
        state[node] = "open"
        for dep in graph[node]:
            if dep.startswith(node + "."):
                continue
            if state.get(dep) == "open":
                raise AssertionError(f"import loop: {' -> '.join(path + [dep])}")
            if dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])
