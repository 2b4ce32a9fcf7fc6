"""grad, value_and_grad and vjp on the corpus, against finite differences and closed forms."""
import functools

import numpy as np
import pytest

import corpus as c
import s2s
from numerics import assert_tree_close, numerical_grad

rng = np.random.default_rng(0)
V = rng.normal(size=3)
A = rng.normal(size=(3, 3)) + 2.0
A34 = rng.normal(size=(3, 4))

CASES = [
    (c.tanh, (1.0,)), (c.abs_val, (1.0,)), (c.abs_val, (-1.0,)), (c.poly, (0.7,)),
    (c.uses_aliases, (0.3,)), (c.chained, (V,)), (c.broadcasting, (A, V)), (c.augmented, (V,)),
    (c.conditional_expression, (V,)), (c.conditional_expression, (-V - 1,)),
    (c.chained_comparison, (V,)), (c.boolean_ops, (V,)), (c.boolean_ops, (V + 3,)),
    (c.elif_chain, (1.5,)), (c.elif_chain, (0.5,)), (c.elif_chain, (-0.5,)),
    (c.for_range, (0.4,)), (c.for_over_array, (A, V)), (c.for_zip_enumerate, (V, V * 2)),
    (c.while_loop, (0.7,)), (c.while_loop, (12.0,)), (c.while_break, (0.3,)), (c.loop_continue, (0.9,)),
    (c.early_return, (3.0,)), (c.early_return, (1.0,)), (c.return_in_loop, (1.0,)),
    (c.return_in_loop, (0.01,)), (c.nested_loops, (0.3,)), (c.nested_while, (0.7,)),
    (c.calls_user, (0.3,)), (c.recursion, (1.3,)), (c.closure_inner, (0.7,)), (c.with_lambda, (0.7,)),
    (c.calls_partial, (0.8,)), (c.local_array_writes, (V,)), (c.list_append, (0.5,)),
    (c.indexing, (V,)), (c.two_d_indexing, (A,)), (c.reductions, (A,)), (c.matmuls, (A, V)),
    (c.shapes, (A34,)), (c.special, (V,)),
]


