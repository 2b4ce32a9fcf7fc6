"""The JAX README quickstart, written in plain NumPy and differentiated with s2s."""
import numpy as np

import s2s


# Derivatives of any order.
def tanh(x):
    y = np.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)


grad_tanh = s2s.grad(tanh)
print("tanh'(1.0)    =", grad_tanh(1.0))                          # 0.41997434161402...
print("tanh'''(1.0)  =", s2s.grad(s2s.grad(s2s.grad(tanh)))(1.0))  # 0.62162668077129...
print("np.tanh'(1.0) =", s2s.grad(np.tanh)(1.0))                  # 1 - np.tanh(1.0)**2


# Python control flow: each call runs the branch its argument takes.
def abs_val(x):
    if x > 0:
        return x
    else:
        return -x


abs_val_grad = s2s.grad(abs_val)
print("abs_val'(1.0) =", abs_val_grad(1.0))     # 1.0
print("abs_val'(-1.0) =", abs_val_grad(-1.0))   # -1.0


# Logistic regression, trained by gradient descent.
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


# The gradient is ordinary Python: read it.
print(s2s.source(grad_tanh))


# Forward mode, Hessians and vmap (per-example gradients of the same loss).
def tanh_squared(x):
    return np.sum(np.tanh(x) ** 2)


x = np.array([0.1, 0.2, 0.3])
value, slope = s2s.jvp(tanh_squared, (x,), (np.ones(3),))
print("jvp:", value, slope)
print("hessian diagonal:", np.diag(s2s.hessian(tanh_squared)(x)))
per_example_grads = s2s.vmap(s2s.grad(loss), in_axes=(None, 0, 0))(weights, inputs, targets)
print("per-example gradients:", per_example_grads.shape)
