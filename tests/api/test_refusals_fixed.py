"""Valid programs s2s used to refuse (issue 9, deliverable 4), each checked against values computed
without s2s: grad and jvp against central differences in float64, vmap against a Python loop,
jit against the plain function."""
import numpy as np
import pytest

import s2s
from numerics import assert_tree_close, numerical_grad

RNG = np.random.default_rng(0)
X = RNG.normal(size=4)


def _scaled(x, s):
    """`x * s` for an array or a list of arrays."""
    return [a * s for a in x] if isinstance(x, list) else x * s


def _plus(x, t, s):
    return [a + s * b for a, b in zip(x, t)] if isinstance(x, list) else x + s * t


def _zeros(x):
    return [np.zeros_like(a) for a in x] if isinstance(x, list) else np.zeros_like(x)


def _stacked(x):
    return [np.stack([a, a * 1.5]) for a in x] if isinstance(x, list) else np.stack([x, x * 1.5])


def check_grad(f, args):
    assert_tree_close(s2s.grad(f)(*args), numerical_grad(f, args))


def check_jvp(f, args):
    """Tangent along the first argument, against a central difference."""
    t = _scaled(args[0], 0.0)
    t = [a + 0.3 for a in t] if isinstance(t, list) else t + 0.3
    eps = 1e-6
    expected = (f(_plus(args[0], t, eps), *args[1:]) - f(_plus(args[0], t, -eps), *args[1:])) / (2 * eps)
    out, out_dot = s2s.jvp(f, args, (t,) + tuple(_zeros(a) for a in args[1:]))
    assert_tree_close(out, f(*args))
    assert_tree_close(out_dot, expected)


def check_vmap(f, args):
    """Batched over the first argument (two examples), against a Python loop."""
    expected = np.stack([f(args[0], *args[1:]), f(_scaled(args[0], 1.5), *args[1:])])
    in_axes = (0,) + (None,) * (len(args) - 1)
    assert_tree_close(s2s.vmap(f, in_axes=in_axes)(_stacked(args[0]), *args[1:]), expected)


def check_jit(f, args):
    assert_tree_close(s2s.jit(f)(*args), f(*args))


CHECKS = {"grad": check_grad, "jvp": check_jvp, "vmap": check_vmap, "jit": check_jit}


# -- 1. comprehensions ----------------------------------------------------------------------------
def squares_of_items(x):
    return np.sum(np.array([x[i] ** 2 for i in range(3)]))


def weighted_sum_generator(w, xs):
    return np.sum(sum(w * v for v in xs))


def stacked_layers(h, Ws):
    return np.sum(np.stack([np.tanh(W @ h) for W in Ws]))


def nested_outer_product(x):
    return np.sum(np.array([[a * b for b in x] for a in x]))


def filtered_generator(x):
    return sum(x[i] ** 2 for i in range(4) if i % 2 == 0)


def two_generators_zip(x, ys):
    return np.sum(sum([a * b for a, b in zip(x, ys)]))


def comprehension_variable_shadows(x):
    i = 1.5                                  # the comprehension's i must not clobber this one
    ys = [x[i] * 2 for i in range(2)]
    return np.sum(np.array(ys)) * i + sum(x[i % 4] for i in range(3))


def inner_range_depends_on_outer(x):
    return np.sum(np.array([[x[i] * x[j] for j in range(i + 1)][-1] for i in range(3)]))


def list_of_generator_indexed(x):
    ys = list(np.sin(x[i]) for i in range(4))
    return ys[0] * ys[3] + ys[1]


def comprehension_in_loop(x):
    total = 0.0
    for k in range(2):
        total = total + np.sum(np.array([x[i] * k + x[i] ** 2 for i in range(k, 4)]))
    return total


def comprehension_as_argument_and_any(x):
    if any(v > 100.0 for v in [1.0, 2.0]):
        return np.sum(x)
    return np.sum(np.stack([x * c for c in [1.0, 2.0, 3.0]], axis=0) ** 2)


