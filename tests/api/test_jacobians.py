"""jvp, jacfwd, jacrev and hessian end to end: against central differences in float64, against
each other, against closed forms, composed in every order, and through data-dependent while loops."""
import functools

import numpy as np
import pytest

import s2s
from s2s.tree_util import tree_flatten

rng = np.random.default_rng(0)
STEP = 1e-6


# -- user functions ---------------------------------------------------------------------------
def vector_field(x):
    return np.tanh(x) * x[0] + np.sin(x).sum()


def matrix_in_vector_out(A, v):
    return np.tanh(A @ v) * np.sum(v ** 2)


def scalar_loss(x):
    return np.sum(np.tanh(x) ** 2)


def sigmoid(z):
    return 0.5 * (np.tanh(z / 2) + 1)


def logistic_loss(W, b, inputs, targets):
    preds = sigmoid(inputs @ W + b)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probs))


def pytree_function(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    return {"h": h, "energy": np.sum(h ** 2)}, params["b"] * 2.0


def grow(x):
    # the trip count depends on the data
    while np.sum(x * x) < 50.0:
        x = x * 1.3 + np.sin(x)
    return x


def grow_loss(x):
    return np.sum(np.tanh(grow(x)) * x)


def scaled_sum(x, scale):
    return np.sum(x ** 3) * scale


GRAD_GROW = s2s.grad(grow_loss)
JAC_GROW = s2s.jacrev(grow)


def directional(x, v):
    """grad of this calls jvp inside the differentiated function."""
    out, out_dot = s2s.jvp(grow_loss, (x,), (v,))
    return out_dot


def hvp_norm(x, v):
    """jvp of grad inside a function that is differentiated again (third order)."""
    g, hv = s2s.jvp(GRAD_GROW, (x,), (v,))
    return np.sum(hv * hv) + np.sum(g)


def jacobian_trace(x):
    """A Jacobian inside a differentiated function."""
    return np.trace(JAC_GROW(x))


# -- helpers ----------------------------------------------------------------------------------
def fd_jacobian(f, x):
    """d f(x) / d x by central differences for array-valued f and array x: out.shape + x.shape."""
    x = np.asarray(x, dtype=np.float64)
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = STEP
        jac[(...,) + index] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * STEP)
    return jac


def assert_close(actual, expected, rtol=1e-6, atol=1e-7):
    a_leaves, a_def = tree_flatten(actual)
    e_leaves, e_def = tree_flatten(expected)
    assert a_def == e_def, (a_def, e_def)
    for a, e in zip(a_leaves, e_leaves):
        assert np.shape(a) == np.shape(e), (np.shape(a), np.shape(e))
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


X3 = rng.normal(size=3)
A = rng.normal(size=(4, 3))
X_GROW = np.array([0.5, -0.3, 0.8])
V_GROW = rng.normal(size=3)


# -- first order ------------------------------------------------------------------------------
@pytest.mark.parametrize("jacobian", [s2s.jacfwd, s2s.jacrev])
def test_jacobians_match_central_differences(jacobian):
    assert_close(jacobian(vector_field)(X3), fd_jacobian(vector_field, X3), rtol=1e-6, atol=1e-8)
    J = jacobian(matrix_in_vector_out)(A, X3)
    assert J.shape == (4, 4, 3)
    assert_close(J, fd_jacobian(lambda a: matrix_in_vector_out(a, X3), A), rtol=1e-6, atol=1e-8)
    J = jacobian(matrix_in_vector_out, argnums=1)(A, X3)
    assert_close(J, fd_jacobian(lambda v: matrix_in_vector_out(A, v), X3), rtol=1e-6, atol=1e-8)
    assert_close(jacobian(grow)(X_GROW), fd_jacobian(grow, X_GROW), rtol=1e-6, atol=1e-6)


