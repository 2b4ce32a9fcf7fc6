"""Logistic regression from the JAX README, in plain NumPy, trained with `s2s.grad`."""
import numpy as np

import s2s


def sigmoid(x):
    return 0.5 * (np.tanh(x / 2.) + 1)


def logistic_predictions(weights, inputs):
    """Probability of each label being true according to the logistic model."""
    return sigmoid(np.dot(inputs, weights))


def loss(weights, inputs, targets):
    """Negative log-likelihood of the training labels."""
    preds = logistic_predictions(weights, inputs)
    label_logprobs = np.log(preds) * targets + np.log(1 - preds) * (1 - targets)
    return -np.sum(label_logprobs)


def main():
    inputs = np.array([[0.52, 1.12, 0.77],
                       [0.88, -1.08, 0.15],
                       [0.52, 0.06, -1.30],
                       [0.74, -2.49, 1.39]])
    targets = np.array([True, True, False, True])

    training_gradient_fun = s2s.grad(loss)
    weights = np.array([0.0, 0.0, 0.0])
    print("Initial loss: {:0.2f}".format(loss(weights, inputs, targets)))   # 2.77
    for i in range(100):
        weights -= 0.1 * training_gradient_fun(weights, inputs, targets)
    print("Trained loss: {:0.2f}".format(loss(weights, inputs, targets)))   # 0.17
    print(s2s.source(training_gradient_fun))


if __name__ == "__main__":
    main()
