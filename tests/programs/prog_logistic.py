"""Logistic regression in the style of autograd's README example: the data are module globals
and the training loss closes over them."""
import numpy as np


def sigmoid(x):
    return 0.5 * (np.tanh(x / 2.0) + 1)


def logistic_predictions(weights, inputs):
    # Outputs probability of a label being true according to logistic model.
    return sigmoid(np.dot(inputs, weights))


# Build a toy dataset.
inputs = np.array([[0.52, 1.12, 0.77],
                   [0.88, -1.08, 0.15],
                   [0.52, 0.06, -1.30],
                   [0.74, -2.49, 1.39],
                   [-0.31, 0.44, 0.90],
                   [1.20, 0.05, -0.62]])
targets = np.array([True, True, False, True, False, True])


def training_loss(weights):
    # Training loss is the negative log-likelihood of the training labels.
    preds = logistic_predictions(weights, inputs)
    label_probabilities = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probabilities))


def example_loss(weights, x, t):
    """Negative log-likelihood of one example (x a vector, t a bool)."""
    p = sigmoid(np.dot(x, weights))
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def regularized_loss(weights, bias, l2):
    logits = np.dot(inputs, weights) + bias
    preds = sigmoid(logits)
    nll = -np.sum(np.where(targets, np.log(preds), np.log(1 - preds)))
    return nll + l2 * np.dot(weights, weights)


def train(grad_fun, weights, num_steps=100, step_size=0.1):
    """Plain gradient descent with a gradient function supplied by the caller."""
    for i in range(num_steps):
        weights = weights - step_size * grad_fun(weights)
    return weights
