"""Gaussian process regression of prog_gp: gradient with respect to the log hyperparameters."""
import numpy as np
import pytest

import prog_gp as gp
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

D = 1
x, y = gp.build_toy_dataset(D=D)
params = np.array([0.1, np.log(0.05), np.log(0.8), np.log(0.7)])    # mean, log noise, log scale, log length
xstar = np.linspace(-2.0, 2.0, 3).reshape(3, D)
ystar = np.cos(xstar[:, 0])


def test_nll_matches_the_slogdet_form():
    np.testing.assert_allclose(gp.nll(params, x, y), gp.nll_slogdet(params, x, y), rtol=1e-10)


def test_grad_of_nll_wrt_log_hyperparameters():
    check_grad(gp.nll, params, x, y, rtol=1e-5, atol=1e-7)


def test_value_and_grad_of_nll():
    check_value_and_grad(gp.nll, params, x, y, rtol=1e-5, atol=1e-7)


def test_grad_of_nll_slogdet_form():
    check_grad(gp.nll_slogdet, params, x, y, rtol=1e-5, atol=1e-7)


def test_grad_of_predictive_loss():
    check_grad(gp.predictive_loss, params, x, y, xstar, ystar, rtol=1e-5, atol=1e-7)


def test_grad_wrt_inputs():
    check_grad(gp.nll, params, x, y, argnums=1, rtol=1e-5, atol=1e-7)


def test_vmap_over_a_grid_of_hyperparameters():
    grid = params + np.array([[0.0, 0.0, 0.0, 0.0], [0.1, -0.2, 0.3, 0.1], [-0.1, 0.2, -0.2, 0.2]])
    check_vmap(gp.nll, grid, x, y, in_axes=(0, None, None), rtol=1e-9, atol=1e-10)


def test_jit_of_nll():
    check_jit(gp.nll, params, x, y, rtol=1e-9, atol=1e-10)


def test_jit_of_grad():
    check_jit(s2s.grad(gp.nll), params, x, y, expected=fd_grad(gp.nll, (params, x, y)), rtol=1e-5, atol=1e-7)


def test_det_form_matches():
    np.testing.assert_allclose(gp.nll_det(params, x, y), gp.nll(params, x, y), rtol=1e-10)


def test_grad_of_nll_det_form():
    check_grad(gp.nll_det, params, x, y, rtol=1e-5, atol=1e-7)


def test_grad_of_nll_det_form_wrt_inputs():
    check_grad(gp.nll_det, params, x, y, argnums=1, rtol=1e-5, atol=1e-7)


def test_vmap_of_grad_of_nll_det_over_hyperparameters():
    grid = params + np.array([[0.0, 0.0, 0.0, 0.0], [0.1, -0.2, 0.3, 0.1]])
    got = s2s.vmap(s2s.grad(gp.nll_det), in_axes=(0, None, None))(grid, x, y)
    np.testing.assert_allclose(got, np.stack([fd_grad(gp.nll_det, (p, x, y)) for p in grid]), rtol=1e-5, atol=1e-7)


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_nll_det_form():
    check_jit(gp.nll_det, params, x, y, rtol=1e-9, atol=1e-10)


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_grad_of_nll_det_form():
    check_jit(s2s.grad(gp.nll_det), params, x, y, expected=fd_grad(gp.nll_det, (params, x, y)), rtol=1e-5, atol=1e-7)


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_predictive_loss():
    check_jit(gp.predictive_loss, params, x, y, xstar, ystar, rtol=1e-9, atol=1e-10)
