import math

import numpy as np
import pytest

from lmlib import metrics


def test_nll_perplexity_bits():
    loss = metrics.nll([0.5, 0.25])
    assert math.isclose(loss, -(math.log(0.5) + math.log(0.25)) / 2)
    assert math.isclose(metrics.perplexity(loss), 1 / math.sqrt(0.125))
    assert math.isclose(metrics.to_bits(math.log(8)), 3.0)


def test_nll_of_an_impossible_token_is_inf_not_an_error():
    assert metrics.nll([0.5, 0.0]) == math.inf


@pytest.mark.parametrize("bad", [[], [1.5], [-0.1], [float("nan")]])
def test_nll_bad_input(bad):
    with pytest.raises(ValueError, match="p_targets"):
        metrics.nll(bad)


def test_entropy():
    assert math.isclose(metrics.entropy([0.5, 0.5]), math.log(2))
    assert metrics.entropy([1.0, 0.0]) == 0.0
    np.testing.assert_allclose(metrics.entropy(np.full((3, 4), 0.25)), np.full(3, math.log(4)))
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.entropy([0.5, 0.2])
