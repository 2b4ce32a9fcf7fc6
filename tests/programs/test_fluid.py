"""The fluid simulation of prog_fluid: gradient of the final-state loss wrt the initial velocities."""
import numpy as np
import pytest

import prog_fluid as fluid
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

rs = np.random.RandomState(0)
init_velocities = 0.3 * rs.randn(2 * fluid.rows * fluid.cols)


def test_grad_of_objective():
    check_grad(fluid.objective, init_velocities, rtol=1e-5, atol=1e-9)


def test_value_and_grad_of_objective():
    check_value_and_grad(fluid.objective, init_velocities, rtol=1e-5, atol=1e-9)


def test_grad_of_simulate_wrt_the_smoke():
    vx, vy = fluid.convert_param_vector_to_matrices(init_velocities)

    def loss(smoke):
        return np.sum(fluid.simulate(vx, vy, smoke, 2) ** 2)

    check_grad(loss, fluid.init_smoke, rtol=1e-5, atol=1e-9)


def test_grad_of_semi_lagrangian_objective():
    check_grad(fluid.objective_semi_lagrangian, init_velocities, rtol=1e-5, atol=1e-9)


def test_vmap_over_initial_velocities():
    batch = init_velocities + 0.1 * rs.randn(3, init_velocities.size)
    check_vmap(fluid.objective, batch, in_axes=0)


def test_jit_of_objective():
    check_jit(fluid.objective, init_velocities)


def test_jit_of_grad():
    check_jit(s2s.grad(fluid.objective), init_velocities, expected=fd_grad(fluid.objective, (init_velocities,)),
              rtol=1e-5, atol=1e-9)


def test_sliced_shift_is_roll():
    f = rs.randn(fluid.rows, fluid.cols)
    for k in (1, -1):
        for axis in (0, 1):
            np.testing.assert_array_equal(fluid.shift(f, k, axis), np.roll(f, k, axis=axis))


def test_grad_of_sliced_diffusion():
    check_grad(fluid.diffusion_objective, fluid.init_smoke + 0.1 * rs.randn(fluid.rows, fluid.cols),
               rtol=1e-5, atol=1e-9)


def test_vmap_of_sliced_diffusion():
    check_vmap(fluid.diffusion_objective, fluid.init_smoke + 0.1 * rs.randn(3, fluid.rows, fluid.cols), in_axes=0)


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_grad_of_sliced_diffusion():
    smoke = fluid.init_smoke + 0.1 * rs.randn(fluid.rows, fluid.cols)
    check_jit(s2s.grad(fluid.diffusion_objective), smoke, expected=fd_grad(fluid.diffusion_objective, (smoke,)),
              rtol=1e-5, atol=1e-9)
