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


# -- builtins that rebuild containers carry derivatives -----------------------------------------
@pytest.mark.parametrize("f, x, expected", [
    (lambda x: tuple([x * 3.0])[0], 2.0, 3.0),
    (lambda x: list((x * 3.0, x))[0], 2.0, 3.0),
    (lambda x: sorted([x * 3.0, x * x])[0], 2.0, 4.0),          # [6, 4] sorted: x * x comes first
    (lambda x: list(reversed([x * 3.0, x * x]))[0], 2.0, 4.0),
    (lambda x: dict(zip(["a", "b"], [x, x * x]))["b"], 2.0, 4.0),
    (lambda x: np.sum(np.linspace(0.0, x, 4)), 1.0, 2.0),
    (lambda x: np.sum(np.full(3, x)), 1.0, 3.0),
    (lambda x: np.sum(np.full_like(np.ones(3), x)), 1.0, 3.0),
    (lambda x: np.sum(np.arange(3) * x + np.arange(x, x + 3.0)), 1.0, 6.0),
], ids=["tuple", "list", "sorted", "reversed", "dict-zip", "linspace", "full", "full_like", "arange"])
def test_builtins_carry_derivatives_in_both_modes(f, x, expected):
    np.testing.assert_allclose(s2s.grad(f)(x), expected)
    np.testing.assert_allclose(s2s.jvp(f, (x,), (1.0,))[1], expected)


def test_dict_of_keywords_carries_derivatives():
    def g(a, b):
        d = dict(a=a, b=b)
        return d['a'] * d['b']
    np.testing.assert_allclose(s2s.grad(g)(2.0, 3.0), 3.0)
    np.testing.assert_allclose(s2s.jvp(g, (2.0, 3.0), (1.0, 0.0))[1], 3.0)


def test_dict_methods_carry_derivatives():
    def g(a, b):
        d = {"a": a, "b": b}
        s = 0.0
        for v in d.values():
            s = s + v * v
        for k, v in list(d.items()):
            s = s + v
        return s + d.get("a") + d.get("c", 0.0) + d.get("c", b)
    np.testing.assert_allclose(s2s.grad(g, argnums=(0, 1))(2.0, 3.0), (2 * 2.0 + 1 + 1, 2 * 3.0 + 1 + 1))


@pytest.mark.parametrize("which", ["r_", "c_"])
def test_index_tricks_concatenate_with_derivatives(which):
    def f(x):
        if which == "r_":
            return np.sum(np.r_[x, x ** 2] ** 2)
        return np.sum(np.c_[x, x ** 2] ** 2)
    x = np.array([1.0, 2.0])
    expected = numerical_grad(f, (x,))
    np.testing.assert_allclose(s2s.grad(f)(x), expected, rtol=1e-6)
    np.testing.assert_allclose(s2s.jvp(f, (x,), (np.ones(2),))[1], np.sum(expected), rtol=1e-6)
    batch = np.stack([x, 2 * x])
    np.testing.assert_allclose(s2s.vmap(f)(batch), [f(x), f(2 * x)])


def test_forward_mode_raises_where_reverse_mode_raises_or_is_right():
    def sym(A):
        return np.tril(A) + np.tril(A, -1).T
    f = lambda A: np.sum(sym(A) ** 2)
    _, tangent = s2s.jvp(f, (np.eye(2),), (np.ones((2, 2)),))
    np.testing.assert_allclose(tangent, 4.0)
    np.testing.assert_allclose(s2s.grad(f)(np.eye(2)), numerical_grad(f, (np.eye(2),)), atol=1e-7)


def test_forward_mode_refuses_an_op_without_rules_inside_a_helper():
    def helper(x):
        return np.fft.fft(x).real
    f = lambda x: np.sum(helper(x) ** 2)
    with pytest.raises(s2s.TransformError, match="no derivative rule"):
        s2s.jvp(f, (np.ones(3),), (np.ones(3),))
    with pytest.raises(s2s.TransformError, match="no derivative rule"):
        s2s.grad(f)(np.ones(3))


def test_vmap_of_full_like_with_a_batched_fill():
    f = lambda x: np.sum(np.full_like(x, x[0]) * x)
    batch = np.array([[0.3, -0.7], [1.5, 2.0]])
    np.testing.assert_allclose(s2s.vmap(f)(batch), [f(b) for b in batch])


# -- second derivatives -------------------------------------------------------------------------
def test_hessian_of_einsum_squared():
    H = s2s.hessian(lambda x: np.einsum("i,i->", x, x) ** 2)(np.array([.5, -1.]))
    np.testing.assert_allclose(H, [[7.0, -4.0], [-4.0, 13.0]], rtol=1e-10)


def test_hessian_through_vstack_of_a_list():
    def h(x):
        rows = []
        for i in range(2):
            rows.append(x * x[i])
        return np.sum(np.vstack(rows) ** 2)
    np.testing.assert_allclose(s2s.hessian(h)(np.array([.5, -1.])), [[7.0, -4.0], [-4.0, 13.0]], rtol=1e-10)