COMPREHENSIONS = [
    (squares_of_items, (X,)),
    (weighted_sum_generator, (X, [X + 1.0, X * 2.0])),
    (stacked_layers, (X, [np.eye(4), RNG.normal(size=(4, 4))])),
    (nested_outer_product, (X,)),
    (filtered_generator, (X,)),
    (two_generators_zip, (X, 2.0 * X)),
    (comprehension_variable_shadows, (X,)),
    (inner_range_depends_on_outer, (X,)),
    (list_of_generator_indexed, (X,)),
    (comprehension_in_loop, (X,)),
    (comprehension_as_argument_and_any, (X,)),
]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("f, args", COMPREHENSIONS, ids=[f.__name__ for f, _ in COMPREHENSIONS])
def test_comprehension(f, args, check):
    CHECKS[check](f, args)


def test_stacked_layers_gradient_wrt_the_list():
    g = s2s.grad(stacked_layers, argnums=1)(X, [np.eye(4), np.ones((4, 4))])
    assert_tree_close(g, numerical_grad(stacked_layers, (X, [np.eye(4), np.ones((4, 4))]), argnum=1))


def test_jit_of_grad_of_comprehension():
    f = squares_of_items
    assert_tree_close(s2s.jit(s2s.grad(f))(X), numerical_grad(f, (X,)))


def test_comprehension_lowered_readably():
    text = s2s.source(s2s.grad(squares_of_items))
    assert "for i in range(3):" in text and "items.append(" in text
    text = s2s.source(s2s.grad(comprehension_variable_shadows))
    assert "for i_1 in range(2):" in text                 # the user's i keeps its name and value


def test_comprehension_variable_does_not_leak():
    def f(x):
        v = x[0]
        ys = [v * 2 for v in x]                             # Python 3: the comprehension's v is its own
        return v * np.sum(np.array(ys))
    assert_tree_close(s2s.grad(f)(X), numerical_grad(f, (X,)))


scale = 10.0                      # a global that a comprehension variable shares its name with


def global_read_by_another_comprehension(x):
    a = [scale * 2 for scale in x]
    b = [k * scale for k in x]            # the global, not the first comprehension's last value
    return np.sum(np.array(a)) + np.sum(np.array(b) ** 2)


@pytest.mark.parametrize("check", ["grad", "jvp", "vmap"])
def test_comprehension_variable_named_like_a_global(check):
    CHECKS[check](global_read_by_another_comprehension, (X,))


def value_filtered(x):
    return np.sum(np.array([v for v in x if v > 0.0]) ** 2)


@pytest.mark.parametrize("check", ["grad", "jvp", "vmap"])
def test_comprehension_filtered_on_values(check):
    CHECKS[check](value_filtered, (X,))


def test_dict_comprehension_over_derivatives_still_refused():
    def f(x):
        d = {k: x[k] ** 2 for k in range(3)}
        return d[0] + d[2]
    with pytest.raises(s2s.TransformError, match="comprehension"):
        s2s.grad(f)(X)


def test_tuple_of_generator_still_refused():
    def f(x):
        ys = tuple(x * v for v in [1.0, 2.0])
        return np.sum(ys[1])
    with pytest.raises(s2s.TransformError, match="comprehension"):
        s2s.grad(f)(X)


# -- 2. vjp of a function with default parameters -----------------------------------------------
def scaled_norm(x, scale=2.0):
    return np.sum(x * x) * scale


def scaled_product(x, y, scale=2.0):
    return np.sum(x * y * scale)


def test_vjp_with_default_parameter():
    out, pullback = s2s.vjp(scaled_norm, X)
    assert_tree_close(out, scaled_norm(X))
    assert_tree_close(pullback(1.0), (numerical_grad(scaled_norm, (X,)),))


def test_vjp_with_default_parameter_two_primals_and_given_default():
    y = X + 1.0
    out, pullback = s2s.vjp(scaled_product, X, y)
    (gx, gy) = pullback(1.0)
    assert_tree_close(gx, numerical_grad(scaled_product, (X, y), 0))
    assert_tree_close(gy, numerical_grad(scaled_product, (X, y), 1))
    out, pullback = s2s.vjp(scaled_product, X, y, 3.0)        # the default given as a primal too
    g = pullback(1.0)
    assert len(g) == 3
    assert_tree_close(g[2], numerical_grad(scaled_product, (X, y, 3.0), 2))


