"""Logistic regression with module-level data (prog_logistic), as a user trains it."""
import numpy as np

import prog_logistic as lr
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, compiled, fd_grad

weights = np.array([0.3, -0.2, 0.5])


def test_grad_of_training_loss():
    check_grad(lr.training_loss, weights)


def test_value_and_grad_of_training_loss():
    check_value_and_grad(lr.training_loss, weights)


def test_training_with_grad_decreases_the_loss():
    trained = lr.train(s2s.grad(lr.training_loss), np.zeros(3), num_steps=50)
    expected = lr.train(lambda w: fd_grad(lr.training_loss, (w,)), np.zeros(3), num_steps=50)
    np.testing.assert_allclose(trained, expected, rtol=1e-6, atol=1e-8)
    assert lr.training_loss(trained) < lr.training_loss(np.zeros(3))


def test_grad_of_two_arguments_and_l2():
    check_grad(lr.regularized_loss, weights, 0.1, 0.5, argnums=(0, 1))


def test_vmap_per_example_loss_matches_loop():
    check_vmap(lr.example_loss, weights, lr.inputs, lr.targets, in_axes=(None, 0, 0))


def test_vmap_of_grad_gives_per_example_gradients():
    per_example = s2s.vmap(s2s.grad(lr.example_loss), in_axes=(None, 0, 0))(weights, lr.inputs, lr.targets)
    expected = np.stack([fd_grad(lr.example_loss, (weights, x, t)) for x, t in zip(lr.inputs, lr.targets)])
    np.testing.assert_allclose(per_example, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(per_example.sum(0), s2s.grad(lr.training_loss)(weights), rtol=1e-10)


def test_jit_of_training_loss():
    check_jit(lr.training_loss, weights)


def test_jit_of_grad():
    check_jit(s2s.grad(lr.training_loss), weights, expected=fd_grad(lr.training_loss, (weights,)), rtol=1e-6)


def test_jit_of_regularized_loss_with_one_global_array_each():
    check_jit(lr.example_loss, weights, lr.inputs[0], True)


def test_training_with_jit_of_grad():
    step = s2s.jit(s2s.grad(lr.training_loss))
    step(weights)
    step.__s2s__.wait()
    trained = lr.train(step, np.zeros(3), num_steps=50)
    expected = lr.train(s2s.grad(lr.training_loss), np.zeros(3), num_steps=50)
    np.testing.assert_allclose(trained, expected, rtol=1e-10)


def test_jit_of_a_jitted_step():
    step = s2s.jit(s2s.grad(lr.example_loss))
    check_jit(step, weights, lr.inputs[0], True, expected=s2s.grad(lr.example_loss)(weights, lr.inputs[0], True))