def test_fourth_derivative_of_a_cube():
    cube = lambda x: x * x * x
    assert s2s.grad(s2s.grad(s2s.grad(cube)))(1.0) == 6.0
    assert s2s.grad(s2s.grad(s2s.grad(s2s.grad(cube))))(1.0) == 0.0


# -- crashes inside generated code --------------------------------------------------------------
def test_loop_over_a_helper_that_rebinds_a_parameter():
    def step(w, y):
        return np.tanh(y * w)

    def f(w, y):
        for k in range(3):
            y = step(w, y)
        return np.sum(y)
    w, y = np.array([.5, .7]), np.ones(2)
    np.testing.assert_allclose(s2s.grad(f)(w, y), numerical_grad(f, (w, y)), rtol=1e-7)
    np.testing.assert_allclose(s2s.grad(f, argnums=1)(w, y), numerical_grad(f, (w, y), argnum=1), rtol=1e-7)


def test_list_entries_no_one_reads_are_zeros():
    def u(x):
        outs = []
        for i in range(3):
            outs.append(np.sin(x * i))
        return np.sum(outs[0]) + np.sum(outs[1])
    x = np.array([1., 2.])
    np.testing.assert_allclose(s2s.grad(u)(x), np.cos(x))


def test_generated_names_never_shadow_builtins():
    def z(log_proportions, means):
        s = 0.0
        for lp, m in zip(log_proportions, means):
            s = s + lp * np.sum(m)
        return s
    np.testing.assert_allclose(s2s.grad(z)(np.ones(3), np.ones((3, 2))), np.full(3, 2.0))
    text = s2s.source(s2s.grad(z))
    assert "len = " not in text