@pytest.mark.parametrize("fun, args", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_grad_matches_finite_differences(fun, args):
    before = [np.copy(a) for a in args]
    expected = numerical_grad(fun, args)
    actual = s2s.grad(fun)(*args)
    assert_tree_close(actual, expected, rtol=1e-5, atol=1e-6)
    for a, b in zip(args, before):          # the caller's arrays are never changed
        np.testing.assert_array_equal(a, b)


def test_readme_tanh_values():
    assert s2s.grad(np.tanh)(1.0) == pytest.approx(0.41997434161402614, abs=1e-15)
    assert s2s.grad(c.tanh)(1.0) == pytest.approx(0.41997434161402614, rel=1e-12)
    assert s2s.grad(s2s.grad(s2s.grad(c.tanh)))(1.0) == pytest.approx(0.6216266807712962, rel=1e-10)


def test_readme_abs_val():
    assert s2s.grad(c.abs_val)(1.0) == 1.0
    assert s2s.grad(c.abs_val)(-1.0) == -1.0


def test_closed_forms():
    x = 0.37
    # d/dx tanh = 1 - tanh^2 ; d2/dx2 = -2 tanh (1 - tanh^2)
    t = np.tanh(x)
    assert s2s.grad(s2s.grad(np.tanh))(x) == pytest.approx(-2 * t * (1 - t * t), rel=1e-12)
    # poly: 9x^2 - 4x + 1/4
    assert s2s.grad(c.poly)(x) == pytest.approx(9 * x * x - 4 * x + 0.25, rel=1e-12)
    assert s2s.grad(s2s.grad(c.poly))(x) == pytest.approx(18 * x - 4, rel=1e-12)
    assert s2s.grad(s2s.grad(s2s.grad(c.poly)))(x) == pytest.approx(18, rel=1e-12)


def test_mlp_gradient_of_list_of_tuples():
    sizes = [4, 5, 3]
    params = [(rng.normal(size=(m, n)), rng.normal(size=n)) for m, n in zip(sizes[:-1], sizes[1:])]
    x, y = rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    g = s2s.grad(c.mlp_loss)(params, x, y)
    assert isinstance(g, list) and all(isinstance(t, tuple) for t in g)
    assert_tree_close(g, numerical_grad(c.mlp_loss, (params, x, y)), rtol=1e-5, atol=1e-6)


def test_logistic_regression_trains():
    inputs = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
    targets = np.array([True, True, False, True])
    W, b = np.zeros(3), 0.0
    grad_loss = s2s.grad(c.logistic_loss, argnums=(0, 1))
    gW, gb = grad_loss(W, b, inputs, targets)
    assert_tree_close(gW, numerical_grad(c.logistic_loss, (W, b, inputs, targets), 0))
    assert gb == pytest.approx(numerical_grad(c.logistic_loss, (W, b, inputs, targets), 1), rel=1e-6)
    first = c.logistic_loss(W, b, inputs, targets)
    for _ in range(100):
        gW, gb = grad_loss(W, b, inputs, targets)
        W, b = W - 0.1 * gW, b - 0.1 * gb
    assert c.logistic_loss(W, b, inputs, targets) < 0.5 * first


def test_argnums_tuple_and_value_and_grad():
    x, y = rng.normal(size=(2, 3)), rng.normal(size=3)
    gx, gy = s2s.grad(c.broadcasting, argnums=(0, 1))(x, y)
    assert_tree_close(gx, numerical_grad(c.broadcasting, (x, y), 0))
    assert_tree_close(gy, numerical_grad(c.broadcasting, (x, y), 1))
    (gy_only,) = s2s.grad(c.broadcasting, argnums=(1,))(x, y)
    assert_tree_close(gy_only, gy)
    value, g = s2s.value_and_grad(c.poly)(0.5)
    assert value == c.poly(0.5) and g == s2s.grad(c.poly)(0.5)


def test_pytree_dict_argument():
    p = {"w": rng.normal(size=3), "b": 0.5}
    x = rng.normal(size=3)
    g = s2s.grad(c.dict_params)(p, x)
    assert set(g) == {"w", "b"}
    assert_tree_close(g, numerical_grad(c.dict_params, (p, x)))


def test_loops_over_dict_items_and_values():
    p = {"w": rng.normal(size=3), "b": rng.normal(size=3)}
    x = rng.normal(size=3)
    assert_tree_close(s2s.grad(c.dict_loop)(p, x), numerical_grad(c.dict_loop, (p, x)))


def test_has_aux():
    x = rng.normal(size=3)
    g, aux = s2s.grad(c.tuple_out, has_aux=True)(x)
    assert_tree_close(g, 2 * x)
    assert_tree_close(aux, 2 * x)
    (value, aux2), g2 = s2s.value_and_grad(c.tuple_out, has_aux=True)(x)
    assert value == pytest.approx(np.sum(x ** 2))
    assert_tree_close(g2, g)


def test_vjp():
    out, vjp_fun = s2s.vjp(c.matmuls, A, V)
    assert out == pytest.approx(c.matmuls(A, V))
    gA, gV = vjp_fun(1.0)
    assert_tree_close(gA, numerical_grad(c.matmuls, (A, V), 0), rtol=1e-5)
    assert_tree_close(gV, numerical_grad(c.matmuls, (A, V), 1), rtol=1e-5)
    out, vjp_fun, aux = s2s.vjp(c.tuple_out, V, has_aux=True)
    (g,) = vjp_fun(1.0)
    assert_tree_close(g, 2 * V)


def test_vjp_of_vector_function():
    def f(x):
        return np.sin(x) * 2.0
    out, vjp_fun = s2s.vjp(f, V)
    ct = rng.normal(size=3)
    (g,) = vjp_fun(ct)
    assert_tree_close(g, ct * 2.0 * np.cos(V))


def test_closure_returned_by_factory_and_lambda():
    w = rng.normal(size=3)
    f = c.make_closure(w)
    x = rng.normal(size=3)
    assert_tree_close(s2s.grad(f)(x), numerical_grad(f, (x,)))
    square = lambda z: np.sum(z * z * w)  # noqa: E731
    assert_tree_close(s2s.grad(square)(x), 2 * x * w)
    both = (lambda z: z * 3.0, lambda z: z * 5.0)
    assert s2s.grad(both[0])(1.0) == 3.0 and s2s.grad(both[1])(1.0) == 5.0


def test_partial_and_bound_method():
    f = functools.partial(c.logistic_loss, inputs=np.ones((2, 3)), targets=np.array([1.0, 0.0]))
    W = rng.normal(size=3)
    assert_tree_close(s2s.grad(f)(W, 0.1), numerical_grad(lambda W: f(W, 0.1), (W,)))

    class Model:
        def __init__(self, scale):
            self.scale = scale

        def loss(self, x):
            return np.sum(np.tanh(x) * self.scale)

    m = Model(2.0)
    x = rng.normal(size=3)
    assert_tree_close(s2s.grad(m.loss)(x), 2.0 * (1 - np.tanh(x) ** 2))


def test_float32_stays_float32():
    x = rng.normal(size=3).astype(np.float32)
    g = s2s.grad(c.chained)(x)
    assert g.dtype == np.float32
    W = rng.normal(size=(3, 3)).astype(np.float32)
    assert s2s.grad(c.matmuls, argnums=1)(W, x).dtype == np.float32


@pytest.mark.parametrize("fun, x", [(c.while_loop, 0.7), (c.nested_loops, 0.3), (c.return_in_loop, 1.0),
                                    (c.recursion, 1.3), (c.for_range, 0.4), (c.elif_chain, 1.5)],
                         ids=lambda v: getattr(v, "__name__", None))
def test_second_order_through_control_flow(fun, x):
    first = s2s.grad(fun)
    second = s2s.grad(first)
    assert second(x) == pytest.approx(numerical_grad(first, (x,)), rel=1e-5, abs=1e-6)


def test_third_order_of_loop():
    third = s2s.grad(s2s.grad(s2s.grad(c.for_range)))
    expected = sum(-(i ** 3) * np.cos(0.4 * i) for i in range(4))
    assert third(0.4) == pytest.approx(expected, rel=1e-8)


def test_gradient_is_writable_and_caller_arrays_untouched():
    x = rng.normal(size=(2, 3))
    g = s2s.grad(lambda z: np.sum(z))(x)
    g += 1.0      # broadcast views are copied before they reach the user
    assert np.all(g == 2.0)


def test_zero_gradient_of_reassigned_parameter_keeps_its_shape():
    g = s2s.grad(c.count_positive)(np.ones(3), 0)
    assert g.shape == (3,) and not g.any()


def test_vjp_function_can_be_called_twice_and_nested_loops_differentiate_twice():
    out, vjp_fun = s2s.vjp(c.for_range, 0.3)
    assert vjp_fun(1.0) == vjp_fun(1.0)
    second = s2s.grad(s2s.grad(c.calls_loop))
    assert second(0.4) == pytest.approx(numerical_grad(s2s.grad(c.calls_loop), (0.4,)), rel=1e-6)


def test_einsum_operands_are_differentiated():
    gA, gv = s2s.grad(c.uses_einsum, argnums=(0, 1))(A, V)
    assert_tree_close(gA, numerical_grad(c.uses_einsum, (A, V), 0), rtol=1e-5)
    assert_tree_close(gv, numerical_grad(c.uses_einsum, (A, V), 1), rtol=1e-5)


def test_call_result_rebinding_an_argument():
    assert s2s.grad(c.result_named_like_argument)(1.0) == pytest.approx(2.7)