@pytest.mark.parametrize("check", CHECKS)
def test_default_parameter_other_transformations(check):
    CHECKS[check](scaled_norm, (X,))


# -- 5. raise in a branch -------------------------------------------------------------------------
def validated(x):
    if x.ndim != 1:
        raise ValueError("x must be a vector")
    return np.sum(x ** 2)


def validated_values(x):
    y = x * 2
    if np.any(y > 100.0):
        raise ValueError(f"too large: {y}")
    elif x.shape[0] > 10:
        raise ValueError("too long")
    return np.sum(np.sin(y) * x)


def validated_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 100.0:
            raise ValueError("too big")
        s = s + x[i] ** 3
    return s


def _checked(x):
    if x.shape[0] == 0:
        raise ValueError("empty")
    return x * 3


def validated_by_helper(x):
    return np.sum(_checked(x) ** 2)


def validated_else_branch(x):
    if x[0] < 100.0:
        y = np.tanh(x)
    else:
        raise ValueError("first entry too large")
    return np.sum(y * x)


RAISES = [validated, validated_values, validated_in_loop, validated_by_helper, validated_else_branch]
STATIC_RAISES = {validated, validated_by_helper}        # the condition depends on shapes only


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("f", RAISES, ids=[f.__name__ for f in RAISES])
def test_raise_in_branch(f, check):
    if check == "jit" and f not in STATIC_RAISES:
        with pytest.raises(s2s.TransformError, match="raise"):
            s2s.jit(f)(X)
        return
    CHECKS[check](f, (X,))


@pytest.mark.parametrize("f", [validated_values, validated_in_loop, validated_else_branch])
def test_raise_still_raises(f):
    big = X + 200.0
    for run in (lambda: s2s.grad(f)(big), lambda: s2s.jvp(f, (big,), (X,)),
                lambda: s2s.vmap(f)(np.stack([X, big]))):
        with pytest.raises(ValueError):
            run()


def test_raise_on_shape_under_every_transformation():
    bad = np.ones((2, 2))
    for run in (lambda: s2s.grad(validated)(bad), lambda: s2s.jvp(validated, (bad,), (bad,)),
                lambda: s2s.vmap(validated)(np.ones((3, 2, 2))), lambda: s2s.jit(validated)(bad)):
        with pytest.raises(ValueError, match="vector"):
            run()


def test_raising_branch_not_differentiated():
    text = s2s.source(s2s.grad(validated_values))
    assert text.count("raise ValueError") == 2
    assert "raise ValueError(f'too large: {y}')" in text


# -- 6. a helper writing into a parameter that every call fills with a fresh array ----------------
def _fill(out, x):
    out[0] = x[0] * 2
    out[1] = np.sin(x[1])
    return out


def _accumulate(total, x):
    total += x * 2
    total[0] += x[1] * x[2]
    return total


def filled_fresh(x):
    return np.sum(_fill(np.zeros(2), x) ** 2)


def filled_fresh_twice(x):
    return np.sum(_accumulate(np.zeros_like(x), x) ** 2) + np.sum(_fill(np.ones(2) * 3.0, x) * x[:2])


def filled_named_buffer(x):
    buf = np.zeros(2)
    y = _fill(buf, x)
    return np.sum(y ** 2) + np.sum(buf)         # buf was written by _fill: s2s must not pretend otherwise


HELPER_WRITES = [filled_fresh, filled_fresh_twice]


@pytest.mark.parametrize("check", ["grad", "jvp", "vmap"])
@pytest.mark.parametrize("f", HELPER_WRITES, ids=[f.__name__ for f in HELPER_WRITES])
def test_helper_writes_into_fresh_argument(f, check):
    CHECKS[check](f, (X,))


def test_jit_of_grad_of_helper_writing_into_fresh_argument():
    assert_tree_close(s2s.jit(s2s.grad(filled_fresh))(X), numerical_grad(filled_fresh, (X,)))