# -- edge values --------------------------------------------------------------------------------
def test_power_at_the_edges_follows_jax():
    assert s2s.grad(lambda y: np.power(0.0, y))(2.0) == 0.0
    assert s2s.grad(lambda x: np.power(x, 0.0))(0.0) == 0.0
    assert s2s.jvp(lambda y: np.power(0.0, y), (2.0,), (1.0,))[1] == 0.0
    assert s2s.jvp(lambda x: np.power(x, 0.0), (0.0,), (1.0,))[1] == 0.0
    np.testing.assert_array_equal(s2s.grad(lambda x: np.sum(x ** np.arange(3.0)))(np.zeros(3)), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(s2s.grad(lambda y: np.sum(0.0 ** y))(np.array([2.0, 3.0])), [0.0, 0.0])


def test_power_with_a_constant_exponent_reads_as_the_textbook_rule():
    text = s2s.source(s2s.grad(lambda x: np.sum(x ** 3)))
    assert "power_dx" not in text and "x ** 2" in text


# -- found by the fuzzer (tests/fuzz), minimized -------------------------------------------------
def test_loop_over_a_sequence_the_body_rebinds():
    def f(x, y):
        acc = x
        for k, c in enumerate(acc):      # Python iterates the array it started with
            acc = acc + c * y
        return np.sum(acc)
    x = np.array([-0.27, -0.02, -0.2])
    gx, gy = s2s.grad(f, argnums=(0, 1))(x, 0.3)
    np.testing.assert_allclose(gx, numerical_grad(f, (x, 0.3)), rtol=1e-6)
    np.testing.assert_allclose(gy, numerical_grad(f, (x, 0.3), argnum=1), rtol=1e-6)
    np.testing.assert_allclose(s2s.vmap(f)(np.stack([x, 2 * x]), np.array([1.0, 2.0])), [f(x, 1.0), f(2 * x, 2.0)])


def test_jvp_through_a_local_lambda_with_a_constant_result():
    def f(x):
        g0 = lambda z: 0.5
        return g0(x) * np.sum(x)
    x = np.array([-0.33, 0.44, 0.05])
    out, tangent = s2s.jvp(f, (x,), (np.ones(3),))
    np.testing.assert_allclose((out, tangent), (f(x), 1.5))


def test_vmap_aligns_a_matmul_result_that_has_fewer_axes():
    f = lambda x: np.sum(x + x @ x) + (x + x @ x) @ x
    batch = np.array([[-0.44, -1.57, -1.31], [0.2, 0.4, -0.9], [1.0, 0.5, 0.25]])   # B == length: no broadcast error
    np.testing.assert_allclose(s2s.vmap(f)(batch), [f(b) for b in batch])
    x = batch[0]
    g = lambda x: (x + x @ x) @ (x + x @ x)
    H = s2s.hessian(g)(x)
    np.testing.assert_allclose(H, H.T, rtol=1e-10)
    np.testing.assert_allclose(H, np.array([numerical_grad(lambda z: s2s.grad(g)(z)[i], (x,)) for i in range(3)]),
                               rtol=1e-6)


def test_local_lambda_called_with_constants_in_every_mode():
    def f(x):
        g0 = lambda z: z
        u1 = g0(0.059)
        return u1 + np.sum(x * g0(2.0))
    x = np.array([1.39, 1.45, 0.5])
    np.testing.assert_allclose(s2s.grad(f)(x), np.full(3, 2.0))
    np.testing.assert_allclose(s2s.jvp(f, (x,), (np.ones(3),)), (f(x), 6.0))
    np.testing.assert_allclose(s2s.vjp(f, x)[1](1.0)[0], np.full(3, 2.0))
    np.testing.assert_allclose(s2s.vmap(f)(np.stack([x, 2 * x])), [f(x), f(2 * x)])


def test_jit_keeps_the_operand_order_of_arctan2():
    # arctan2's row names its operands (y, x); the compiled code passed them as (x, y)
    def f(y, x):
        return np.arctan2(y, x) + np.sum(np.arctan2(np.array([y, 1.0]), x))

    jf = s2s.jit(f)
    jf(0.3, 2.0)
    jf.__s2s__.wait()
    np.testing.assert_allclose(jf(0.3, 2.0), f(0.3, 2.0), rtol=1e-12)


def _compiled(fn, *args):
    jf = s2s.jit(fn)
    jf(*args)
    jf.__s2s__.wait()
    return jf(*args)


def _assert_compiled_matches(fn, *args, rtol=1e-12, atol=0.0):
    """jit(fn) on its compiled path (not the NumPy answer of the first call) gives fn's values."""
    jitted = s2s.jit(fn)
    jitted(*args)
    jitted.__s2s__.wait()
    assert jitted.__s2s__.latest.error is None
    np.testing.assert_allclose(jitted(*args), fn(*args), rtol=rtol, atol=atol)


C2 = np.array([-0.750, -0.741, -0.465])
C6 = np.array([[-0.585, -0.864, 0.185], [-0.107, 0.043, 0.192], [-0.195, 0.943, -0.104]])


def test_jit_folded_constants_never_take_a_local_name():
    # the folded arcsin(...)[2] was stored as `const_1`, a name the function already used for C2
    def f(x, y):
        s = np.max(y * C2) * 0.5 + np.sin(y)
        e = np.arcsin(0.5 * np.tanh(C6))[2] if C2[1] < s else np.sqrt(x * x + 1.0) ** 3
        return np.sum(np.sin(e)) + np.sum(C2 * s)

    x = np.array([0.3, -0.2, 0.5])
    np.testing.assert_allclose(_compiled(f, x, 0.7), f(x, 0.7), rtol=1e-12)


def test_jit_zero_dimensional_constant_stays_a_scalar():
    # a folded logsumexp of constants is a 0-d array; it was stored 1-d and the result had shape (1,)
    from scipy.special import logsumexp

    def f(x):
        return logsumexp([0.463, 0.463]) + np.sum(x)

    x = np.array([-1.09, 0.48, -1.98])
    out = _compiled(f, x)
    assert np.shape(out) == ()
    np.testing.assert_allclose(out, f(x), rtol=1e-12)


def test_jit_names_never_a_keyword():
    # jit of grad of a function branching on `if y:` named a temporary `not`
    def f(x, y):
        b = 0.5 if y else np.mean(x)
        return b + np.dot(np.array([0.1, 0.4, 0.2]), x)

    x = np.array([-1.09, 0.48, -1.98])
    np.testing.assert_allclose(_compiled(s2s.grad(f), x, 0.52), s2s.grad(f)(x, 0.52), rtol=1e-12)


def _apply(fn, a):
    return fn(a)


def test_vmap_of_a_lambda_reading_a_batched_local_keeps_each_example():
    # the per-example loop made `lambda q: x[example] @ x[example]`: every lambda saw the last example
    def f(x):
        return _apply(lambda q: x @ x, x)

    def g(x):                               # its parameter is read too (was "name `q` is not defined")
        return _apply(lambda q: np.sum(x * q), x)

    def h(x):                               # a lambda parameter shadowing the batched name
        return _apply(lambda x: np.sum(x * 2.0), x) + np.sum(x)

    xs = np.stack([np.array([0.3, 0.8, 0.5]) * c for c in (1.0, 0.5, -1.0)])
    for fn in (f, g, h):
        np.testing.assert_allclose(s2s.vmap(fn)(xs), [fn(r) for r in xs], rtol=1e-12)


def test_calling_a_lambda_expression_is_refused_with_a_clear_message():
    def f(x):
        return (lambda q: np.sum(x * q))(x)

    with pytest.raises(s2s.TransformError, match="calling the result of an expression"):
        s2s.grad(f)(np.ones(3))


# -- a known function passed as an argument (autograd's odeint(func, ...), nonlinearity=np.tanh) --
def _square_plus(v, c):
    return v * v + c


def _step(func, y, c):
    return func(y, c) + func(y * 0.5, c)


def _integrate(func, y, c, n=3):
    for _ in range(n):
        y = _step(func, y, c) * 0.3
    return y


def _layer(w, x, nonlinearity=np.tanh):
    return nonlinearity(w * x)


def _repeat(func, y, n):
    if n == 0:
        return y
    return _repeat(func, func(y, 0.1), n - 1)


def test_a_known_function_passed_as_an_argument_is_called_through():
    def loss(y, c):
        return np.sum(_integrate(_square_plus, y, c)) + np.sum(_layer(c, y)) \
            + np.sum(_layer(c, y, np.sin)) + np.sum(_repeat(_square_plus, y, 2))

    y, c = np.array([0.3, -0.2]), 0.4
    for k in (0, 1):
        np.testing.assert_allclose(s2s.grad(loss, argnums=k)(y, c), numerical_grad(loss, (y, c), k),
                                   rtol=1e-6, atol=1e-9)
    _, tangent = s2s.jvp(loss, (y, c), (np.ones(2), 0.0))
    np.testing.assert_allclose(tangent, np.sum(numerical_grad(loss, (y, c), 0)), rtol=1e-6)
    ys = np.stack([y, -y, 2 * y])
    np.testing.assert_allclose(s2s.vmap(loss, in_axes=(0, None))(ys, c), [loss(r, c) for r in ys], rtol=1e-12)
    h = s2s.hessian(loss)(y, c)
    grad_y = s2s.grad(loss)
    columns = [(grad_y(y + e, c) - grad_y(y - e, c)) / 2e-6 for e in np.eye(2) * 1e-6]
    np.testing.assert_allclose(h, np.stack(columns, axis=1), rtol=1e-5, atol=1e-7)
    before = y.copy()
    s2s.grad(loss)(y, c)
    np.testing.assert_array_equal(y, before)


def _apply(fn, x):
    return fn(x)


def _apply_scaled(fn, x, scale=2.0):
    return _apply(fn, x) * scale


def _iterate(fn, y, n):
    if n == 0:
        return y
    return _iterate(fn, fn(y), n - 1)


def test_a_lambda_or_local_def_passed_to_a_helper_is_called_through():
    # was "no derivative rule for `fn`": the lambda is lifted and bound in a copy of the helper,
    # the caller's locals it reads passed as leading parameters
    def loss(x, c):
        s = np.sin(x)

        def g(v):
            return v * c + s

        def h(v):
            return g(v) ** 2          # a local def calling another one

        return np.sum(_apply(lambda q: q * s, x)) + np.sum(_apply_scaled(g, x)) \
            + np.sum(_iterate(lambda q: np.tanh(q) * c, x, 2)) + np.sum(_apply(h, x)) \
            + np.sum(_apply(lambda q: _apply(lambda r: r * q, q), x))

    x, c = np.array([0.3, -0.7]), 0.4
    for k in (0, 1):
        np.testing.assert_allclose(s2s.grad(loss, argnums=k)(x, c), numerical_grad(loss, (x, c), k),
                                   rtol=1e-6, atol=1e-9)
    _, tangent = s2s.jvp(loss, (x, c), (np.ones(2), 1.0))
    expected = np.sum(numerical_grad(loss, (x, c), 0)) + numerical_grad(loss, (x, c), 1)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6)
    xs = np.stack([x, -x, 2 * x])
    np.testing.assert_allclose(s2s.vmap(loss, in_axes=(0, None))(xs, c), [loss(r, c) for r in xs], rtol=1e-12)
    grad_x = s2s.grad(loss)
    columns = [(grad_x(x + e, c) - grad_x(x - e, c)) / 2e-6 for e in np.eye(2) * 1e-6]
    np.testing.assert_allclose(s2s.hessian(loss)(x, c), np.stack(columns, axis=1), rtol=1e-5, atol=1e-7)
    for fn in (loss, s2s.grad(loss)):
        _assert_compiled_matches(fn, x, c, rtol=1e-12)
    before = x.copy()
    s2s.grad(loss)(x, c)
    np.testing.assert_array_equal(x, before)


