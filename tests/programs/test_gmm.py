"""The Gaussian mixture of prog_gmm: gradients, and Hessian-vector products two ways."""
import numpy as np

import prog_gmm as gmm
import s2s
from numerics import assert_tree_close
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

K, D = 2, 2
params = gmm.init_gmm_params(K, D, 0.5)
data = gmm.make_data(D=D)
rs = np.random.RandomState(5)
direction = {key: rs.randn(*np.shape(value)) for key, value in params.items()}
theta = np.concatenate([params['log proportions'], params['means'].ravel(), params['log stds'].ravel()])
v_flat = np.concatenate([direction['log proportions'], direction['means'].ravel(),
                         direction['log stds'].ravel()])


def fd_hvp(p, v, eps=1e-5):
    """Central differences of the s2s gradient (itself checked against differences) along v."""
    grad = s2s.grad(gmm.objective)
    plus = grad({k: p[k] + eps * v[k] for k in p}, data)
    minus = grad({k: p[k] - eps * v[k] for k in p}, data)
    return {k: (plus[k] - minus[k]) / (2 * eps) for k in p}


def test_grad_of_objective_on_every_key():
    check_grad(gmm.objective, params, data)


def test_value_and_grad():
    check_value_and_grad(gmm.objective, params, data)


def test_grad_wrt_data():
    check_grad(gmm.objective, params, data, argnums=1)


def test_hvp_by_jvp_of_grad():
    def hvp(p, v):
        return s2s.jvp(lambda q: s2s.grad(gmm.objective)(q, data), (p,), (v,))[1]

    assert_tree_close(hvp(params, direction), fd_hvp(params, direction), rtol=1e-6, atol=1e-8)


def test_hvp_by_grad_of_dot_with_grad():
    def grad_dot(p, v):
        g = s2s.grad(gmm.objective)(p, data)
        return sum(np.sum(g[k] * v[k]) for k in sorted(p))

    assert_tree_close(s2s.grad(grad_dot)(params, direction), fd_hvp(params, direction), rtol=1e-6, atol=1e-8)


def test_hessian_of_flat_objective():
    H = s2s.hessian(gmm.flat_objective)(theta, data, K, D)
    g = s2s.grad(gmm.flat_objective)
    eps = 1e-5
    expected = np.stack([(g(theta + eps * e, data, K, D) - g(theta - eps * e, data, K, D)) / (2 * eps)
                         for e in np.eye(len(theta))], axis=1)
    np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H @ v_flat, np.concatenate(
        [fd_hvp(params, direction)[k].ravel() for k in ('log proportions', 'means', 'log stds')]),
        rtol=1e-6, atol=1e-8)


def test_vmap_of_per_point_log_likelihood():
    def point_ll(p, x):
        return gmm.gmm_log_likelihood(p, x[None, :])

    check_vmap(point_ll, params, data, in_axes=(None, 0))


def test_jit_of_objective():
    check_jit(gmm.objective, params, data)


def test_jit_of_grad():
    check_jit(s2s.grad(gmm.objective), params, data, expected=fd_grad(gmm.objective, (params, data)),
              rtol=1e-6, atol=1e-8)


def test_hvp_by_jvp_of_grad_composed_directly():
    zero = np.zeros_like(data)
    _, hv = s2s.jvp(s2s.grad(gmm.objective), (params, data), (direction, zero))
    assert_tree_close(hv, fd_hvp(params, direction), rtol=1e-6, atol=1e-8)


def test_hvp_by_vjp_of_grad():
    # the Hessian is symmetric, so the vjp of the gradient along v is H v
    _, vjp_fun = s2s.vjp(gmm_grad, params)
    assert_tree_close(vjp_fun(direction)[0], fd_hvp(params, direction), rtol=1e-6, atol=1e-8)


gmm_grad_of_both = s2s.grad(gmm.objective)


def gmm_grad(p):
    return gmm_grad_of_both(p, data)
