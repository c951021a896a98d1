"""lmlib: the library of the course *From N-grams to GPT*.

Each chapter builds a piece inline in its notebook, proves it equal to the canonical
version here, and later chapters import it from here.

    import lmlib
    lmlib.setup()          # seeds, threads, fast/full mode, plotting
"""

from __future__ import annotations

import os
import random

import numpy as np

__version__ = "0.1.0"
__all__ = ["FAST", "setup", "get_device", "__version__", "save_checkpoint", "load_checkpoint",
           "load_pretrained"]

# names served lazily from submodules, so that ``import lmlib`` stays cheap
_LAZY = {"save_checkpoint": "lmlib.checkpoint", "load_checkpoint": "lmlib.checkpoint",
         "load_pretrained": "lmlib.pretrained"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

FAST: bool = os.environ.get("LMLIB_FAST") == "1"
"""True when the environment variable ``LMLIB_FAST`` is ``1`` (set by ``make test`` and CI):
notebooks then shrink their steps and data so that each runs in well under a minute."""


def _default_threads() -> int:
    """Threads for torch's intra-op pool.

    Measured on a 2-core VM: a small GPT training step runs faster on one thread than on
    two (thread hand-off costs more than it saves at these sizes), so small machines get
    one thread and bigger ones half their cores. ``LMLIB_THREADS`` overrides.
    """
    if os.environ.get("LMLIB_THREADS"):
        n = int(os.environ["LMLIB_THREADS"])
        if n < 1:
            raise ValueError(f"LMLIB_THREADS must be a positive integer, got {n}")
        return n
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(8, cores // 2)


def get_device(name: str | None = None):
    """The torch device the course uses: CUDA when present, else the CPU.

    Apple's MPS back end is used only when asked for by name (``"mps"``, or
    ``LMLIB_DEVICE=mps``): it has given wrong or unrepeatable results on several torch
    versions. Asking for a device that is not available is a ``ValueError``.
    """
    import torch

    name = name or os.environ.get("LMLIB_DEVICE") or None
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind = str(name).split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but torch sees no CUDA GPU")
    if kind == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError("device 'mps' was asked for, but this torch has no MPS back end")
        import warnings

        warnings.warn("Apple MPS is opt-in: some torch versions give wrong results on it; "
                      "compare with the CPU before trusting a number.", stacklevel=2)
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'mps', got {name!r}")
    return torch.device(name)


def _configure_plots() -> None:
    import matplotlib

    matplotlib.rcParams.update({
        "figure.figsize": (7.0, 3.6),
        "figure.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
    try:  # only inside IPython/Jupyter
        from IPython import get_ipython

        if get_ipython() is not None:
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png")
    except ImportError:  # plain Python: nothing to configure
        pass


def setup(seed: int = 0, quiet: bool = False) -> None:
    """Make a notebook reproducible and ready: seeds ``random``, NumPy and torch with
    ``seed``, picks torch's thread count for this machine, sets matplotlib to inline PNG,
    and prints one line with the mode (fast/full), versions and device."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(_default_threads())
    _configure_plots()
    if not quiet:
        mode = "fast" if FAST else "full"
        print(f"lmlib {__version__} | mode: {mode} | numpy {np.__version__} | "
              f"torch {torch.__version__} ({torch.get_num_threads()} thread"
              f"{'s' if torch.get_num_threads() > 1 else ''}) | device: {get_device()}")