def test_a_local_function_used_as_a_value_is_refused():
    def loss(x):
        def g(v):
            return v * 2.0
        pair = (g, g)
        return np.sum(pair[0](x))

    with pytest.raises(s2s.TransformError, match="local function `g` is used as a value"):
        s2s.grad(loss)(np.ones(2))


def _affine(w, x, b):
    return w * x + b


def test_a_local_alias_or_partial_of_a_function_is_called_through():
    # were "no derivative rule for `act`" / "`p`" (jit: "cannot compile a call of partial")
    import functools
    from functools import partial

    def loss(x, w):
        act = np.tanh
        layer = functools.partial(_affine, w, b=0.5)
        twice = partial(_apply, lambda q: q * w)

        def square(v):
            return v * v

        sq = square
        return np.sum(act(layer(x))) + np.sum(twice(x)) + np.sum(_apply(act, x)) + np.sum(sq(x))

    x, w = np.array([0.3, -0.7]), 0.8
    for k in (0, 1):
        np.testing.assert_allclose(s2s.grad(loss, argnums=k)(x, w), numerical_grad(loss, (x, w), k),
                                   rtol=1e-6, atol=1e-9)
    _, tangent = s2s.jvp(loss, (x, w), (np.ones(2), 1.0))
    expected = np.sum(numerical_grad(loss, (x, w), 0)) + numerical_grad(loss, (x, w), 1)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6)
    xs = np.stack([x, -x, 2 * x])
    np.testing.assert_allclose(s2s.vmap(loss, in_axes=(0, None))(xs, w), [loss(r, w) for r in xs], rtol=1e-12)
    for fn in (loss, s2s.grad(loss)):
        _assert_compiled_matches(fn, x, w, rtol=1e-12)


