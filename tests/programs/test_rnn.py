"""The RNN of prog_rnn: dict params, a loop over time steps."""
import numpy as np
import pytest

import prog_rnn as rnn
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

params = rnn.create_rnn_params(input_size=4, state_size=3, output_size=4)
inputs, targets = rnn.make_data()


def test_grad_of_training_loss_on_every_key():
    g = check_grad(rnn.training_loss, params, inputs, targets)
    assert set(g) == set(params)


def test_value_and_grad():
    check_value_and_grad(rnn.training_loss, params, inputs, targets)


def test_grad_iterating_over_the_sequence():
    check_grad(rnn.final_state_loss, params, inputs[:, 0, :])


def test_vmap_over_sequences():
    sequences = np.transpose(inputs, (1, 0, 2))       # (num_sequences, num_steps, size)
    check_vmap(rnn.final_state_loss, params, sequences, in_axes=(None, 0))


def test_jit_of_training_loss():
    check_jit(rnn.training_loss, params, inputs, targets)


def test_jit_of_grad():
    check_jit(s2s.grad(rnn.training_loss), params, inputs, targets,
              expected=fd_grad(rnn.training_loss, (params, inputs, targets)), rtol=1e-6, atol=1e-8)


def test_broadcast_variant_matches_the_repeat_one():
    np.testing.assert_allclose(rnn.training_loss_broadcast(params, inputs, targets),
                               rnn.training_loss(params, inputs, targets), rtol=1e-12)


def test_grad_of_broadcast_variant():
    check_grad(rnn.training_loss_broadcast, params, inputs, targets)


def test_vmap_of_broadcast_variant_over_sequences():
    def one_sequence(p, x, t):
        return rnn.training_loss_broadcast(p, x[:, None, :], t[:, None, :])

    check_vmap(one_sequence, params, np.transpose(inputs, (1, 0, 2)), np.transpose(targets, (1, 0, 2)),
               in_axes=(None, 0, 0))


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_grad_of_broadcast_variant():
    check_jit(s2s.grad(rnn.training_loss_broadcast), params, inputs, targets,
              expected=fd_grad(rnn.training_loss_broadcast, (params, inputs, targets)), rtol=1e-6, atol=1e-8)