def test_jacfwd_equals_jacrev():
    for fun, args in [(vector_field, (X3,)), (matrix_in_vector_out, (A, X3)), (scalar_loss, (X3,)),
                      (grow, (X_GROW,)), (logistic_loss, (X3, 0.1, A, np.array([1.0, 0.0, 1.0, 1.0])))]:
        for argnums in [0, (0,), (0, 1)] if len(args) > 1 else [0]:
            assert_close(s2s.jacfwd(fun, argnums)(*args), s2s.jacrev(fun, argnums)(*args), rtol=1e-10, atol=1e-12)


def test_argnums_tuple_gives_a_tuple_per_output():
    J = s2s.jacrev(matrix_in_vector_out, argnums=(1, 0))(A, X3)
    assert isinstance(J, tuple) and J[0].shape == (4, 3) and J[1].shape == (4, 4, 3)
    assert_close(J, s2s.jacfwd(matrix_in_vector_out, argnums=(1, 0))(A, X3), rtol=1e-10, atol=1e-12)


def test_pytree_inputs_and_outputs():
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    x = rng.normal(size=(5, 3))
    for jacobian in (s2s.jacfwd, s2s.jacrev):
        J = jacobian(pytree_function)(params, x)
        out, b2 = J
        assert set(out) == {"h", "energy"} and set(out["h"]) == {"W", "b"}
        assert out["h"]["W"].shape == (5, 2, 3, 2) and out["energy"]["b"].shape == (2,)
        assert b2["W"].shape == (2, 3, 2)
        assert_close(b2["b"], 2.0 * np.eye(2))
        h_of_W = lambda W: pytree_function({"W": W, "b": params["b"]}, x)[0]["h"]
        assert_close(out["h"]["W"], fd_jacobian(h_of_W, params["W"]), rtol=1e-6, atol=1e-8)


def test_scalars():
    assert s2s.jacfwd(np.sin)(0.3) == pytest.approx(np.cos(0.3), rel=1e-14)
    assert s2s.jacrev(np.sin)(0.3) == pytest.approx(np.cos(0.3), rel=1e-14)
    assert s2s.hessian(np.sin)(0.3) == pytest.approx(-np.sin(0.3), rel=1e-14)


def test_partial_and_bound_arguments():
    f = functools.partial(scaled_sum, scale=2.0)
    assert_close(s2s.jacfwd(f)(X3), 6.0 * X3 ** 2, rtol=1e-12)
    assert_close(s2s.hessian(f)(X3), np.diag(12.0 * X3), rtol=1e-12)
    g = functools.partial(matrix_in_vector_out, A)
    assert_close(s2s.jacrev(g)(X3), s2s.jacrev(matrix_in_vector_out, 1)(A, X3), rtol=1e-12)


# -- Hessians ---------------------------------------------------------------------------------
def test_hessian_of_sum_of_tanh_squared():
    x = rng.normal(size=6)
    t = np.tanh(x)
    expected = np.diag(2 * (1 - t ** 2) * (1 - 3 * t ** 2))     # (tanh^2)'' = 2 (1 - t^2)(1 - 3 t^2)
    H = s2s.hessian(scalar_loss)(x)
    assert_close(H, expected, rtol=1e-12, atol=1e-14)
    assert_close(H, H.T, rtol=0, atol=1e-14)


def test_hessian_of_logistic_loss():
    inputs = rng.normal(size=(7, 3))
    targets = (rng.uniform(size=7) > 0.5).astype(np.float64)
    W, b = rng.normal(size=3), 0.2
    p = 1 / (1 + np.exp(-(inputs @ W + b)))
    expected = inputs.T @ np.diag(p * (1 - p)) @ inputs        # X^T diag(p (1 - p)) X
    H = s2s.hessian(logistic_loss)(W, b, inputs, targets)
    assert_close(H, expected, rtol=1e-10, atol=1e-12)
    assert_close(H, H.T, rtol=0, atol=1e-13)
    (HWW, HWb), (HbW, Hbb) = s2s.hessian(logistic_loss, argnums=(0, 1))(W, b, inputs, targets)
    assert_close(HWW, expected, rtol=1e-10, atol=1e-12)
    assert_close(HWb, HbW, rtol=1e-12, atol=1e-14)
    assert Hbb == pytest.approx(np.sum(p * (1 - p)), rel=1e-10)