def test_a_partial_keeps_the_values_it_was_made_with():
    # the partial holds the first w and the b computed when it was made; calls after `w = ...`
    # must still see them
    import functools

    def loss(x):
        w = x * 2.0
        layer = functools.partial(_affine, w, b=np.sum(np.sin(w)))
        w = x * 3.0
        return np.sum(layer(x)) + np.sum(w)

    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(s2s.grad(loss)(x), numerical_grad(loss, (x,), 0), rtol=1e-6)
    assert "layer_b = " in s2s.source(s2s.grad(loss))


def _apply_twice(fn, a, k=2):
    out = fn(a)
    for _ in range(k - 1):
        out = out + fn(a * 0.5)
    return out


def test_a_partial_passed_to_a_helper_is_called_through():
    # fuzz seed 5150 index 50: `apply8(functools.partial(h9, b=min(s7, acc0)), ...)` was
    # "no derivative rule for `fn`"; the partial's arguments become leading parameters of the copy
    import functools

    def loss(x, w):
        s = np.sum(x)

        def scaled(v, c):
            return v * c + s

        return np.sum(_apply_twice(functools.partial(_affine, w, b=min(s, w)), np.sinh(x), 3)) \
            + np.sum(_apply(functools.partial(scaled, c=w * 2.0), x)) \
            + np.sum(_apply_scaled(functools.partial(_affine, b=np.cos(w), x=x), w))

    x, w = np.array([0.3, -0.7]), 0.8
    for k in (0, 1):
        np.testing.assert_allclose(s2s.grad(loss, argnums=k)(x, w), numerical_grad(loss, (x, w), k),
                                   rtol=1e-6, atol=1e-9)
    _, tangent = s2s.jvp(loss, (x, w), (np.ones(2), 1.0))
    expected = np.sum(numerical_grad(loss, (x, w), 0)) + numerical_grad(loss, (x, w), 1)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6)
    xs = np.stack([x, -x, 2 * x])
    np.testing.assert_allclose(s2s.vmap(loss, in_axes=(0, None))(xs, w), [loss(r, w) for r in xs], rtol=1e-12)
    grad_x = s2s.grad(loss)
    columns = [(grad_x(x + e, w) - grad_x(x - e, w)) / 2e-6 for e in np.eye(2) * 1e-6]
    np.testing.assert_allclose(s2s.hessian(loss)(x, w), np.stack(columns, axis=1), rtol=1e-5, atol=1e-7)
    for fn in (loss, s2s.grad(loss)):
        _assert_compiled_matches(fn, x, w, rtol=1e-12)


def _first(a, b):
    return a


def test_a_partial_passed_to_a_helper_on_inactive_values():
    # fuzz seed 24680 index 70: the helper call needs no derivative, so its plain forward sweep
    # ran `fn(a)` with `fn` unbound (NameError)
    import functools

    def loss(x, y):
        s = _apply_twice(functools.partial(_first, b=abs(y)), y * 0.5)
        return s + np.sum(np.sin(x))

    x, y = np.array([0.3, -0.7]), 0.8
    np.testing.assert_allclose(s2s.grad(loss)(x, y), np.cos(x), rtol=1e-12)
    np.testing.assert_allclose(s2s.grad(loss, argnums=1)(x, y), numerical_grad(loss, (x, y), 1), rtol=1e-6)
    np.testing.assert_allclose(s2s.vmap(loss, in_axes=(0, None))(np.stack([x, -x]), y),
                               [loss(x, y), loss(-x, y)], rtol=1e-12)


# -- writes in place through a name that shares memory with another --------------------------
# Each of these gave a silently wrong gradient: the write was taken for a new value, while NumPy
# changes the object every sharing name sees.
def _in_list(x):
    acc = x * 1.0
    out = []
    for _ in range(3):
        out.append(acc)
        acc += x
    return np.sum(out[0] * out[1])


def _through_reshape(x):
    acc = x * 1.0
    b = acc.reshape(3, 1)
    acc *= 3.0
    return np.sum(b * x[:, None])


def _through_asarray(x):
    acc = x * 1.0
    b = np.asarray(acc)
    acc += 1.0
    return np.sum(b * x)


def _in_tuple(x):
    acc = x * 1.0
    t = (acc, 2.0)
    acc += 1.0
    return np.sum(t[0] * x)


def _item_write_into_a_view(x):
    acc = x * 1.0
    b = acc[0:2]
    b[0] = b[0] * 5.0
    return np.sum(acc * x)


