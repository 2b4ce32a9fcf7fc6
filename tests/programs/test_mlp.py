"""The MLP of prog_mlp: params a list of (W, b) tuples."""
import numpy as np
import pytest

import prog_mlp as mlp
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad, tree_loop
from numerics import assert_tree_close

params = mlp.init_random_params(0.5, [4, 5, 3])
inputs, targets = mlp.make_data()


def test_grad_of_objective_on_every_leaf():
    g = check_grad(mlp.objective, params, inputs, targets)
    assert isinstance(g, list) and all(isinstance(layer, tuple) for layer in g)


def test_value_and_grad_with_explicit_l2():
    check_value_and_grad(mlp.objective, params, inputs, targets, 0.3)


def test_grad_with_generator_expression_l2():
    check_grad(mlp.objective_genexpr, params, inputs, targets)


def test_grad_wrt_inputs():
    check_grad(mlp.objective, params, inputs, targets, argnums=1)


def test_vmap_per_example_loss():
    check_vmap(mlp.example_loss, params, inputs, targets, in_axes=(None, 0, 0))


def test_vmap_of_grad_per_example_gradients():
    got = s2s.vmap(s2s.grad(mlp.example_loss), in_axes=(None, 0, 0))(params, inputs, targets)
    expected = tree_loop(lambda p, x, t: fd_grad(mlp.example_loss, (p, x, t)), (params, inputs, targets),
                         (None, 0, 0))
    assert_tree_close(got, expected, rtol=1e-6, atol=1e-8)


def test_jit_of_objective():
    check_jit(mlp.objective, params, inputs, targets)


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_grad():
    check_jit(s2s.grad(mlp.objective), params, inputs, targets,
              expected=fd_grad(mlp.objective, (params, inputs, targets)), rtol=1e-6, atol=1e-8)
