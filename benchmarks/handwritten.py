"""Gradients written by hand in NumPy: the baseline s2s has to match.

Written the way a careful person would: one forward pass that keeps the activations,
one backward pass, nothing computed that the result does not need (no gradient for
the inputs `x`). `run.py --check` verifies them against autograd, JAX and finite
differences.
"""
import numpy as np


def mlp_loss_grad(params, x, y):
    """Gradient of `models.mlp_loss` with respect to `params`, as a list of `(W_bar, b_bar)`."""
    activations = [x]
    for W, b in params[:-1]:
        x = np.tanh(x @ W + b)
        activations.append(x)
    W, b = params[-1]
    out_bar = x @ W + b - y                       # d/d_out of 0.5 * sum((out - y)**2)
    grads = []
    for i in range(len(params) - 1, -1, -1):
        W, b = params[i]
        h_in = activations[i]
        grads.append((h_in.T @ out_bar, out_bar.sum(axis=0)))
        if i > 0:
            h_bar = out_bar @ W.T
            out_bar = h_bar * (1 - h_in * h_in)   # tanh' = 1 - tanh**2
    return grads[::-1]


def logistic_loss_grad(weights, inputs, targets):
    """Gradient of `models.logistic_loss` with respect to `weights`."""
    preds = 0.5 * (np.tanh(np.dot(inputs, weights) / 2.) + 1)
    return np.dot(inputs.T, preds - targets)      # sigmoid + log-likelihood: d/dz = p - t
