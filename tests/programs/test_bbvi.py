"""Black-box variational inference of prog_bbvi, with fixed noise (deterministic objective)."""
import numpy as np
import pytest

import prog_bbvi as bbvi
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

D = 2
rs = np.random.RandomState(0)
noise = rs.randn(5, D)
init_params = np.array([-1.0, 0.5, -2.0, -1.5])     # mean, log_std


def test_grad_of_closure_objective():
    check_grad(bbvi.objective, init_params, noise)


def test_value_and_grad_of_closure_objective():
    check_value_and_grad(bbvi.objective, init_params, noise)


def test_grad_of_objective_built_inside_the_test():
    objective, unpack = bbvi.black_box_variational_inference(bbvi.log_density, D)
    check_grad(objective, init_params, noise)


def test_grad_of_elbo_wrt_mean_and_log_std():
    check_grad(bbvi.elbo, init_params[:D], init_params[D:], noise, argnums=(0, 1))


def test_a_few_steps_of_ascent():
    gradient = s2s.grad(bbvi.objective)
    p, q = init_params.copy(), init_params.copy()
    for i in range(5):
        p = p - 0.05 * gradient(p, noise)
        q = q - 0.05 * fd_grad(bbvi.objective, (q, noise))
    np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-8)
    assert bbvi.objective(p, noise) < bbvi.objective(init_params, noise)


def test_vmap_over_noise_draws():
    draws = rs.randn(3, 5, D)
    check_vmap(bbvi.objective, init_params, draws, in_axes=(None, 0))


def test_jit_of_objective():
    check_jit(bbvi.objective, init_params, noise)


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_grad():
    check_jit(s2s.grad(bbvi.objective), init_params, noise, expected=fd_grad(bbvi.objective, (init_params, noise)),
              rtol=1e-6, atol=1e-8)
