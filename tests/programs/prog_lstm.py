"""An LSTM in the style of autograd's lstm.py: dict parameters, gates computed by concatenating
the input with the hidden state and a column of ones."""
import numpy as np


def init_lstm_params(input_size, state_size, output_size, param_scale=0.3, rs=np.random.RandomState(0)):
    def rp(*shape):
        return rs.randn(*shape) * param_scale

    return {'init cells': rp(1, state_size),
            'init hiddens': rp(1, state_size),
            'change': rp(input_size + state_size + 1, state_size),
            'forget': rp(input_size + state_size + 1, state_size),
            'ingate': rp(input_size + state_size + 1, state_size),
            'outgate': rp(input_size + state_size + 1, state_size),
            'predict': rp(state_size + 1, output_size)}


def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)   # Output ranges from 0 to 1.


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def logsumexp(X, axis=1):
    max_X = np.max(X, axis=axis, keepdims=True)
    return max_X + np.log(np.sum(np.exp(X - max_X), axis=axis, keepdims=True))


def lstm_predict(params, inputs):
    def update_lstm(input, hiddens, cells):
        change = np.tanh(concat_and_multiply(params['change'], input, hiddens))
        forget = sigmoid(concat_and_multiply(params['forget'], input, hiddens))
        ingate = sigmoid(concat_and_multiply(params['ingate'], input, hiddens))
        outgate = sigmoid(concat_and_multiply(params['outgate'], input, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
        return hiddens, cells

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params['predict'], hiddens)
        return output - logsumexp(output, axis=1)   # Normalize log-probs.

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params['init hiddens'], num_sequences, axis=0)
    cells = np.repeat(params['init cells'], num_sequences, axis=0)

    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:  # Iterate over time steps.
        hiddens, cells = update_lstm(input, hiddens, cells)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def lstm_log_likelihood(params, inputs, targets):
    logprobs = lstm_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


def training_loss(params, inputs, targets):
    return -lstm_log_likelihood(params, inputs, targets)


def concat_and_multiply_fixed(weights, x, h):
    """concat_and_multiply for exactly two blocks (explicit parameters instead of *args)."""
    cat_state = np.hstack((x, h, np.ones((x.shape[0], 1))))
    return np.dot(cat_state, weights)


def training_loss_broadcast(params, inputs, targets):
    """training_loss with the initial state broadcast by multiplication instead of np.repeat,
    and the gates computed with explicit parameters instead of *args."""
    ones = np.ones((inputs.shape[1], 1))
    hiddens = ones * params['init hiddens']
    cells = ones * params['init cells']
    loglik = 0.0
    for t in range(inputs.shape[0]):
        output = np.dot(np.hstack((hiddens, ones)), params['predict'])
        loglik += np.sum((output - logsumexp(output, axis=1)) * targets[t])
        x = inputs[t]
        change = np.tanh(concat_and_multiply_fixed(params['change'], x, hiddens))
        forget = sigmoid(concat_and_multiply_fixed(params['forget'], x, hiddens))
        ingate = sigmoid(concat_and_multiply_fixed(params['ingate'], x, hiddens))
        outgate = sigmoid(concat_and_multiply_fixed(params['outgate'], x, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
    return -loglik / (inputs.shape[0] * inputs.shape[1])


def lstm_cell(params, x, h, c):
    """One step on unbatched vectors, with np.concatenate."""
    z = np.concatenate([x, h, np.ones(1)])
    f = sigmoid(z @ params['forget'])
    i = sigmoid(z @ params['ingate'])
    o = sigmoid(z @ params['outgate'])
    g = np.tanh(z @ params['change'])
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, c


def sequence_loss(params, sequence, target):
    """Loss on the final hidden state of one sequence (num_steps, input_size)."""
    h = params['init hiddens'][0]
    c = params['init cells'][0]
    for t in range(sequence.shape[0]):
        h, c = lstm_cell(params, sequence[t], h, c)
    logits = np.concatenate([h, np.ones(1)]) @ params['predict']
    logprobs = logits - np.max(logits) - np.log(np.sum(np.exp(logits - np.max(logits))))
    return -np.dot(logprobs, target)


def make_data(num_steps=4, num_sequences=3, size=3, rs=np.random.RandomState(3)):
    inputs = rs.randn(num_steps, num_sequences, size)
    labels = rs.randint(size, size=(num_steps, num_sequences))
    targets = np.eye(size)[labels]
    return inputs, targets
