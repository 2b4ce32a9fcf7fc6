"""Functions that pick between their arguments: maximum, minimum, where, clip, arctan2.

The cotangent follows the picked argument; at ties of maximum/minimum it is split in half
between both (as JAX does), so `maximum(x, x)` has derivative 1.
"""
import builtins
import math

import numpy as np

from . import batching
from .core import primitive

_MAXIMUM = dict(
    vjp={"x": "unbroadcast(out_bar * max_share(x, y), x)", "y": "unbroadcast(out_bar * max_share(y, x), y)"},
    jvp={"x": "x_dot * max_share(x, y)", "y": "y_dot * max_share(y, x)"})
_MINIMUM = dict(
    vjp={"x": "unbroadcast(out_bar * min_share(x, y), x)", "y": "unbroadcast(out_bar * min_share(y, x), y)"},
    jvp={"x": "x_dot * min_share(x, y)", "y": "y_dot * min_share(y, x)"})

maximum = primitive("maximum", [np.maximum, np.fmax], "x, y", **_MAXIMUM, batch=batching.elementwise)
minimum = primitive("minimum", [np.minimum, np.fmin], "x, y", **_MINIMUM, batch=batching.elementwise)
# Python's max(x, y) and min(x, y) with two arguments.
builtin_max = primitive("builtin_max", builtins.max, "x, y", **_MAXIMUM, batch=batching.elementwise)
builtin_min = primitive("builtin_min", builtins.min, "x, y", **_MINIMUM, batch=batching.elementwise)

where = primitive(
    "where", np.where, "condition, x, y",
    vjp={"x": "unbroadcast(np.where(condition, out_bar, 0.0), x)",
         "y": "unbroadcast(np.where(condition, 0.0, out_bar), y)"},
    jvp={"x": "broadcast_like(np.where(condition, x_dot, 0.0), out)",
         "y": "broadcast_like(np.where(condition, 0.0, y_dot), out)"}, batch=batching.elementwise)

# clip(a, lo, hi) is a where it lies inside, lo where it was raised, hi where it was lowered
# (assuming lo <= hi; NumPy gives hi everywhere otherwise). At a bound, a keeps the derivative.
# The bounds may be given as a_min/a_max or, as in NumPy >= 2.1 and ndarray.clip, min/max.
_LOWER = "unbroadcast(out_bar * (out > a), {})"
_UPPER = "unbroadcast(out_bar * (out < a), {})"
clip = primitive(
    "clip", np.clip, "a, a_min=None, a_max=None, out=None, *, min=None, max=None",
    methods=[("clip", "a, min=None, max=None, out=None")],
    vjp={"a": "unbroadcast(out_bar * (out == a), a)",
         "a_min": _LOWER.format("a_min"), "min": _LOWER.format("min"),
         "a_max": _UPPER.format("a_max"), "max": _UPPER.format("max")},
    jvp={"a": "a_dot * (out == a)",
         "a_min": "a_min_dot * (out > a)", "min": "min_dot * (out > a)",
         "a_max": "a_max_dot * (out < a)", "max": "max_dot * (out < a)"}, batch=batching.elementwise)

# d arctan2(y, x) = (x dy - y dx) / (x^2 + y^2)
# log(exp(x) + exp(y)): each operand's share of the sum is exp(operand - out)
logaddexp = primitive(
    "logaddexp", np.logaddexp, "x, y",
    vjp={"x": "unbroadcast(out_bar * np.exp(x - out), x)", "y": "unbroadcast(out_bar * np.exp(y - out), y)"},
    jvp={"x": "x_dot * np.exp(x - out)", "y": "y_dot * np.exp(y - out)"}, batch=batching.elementwise)

arctan2 = primitive(
    "arctan2", [np.arctan2, math.atan2], "y, x",
    vjp={"y": "unbroadcast(out_bar * x / (x * x + y * y), y)",
         "x": "unbroadcast(-out_bar * y / (x * x + y * y), x)"},
    jvp={"y": "y_dot * x / (x * x + y * y)", "x": "-x_dot * y / (x * x + y * y)"}, batch=batching.elementwise)
