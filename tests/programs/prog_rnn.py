"""A vanilla recurrent network over character-like sequences, in the style of autograd's rnn.py,
with its parameters in a dict."""
import numpy as np


def create_rnn_params(input_size, state_size, output_size, param_scale=0.3, rs=np.random.RandomState(0)):
    return {'h0': param_scale * rs.randn(1, state_size),
            'W_xh': param_scale * rs.randn(input_size, state_size),
            'W_hh': param_scale * rs.randn(state_size, state_size),
            'b_h': param_scale * rs.randn(state_size),
            'W_hy': param_scale * rs.randn(state_size, output_size),
            'b_y': param_scale * rs.randn(output_size)}


def logsumexp(X, axis=1):
    max_X = np.max(X, axis=axis, keepdims=True)
    return max_X + np.log(np.sum(np.exp(X - max_X), axis=axis, keepdims=True))


def rnn_predict(params, inputs):
    """inputs: (num_steps, num_sequences, input_size). Returns a list of log-probabilities."""
    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params['h0'], num_sequences, axis=0)
    output = []
    for t in range(inputs.shape[0]):
        x = inputs[t]
        hiddens = np.tanh(np.dot(x, params['W_xh']) + np.dot(hiddens, params['W_hh']) + params['b_h'])
        logits = np.dot(hiddens, params['W_hy']) + params['b_y']
        output.append(logits - logsumexp(logits))
    return output


def rnn_log_likelihood(params, inputs, targets):
    logprobs = rnn_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


def training_loss(params, inputs, targets):
    return -rnn_log_likelihood(params, inputs, targets)


def rnn_predict_broadcast(params, inputs):
    """rnn_predict with the initial state broadcast by multiplication instead of np.repeat."""
    hiddens = np.ones((inputs.shape[1], 1)) * params['h0']
    output = []
    for t in range(inputs.shape[0]):
        hiddens = np.tanh(np.dot(inputs[t], params['W_xh']) + np.dot(hiddens, params['W_hh']) + params['b_h'])
        logits = np.dot(hiddens, params['W_hy']) + params['b_y']
        output.append(logits - logsumexp(logits))
    return output


def training_loss_broadcast(params, inputs, targets):
    logprobs = rnn_predict_broadcast(params, inputs)
    loglik = 0.0
    for t in range(inputs.shape[0]):
        loglik += np.sum(logprobs[t] * targets[t])
    return -loglik / (inputs.shape[0] * inputs.shape[1])


def final_state_loss(params, sequence):
    """One sequence (num_steps, input_size), iterated directly; loss on the last hidden state."""
    h = params['h0'][0]
    for x in sequence:
        h = np.tanh(x @ params['W_xh'] + h @ params['W_hh'] + params['b_h'])
    return np.sum((h @ params['W_hy'] + params['b_y']) ** 2)


def one_hot(indices, size):
    return (np.arange(size) == np.asarray(indices)[..., None]).astype(np.float64)


def make_data(num_steps=5, num_sequences=3, size=4, rs=np.random.RandomState(2)):
    inputs = one_hot(rs.randint(size, size=(num_steps, num_sequences)), size)
    targets = one_hot(rs.randint(size, size=(num_steps, num_sequences)), size)
    return inputs, targets