def test_helper_writing_into_named_argument_still_refused():
    for transform in (s2s.grad, s2s.vmap):
        with pytest.raises(s2s.TransformError, match="in place"):
            transform(filled_named_buffer)(X if transform is s2s.grad else np.stack([X, X]))


def test_function_writing_into_its_own_argument_still_refused():
    with pytest.raises(s2s.TransformError, match="in place"):
        s2s.grad(_fill, argnums=1)(np.zeros(2), X)


# -- 4. tuple and list `+=` -----------------------------------------------------------------------
def tuple_grown(x):
    t = ()
    t += (x * 2,)
    t += (np.sin(x),)
    return np.sum(t[0] * t[1])


def tuple_grown_in_loop(x):
    t = ()
    for i in range(3):
        t = t + (x[i] ** 2, x[i])
    return np.sum(np.stack(t)) * len(t)


def list_grown(x):
    t = []
    t += [x * 2]
    t += [x * 3, np.sin(x)]
    return np.sum(t[0] * t[1] + t[2])


def array_plus_tuple(x):
    return np.sum((x[:2] + (1.0, 2.0)) ** 2)      # NumPy broadcasting, not concatenation


GROWN = [tuple_grown, tuple_grown_in_loop, list_grown]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("f", GROWN, ids=[f.__name__ for f in GROWN])
def test_sequence_grown_by_plus(f, check):
    CHECKS[check](f, (X,))


@pytest.mark.parametrize("check", ["grad", "jvp", "vmap"])
def test_array_plus_tuple_is_still_addition(check):
    CHECKS[check](array_plus_tuple, (X,))


def test_tuple_grown_and_returned_refused():
    def f(x):
        t = (x,)
        t += (x * 2,)
        return t
    with pytest.raises(s2s.TransformError, match="joining tuples"):
        s2s.jvp(f, (X,), (X,))


def test_list_grown_from_itself_refused():
    def f(x):
        t = [x]
        for k in range(2):
            t = t + [t[-1] * 2]
        return np.sum(np.array(t) ** 2)
    with pytest.raises(s2s.TransformError, match="joining tuples"):
        s2s.grad(f)(X)


# -- 3. *args -------------------------------------------------------------------------------------
def sum_of_squares(*xs):
    return sum(np.sum(x ** 2) for x in xs)


def _scaled_sines(scale, *xs):
    return scale * sum(np.sum(np.sin(x)) for x in xs)


def calls_varargs_helper(x, y):
    return _scaled_sines(2.0, x, y * x) + sum_of_squares(x)


def forwards_varargs(*xs):
    return _scaled_sines(3.0, *xs)


Y = X + 1.0


def test_grad_of_varargs_function_over_positions():
    assert_tree_close(s2s.grad(sum_of_squares)(X, Y), 2.0 * X)
    assert_tree_close(s2s.grad(sum_of_squares, argnums=(0, 1))(X, Y), (2.0 * X, 2.0 * Y))
    assert_tree_close(s2s.grad(sum_of_squares)(X), 2.0 * X)            # another arity, another module
    value, g = s2s.value_and_grad(forwards_varargs, argnums=1)(X, Y)
    assert_tree_close(value, forwards_varargs(X, Y))
    assert_tree_close(g, numerical_grad(forwards_varargs, (X, Y), 1))


def test_vjp_of_varargs_function():
    out, pullback = s2s.vjp(forwards_varargs, X, Y)
    assert_tree_close(out, forwards_varargs(X, Y))
    assert_tree_close(pullback(1.0), (numerical_grad(forwards_varargs, (X, Y), 0),
                                      numerical_grad(forwards_varargs, (X, Y), 1)))


@pytest.mark.parametrize("check", ["grad", "jvp", "vmap"])
def test_varargs_helper(check):
    CHECKS[check](calls_varargs_helper, (X, Y))


def test_jit_of_grad_with_varargs_helper():
    assert_tree_close(s2s.jit(s2s.grad(calls_varargs_helper))(X, Y), numerical_grad(calls_varargs_helper, (X, Y)))
