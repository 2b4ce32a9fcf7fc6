"""The user functions every contender differentiates, in plain NumPy, and their data.

Peers that need their own NumPy (autograd, JAX) run these same functions with `np`
rebound (see `peers.with_numpy`), so every contender differentiates one source text.
"""
import numpy as np


# MLP from the JAX README: tanh hidden layers, affine output, squared error.
def predict(params, x):
    for W, b in params[:-1]:
        x = np.tanh(x @ W + b)
    W, b = params[-1]
    return x @ W + b


def mlp_loss(params, x, y):
    return 0.5 * np.sum((predict(params, x) - y) ** 2)


# Scalar function for per-call overhead.
def tanh_times_x(x):
    return np.tanh(x) * x


# Logistic regression from the JAX README.
def sigmoid(x):
    return 0.5 * (np.tanh(x / 2.) + 1)


def logistic_predictions(weights, inputs):
    return sigmoid(np.dot(inputs, weights))


def logistic_loss(weights, inputs, targets):
    preds = logistic_predictions(weights, inputs)
    label_logprobs = np.log(preds) * targets + np.log(1 - preds) * (1 - targets)
    return -np.sum(label_logprobs)


def mlp_data(sizes=(784, 512, 512, 10), batch=128, dtype=np.float32, seed=0):
    """Random `(params, x, y)` for `mlp_loss`; params is a list of `(W, b)` tuples."""
    rng = np.random.default_rng(seed)
    params = [(rng.standard_normal((m, n)) / np.sqrt(m), 0.1 * rng.standard_normal(n))
              for m, n in zip(sizes[:-1], sizes[1:])]
    params = [(W.astype(dtype), b.astype(dtype)) for W, b in params]
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    y = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    return params, x, y


def logistic_data(n_examples=None, n_features=None, seed=0):
    """`(weights, inputs, targets)`: the README's 4x3 toy set, or random data of the given size."""
    if n_examples is None:
        inputs = np.array([[0.52, 1.12, 0.77],
                           [0.88, -1.08, 0.15],
                           [0.52, 0.06, -1.30],
                           [0.74, -2.49, 1.39]])
        targets = np.array([True, True, False, True])
        return np.zeros(3), inputs, targets
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((n_examples, n_features))
    true_weights = rng.standard_normal(n_features)
    targets = rng.random(n_examples) < 1 / (1 + np.exp(-inputs @ true_weights))
    return np.zeros(n_features), inputs, targets
