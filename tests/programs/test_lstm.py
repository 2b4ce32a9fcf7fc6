"""The LSTM of prog_lstm: dict params, hstack/concatenate of input and hidden state."""
import numpy as np

import prog_lstm as lstm
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

params = lstm.init_lstm_params(input_size=3, state_size=2, output_size=3)
inputs, targets = lstm.make_data()


def test_grad_of_training_loss_on_every_key():
    check_grad(lstm.training_loss, params, inputs, targets)


def test_value_and_grad():
    check_value_and_grad(lstm.training_loss, params, inputs, targets)


def test_grad_of_unbatched_sequence_loss():
    check_grad(lstm.sequence_loss, params, inputs[:, 0, :], targets[-1, 0])


def test_vmap_of_sequence_loss_over_sequences():
    sequences = np.transpose(inputs, (1, 0, 2))
    check_vmap(lstm.sequence_loss, params, sequences, targets[-1], in_axes=(None, 0, 0))


def test_jit_of_training_loss():
    check_jit(lstm.training_loss, params, inputs, targets)


def test_jit_of_grad():
    check_jit(s2s.grad(lstm.training_loss), params, inputs, targets,
              expected=fd_grad(lstm.training_loss, (params, inputs, targets)), rtol=1e-6, atol=1e-8)


def test_broadcast_variant_matches_the_repeat_one():
    np.testing.assert_allclose(lstm.training_loss_broadcast(params, inputs, targets),
                               lstm.training_loss(params, inputs, targets), rtol=1e-12)


def test_grad_of_broadcast_variant():
    check_grad(lstm.training_loss_broadcast, params, inputs, targets)


def test_jit_of_broadcast_variant():
    check_jit(lstm.training_loss_broadcast, params, inputs, targets)


def test_jit_of_grad_of_broadcast_variant():
    check_jit(s2s.grad(lstm.training_loss_broadcast), params, inputs, targets,
              expected=fd_grad(lstm.training_loss_broadcast, (params, inputs, targets)), rtol=1e-6, atol=1e-8)


def test_jit_of_sequence_loss():
    check_jit(lstm.sequence_loss, params, inputs[:, 0, :], targets[-1, 0])


def test_jit_of_grad_of_sequence_loss():
    args = (params, inputs[:, 0, :], targets[-1, 0])
    check_jit(s2s.grad(lstm.sequence_loss), *args, expected=fd_grad(lstm.sequence_loss, args), rtol=1e-6, atol=1e-8)


def test_vmap_of_training_loss_over_batches_of_sequences():
    batches = np.stack([inputs, inputs[:, ::-1]]), np.stack([targets, targets[:, ::-1]])
    check_vmap(lstm.training_loss_broadcast, params, *batches, in_axes=(None, 0, 0))
