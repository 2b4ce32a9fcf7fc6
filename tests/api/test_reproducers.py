"""The reproducers of issue 9, each with its true value: programs other people wrote that s2s
once got wrong without an error, or crashed on."""
import numpy as np
import pytest

import s2s
from numerics import assert_tree_close, numerical_grad


# -- emission that cannot change meaning --------------------------------------------------------
def test_negative_constant_under_power():
    g = s2s.grad(lambda x: np.sum(x / (1.0 + (-1.26) ** 2)))(np.ones(2))
    np.testing.assert_allclose(g, np.full(2, 1 / (1 + 1.26 ** 2)))
