"""Central finite differences in float64, for checking derivatives."""
import numpy as np


def numerical_grad(f, args, argnum=0, eps=1e-6):
    """d f(*args) / d args[argnum] for a scalar f, by central differences (leafwise for trees)."""
    x = args[argnum]

    def with_value(v):
        new = list(args)
        new[argnum] = v
        return f(*new)

    return _tree_fd(with_value, x, eps)


def _tree_fd(g, x, eps):
    if isinstance(x, (list, tuple)):
        out = []
        for k in range(len(x)):
            def g_k(v, k=k):
                items = list(x)
                items[k] = v
                return g(type(x)(items) if isinstance(x, tuple) else items)
            out.append(_tree_fd(g_k, x[k], eps))
        return type(x)(out) if isinstance(x, tuple) else out
    if isinstance(x, dict):
        out = {}
        for key in x:
            def g_k(v, key=key):
                return g({**x, key: v})
            out[key] = _tree_fd(g_k, x[key], eps)
        return out
    if isinstance(x, float):
        return (g(x + eps) - g(x - eps)) / (2 * eps)
    x = np.asarray(x, dtype=np.float64)
    result = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        result[index] = (g(plus) - g(minus)) / (2 * eps)
    return result


def assert_tree_close(actual, expected, rtol=1e-6, atol=1e-6):
    if isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected), (actual, expected)
        for a, e in zip(actual, expected):
            assert_tree_close(a, e, rtol, atol)
    elif isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            assert_tree_close(actual[key], expected[key], rtol, atol)
    else:
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol)
