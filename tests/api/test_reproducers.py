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


def test_list_cotangent_shared_by_two_calls_adds_leaf_by_leaf():
    def l2(p):
        return np.sum(p[0] ** 2)

    def fit(p):
        return np.sum(p[1])

    def loss(p):
        return l2(p) + fit(p)

    g = s2s.grad(loss)([np.ones(2), np.ones(3)])
    assert len(g) == 2
    np.testing.assert_allclose(g[0], 2.0 * np.ones(2))
    np.testing.assert_allclose(g[1], np.ones(3))


def test_dict_cotangent_shared_by_two_calls_adds_leaf_by_leaf():
    def l2(p):
        return np.sum(p["w"] ** 2)

    def fit(p):
        return np.sum(p["b"] * p["w"][0])

    def loss(p):
        return l2(p) + fit(p)

    w, b = np.array([1.0, 2.0]), np.ones(3)
    g = s2s.grad(loss)({"w": w, "b": b})
    np.testing.assert_allclose(g["w"], 2.0 * w + np.array([3.0, 0.0]))
    np.testing.assert_allclose(g["b"], w[0] * np.ones(3))
