"""A multilayer perceptron for classification, in the style of autograd's neural_net.py:
parameters are a list of (weights, biases) tuples."""
import numpy as np


def init_random_params(scale, layer_sizes, rs=np.random.RandomState(0)):
    """Build a list of (weights, biases) tuples, one for each layer in the net."""
    return [(scale * rs.randn(m, n),   # weight matrix
             scale * rs.randn(n))      # bias vector
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]


def logsumexp(x, axis=None, keepdims=False):
    max_x = np.max(x, axis=axis, keepdims=True)
    out = max_x + np.log(np.sum(np.exp(x - max_x), axis=axis, keepdims=True))
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out


def neural_net_predict(params, inputs):
    """Implements a deep neural network for classification.
       params is a list of (weights, bias) tuples.
       inputs is an (N x D) matrix.
       returns normalized class log-probabilities."""
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)


def l2_norm(params):
    """Computes l2 norm of params by summing over every weight and bias."""
    total = 0.0
    for W, b in params:
        total = total + np.sum(W ** 2) + np.sum(b ** 2)
    return total


def l2_norm_genexpr(params):
    return sum(np.sum(W ** 2) + np.sum(b ** 2) for W, b in params)


def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik


def objective(params, inputs, targets, L2_reg=0.01):
    return -log_posterior(params, inputs, targets, L2_reg)


def objective_genexpr(params, inputs, targets, L2_reg=0.01):
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return L2_reg * l2_norm_genexpr(params) - log_lik


def example_loss(params, x, t):
    """Cross-entropy of one example: x a vector of features, t a one-hot vector."""
    logprobs = neural_net_predict(params, x[None, :])
    return -np.sum(logprobs[0] * t)


def accuracy(params, inputs, targets):
    target_class = np.argmax(targets, axis=1)
    predicted_class = np.argmax(neural_net_predict(params, inputs), axis=1)
    return np.mean(predicted_class == target_class)


def make_data(num_examples=7, num_features=4, num_classes=3, rs=np.random.RandomState(1)):
    inputs = rs.randn(num_examples, num_features)
    labels = rs.randint(num_classes, size=num_examples)
    targets = np.eye(num_classes)[labels]
    return inputs, targets
