"""Reductions with `axis` and `keepdims`: the cotangent spreads back over reduced axes."""
import builtins

import numpy as np

from . import batching
from .core import primitive

_REDUCTION = "a, axis=None, dtype=None, out=None, keepdims=False"
_METHOD = "a, axis=None, dtype=None, out=None, keepdims=False"

sum_ = primitive(
    "sum", np.sum, _REDUCTION, methods=[("sum", _METHOD)],
    vjp={"a": "sum_grad(out_bar, a, axis, keepdims)"},
    jvp={"a": "np.sum(a_dot, axis=axis, keepdims=keepdims)"}, batch=batching.reduction)

mean = primitive(
    "mean", np.mean, _REDUCTION, methods=[("mean", _METHOD)],
    vjp={"a": "mean_grad(out_bar, a, axis, keepdims)"},
    jvp={"a": "np.mean(a_dot, axis=axis, keepdims=keepdims)"}, batch=batching.reduction)

prod = primitive(
    "prod", np.prod, _REDUCTION, methods=[("prod", _METHOD)],
    vjp={"a": "prod_grad(out_bar, out, a, axis, keepdims)"},
    jvp={"a": "np.sum(a_dot * prod_grad(np.ones_like(out), out, a, axis, keepdims), axis=axis, keepdims=keepdims)"}, batch=batching.reduction)

# max/min: the cotangent goes to the positions attaining the extremum, split between ties.
_EXTREMUM = "a, axis=None, out=None, keepdims=False"
amax = primitive(
    "max", [np.max, np.amax], _EXTREMUM, methods=[("max", _EXTREMUM)],
    vjp={"a": "extremum_grad(out_bar, out, a, axis, keepdims)"},
    jvp={"a": "np.sum(a_dot * extremum_weights(out, a, axis, keepdims), axis=axis, keepdims=keepdims)"}, batch=batching.reduction)
amin = primitive(
    "min", [np.min, np.amin], _EXTREMUM, methods=[("min", _EXTREMUM)],
    vjp={"a": "extremum_grad(out_bar, out, a, axis, keepdims)"},
    jvp={"a": "np.sum(a_dot * extremum_weights(out, a, axis, keepdims), axis=axis, keepdims=keepdims)"}, batch=batching.reduction)

# Python's builtin sum over a sequence of values: every term gets the whole cotangent.
builtin_sum = primitive(
    "builtin_sum", builtins.sum, "iterable, start=0",
    vjp={"iterable": "sequence_of(out_bar, iterable)", "start": "unbroadcast(out_bar, start)"},
    jvp={"iterable": "sum(fill_zeros(iterable_dot, iterable))", "start": "broadcast_like(start_dot, out)"},
    result="any", batch=batching.builtin_sum)

for _name, _impl in [("argmax", np.argmax), ("argmin", np.argmin), ("argsort", np.argsort),
                     ("any", np.any), ("all", np.all), ("count_nonzero", np.count_nonzero)]:
    primitive(_name, _impl, "a, axis=None, out=None, keepdims=False", differentiable=False,
              methods=[_name] if _name != "count_nonzero" else (), batch=batching.reduction)
