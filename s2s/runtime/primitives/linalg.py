"""Products and linear algebra: dot, outer, einsum, tensordot, inner, vdot, trace, inv, solve, det.

`einsum` has the variadic slot `operands`. Its vjp template gives a tuple, one cotangent per
operand (inactive operands get one too, and the caller drops it); its jvp template receives
`operands_dot`, a tuple with one tangent per operand and None for an inactive one, and sums
one einsum per active operand (einsum is multilinear). `subscripts` must be a string (the
interleaved `einsum(op, sublist, ...)` form has no rules).
The einsum cotangent of one operand is again an einsum (`einsum_cotangent`, a helper primitive
whose own rules use einsum and itself), so every order of derivative stays an einsum.
"""
import numpy as np

from . import adjoints
from . import batching
from .core import primitive

dot = primitive(
    "dot", np.dot, "a, b", methods=[("dot", "a, b")],
    vjp={"a": "dot_grad_left(out_bar, a, b)", "b": "dot_grad_right(out_bar, a, b)"},
    jvp={"a": "np.dot(a_dot, b)", "b": "np.dot(a, b_dot)"}, batch=batching.dot)

# outer(a, b)[i, j] = a.flat[i] b.flat[j]
outer = primitive(
    "outer", np.outer, "a, b",
    vjp={"a": "match_dtype(np.reshape(out_bar @ np.ravel(b), np.shape(a)), a)",
         "b": "match_dtype(np.reshape(np.ravel(a) @ out_bar, np.shape(b)), b)"},
    jvp={"a": "np.outer(a_dot, b)", "b": "np.outer(a, b_dot)"}, batch=batching.outer)

# vdot(a, b) = sum(a.flat * b.flat) (real arrays)
vdot = primitive(
    "vdot", np.vdot, "a, b",
    vjp={"a": "match_dtype(np.reshape(out_bar * np.ravel(b), np.shape(a)), a)",
         "b": "match_dtype(np.reshape(out_bar * np.ravel(a), np.shape(b)), b)"},
    jvp={"a": "np.vdot(a_dot, b)", "b": "np.vdot(a, b_dot)"}, batch=batching.vdot)

inner = primitive(
    "inner", np.inner, "a, b",
    vjp={"a": "inner_grad_left(out_bar, a, b)", "b": "inner_grad_right(out_bar, a, b)"},
    jvp={"a": "np.inner(a_dot, b)", "b": "np.inner(a, b_dot)"}, batch=batching.inner)

tensordot = primitive(
    "tensordot", np.tensordot, "a, b, axes=2",
    vjp={"a": "tensordot_grad_left(out_bar, a, b, axes)", "b": "tensordot_grad_right(out_bar, a, b, axes)"},
    jvp={"a": "np.tensordot(a_dot, b, axes)", "b": "np.tensordot(a, b_dot, axes)"}, batch=batching.tensordot)

tensordot_plan = primitive("tensordot_plan", adjoints.tensordot_plan, "a_ndim, b_ndim, axes, side",
                           differentiable=False, helper=True, result="any", batch=batching.per_example)

einsum = primitive(
    "einsum", np.einsum, "subscripts, *operands, optimize=False",
    vjp={"operands": "einsum_grad(out_bar, subscripts, operands)"},
    jvp={"operands": "einsum_tangent(subscripts, operands, operands_dot)"}, batch=batching.einsum)

# einsum_cotangent(g, ...) is linear in g and in every operand but its own, which it does not read.
einsum_cotangent = primitive(
    "einsum_cotangent", adjoints.einsum_cotangent, "g, subscripts, operands, position",
    vjp={"g": "einsum_replaced(subscripts, operands, position, out_bar)",
         "operands": "einsum_cotangent_grad(g, subscripts, operands, position, out_bar)"},
    jvp={"g": "einsum_cotangent(g_dot, subscripts, operands, position)",
         "operands": "einsum_cotangent_tangent(g, subscripts, operands, position, operands_dot)"},
    helper=True, batch=batching.per_example)

trace = primitive(
    "trace", np.trace, "a, offset=0, axis1=0, axis2=1, dtype=None, out=None",
    methods=[("trace", "a, offset=0, axis1=0, axis2=1, dtype=None, out=None")],
    vjp={"a": "trace_grad(out_bar, a, offset, axis1, axis2)"},
    jvp={"a": "np.trace(a_dot, offset, axis1, axis2)"}, batch=batching.trace)

# d inv(a) = -inv(a) da inv(a)
inv = primitive(
    "inv", np.linalg.inv, "a",
    vjp={"a": "-(np.swapaxes(out, -1, -2) @ out_bar @ np.swapaxes(out, -1, -2))"},
    jvp={"a": "-(out @ a_dot @ out)"}, batch=batching.stacked_linalg)

# x = solve(a, b): dx = solve(a, db - da x)
solve = primitive(
    "solve", np.linalg.solve, "a, b",
    vjp={"a": "solve_grad_a(out_bar, out, a, b)", "b": "solve_grad_b(out_bar, a, b)"},
    jvp={"a": "solve_tangent_a(a_dot, out, a, b)", "b": "np.linalg.solve(a, b_dot)"}, batch=batching.solve)

# d det(a) = det(a) trace(inv(a) da)
det = primitive(
    "det", np.linalg.det, "a",
    vjp={"a": "det_grad(out_bar, out, a)"},
    jvp={"a": "det_tangent(a_dot, out, a)"}, batch=batching.stacked_linalg)

# a = L L^T, read from the lower triangle of a: dL = L phi(L^-1 da L^-T) (Murray 2016)
cholesky = primitive(
    "cholesky", np.linalg.cholesky, "a",
    vjp={"a": "cholesky_grad(out_bar, out)"},
    jvp={"a": "cholesky_tangent(a_dot, out)"}, batch=batching.stacked_linalg)

# (sign, log|det a|): d log|det a| = trace(solve(a, da)); the sign is piecewise constant
slogdet = primitive(
    "slogdet", np.linalg.slogdet, "a",
    vjp={"a": "slogdet_grad(out_bar, a)"},
    jvp={"a": "slogdet_tangent(a_dot, out, a)"}, result="tree", batch=batching.stacked_linalg)
