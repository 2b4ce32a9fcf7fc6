"""Small user functions that every transformation is tested on (plain NumPy)."""
import functools
import math

import numpy as np
from numpy import tanh as np_tanh
import numpy as onp
from scipy.special import expit

SCALE = 0.5
BIAS = np.array([0.1, -0.2, 0.3])


# -- the JAX README ------------------------------------------------------------------------
def tanh(x):
    y = np.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)


def abs_val(x):
    if x > 0:
        return x
    else:
        return -x


def predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs


def mlp_loss(params, inputs, targets):
    preds = predict(params, inputs)
    return np.sum((preds - targets) ** 2)


def sigmoid(x):
    return 0.5 * (np.tanh(x / 2) + 1)


def logistic_predict(W, b, inputs):
    return sigmoid(np.dot(inputs, W) + b)


def logistic_loss(W, b, inputs, targets):
    preds = logistic_predict(W, b, inputs)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probs))


# -- expressions and name resolution ----------------------------------------------------------
def poly(x):
    return 3.0 * x ** 3 - 2.0 * x * x + x / 4.0 - 1.0


def uses_aliases(x):
    return np_tanh(x) + onp.sin(x) * SCALE + math.cos(1.0) * x


def chained(x):
    return np.exp(x).sum() + (x * 2).mean()


def broadcasting(x, y):
    return np.sum(x * y + BIAS)


def augmented(x):
    y = x + 0.0
    y += 1.0
    y *= x
    a, b = y, 2.0 * y
    return np.sum(a * b)


def conditional_expression(x):
    y = x * 2 if np.sum(x) > 0 else x * 3
    return np.sum(y)


def chained_comparison(x):
    s = np.sum(x)
    if 0.0 < s < 100.0:
        return s * s
    return s


def boolean_ops(x):
    s = np.sum(x)
    if s > 0 and s < 10 or s < -5:
        return s * 2.0
    return s * 3.0


# -- control flow ---------------------------------------------------------------------------
def elif_chain(x):
    if x > 1.0:
        y = x ** 3
    elif x > 0.0:
        y = x ** 2
    else:
        y = -x
    return y * 2.0


def for_range(x):
    total = 0.0
    for i in range(4):
        total = total + np.sin(x * i)
    return total


def for_over_array(xs, w):
    total = 0.0
    for row in xs:
        total = total + np.sum(np.tanh(row * w))
    return total


def for_zip_enumerate(xs, ws):
    total = 0.0
    for i, (x, w) in enumerate(zip(xs, ws)):
        total = total + (i + 1) * x * w
    return total


def while_loop(x):
    # data-dependent trip count
    while x < 10.0:
        x = x * 1.5 + 0.1
    return x


def while_break(x):
    i = 0
    while True:
        x = np.sin(x) + x
        i = i + 1
        if i >= 5:
            break
    return x


def loop_continue(x):
    total = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        total = total + x ** i
    return total


def early_return(x):
    if x > 2.0:
        return x * x
    y = np.exp(x)
    return y


def return_in_loop(x):
    for i in range(10):
        x = x * 1.3
        if x > 5.0:
            return x * 2.0
    return x


def nested_loops(x):
    acc = x
    for i in range(3):
        for j in range(2):
            acc = np.sin(acc) * (i + j + 1)
    return acc


def nested_while(x):
    total = 0.0
    for i in range(3):
        y = x
        while y < 3.0 + i:
            y = y * 2.0
        total = total + y
    return total


# -- functions, closures, recursion -------------------------------------------------------------
def square(x):
    return x * x


def calls_user(x):
    return square(np.sin(x)) + square(x)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def recursion(x):
    return power(x, 4)


def closure_inner(x):
    scale = 3.0

    def inner(y):
        return y * scale * x

    return inner(x) + inner(2.0)


def with_lambda(x):
    f = lambda z: z * z + x
    return f(x) * 2.0


def make_closure(w):
    def f(x):
        return np.sum(np.tanh(x * w))
    return f


add_partial = functools.partial(power, n=3)


def calls_partial(x):
    return add_partial(x) + 1.0


# -- containers and in-place local arrays ---------------------------------------------------
def dict_params(p, x):
    return np.sum(p["w"] * x + p["b"]) ** 2


def dict_loop(p, x):
    total = 0.0
    for name, value in p.items():
        total = total + np.sum(value * x)
    for value in p.values():
        total = total + np.sum(value ** 2)
    return total


def tuple_out(x):
    return np.sum(x ** 2), x * 2


def local_array_writes(x):
    n = x.shape[0]
    a = np.zeros(n)
    for i in range(n):
        a[i] = x[i] * x[i] + x[(i + 1) % n]
    return np.sum(a * a)


def list_append(x):
    ys = []
    for i in range(3):
        ys.append(np.sin(x * (i + 1)))
    return np.sum(np.stack(ys))


def indexing(x):
    return x[0] * x[1:3].sum() + x[np.array([0, 0, 2])].sum() + x[-1]


def two_d_indexing(A):
    return np.sum(A[:, 1] * A[0, :]) + A[1, 2] + np.sum(A.T[0])


def reductions(A):
    return np.sum(np.max(A, axis=0)) + np.mean(A, axis=1).sum() + np.min(A) + np.prod(A[0]) \
        + np.sum(A.sum(axis=1, keepdims=True) * A)


def matmuls(A, v):
    return np.sum(A @ v) + v @ v + np.sum(A @ A.T) + np.sum(np.outer(v, v)) + np.sum(np.dot(A, A))


def shapes(A):
    B = A.reshape(-1)
    C = np.reshape(A, (A.shape[1], A.shape[0]))
    D = np.expand_dims(A, 0).squeeze(0)
    return np.sum(B * B) + np.sum(C[0]) + np.sum(np.transpose(D) ** 3) + np.sum(np.broadcast_to(A[0], (5, 4)))


def special(x):
    return np.sum(expit(x)) + np.sum(np.log1p(np.exp(x))) + np.sum(np.sqrt(x * x + 1.0))


def count_positive(v, axis):
    v = np.expand_dims(v, axis)
    return np.sum(v > 0) * 1.0


def g_loop(x):
    total = 0.0
    for i in range(4):
        total = total + np.sin(x * i)
    return total


def calls_loop(x):
    return g_loop(x) * 2.0


def uses_einsum(A, v):
    return np.sum(np.einsum("ij,j->i", A, v) ** 2)


def add_pair(t, x):
    return t + x


def result_named_like_argument(x):
    y = x * 1.7
    x = add_pair(y, x)
    return x
