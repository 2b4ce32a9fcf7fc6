"""Unary elementwise functions of NumPy and `math`; `out` is the function's value."""
import math

import numpy as np
import scipy.special

from . import batching
from .core import primitive


def unary(name, impls, vjp, jvp):
    """Register f(x) whose cotangent is `vjp` and whose tangent is `jvp` (templates)."""
    return primitive(name, impls, "x", vjp={"x": vjp}, jvp={"x": jvp}, batch=batching.elementwise)


exp = unary("exp", [np.exp, math.exp], "out_bar * out", "x_dot * out")
log = unary("log", [np.log, math.log], "out_bar / x", "x_dot / x")
log1p = unary("log1p", [np.log1p, math.log1p], "out_bar / (1 + x)", "x_dot / (1 + x)")
expm1 = unary("expm1", [np.expm1, math.expm1], "out_bar * (out + 1)", "x_dot * (out + 1)")
sqrt = unary("sqrt", [np.sqrt, math.sqrt], "out_bar / (2 * out)", "x_dot / (2 * out)")
square = unary("square", [np.square], "out_bar * 2 * x", "x_dot * 2 * x")
sin = unary("sin", [np.sin, math.sin], "out_bar * np.cos(x)", "x_dot * np.cos(x)")
cos = unary("cos", [np.cos, math.cos], "-out_bar * np.sin(x)", "-x_dot * np.sin(x)")
# tan' = 1 + tan**2, tanh' = 1 - tanh**2
tan = unary("tan", [np.tan, math.tan], "out_bar * (1 + out * out)", "x_dot * (1 + out * out)")
tanh = unary("tanh", [np.tanh, math.tanh], "out_bar * (1 - out * out)", "x_dot * (1 - out * out)")
sinh = unary("sinh", [np.sinh, math.sinh], "out_bar * np.cosh(x)", "x_dot * np.cosh(x)")
cosh = unary("cosh", [np.cosh, math.cosh], "out_bar * np.sinh(x)", "x_dot * np.sinh(x)")
arctan = unary("arctan", [np.arctan, math.atan], "out_bar / (1 + x * x)", "x_dot / (1 + x * x)")
arcsin = unary("arcsin", [np.arcsin, math.asin],
               "out_bar / np.sqrt(1 - x * x)", "x_dot / np.sqrt(1 - x * x)")
arccos = unary("arccos", [np.arccos, math.acos],
               "-out_bar / np.sqrt(1 - x * x)", "-x_dot / np.sqrt(1 - x * x)")
absolute = unary("absolute", [np.abs, np.absolute, abs, math.fabs],
                 "out_bar * np.sign(x)", "x_dot * np.sign(x)")
# expit(x) = 1 / (1 + exp(-x)); expit' = expit (1 - expit)
expit = unary("expit", [scipy.special.expit],
              "out_bar * out * (1 - out)", "x_dot * out * (1 - out)")

# Piecewise-constant functions: derivative zero almost everywhere, so no rule at all.
for _name, _impls in [("sign", [np.sign]), ("floor", [np.floor, math.floor]),
                      ("ceil", [np.ceil, math.ceil]), ("round", [np.round, np.around, round]),
                      ("rint", [np.rint]), ("trunc", [np.trunc, math.trunc]),
                      ("isnan", [np.isnan, math.isnan]), ("isinf", [np.isinf, math.isinf]),
                      ("isfinite", [np.isfinite, math.isfinite])]:
    primitive(_name, _impls, "x, decimals=0", differentiable=False, batch=batching.elementwise)
