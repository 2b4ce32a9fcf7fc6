"""The RK4 neural ODE of prog_ode."""
import numpy as np

import prog_ode as ode
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

params = ode.init_nn_params(0.5, [3, 4, 2])
y0 = np.array([0.4, -0.3])
target = np.array([0.1, 0.2])
targets = np.array([[0.3, -0.1], [0.2, 0.0], [0.1, 0.2]])
A = np.array([[-0.2, 1.0], [-1.0, -0.1]])


def test_grad_of_final_state_loss_wrt_params():
    check_grad(ode.final_state_loss, params, y0, target)


def test_grad_wrt_params_and_initial_state():
    check_grad(ode.final_state_loss, params, y0, target, argnums=(0, 1))


def test_value_and_grad_of_trajectory_loss():
    check_value_and_grad(ode.trajectory_loss, params, y0, targets)


def test_grad_of_linear_ode():
    check_grad(ode.linear_final_loss, A, y0)


def test_vmap_over_initial_states():
    y0s = np.array([[0.4, -0.3], [0.0, 0.5], [-0.6, 0.2]])
    check_vmap(ode.final_state_loss, params, y0s, target, in_axes=(None, 0, None))


def test_jit_of_loss():
    check_jit(ode.final_state_loss, params, y0, target)


def test_jit_of_grad():
    check_jit(s2s.grad(ode.final_state_loss), params, y0, target,
              expected=fd_grad(ode.final_state_loss, (params, y0, target)), rtol=1e-6, atol=1e-8)


def test_direct_variant_matches():
    np.testing.assert_allclose(ode.final_state_loss_direct(params, y0, target),
                               ode.final_state_loss(params, y0, target), rtol=1e-12)


def test_grad_of_direct_variant():
    check_grad(ode.final_state_loss_direct, params, y0, target, argnums=(0, 1))


def test_vmap_of_grad_of_direct_variant():
    y0s = np.array([[0.4, -0.3], [0.0, 0.5]])
    got = s2s.vmap(s2s.grad(ode.final_state_loss_direct, argnums=1), in_axes=(None, 0, None))(params, y0s, target)
    expected = np.stack([fd_grad(ode.final_state_loss_direct, (params, y, target), 1) for y in y0s])
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def test_jit_of_grad_of_direct_variant():
    check_jit(s2s.grad(ode.final_state_loss_direct), params, y0, target,
              expected=fd_grad(ode.final_state_loss_direct, (params, y0, target)), rtol=1e-6, atol=1e-8)


def test_grad_of_mlp_with_default_nonlinearity():
    def loss(p):
        return np.sum(ode.nn_predict(p, np.array([0.4, -0.3, 0.0])) ** 2)

    check_grad(loss, params)


def test_grad_of_direct_variant_wrt_params_only():
    check_grad(ode.final_state_loss_direct, params, y0, target)


def test_vmap_of_direct_variant():
    y0s = np.array([[0.4, -0.3], [0.0, 0.5], [-0.6, 0.2]])
    check_vmap(ode.final_state_loss_direct, params, y0s, target, in_axes=(None, 0, None))
