"""Property test: gradients of random NumPy expressions equal central differences."""
import importlib.util
import itertools
import os
import tempfile

import numpy as np
from hypothesis import given, settings, strategies as st

import s2s
from numerics import numerical_grad

UNARY = ["np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(0.3 * {})", "np.log(1.5 + np.sin({}))",
         "np.sqrt(2.0 + ({}) * ({}))", "({}) ** 2", "-({})", "np.arctan({})"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (2.0 + np.cos({}))"]
_counter = itertools.count()
_directory = tempfile.mkdtemp(prefix="s2s-hypothesis-")


def expressions(depth):
    leaves = st.sampled_from(["x", "y", "0.7", "x * y"])
    if depth == 0:
        return leaves

    def unary(inner):
        return st.sampled_from(UNARY).map(lambda t: t.replace("{}", inner))

    def binary(pair):
        return st.sampled_from(BINARY).map(lambda t: t.format(pair[0], pair[1]) if t.count("{}") == 2
                                           else t.format(*pair, pair[1]))

    smaller = expressions(depth - 1)
    return st.one_of(leaves, smaller.flatmap(unary), st.tuples(smaller, smaller).flatmap(binary))


def load(body):
    """A module file holding `f(x, y)`, so s2s can read its source."""
    name = f"expr_{next(_counter)}"
    path = os.path.join(_directory, name + ".py")
    with open(path, "w") as handle:
        handle.write(f"import numpy as np\n\n\ndef f(x, y):\n    z = {body}\n    return np.sum(z)\n")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


@settings(max_examples=40, deadline=None)
@given(expressions(3), st.integers(0, 1))
def test_random_expression_gradients(body, argnum):
    f = load(body)
    x, y = np.array([0.3, -0.8, 1.1]), np.array([0.5, 0.2, -0.4])
    expected = numerical_grad(f, (x, y), argnum)
    actual = s2s.grad(f, argnums=argnum)(x, y)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
