import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

import lmlib


def test_setup_makes_random_numbers_repeat(capsys):
    lmlib.setup(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    lmlib.setup(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "mode:" in line and "torch" in line and "device: cpu" in line


def test_setup_rejects_a_non_integer_seed():
    with pytest.raises(TypeError, match="seed"):
        lmlib.setup("0")


@pytest.mark.parametrize("value, expected", [("1", "True"), ("0", "False"), ("", "False")])
def test_fast_flag_follows_the_environment(value, expected):
    env = dict(os.environ, LMLIB_FAST=value)
    out = subprocess.run([sys.executable, "-c", "import lmlib; print(lmlib.FAST)"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == expected


def test_threads_override(monkeypatch):
    monkeypatch.setenv("LMLIB_THREADS", "3")
    assert lmlib._default_threads() == 3
    monkeypatch.setenv("LMLIB_THREADS", "0")
    with pytest.raises(ValueError, match="LMLIB_THREADS"):
        lmlib._default_threads()


def test_device_choice(monkeypatch):
    monkeypatch.delenv("LMLIB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert lmlib.get_device().type == expected
    assert lmlib.get_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="device"):
        lmlib.get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            lmlib.get_device("cuda")