def test_hessian_vector_products_equal_jvp_of_grad():
    for fun, x in [(scalar_loss, X3), (grow_loss, X_GROW)]:
        v = rng.normal(size=x.shape)
        _, hv = s2s.jvp(s2s.grad(fun), (x,), (v,))
        assert_close(hv, s2s.hessian(fun)(x) @ v, rtol=1e-10, atol=1e-12)


# -- compositions, through a while loop with a data-dependent trip count ---------------------------
def hessian_reference():
    """d grad / dx by central differences of s2s.grad (itself checked against differences below)."""
    return fd_jacobian(GRAD_GROW, X_GROW)


def test_grad_through_the_while_loop_matches_differences():
    g = GRAD_GROW(X_GROW)
    e = np.eye(3) * STEP
    expected = [(grow_loss(X_GROW + e[i]) - grow_loss(X_GROW - e[i])) / (2 * STEP) for i in range(3)]
    assert_close(g, np.array(expected), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("compose", [
    s2s.hessian,
    lambda f: s2s.jacfwd(s2s.jacrev(f)),
    lambda f: s2s.jacrev(s2s.jacrev(f)),
    lambda f: s2s.jacfwd(s2s.jacfwd(f)),
    lambda f: s2s.jacrev(s2s.jacfwd(f)),
    lambda f: s2s.jacfwd(s2s.grad(f)),
    lambda f: s2s.jacrev(s2s.grad(f)),
], ids=["hessian", "jacfwd-jacrev", "jacrev-jacrev", "jacfwd-jacfwd", "jacrev-jacfwd", "jacfwd-grad",
        "jacrev-grad"])
def test_second_order_compositions_through_while(compose):
    H = compose(grow_loss)(X_GROW)
    assert_close(H, hessian_reference(), rtol=1e-5, atol=1e-5)
    assert_close(H, H.T, rtol=1e-9, atol=1e-9)


def test_jvp_of_grad_and_grad_of_jvp_through_while():
    H = s2s.hessian(grow_loss)(X_GROW)
    _, hv = s2s.jvp(GRAD_GROW, (X_GROW,), (V_GROW,))
    assert_close(hv, H @ V_GROW, rtol=1e-10, atol=1e-12)
    # grad of a function that calls jvp: d/dx <grad f(x), v> = H v
    assert_close(s2s.grad(directional)(X_GROW, V_GROW), H @ V_GROW, rtol=1e-10, atol=1e-12)
    # grad(grad(f)) mixed with forward mode: jvp along v of grad(<grad f, v>) is H^T... = H v again
    assert_close(s2s.jacfwd(s2s.grad(directional))(X_GROW, V_GROW), s2s.jacrev(s2s.grad(directional))(X_GROW, V_GROW),
                 rtol=1e-9, atol=1e-10)


def test_third_order_mixed():
    dx = s2s.grad(hvp_norm)(X_GROW, V_GROW)
    e = np.eye(3) * 1e-5
    expected = [(hvp_norm(X_GROW + e[i], V_GROW) - hvp_norm(X_GROW - e[i], V_GROW)) / 2e-5 for i in range(3)]
    assert_close(dx, np.array(expected), rtol=1e-5, atol=1e-5)
    assert_close(s2s.grad(s2s.grad(s2s.grad(np.sin)))(0.4), -np.cos(0.4), rtol=1e-12)
    assert s2s.jacfwd(s2s.grad(s2s.grad(np.sin)))(0.4) == pytest.approx(-np.cos(0.4), rel=1e-12)
    assert s2s.jacfwd(s2s.jacrev(s2s.jacfwd(np.sin)))(0.4) == pytest.approx(-np.cos(0.4), rel=1e-12)


def test_jacobian_inside_a_differentiated_function():
    g = s2s.grad(jacobian_trace)(X_GROW)
    e = np.eye(3) * 1e-5
    expected = [(jacobian_trace(X_GROW + e[i]) - jacobian_trace(X_GROW - e[i])) / 2e-5 for i in range(3)]
    assert_close(g, np.array(expected), rtol=1e-5, atol=1e-5)


def test_third_order_tensor_of_a_vector_function():
    T = s2s.jacrev(s2s.jacrev(grow))(X_GROW)
    assert T.shape == (3, 3, 3)
    assert_close(T, s2s.jacfwd(s2s.jacfwd(grow))(X_GROW), rtol=1e-9, atol=1e-9)
    assert_close(T, fd_jacobian(JAC_GROW, X_GROW), rtol=1e-5, atol=1e-5)


# -- source -----------------------------------------------------------------------------------
def test_every_composition_has_readable_source():
    for transformed, entry in [(s2s.jacfwd(scalar_loss), "def jacfwd_scalar_loss(x):"),
                               (s2s.jacrev(scalar_loss), "def jacrev_scalar_loss(x):"),
                               (s2s.hessian(scalar_loss), "def hessian_scalar_loss(x):"),
                               (s2s.jacrev(s2s.jacrev(grow)), "def jacrev_jacrev_grow(x):"),
                               (s2s.jacfwd(s2s.grad(grow_loss)), "def jacfwd_grad_grow_loss(x):"),
                               (s2s.grad(directional), "def grad_directional(x, v):")]:
        text = s2s.source(transformed)
        assert entry in text, text
        compile(text, "<s2s>", "exec")
    text = s2s.source(s2s.hessian(grow_loss))
    assert "while " in text                                   # the loop is still a while loop
    assert "for k in range(tree_size(x)):" in text            # one jvp per basis vector
    assert "def jvp_jacrev_grow_loss(x, x_dot):" in text
    assert "_dot = [" in text or "_dot = []" in text          # tapes carry tangent lists


# -- errors -----------------------------------------------------------------------------------
def test_errors():
    with pytest.raises(TypeError, match="argnums"):
        s2s.jacfwd(vector_field, argnums=1)(X3)
    with pytest.raises(TypeError, match="floating-point"):
        s2s.jacrev(vector_field)(np.arange(3))
    with pytest.raises(ValueError, match="twice"):
        s2s.jacfwd(matrix_in_vector_out, argnums=(0, 0))
    with pytest.raises(TypeError):
        s2s.jacfwd(vector_field, argnums="0")
    with pytest.raises(TypeError):
        s2s.jvp(vector_field, X3, X3)


def test_timing_hessian_of_tanh_squared(capsys):
    import time
    x = rng.normal(size=100)
    H = s2s.hessian(scalar_loss)
    H(x)
    start = time.perf_counter()
    for _ in range(5):
        H(x)
    per_call = (time.perf_counter() - start) / 5
    with capsys.disabled():
        print(f"\nhessian of sum(tanh(x)**2), x of size 100: {per_call * 1e3:.1f} ms per call")
    assert per_call < 1.0


def test_hessian_and_jacfwd_push_the_basis_through_one_vmap():
    x = np.linspace(-1.0, 1.0, 7)
    h = s2s.hessian(scalar_loss)
    batched = h(x)
    assert h.__s2s_batched__.entry is not None and not h.__s2s_batched__.failed
    np.testing.assert_allclose(batched, h.__s2s__.function(x), rtol=1e-12, atol=1e-12)
    j = s2s.jacfwd(vector_field)
    np.testing.assert_allclose(j(x), j.__s2s__.function(x), rtol=1e-12, atol=1e-12)
    assert not j.__s2s_batched__.failed


def test_jacrev_pulls_back_every_cotangent_through_one_vmap():
    A, v = np.arange(6.0).reshape(2, 3) / 5.0, np.array([0.3, -0.2, 0.5])
    for argnum in (0, 1):
        j = s2s.jacrev(matrix_in_vector_out, argnums=argnum)
        batched = j(A, v)
        assert not j.__s2s_batched__.failed
        np.testing.assert_allclose(batched, j.__s2s__.function(A, v), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batched, s2s.jacfwd(matrix_in_vector_out, argnums=argnum)(A, v),
                                   rtol=1e-10, atol=1e-12)