def _rows_changed_in_a_loop(x):
    rows = np.stack([x, x * 2])
    for r in rows:
        r *= 2.0
    return np.sum(rows * x)


def _read_out_of_a_tuple(x):
    acc = x * 1.0
    t = (acc, 2.0)
    b = t[0]
    b += 1.0
    return np.sum(acc * x)


@pytest.mark.parametrize("fn", [_in_list, _through_reshape, _through_asarray, _in_tuple, _item_write_into_a_view,
                                _rows_changed_in_a_loop, _read_out_of_a_tuple])
def test_a_write_seen_through_another_name_is_refused(fn):
    with pytest.raises(s2s.TransformError, match="shares memory with"):
        s2s.grad(fn)(np.array([0.3, 0.5, 0.7]))


def _view_rebound_before_it_is_read(x, y):
    # fuzz seed 24680 index 15: t is a fresh view each iteration, read before the write
    acc = 1.0 * (y - x)
    for i in range(2):
        t = acc[i]
        s = np.sin(t) + np.mean(x)
        acc -= 0.5 * s * x
    return np.sum(acc ** 2)


def _view_never_read_again(x):
    acc = 1.0 * x
    for i in range(3):
        t = acc[i]
        acc *= np.cos(x)
    return np.sum(acc)


def _copied_then_written(x):
    h = x.copy()
    h[0] = h[0] * 3.0
    b = h + 1.0
    b += x
    return np.sum(h * b)


@pytest.mark.parametrize("fn, args", [(_view_rebound_before_it_is_read, (np.array([0.3, 0.5, 0.7]), 0.4)),
                                      (_view_never_read_again, (np.array([0.3, 0.5, 0.7]),)),
                                      (_copied_then_written, (np.array([0.3, 0.5, 0.7]),))])
def test_a_write_nothing_else_sees_is_differentiated(fn, args):
    for k in range(len(args)):
        np.testing.assert_allclose(s2s.grad(fn, argnums=k)(*args), numerical_grad(fn, args, k), rtol=1e-6, atol=1e-9)
    before = [np.copy(a) for a in args]
    s2s.grad(fn)(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)


def test_jit_of_triangles_slogdet_cholesky_and_repeated_two_axis_index_add():
    # were "jit has no compiled version of `tril`", of slogdet/cholesky, and index_add with
    # repeated indices only along the first axis (the gradient of np.diag(L) in the GP corpus)
    def f(a, s):
        sign, logdet = np.linalg.slogdet(a)
        chol = np.linalg.cholesky(a @ a.T + np.eye(3))
        return logdet * sign + np.sum(np.log(np.diag(chol))) + np.sum(np.tril(a) * 2 + np.triu(a, 1) ** 2) \
            + np.sum(np.atleast_1d(s) * 3.0) + np.sum(np.roll(a, 1, axis=0) * np.repeat(a, 2, axis=1)[:, :3])

    a, s = np.random.RandomState(0).randn(3, 3) + 3 * np.eye(3), 0.5
    for k in (0, 1):
        np.testing.assert_allclose(s2s.grad(f, argnums=k)(a, s), numerical_grad(f, (a, s), k), rtol=1e-6, atol=1e-8)
    for fn in (f, s2s.grad(f)):
        _assert_compiled_matches(fn, a, s, rtol=1e-12, atol=1e-14)


def test_jit_of_writes_into_a_zeros_array_and_builtin_min_of_a_reduction():
    # were "jit cannot assign into array([0., 0., 0.])" and Numba's "No implementation of
    # function min(array(float64, 0d), float64)" (fuzz seed 13579 indices 24 and 41)
    from scipy.special import logsumexp

    def f(x):
        out = np.zeros(3)
        for i in range(3):
            out[i] = x[i] * np.sum(x)
        return np.sum(out) + np.square(min(logsumexp(x), np.sum(x[1:]))) + max(np.sum(x), 0.1)

    def shared(x):
        a = np.zeros(3)
        b = a
        a[0] = x[0]
        return np.sum(b)

    x = np.array([0.3, -0.7, 0.2])
    for fn in (f, s2s.grad(f)):
        _assert_compiled_matches(fn, x)
    with pytest.raises(s2s.TransformError, match="cannot assign into"):    # b would not see the write
        s2s.jit(shared)(x)


class _Scale:
    def __init__(self, factor, activation=None):
        self.factor = factor
        self.activation = activation

    def __call__(self, x):
        y = x * self.factor
        if self.activation is not None:
            y = self.activation(y)
        return y


