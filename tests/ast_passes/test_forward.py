"""The forward-mode pass: tangents against central differences in float64, and what the
emitted `jvp_f` looks like (names, loops kept, zeros only where paths meet)."""
import functools

import numpy as np
import pytest

import s2s
from corpus import (calls_user, closure_inner, poly, power, recursion, return_in_loop, tuple_out, while_break,
                    with_lambda)
from s2s.jacobians import _jvp_record
from s2s.runtime.primitives import all_primitives
from s2s.ast_passes.forward import has_forward_rule

rng = np.random.default_rng(0)
STEP = 1e-6


# -- user functions (more from tests/corpus.py) -----------------------------------------------
def broadcast_inactive(x, B):
    return np.sum((x + B) ** 2)          # x (3,) + B (4, 3): the tangent must be broadcast


def self_reference(h, W):
    h = h @ W
    h = W.sum() / h                       # needs the old h and the new h: h_in
    return h


def branch_one_side(x):
    if np.sum(x) > 0:
        y = x * 2.0
    else:
        y = 1.0                           # no tangent on this path: zeros where the paths meet
    return y * x


def loop_acquires_tangent(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + np.sin(x * i)         # acc has no tangent before the loop
    return acc


def while_data_dependent(x):
    while np.sum(x) < 10.0:
        x = x * 1.5 + 0.1
    return np.sum(x ** 2)


def reset_in_loop(x):
    y = x
    for i in range(3):
        z = y * x
        y = 2.0                           # loses its tangent inside the loop
        y = y + z
    return y


def shape_of(x, y):
    return np.zeros(np.shape(y)) + x      # y reaches the result only through its shape


def calls_shape_only(x, y):
    return np.sum(shape_of(x, y) * x)


def scaled(x, scale=2.0):
    return x * scale


def with_default(x):
    return scaled(x) + scaled(x, scale=x)


cube = functools.partial(power, n=3)


def calls_partial(x):
    return cube(x) + 1.0


def pytree_params(params, x):
    W, b = params["layer"]
    return {"out": np.tanh(x @ W + b), "norm": [np.sum(W ** 2), b]}


def list_ops(x):
    ys = []
    for i in range(3):
        ys.append(np.sin(x * (i + 1)))
    last = ys.pop()
    return np.sum(np.stack(ys)) * last


def local_writes(x):
    a = np.zeros(3)
    a[0] = x[1] * 2.0
    a[1:] = x[:2] ** 2
    return a


def slicing(x):
    return x[1:3] * x[0] + x[np.array([0, 2])]


def sequences(x, y):
    return np.concatenate([x, y, np.ones(2)]) * np.stack((x, x)).sum()


def einsum_ops(A, v):
    return np.einsum("ij,j->i", A, v) + np.einsum("ii", A)


def opaque(x):
    return np.cumsum(x)


def integer_argument(x, n):
    return x ** n


# -- helpers ----------------------------------------------------------------------------------
def random_like(x):
    return s2s.tree_util.tree_map(lambda v: rng.normal(size=np.shape(v)) if np.ndim(v) else float(rng.normal()), x)


def central_difference(f, primals, tangents):
    move = lambda h: [s2s.tree_util.tree_map(lambda p, t: p + h * t, p, t) for p, t in zip(primals, tangents)]
    plus, minus = f(*move(STEP)), f(*move(-STEP))
    return s2s.tree_util.tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2 * STEP), plus, minus)


def assert_close(actual, expected, rtol=1e-6, atol=1e-7):
    a_leaves, a_def = s2s.tree_util.tree_flatten(actual)
    e_leaves, e_def = s2s.tree_util.tree_flatten(expected)
    assert a_def == e_def, (a_def, e_def)
    for a, e in zip(a_leaves, e_leaves):
        assert np.shape(a) == np.shape(e)
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def jvp_source(fun, n=1):
    return _jvp_record(fun, n).source


V3 = rng.normal(size=3)
A3 = rng.normal(size=(3, 3))
CASES = [
    (poly, (0.7,)), (broadcast_inactive, (V3, rng.normal(size=(4, 3)))),
    (self_reference, (V3 + 3.0, np.eye(3) + 0.1 * A3)),
    (branch_one_side, (V3 + 1.0,)), (branch_one_side, (V3 - 1.0,)),
    (while_data_dependent, (np.array([0.5, 0.2, 0.1]),)), (while_break, (0.3,)),
    (return_in_loop, (1.0,)), (return_in_loop, (0.01,)), (reset_in_loop, (0.7,)),
    (calls_user, (0.3,)), (calls_shape_only, (V3, A3)), (recursion, (1.3,)), (closure_inner, (0.7,)),
    (with_lambda, (0.7,)), (with_default, (0.4,)), (calls_partial, (0.8,)),
    (pytree_params, ({"layer": (A3, V3)}, rng.normal(size=(2, 3)))),
    (list_ops, (0.5,)), (local_writes, (V3,)), (slicing, (V3,)), (sequences, (V3, V3 + 1.0)),
    (einsum_ops, (A3, V3)),
    (tuple_out, (V3,)),
]


