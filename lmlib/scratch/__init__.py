"""NumPy from scratch: every piece written by hand, each proved equal to PyTorch in tests.

Import the submodules directly, e.g. ``from lmlib.scratch import functional as F``."""