class _Stack:
    def __init__(self, layers):
        self.layers = layers

    def predict(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def loss(self, x, w):
        return np.sum(self.predict(x) * w)


def test_methods_callable_objects_and_loops_over_layers():
    # were "no derivative rule for `self.predict`", "`layer`" and `layer.activation` (None called in
    # the branch the object's configuration never takes); jit(model.loss): "missing the argument"
    model = _Stack([_Scale(2.0, np.tanh), _Scale(0.5), _Scale(-1.5, np.sin)])
    x, w = np.array([0.3, -0.7]), np.array([1.0, 2.0])
    for k in (0, 1):
        np.testing.assert_allclose(s2s.grad(model.loss, argnums=k)(x, w), numerical_grad(model.loss, (x, w), k),
                                   rtol=1e-6, atol=1e-9)
    xs = np.stack([x, -x, 2 * x])
    np.testing.assert_allclose(s2s.vmap(model.loss, in_axes=(0, None))(xs, w), [model.loss(r, w) for r in xs],
                               rtol=1e-12)
    for fn in (model.loss, s2s.grad(model.loss)):
        _assert_compiled_matches(fn, x, w, rtol=1e-12)


def _energy(x, c):
    return np.sum(np.sin(x) * c + x ** 4)


def test_a_transformation_made_inside_transformed_code():
    # was "source of grad is not available (defined in <@beartype(s2s.api.grad)>)"
    def directional(x, v):
        slope = s2s.grad(_energy)
        return np.sum(slope(x, 2.0) * v) + np.sum(s2s.vmap(np.tanh)(x) * v)

    def hvp(x, v):
        return s2s.jvp(lambda q: s2s.grad(_energy)(q, 2.0), (x,), (v,))[1]

    x, v = np.array([0.3, -0.7]), np.array([1.0, 0.5])
    hessian = np.diag(-2.0 * np.sin(x) + 12.0 * x ** 2)
    np.testing.assert_allclose(s2s.grad(directional)(x, v), hessian @ v + v / np.cosh(x) ** 2, rtol=1e-10)
    np.testing.assert_allclose(hvp(x, v), hessian @ v, rtol=1e-10)


def _concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def test_varargs_joined_with_a_tuple_and_an_unread_list_entry():
    # autograd's LSTM: `args + (ones,)` was refused; once joined, the backward sweep passed the
    # None cotangent of a list entry nothing read to a helper's backward (TypeError)
    def loss(w, x, h):
        outs = [_concat_and_multiply(w, x, h)]
        for _ in range(2):
            h = np.tanh(_concat_and_multiply(w, x, h))
            outs.append(h)
        return np.sum(outs[0] * outs[1])          # outs[2] is never read

    w, x, h = np.linspace(-0.5, 0.5, 10).reshape(5, 2), np.array([[0.3, -0.2]]), np.array([[0.1, 0.4]])
    for k in range(3):
        np.testing.assert_allclose(s2s.grad(loss, argnums=k)(w, x, h), numerical_grad(loss, (w, x, h), k),
                                   rtol=1e-6, atol=1e-9)


def _log_sum_exp(x, axis=None, keepdims=False):
    max_x = np.max(x, axis=axis, keepdims=True)
    out = max_x + np.log(np.sum(np.exp(x - max_x), axis=axis, keepdims=True))
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out


def test_vmap_of_grad_through_a_branch_on_a_flag():
    # autograd's MLP: the flag `not keepdims` is saved for the backward sweep, where vmap saw it
    # batched and ran both branches, the untaken one on a None it never made: wrong gradients
    def example_loss(w, x):
        o = x[None, :] * w
        return np.sum(o - _log_sum_exp(o, axis=1, keepdims=True)) + np.sum(_log_sum_exp(o * x, axis=1))

    def mixed(w, x):                         # a condition that does differ between examples
        return np.sum(np.sin(w) * x) if np.sum(x) > 0 else np.sum(w ** 2 * x)

    w, xs = np.array([0.5, -1.0, 2.0]), np.array([[0.3, 0.1, -0.2], [1.0, 2.0, 0.5], [-1.0, -0.5, 0.2]])
    for fn in (example_loss, mixed):
        got = s2s.vmap(s2s.grad(fn), in_axes=(None, 0))(w, xs)
        np.testing.assert_allclose(got, [numerical_grad(fn, (w, x), 0) for x in xs], rtol=1e-6, atol=1e-9)


def test_vmap_of_a_branch_assigning_what_a_local_def_reads():
    # fuzz seed 3001 index 53: in the select form of a batched `if`, `acc = 0.5` was renamed for
    # the branch but the call of g, which reads acc without writing it, kept the old name
    def f(x):
        acc = 0.0
        for _ in range(3):
            acc += np.sum(x)
            if acc > 1.0:
                return acc * 2.0

        def g(z):
            return x * acc

        acc = 0.5
        return np.sum(g(x))

    xs = np.array([[0.1, 0.2, 0.1], [1.0, 1.0, 1.0], [-0.5, 0.2, 0.1]])
    np.testing.assert_allclose(s2s.vmap(f)(xs), [f(x) for x in xs], rtol=1e-12)
    np.testing.assert_allclose(s2s.vmap(s2s.grad(f))(xs), [numerical_grad(f, (x,), 0) for x in xs], rtol=1e-6)


def test_jit_of_a_zeros_array_written_in_a_loop_keeps_every_entry():
    # made from the constant inside a compiled loop, every trip would start from zeros again
    def f(x):
        out = np.zeros(3)
        for i in range(3):
            out[i] = np.vdot(x, x) * x[i]
        return out @ x

    x = np.array([0.3, -0.7, 0.2])
    _assert_compiled_matches(f, x)


def test_jit_refuses_a_write_in_place_another_name_sees():
    # fuzz seed 97531 index 165: jit took `acc *= x` for a new value, as grad does, but fell back to
    # the tree grad refused: the view read afterwards kept the old numbers (a wrong value, silently)
    def f(x):
        acc = np.square(x) * 1.0
        view = acc[1:]
        acc *= x
        return acc.sum() + np.sum(view)

    with pytest.raises(s2s.TransformError, match="shares memory with `view`"):
        s2s.jit(f)(np.array([0.3, -0.7, 0.2]))


def _accumulate_onto(x, y):
    acc = y                       # a number: `+=` makes a new one; an array: y would change too
    for i in range(3):
        acc += np.sum(x) * i
    return np.sum(acc * y)


def test_a_write_in_place_is_checked_at_run_time_when_only_an_array_would_be_shared():
    x = np.array([0.3, -0.7, 0.2])
    for k in (0, 1):
        np.testing.assert_allclose(s2s.grad(_accumulate_onto, argnums=k)(x, 0.4),
                                   numerical_grad(_accumulate_onto, (x, 0.4), k), rtol=1e-6)
    xs = np.stack([x, -x])
    with pytest.raises(s2s.TransformError, match="may share memory with the argument `y`"):
        # once acc is batched, an example may be a 0-d array (which `+=` writes into): refused
        s2s.vmap(_accumulate_onto, in_axes=(0, None))(xs, 0.4)
    y = np.array([0.4, 0.5])              # now acc is y's array: NumPy would change y
    for transformation in (s2s.grad, s2s.jit):    # jit cannot tell a number from a 0-d array
        with pytest.raises(s2s.TransformError, match="may share memory with the argument `y`"):
            transformation(_accumulate_onto)(x, y if transformation is s2s.grad else 0.4)


def test_a_write_into_a_0d_array_made_by_an_earlier_write_is_refused():
    # fuzz seed 20261204 index 392: `acc0 += 0.5` keeps NumPy's 0-d array (np.where of numbers),
    # `acc3 *= acc3` then changes acc0; the transformed code had a NumPy scalar there and let the
    # run-time check pass (a wrong value, silently)
    def f(x):
        acc0 = np.where(0.5, np.vdot(x, x), 0.5)
        acc0 += 0.5
        acc3 = acc0
        acc3 *= acc3
        return acc0

    with pytest.raises(s2s.TransformError, match="`acc0 \\+= 0.5` changes `acc0` in place"):
        s2s.grad(f)(np.array([0.16, 0.97, 0.86]))


def test_jit_of_a_partial_of_run_time_values():
    # fuzz seed 5555 index 70: "jit cannot compile a call of `partial` on run-time values"
    import functools

    def f(x):
        steps = [functools.partial(_affine, np.sum(x), b=x[0])]
        return np.sum(steps[0](x))

    x = np.array([0.3, -0.7, 0.2])
    _assert_compiled_matches(f, x)


def test_grad_of_a_return_from_the_second_of_two_loops():
    # fuzz seed 6001 index 161: returns lifted to `returned` flags; the backward sweep replayed
    # `if returned:` with the flag the second loop had set, took the first loop's branch: zeros
    def f(x):
        acc0 = 0.0
        for _ in range(3):
            acc0 = x[0] * 0.5
            if acc0 > 10.0:
                return acc0
        acc2 = np.sum(x)
        for _ in range(3):
            acc2 = acc2 * 0.5 + np.tanh(acc2)
            if acc2 > 0.845:
                return acc2 * np.sum(x)
        return acc2 + acc0

    for x in (np.array([0.5, 0.4, 0.9]), np.array([0.1, -0.2, 0.05])):
        np.testing.assert_allclose(s2s.grad(f)(x), numerical_grad(f, (x,), 0), rtol=1e-6, atol=1e-9)
        _, pullback = s2s.vjp(f, x)
        np.testing.assert_allclose(pullback(1.0)[0], numerical_grad(f, (x,), 0), rtol=1e-6, atol=1e-9)


def test_a_write_into_a_0d_array_is_seen_through_its_other_name():
    # fuzz seed 7001 index 485: np.where of numbers is a 0-d array, `acc *= 0.5` writes into it
    # and s0 changes too; vmap took the batch's examples for numbers (a wrong value, silently)
    def f(y):
        s0 = np.where(y > 0, y, 0.5)
        acc = s0
        acc *= 0.5
        return s0 + acc

    ys = np.array([0.3, -0.2])
    for transformation in (s2s.grad, s2s.vmap):
        with pytest.raises(s2s.TransformError, match="shares memory with `s0`"):
            transformation(f)(ys if transformation is s2s.vmap else 0.3)
