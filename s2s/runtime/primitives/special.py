"""scipy.special functions beyond the elementwise ones: logsumexp, softmax, log_softmax, log_expit.

`logsumexp` rules cover `a` and `b` with `return_sign=False` (the result is then one array).
"""
import scipy.special

from . import batching
from .core import primitive

# d logsumexp(a, b) = sum(b exp(a - out) da + exp(a - out) db)
logsumexp = primitive(
    "logsumexp", scipy.special.logsumexp, "a, axis=None, b=None, keepdims=False, return_sign=False",
    vjp={"a": "logsumexp_grad(out_bar, out, a, axis, keepdims, b)",
         "b": "logsumexp_grad_b(out_bar, out, a, axis, keepdims, b)"},
    jvp={"a": "np.sum(a_dot * logsumexp_weights(out, a, axis, keepdims, b), axis=axis, keepdims=keepdims)",
         "b": "np.sum(b_dot * logsumexp_weights(out, a, axis, keepdims, None), axis=axis, keepdims=keepdims)"}, batch=batching.logsumexp)

# softmax' : d s = s (dx - sum(s dx)); log_softmax' : d l = dx - sum(exp(l) dx)
softmax = primitive(
    "softmax", scipy.special.softmax, "x, axis=None",
    vjp={"x": "out * (out_bar - np.sum(out_bar * out, axis=axis, keepdims=True))"},
    jvp={"x": "out * (x_dot - np.sum(x_dot * out, axis=axis, keepdims=True))"}, batch=batching.axis_function)

log_softmax = primitive(
    "log_softmax", scipy.special.log_softmax, "x, axis=None",
    vjp={"x": "out_bar - np.exp(out) * np.sum(out_bar, axis=axis, keepdims=True)"},
    jvp={"x": "x_dot - np.sum(np.exp(out) * x_dot, axis=axis, keepdims=True)"}, batch=batching.axis_function)

# log_expit' = 1 - expit = 1 - exp(out), written -expm1(out) to stay accurate for large x
log_expit = primitive(
    "log_expit", scipy.special.log_expit, "x",
    vjp={"x": "-out_bar * np.expm1(out)"}, jvp={"x": "-x_dot * np.expm1(out)"}, batch=batching.elementwise)