@pytest.mark.parametrize("fun, primals", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_jvp_matches_central_differences(fun, primals):
    tangents = tuple(random_like(p) for p in primals)
    out, out_dot = s2s.jvp(fun, primals, tangents)
    assert_close(out, fun(*primals))
    assert_close(out_dot, central_difference(fun, primals, tangents), rtol=1e-5, atol=1e-6)


def test_loop_with_integer_argument():
    x = 0.4
    out, out_dot = s2s.jvp(loop_acquires_tangent, (x, 4), (1.0, 0))
    assert out_dot == pytest.approx(sum(i * np.cos(x * i) for i in range(4)), rel=1e-12)


def test_emitted_code_reads_like_the_function():
    text = jvp_source(while_data_dependent)
    assert "def jvp_while_data_dependent(x, x_dot):" in text
    assert "while " in text and "for " not in text          # the while loop stays a while loop
    assert "x_times_1_5_dot = x_dot * 1.5" in text
    assert "x_dot = x_times_1_5_dot" in text                 # adding a number changes no tangent
    assert "return (out, out_dot)" in text
    assert "# test_forward.py:" in text                      # each block names the user's line
    compile(text, "<jvp>", "exec")


def test_self_reference_keeps_the_old_value():
    text = jvp_source(self_reference, 2)
    assert "h_dot = h_dot @ W + h @ W_dot\n    h = h @ W" in text    # tangent first: it needs the old h
    assert "h_in = h" in text                                        # W.sum() / h needs old and new h


def test_zeros_only_where_paths_meet():
    text = jvp_source(branch_one_side)
    assert text.count("np.zeros_like(y)") + text.count("zeros_like_tree(y)") == 1
    text = jvp_source(reset_in_loop)
    assert "zeros" not in text.split("for i")[0]             # y carries a tangent into the loop
    assert "y_dot = " in text.split("for i")[1]


def test_loop_head_gets_zeros_once():
    text = jvp_source(loop_acquires_tangent, 2)
    before, loop = text.split("for i in range(n):")
    assert "acc_dot = " in before and "zeros" in before
    assert "zeros" not in loop


def test_callees_get_jvp_functions_taking_only_needed_tangents():
    text = jvp_source(calls_user)
    assert "def jvp_square(x, x_dot):" in text
    assert text.count("def jvp_square") == 1                 # generated once, called twice
    assert "jvp_square(sin_x, sin_x_dot)" in text
    text = jvp_source(calls_shape_only, 2)
    assert "def jvp_shape_of(x, y, x_dot):" in text          # y's tangent cannot reach the result


def test_recursion_calls_itself():
    text = jvp_source(recursion)
    assert "def jvp_power(x, n, x_dot):" in text
    assert text.count("jvp_power(") == 3                      # definition, recursive call, call


def test_list_tapes_carry_tangent_lists():
    text = jvp_source(list_ops)
    assert "ys_dot = []" in text
    assert "ys_dot.append(" in text and "last_dot = ys_dot.pop()" in text


def test_defaults_and_keywords():
    text = jvp_source(with_default)
    assert "def jvp_scaled(x, scale=2.0, x_dot=None):" in text          # tangent parameters follow defaults
    assert "jvp_scaled(x, x_dot=x_dot)" in text                         # so calls name them
    assert "def jvp_scaled_1(x, scale=2.0, x_dot=None, scale_dot=None):" in text


def test_opaque_call_on_a_tangent_is_an_error():
    with pytest.raises(s2s.TransformError, match=r"test_forward.py:\d+ in opaque.*cumsum"):
        s2s.jvp(opaque, (V3,), (V3,))


def test_tangent_checks():
    with pytest.raises(ValueError, match="1 primal.* 2 tangent"):
        s2s.jvp(poly, (1.0,), (1.0, 2.0))
    with pytest.raises(ValueError, match="shape"):
        s2s.jvp(poly, (V3,), (np.ones(2),))
    with pytest.raises(TypeError, match="dtype"):
        s2s.jvp(poly, (V3,), (V3.astype(np.float32),))
    with pytest.raises(ValueError, match="structure"):
        s2s.jvp(tuple_out, ((V3, V3),), ([V3, V3],))
    with pytest.raises(TypeError, match="integer"):
        s2s.jvp(integer_argument, (V3, 2), (V3, 1))


def test_float32_stays_float32():
    x = np.linspace(0.1, 0.5, 4, dtype=np.float32)
    out, out_dot = s2s.jvp(while_data_dependent, (x,), (np.ones(4, np.float32),))
    assert out_dot.dtype == np.float32


def test_every_differentiable_primitive_has_a_forward_rule():
    missing = [p.name for p in all_primitives() if not has_forward_rule(p)]
    assert not missing, f"differentiable primitives without a jvp rule for every argument: {missing}"


def test_jvp_of_a_numpy_primitive():
    out, out_dot = s2s.jvp(np.tanh, (0.5,), (2.0,))
    assert out_dot == pytest.approx(2.0 * (1 - np.tanh(0.5) ** 2), rel=1e-14)
