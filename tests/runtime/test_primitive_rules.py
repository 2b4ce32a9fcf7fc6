"""Every rule in the primitive table against central finite differences, in float64.

For each case of `CASES` (keyed by primitive name) and each differentiable slot:
the vjp satisfies <vjp(out_bar), v> = d/de <out_bar, f(x + e v)>, the jvp equals
(f(x + h v) - f(x - h v)) / 2h, and both are shaped like what they stand for.
"""
import ast
import builtins
import collections.abc
import inspect
import math
import operator

import numpy as np
import pytest

from s2s.ast_passes.resolve import LIST_METHODS
from s2s.runtime.primitives import TEMPLATE_NAMESPACE, all_primitives, by_name

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-6

rng = np.random.default_rng(0)


def r(*shape):
    """Standard normal values."""
    return rng.normal(size=shape)


def pos(*shape):
    """Values in [0.5, 2)."""
    return rng.uniform(0.5, 2.0, size=shape)


def unit(*shape):
    """Values in (-0.9, 0.9), inside arcsin's domain."""
    return rng.uniform(-0.9, 0.9, size=shape)


def away(*shape):
    """Values of either sign, at least 0.5 from zero (prod divides by them)."""
    return pos(*shape) * rng.choice([-1.0, 1.0], size=shape)


def wellcond(n, *batch):
    """Invertible, well-conditioned matrices."""
    return r(*batch, n, n) + n * np.eye(n)


def spd(n, *batch):
    """Symmetric positive definite matrices."""
    a = r(*batch, n, n)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


class Case:
    def __init__(self, *args, _id=None, _slots=None, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.id = _id
        self.slots = _slots          # which differentiable slots to check (default: every active one)


C = Case

# -- the case table -----------------------------------------------------------------------------
BROADCAST = [((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((3, 4), ()), ((2, 3, 4), (3, 1))]


def _shaped(make, shape):
    return float(make()[()]) if shape == () else make(*shape)


def binary_cases(make_x=r, make_y=r):
    cases = [C(_shaped(make_x, sx), _shaped(make_y, sy), _id=f"{sx}+{sy}") for sx, sy in BROADCAST]
    cases.append(C(make_x(3, 4), np.asarray(make_y()), _id="0d-array"))
    return cases


def unary_cases(make=r):
    return [C(make(3, 4), _id="(3,4)"), C(float(make()), _id="float"), C(make(2, 3, 2), _id="3d")]


def reduction_cases(make=r):
    a, b = make(3, 4), make(2, 3, 4)
    cases = []
    for axis in [None, 0, -1]:
        for keepdims in [False, True]:
            cases.append(C(a, axis=axis, keepdims=keepdims, _id=f"axis={axis},keepdims={keepdims}"))
    cases.append(C(b, axis=(0, 2), _id="axis=(0,2)"))
    cases.append(C(b, axis=(0, 2), keepdims=True, _id="axis=(0,2),keepdims"))
    cases.append(C(b, 1, _id="positional-axis"))
    return cases


def matmul_cases():
    return [C(r(*sx), r(*sy), _id=f"{sx}@{sy}") for sx, sy in [
        ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
        ((3, 4), (2, 4, 5))]]


UNARY_DOMAINS = {"log": pos, "sqrt": pos, "log1p": pos, "arcsin": unit, "arccos": unit, "absolute": away,
                 "tan": unit}
UNARY = ["exp", "log", "log1p", "expm1", "sqrt", "square", "sin", "cos", "tan", "tanh", "sinh", "cosh",
         "arctan", "arcsin", "arccos", "absolute", "expit", "negative", "positive", "log_expit", "real"]

CASES = {name: unary_cases(UNARY_DOMAINS.get(name, r)) for name in UNARY}
CASES.update({
    "add": binary_cases(), "subtract": binary_cases(), "multiply": binary_cases(),
    "divide": binary_cases(r, pos),
    "power": binary_cases(pos, r) + [C(r(3, 4), 3, _id="int-exponent"), C(r(3, 4), 2.0, _id="float-exponent",
                                                                             _slots=["x"])],
    "mod": binary_cases(lambda *s: 3 * r(*s), pos),
    "maximum": binary_cases(), "minimum": binary_cases(),
    "arctan2": binary_cases(),
    "logaddexp": binary_cases(),
    "builtin_max": [C(0.3, -0.2, _id="floats"), C(-0.3, 0.2, _id="floats-y"),
                    C(np.float64(1.5), 2.5, _id="numpy-scalar")],
    "builtin_min": [C(0.3, -0.2, _id="floats"), C(-0.3, 0.2, _id="floats-y"),
                    C(np.float64(1.5), 2.5, _id="numpy-scalar")],
    "matmul": matmul_cases(),
    "dot": [C(r(*sx), r(*sy), _id=f"{sx}.{sy}") for sx, sy in [
        ((4,), (4,)), ((3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 5)), ((2, 3, 4), (4,)),
        ((2, 3, 4), (4, 5))]]
        + [C(2.5, r(3, 4), _id="scalar.(3,4)"), C(r(3), np.asarray(1.5), _id="(3,).0d"),
           C(r(2, 3, 4), r(5, 4, 6), _id="(2,3,4).(5,4,6)")],
    "sum": reduction_cases(), "mean": reduction_cases(), "prod": reduction_cases(away),
    "max": reduction_cases(), "min": reduction_cases(),
    "builtin_sum": [C([r(3), r(3), r(3)], _id="arrays"), C([0.5, 1.5], _id="floats"),
                    C((r(2, 2), r(2, 2)), start=r(2, 2), _id="start")],
    # shapes
    "reshape": [C(r(3, 4), (4, 3), _id="(4,3)"), C(r(3, 4), (2, -1), _id="-1"), C(r(12), (3, 4), _id="up")],
    "ravel": [C(r(3, 4)), C(r(2, 3, 2))],
    "transpose": [C(r(3, 4), _id="default"), C(r(2, 3, 4), (1, 2, 0), _id="axes")],
    "swapaxes": [C(r(2, 3, 4), 0, 2), C(r(3, 4), -1, -2)],
    "expand_dims": [C(r(3, 4), 1), C(r(3, 4), (0, 3))],
    "squeeze": [C(r(3, 1, 4, 1)), C(r(3, 1, 4), axis=1)],
    "broadcast_to": [C(r(4), (3, 4)), C(r(3, 1), (2, 3, 4)), C(1.5, (2, 2), _id="float")],
    "moveaxis": [C(r(2, 3, 4), 0, -1), C(r(2, 3, 4), (0, 1), (2, 0))],
    "flip": [C(r(3, 4)), C(r(2, 3, 4), 1), C(r(2, 3, 4), (0, 2))],
    "roll": [C(r(5), 2), C(r(3, 4), -1), C(r(3, 4), 1, axis=0), C(r(2, 3, 4), (1, 2), axis=(0, 2))],
    "repeat": [C(r(3), 2), C(r(2, 3), 2, axis=1), C(r(2, 3), [1, 0, 2], axis=1), C(r(2, 3), 3),
               C(r(3, 2), np.array([2, 1, 1]), axis=0)],
    "tile": [C(r(3), 2), C(r(2, 3), (2, 1, 2)), C(r(2, 3), 2), C(r(2, 1, 3), (3, 1))],
    "diag": [C(r(4)), C(r(3), k=1), C(r(3), -2), C(r(4, 4)), C(r(3, 5), 1), C(r(5, 3), k=-1)],
    "concatenate": [C([r(2, 3), r(4, 3)], _id="axis0"), C((r(2, 3), r(2, 1), r(2, 2)), axis=-1, _id="axis-1"),
                    C([r(2, 3), r(4)], axis=None, _id="axisNone"), C([r(2, 3), np.ones((1, 3))], _id="const")],
    "stack": [C([r(3, 4), r(3, 4), r(3, 4)]), C((r(3, 4), r(3, 4)), axis=1), C([r(2), r(2)], -1)],
    "hstack": [C([r(3), r(2)]), C((r(2, 3), r(2, 1))), C([1.5, r(2)], _id="scalar")],
    "vstack": [C([r(3), r(3)]), C((r(2, 3), r(1, 3))), C([1.5, 2.5], _id="scalars")],
    "split": [C(r(6, 4), 3, _id="sections"), C(r(6, 4), [1, 4], _id="indices"),
              C(r(3, 4), 2, axis=1, _id="axis1")],
    "array_split": [C(r(7, 3), 3), C(r(3, 5), 2, axis=-1)],
    "fill_zeros": [C([r(3), None, r(2, 2)], [r(3), r(4), r(2, 2)]), C((r(3),), (r(3),))],
    "concatenate_grad": [C(r(6, 3), [r(2, 3), r(4, 3)], 0), C(r(2, 5), (r(2, 3), r(2, 2)), -1),
                         C(r(10), [r(2, 3), r(4)], None)],
    "stack_grad": [C(r(3, 2, 4), [r(2, 4)] * 3, 0), C(r(2, 3, 4), [r(2, 4)] * 3, 1)],
    "hstack_grad": [C(r(5), [r(3), r(2)]), C(r(2, 4), (r(2, 3), r(2, 1))), C(r(3), [1.5, r(2)])],
    "vstack_grad": [C(r(2, 3), [r(3), r(3)]), C(r(3, 3), (r(2, 3), r(1, 3))), C(r(2, 1), [1.5, 2.5])],
    # products and linear algebra
    "outer": [C(r(3), r(4)), C(r(2, 2), r(3)), C(2.5, r(3), _id="scalar")],
    "vdot": [C(r(5), r(5)), C(r(3, 4), r(4, 3))],
    "inner": [C(r(3), r(3)), C(r(2, 3), r(4, 3)), C(r(2, 3), 2.5, _id="scalar"), C(r(2, 3, 4), r(5, 4))],
    "tensordot": [C(r(2, 3, 4), r(3, 4, 5), _id="axes=2"), C(r(3, 4), r(4, 5), 1, _id="axes=1"),
                  C(r(2), r(3), 0, _id="axes=0"),
                  C(r(3, 4, 5), r(4, 3, 2), ([1, 0], [0, 1]), _id="crossed"),
                  C(r(3, 4, 5), r(5, 2), axes=([2], [0]), _id="lists"),
                  C(r(3, 4), r(2, 4), (1, 1), _id="ints"), C(r(3, 4), r(4, 2), ([-1], [-2]), _id="negative")],
    "einsum": [C("ij,jk->ik", r(3, 4), r(4, 5), _id="matmul"), C("ij,jk", r(3, 4), r(4, 5), _id="implicit"),
               C("i,i->", r(4), r(4), _id="dot"), C("ii->i", r(3, 3), _id="diagonal"),
               C("ii", r(3, 3), _id="trace"), C("ij->", r(3, 4), _id="sum"),
               C("ijk->kji", r(2, 3, 4), _id="transpose"),
               C("...ij,...jk->...ik", r(2, 1, 3, 4), r(5, 4, 6), _id="ellipsis-broadcast"),
               C("i,j->ij", r(3), r(4), _id="outer"), C("ij,ij,ij->i", r(2, 3), r(2, 3), r(2, 3), _id="three"),
               C("bij,bjk->bik", r(2, 3, 4), r(2, 4, 5), _id="batched"),
               C("ij,k->ik", r(3, 4), r(5), _id="summed-alone"),
               C("ij,jk->ik", r(3, 1), r(4, 5), _id="size1-broadcast"),
               C("ij, jk -> ik", r(3, 4), np.ones((4, 2)), _id="spaces-const"),
               C("i...->...", r(3, 2, 2), _id="ellipsis-reduce"),
               C("ii,ij->j", r(3, 3), r(3, 2), _id="diagonal-product")],
    "einsum_cotangent": [C(r(3, 5), "ij,jk->ik", (r(3, 4), r(4, 5)), 0),
                         C(r(3, 5), "ij,jk->ik", (r(3, 4), r(4, 5)), 1),
                         C(r(3), "ii->i", (r(3, 3),), 0, _id="diagonal"),
                         C(r(2), "ij,ij,ij->i", (r(2, 3), r(2, 3), r(2, 3)), 1, _id="three"),
                         C(r(3, 2), "ii,ij->ij", (r(3, 3), r(3, 2)), 0, _id="diagonal-product")],
    "trace": [C(r(3, 3)), C(r(3, 4), 1), C(r(3, 4), offset=-1), C(r(2, 3, 3), 0, 1, 2),
              C(r(3, 2, 3), axis1=0, axis2=-1)],
    "inv": [C(wellcond(3)), C(wellcond(3, 2))],
    "solve": [C(wellcond(3), r(3), _id="vector"), C(wellcond(3), r(3, 2), _id="matrix"),
              C(wellcond(3, 2), r(3), _id="batched-a-vector"), C(wellcond(3, 2), r(2, 3, 2), _id="batched"),
              C(wellcond(3, 2), r(3, 2), _id="broadcast-b"), C(wellcond(3), r(2, 3, 2), _id="broadcast-a")],
    "det": [C(wellcond(3)), C(wellcond(2, 4))],
    "cholesky": [C(spd(3)), C(spd(4)), C(spd(3, 2)), C(spd(3) + np.triu(r(3, 3), 1), _id="upper ignored")],
    "slogdet": [C(wellcond(3)), C(-wellcond(3)), C(wellcond(2, 4))],
    # selections and special functions
    "select": [C(True, r(3), r(3), _id="true"), C(False, r(2, 3), r(2, 3), _id="false")],   # vmap's `if`
    "where": [C(r(3, 4) > 0, r(3, 4), r(3, 4), _id="same"), C(r(3, 1) > 0, r(4), 0.5, _id="broadcast"),
              C(True, r(3), r(2, 3), _id="scalar-condition")],
    "clip": [C(2 * r(3, 4), -0.5, 0.5, _id="floats"), C(2 * r(3, 4), -pos(4), pos(3, 1), _id="arrays"),
             C(2 * r(3, 4), None, 0.5, _id="no-lower"), C(2 * r(3, 4), min=-0.5, max=pos(4), _id="min-max")],
    "logsumexp": reduction_cases() + [C(r(3, 4), b=pos(3, 4), _id="b"),
                                      C(r(3, 4), axis=1, b=pos(4), _id="b-broadcast")],
    "softmax": [C(r(3, 4)), C(r(3, 4), axis=0), C(r(2, 3, 4), axis=-1), C(r(2, 3, 4), axis=(0, 2))],
    "log_softmax": [C(r(3, 4)), C(r(3, 4), axis=0), C(r(2, 3, 4), axis=-1), C(r(2, 3, 4), axis=(0, 2))],
    # indexing and containers
    "getitem": [C(r(5, 4), 2, _id="int"), C(r(5, 4), -1, _id="negative"), C(r(5, 4), slice(1, 4), _id="slice"),
                C(r(5, 4), np.array([0, 2, 2]), _id="int-array-repeats"), C(r(5, 4), [4, 0, 4], _id="list"),
                C(r(5, 4), (1, slice(None)), _id="tuple"), C(r(5, 4), (np.array([0, 1, 1]), np.array([3, 2, 2])),
                                                             _id="two-arrays"),
                C(r(5, 4), r(5) > 0, _id="mask"), C(r(5, 4), (Ellipsis, None, 1), _id="ellipsis-newaxis"),
                C([r(3), r(2)], 1, _id="list-int"), C((r(3), r(2), r(1)), slice(0, 2), _id="tuple-slice"),
                C([r(3), 0.5], -1, _id="list-negative"), C({"w": r(3), "b": r(2)}, "b", _id="dict")],
    "getitem_grad": [C(r(4), r(5, 4), 2, _id="int"), C(r(3, 4), r(5, 4), slice(1, 4), _id="slice"),
                     C(r(3, 4), r(5, 4), np.array([0, 2, 2]), _id="repeats"),
                     C(r(2), [r(3), r(2)], 1, _id="list"), C(r(2), {"w": r(3), "b": r(2)}, "b", _id="dict"),
                     C([r(3), r(1)], (r(2), r(3), r(1)), slice(1, 3), _id="tuple-slice")],
    "index_update": [C(r(5, 4), 1, r(4), _id="int"), C(r(5, 4), slice(1, 3), r(4), _id="slice-broadcast"),
                     C(r(5, 4), np.array([0, 3]), 0.5, _id="array-scalar"),
                     C((r(3), r(2)), 0, r(3), _id="tuple"), C([r(3), r(2)], 1, r(2), _id="list")],
    "index_add": [C(r(5, 4), np.array([0, 2, 2]), r(3, 4), _id="repeats"),
                  C(r(5, 4), slice(1, 3), r(4), _id="slice-broadcast"), C(r(5, 4), (1, 2), 0.5, _id="tuple")],
    "add_tree": [C(r(3), r(3), _id="arrays"), C((r(3), r(2)), (r(3), r(2)), _id="tuples"),
                 C([r(2), {"k": r(2)}], [r(2), {"k": r(2)}], _id="nested"), C(None, r(3), _id="none")],
    "match_dtype": [C(r(3), r(3)), C(r(3), np.arange(3), _id="int-primal")],
    "dense": [C(r(3), r(3), _id="array"), C((r(3), r(2)), (r(3), r(2)), _id="tuple")],
    "jacobian_from_columns": [C([r(2), r(2), r(2)], r(2), r(3)),
                              C([(r(2), 0.5), (r(2), 0.1), (r(2), 0.3)], (r(2), 1.0), {"a": r(1, 2), "b": 2.0},
                                _id="trees")],
    "columns_of_jacobian": [C(r(2, 3), r(2), r(3))],
    "jacobian_from_rows": [C([r(3), r(3)], r(2), r(3)),
                           C([{"a": r(1, 2), "b": 0.3}] * 3, (r(2), 1.0), {"a": r(1, 2), "b": 2.0}, _id="trees")],
    "rows_of_jacobian": [C(r(2, 3), r(2), r(3))],
    "unshared": [C((r(3), [r(2), r(2)], {"k": [r(1)]}))],
    "broadcast_like": [C(r(4), r(3, 4)), C(r(3, 1), r(3, 4)), C(r(3, 4), r(3, 4), _id="same")],
    "sequence_of": [C(r(3), [1, 2, 3]), C(0.5, (None, None), _id="float")],
    "asarray": [C(r(3, 4)), C(r(3), dtype=np.float64), C([0.5, 1.5], _id="list-of-floats")],
    "astype": [C(r(3), np.float64)],
    "float": [C(0.7, _id="float"), C(np.float64(0.7), _id="numpy-scalar"), C(np.asarray(0.7), _id="0d")],
    # builtins that rebuild containers
    "tuple": [C([r(3), r(2)], _id="list"), C(r(3, 2), _id="array-rows")],
    "list": [C((r(3), r(2)), _id="tuple"), C(r(2, 3), _id="array-rows")],
    "reversed": [C([r(3), r(2), r(1)], _id="list"), C(r(3, 2), _id="array")],
    "sorted": [C(r(4), _id="array"), C([0.3, -1.2, 0.5], reverse=True, _id="reverse"),
               C([0.3, -1.2, 0.5], key=abs, _id="key")],
    "zip": [C([r(2), r(3)], (r(1), r(1)), _id="lists"), C(r(3, 2), [0.5, 1.5], _id="truncated")],
    "enumerate": [C([r(2), r(3)], _id="list"), C(r(2, 2), 1, _id="start")],
    "dict": [C({"a": r(2), "b": r(3)}, _id="copy"), C([("a", r(2)), ("b", r(3)), ("a", r(2))], _id="pairs")],
    "dict_values": [C({"a": r(2), "b": r(3)})],
    "dict_items": [C({"a": r(2), "b": r(3)})],
    "dict_get": [C({"a": r(2), "b": r(3)}, "b", _id="present"), C({"a": r(2)}, "c", r(2), _id="default")],
    # creation
    "full": [C((2, 3), 0.7, _id="scalar"), C((2, 3), r(3), _id="row")],
    "full_like": [C(r(2, 3), 0.7, _id="scalar"), C(r(2, 3), r(2, 1), _id="column")],
    "linspace": [C(0.3, 1.7, 5, _id="scalars"), C(r(2), r(2), 4, _id="arrays"),
                 C(0.3, 1.7, 5, endpoint=False, _id="open"), C(r(2), 1.5, 3, axis=1, _id="axis1")],
    "arange": [C(0.5, 2.9, 0.5, _id="start-stop-step"), C(0.25, 2.0, _id="start-stop")],
    "atleast_1d": [C(0.7, _id="scalar"), C(r(3), _id="vector"), C(r(2, 3), _id="matrix")],
    "c_column": [C(0.7, _id="scalar"), C(r(3), _id="vector"), C(r(2, 3), _id="matrix")],
    "tril": [C(r(3, 3)), C(r(3, 4), -1, _id="below"), C(r(2, 3, 3), 1, _id="stacked")],
    "triu": [C(r(3, 3)), C(r(4, 3), 1, _id="above")],
})


_PROD_JVP = ("prod jvp template passes a_dot (shaped like `a`) to prod_grad as if it were the output "
             "cotangent; prod_grad expand_dims it along `axis` and broadcast_to(shape(a)) fails when axis is "
             "not None and keepdims=False. Fix: np.sum(a_dot * prod_grad(np.ones_like(out), out, a, axis, "
             "keepdims), axis=axis, keepdims=keepdims)")
_BUILTIN_SUM_JVP = ("builtin_sum jvp template calls `builtins_sum`, which is not in TEMPLATE_NAMESPACE "
                    "(NameError); it must also treat None entries (inactive terms) as zero. "
                    "Fix: sum(fill_zeros(iterable_dot, iterable))")
_ASARRAY_LIST = ("asarray of a list of floats: vjp `match_dtype(out_bar, a)` gives an ndarray where the primal "
                 "is a list (the cotangent should be a list, one entry per element); jvp `match_dtype(a_dot, "
                 "out)` raises TypeError since np.result_type(<list of floats>) reads the list as a dtype spec")
_DOT_ND = ("dot_grad_left/right use matmul's rules, but np.dot(a, b) with b.ndim >= 3 contracts a's last axis "
           "with b's second-to-last and has no batch broadcasting: (2,3,4).(5,4,6) raises ValueError. Fix: for "
           "ndim(b) > 2 use tensordot_grad_left/right(g, a, b, ([-1], [-2])) (np.dot == np.tensordot there)")

# Rules known to be wrong, for the lead to fix: (primitive, case id, "vjp" or "jvp") -> reason.
KNOWN_WRONG = {}
KNOWN_WRONG_TEMPLATES = {}
_EXTREMUM_DTYPE = ("max/min jvp: extremum_weights returns hit / ties, float64 for any input, so a float32 `a` "
                   "gets a float64 out_dot. Fix: cast the weights to a_dot's dtype, as extremum_grad does")
KNOWN_WRONG_DTYPES = {}


# -- trees of values: the float leaves are what gets differentiated -------------------------
def is_float(x):
    if isinstance(x, bool):
        return False
    if isinstance(x, float):
        return True
    return isinstance(x, (np.ndarray, np.generic)) and np.issubdtype(x.dtype, np.inexact)


def random_like(x):
    """A random direction shaped like the float leaves of `x`; None elsewhere."""
    if isinstance(x, tuple) and hasattr(x, "_fields"):      # slogdet's SlogdetResult
        return tuple(random_like(v) for v in x)
    if isinstance(x, (list, tuple)):
        return type(x)(random_like(v) for v in x)
    if isinstance(x, dict):
        return {k: random_like(v) for k, v in x.items()}
    if not is_float(x):
        return None
    if isinstance(x, float) and not isinstance(x, np.generic):
        return float(rng.normal())
    return np.asarray(rng.normal(size=np.shape(x)), dtype=x.dtype)


def has_float(x):
    if isinstance(x, (list, tuple)):
        return any(has_float(v) for v in x)
    if isinstance(x, dict):
        return any(has_float(v) for v in x.values())
    return is_float(x)


def axpy(x, e, v):
    """x + e v over trees; None in `v` leaves `x` alone."""
    if v is None:
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(axpy(a, e, b) for a, b in zip(x, v))
    if isinstance(x, dict):
        return {k: axpy(x[k], e, v[k]) for k in x}
    if isinstance(x, float) and not isinstance(x, np.generic):
        return x + e * v
    return np.asarray(x + e * v, dtype=np.result_type(x))


def vdot(a, b):
    """Inner product of two trees; None is zero."""
    if a is None or b is None:
        return 0.0
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"tree lengths differ: {len(a)} vs {len(b)}"
        return sum(vdot(u, w) for u, w in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return sum(vdot(a[k], b[k]) for k in b)
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def central_difference(plus, minus):
    if isinstance(plus, (list, tuple)):
        return [central_difference(p, m) for p, m in zip(plus, minus)]
    if isinstance(plus, dict):
        return {k: central_difference(plus[k], minus[k]) for k in plus}
    if not is_float(plus):
        return None
    return (np.asarray(plus) - np.asarray(minus)) / (2 * STEP)


def mismatches(value, reference, path="out"):
    """Places where tree `value` differs from `reference` by more than the tolerance (None is zero)."""
    if isinstance(reference, (list, tuple)) and not isinstance(value, np.ndarray):
        if value is None:
            value = [None] * len(reference)
        if len(value) != len(reference):
            return [f"{path}: {len(value)} entries, expected {len(reference)}"]
        return [m for i, (v, w) in enumerate(zip(value, reference)) for m in mismatches(v, w, f"{path}[{i}]")]
    if isinstance(reference, dict):
        value = value if value is not None else {}
        return [m for k in reference for m in mismatches(value.get(k), reference[k], f"{path}[{k!r}]")]
    if reference is None:
        return []
    v = np.zeros_like(reference) if value is None else np.asarray(value, dtype=float)
    if np.shape(v) != np.shape(reference):
        return [f"{path}: shape {np.shape(v)}, expected {np.shape(reference)}"]
    if not np.allclose(v, reference, rtol=RTOL, atol=ATOL):
        return [f"{path}: max error {np.max(np.abs(v - reference)):.3g}\n got {v}\n expected {reference}"]
    return []


def shape_errors(value, like, path):
    """Float leaves of `like` whose counterpart in `value` has another shape (None is fine)."""
    if value is None:
        return []
    if isinstance(like, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(like):
            size = len(value) if isinstance(value, (list, tuple)) else np.shape(value)
            return [f"{path}: {type(value).__name__} of {size} for a {type(like).__name__} of {len(like)}"]
        return [e for i, (v, w) in enumerate(zip(value, like)) for e in shape_errors(v, w, f"{path}[{i}]")]
    if isinstance(like, dict):
        if not isinstance(value, dict) or set(value) != set(like):
            return [f"{path}: {value!r} for a dict with keys {sorted(like)}"]
        return [e for k in like for e in shape_errors(value[k], like[k], f"{path}[{k!r}]")]
    if is_float(like) and np.shape(value) != np.shape(like):
        return [f"{path}: shape {np.shape(value)}, expected {np.shape(like)}"]
    return []


# -- running a case ----------------------------------------------------------------------------
def bound(prim, case):
    return prim.signature.bind(*case.args, **case.kwargs)


def call(prim, case, changes=None):
    """Run the primitive with the slots in `changes` replaced."""
    arguments = bound(prim, case)
    for slot, value in (changes or {}).items():
        arguments.arguments[slot] = value
    return _materialized(prim.impl(*arguments.args, **arguments.kwargs))


def _materialized(value):
    """zip, enumerate and reversed make iterators: their entries, as s2s's rules see them."""
    if isinstance(value, collections.abc.Iterator):
        return list(value)
    return value


def active_slots(prim, case):
    given = bound(prim, case).arguments
    slots = case.slots or [s for s in prim.vjp if s in given and has_float(given[s])]
    return [(s, given[s]) for s in slots]


def all_cases(kind, known_wrong=KNOWN_WRONG):
    for name, cases in CASES.items():
        for i, case in enumerate(cases):
            case.id = case.id or str(i)
            reason = known_wrong.get((name, case.id, kind))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            yield pytest.param(name, case, id=f"{name}-{case.id}", marks=marks)


@pytest.fixture(autouse=True)
def _reproducible_directions():
    """Each test draws its random directions and cotangents from the same seed."""
    global rng
    rng = np.random.default_rng(1)


def differentiable():
    return [p for p in all_primitives() if p.differentiable]


@pytest.mark.parametrize("name, case", list(all_cases("vjp")))
def test_vjp_matches_finite_differences(name, case):
    prim = by_name(name)
    out = call(prim, case)
    out_bar = random_like(out)
    slots = active_slots(prim, case)
    assert slots, "case has no active slot"
    for slot, value in slots:
        v = random_like(value)
        cotangent = prim.evaluate_vjp(slot, case.args, case.kwargs, out, out_bar, TEMPLATE_NAMESPACE)
        assert not shape_errors(cotangent, value, f"{slot}_bar"), shape_errors(cotangent, value, f"{slot}_bar")
        predicted = vdot(cotangent, v)
        plus = vdot(out_bar, call(prim, case, {slot: axpy(value, STEP, v)}))
        minus = vdot(out_bar, call(prim, case, {slot: axpy(value, -STEP, v)}))
        numeric = (plus - minus) / (2 * STEP)
        assert math.isclose(predicted, numeric, rel_tol=RTOL, abs_tol=ATOL), \
            f"vjp of {slot}: <{slot}_bar, v> = {predicted}, finite differences give {numeric}"


@pytest.mark.parametrize("name, case", list(all_cases("jvp")))
def test_jvp_matches_finite_differences(name, case):
    prim = by_name(name)
    out = call(prim, case)
    slots = active_slots(prim, case)
    directions = {slot: random_like(value) for slot, value in slots}
    checks = [{slot: v} for slot, v in directions.items()]
    if len(directions) > 1:
        checks.append(directions)                   # every slot at once: contributions add up
    for slot, value in slots:                       # sequences with an inactive (None) entry
        if isinstance(value, (list, tuple)) and len(value) > 1 and has_float(value[0]):
            checks.append({slot: type(value)([None]) + type(value)(directions[slot][1:])})
    for tangents in checks:
        out_dot = _materialized(prim.evaluate_jvp(case.args, case.kwargs, tangents, out, TEMPLATE_NAMESPACE))
        values = bound(prim, case).arguments
        plus = call(prim, case, {s: axpy(values[s], STEP, v) for s, v in tangents.items()})
        minus = call(prim, case, {s: axpy(values[s], -STEP, v) for s, v in tangents.items()})
        errors = shape_errors(out_dot, out, "out_dot") + mismatches(out_dot, central_difference(plus, minus),
                                                                    "out_dot")
        assert not errors, f"jvp along {sorted(tangents)}: " + "\n".join(errors)


def test_every_differentiable_primitive_has_cases():
    missing = [p.name for p in differentiable() if p.name not in CASES]
    assert not missing, f"no finite-difference cases for {missing}"
    unknown = [name for name in CASES if name not in {p.name for p in all_primitives()}]
    assert not unknown, f"cases for unknown primitives {unknown}"


def test_every_case_checks_every_differentiable_slot():
    """Each differentiable slot of a primitive is exercised by at least one case."""
    for name, cases in CASES.items():
        prim = by_name(name)
        seen = {slot for case in cases for slot, _ in active_slots(prim, case)}
        assert seen == set(prim.vjp), f"{name}: slots {sorted(set(prim.vjp) - seen)} never checked"


@pytest.mark.parametrize("prim", differentiable(), ids=lambda p: p.name)
def test_vjp_and_jvp_cover_the_same_slots(prim):
    assert set(prim.vjp) == set(prim.jvp), \
        f"{prim.name}: vjp for {sorted(prim.vjp)}, jvp for {sorted(prim.jvp)}"


def _free_names(tree):
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    stores = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return loads - stores


@pytest.mark.parametrize("prim", [
    pytest.param(p, marks=[pytest.mark.xfail(reason=KNOWN_WRONG_TEMPLATES[p.name], strict=True)]
                 if p.name in KNOWN_WRONG_TEMPLATES else []) for p in all_primitives() if p.vjp or p.jvp],
    ids=lambda p: p.name)
def test_templates_parse_and_name_only_known_things(prim):
    slots = set(prim.signature.parameters)
    known = slots | {"out", "np"} | set(TEMPLATE_NAMESPACE) | set(dir(builtins))
    for kind, texts in [("vjp", prim.vjp_text), ("jvp", prim.jvp_text)]:
        for slot, text in texts.items():
            names = _free_names(ast.parse(text, mode="eval"))
            allowed = known | ({"out_bar"} if kind == "vjp" else {s + "_dot" for s in slots})
            assert names <= allowed, f"{prim.name} {kind}[{slot}] {text!r} names {sorted(names - allowed)}"
            needed = "out_bar" if kind == "vjp" else slot + "_dot"
            assert needed in names, f"{prim.name} {kind}[{slot}] {text!r} does not use {needed}"


@pytest.mark.parametrize("name, impl", [("maximum", np.maximum), ("minimum", np.minimum),
                                        ("builtin_max", max), ("builtin_min", min)])
def test_ties_split_the_cotangent_in_half(name, impl):
    prim = by_name(name)
    x = y = 1.25
    out = impl(x, y)
    for slot in ["x", "y"]:
        assert prim.evaluate_vjp(slot, (x, y), {}, out, 2.0, TEMPLATE_NAMESPACE) == 1.0
    assert prim.evaluate_jvp((x, y), {}, {"x": 1.0, "y": 1.0}, out, TEMPLATE_NAMESPACE) == 1.0


def test_registered_implementations_are_found():
    from s2s.runtime.primitives import lookup, method
    import scipy.special
    for obj, name in [(np.einsum, "einsum"), (np.linalg.solve, "solve"), (np.concatenate, "concatenate"),
                      (max, "builtin_max"), (min, "builtin_min"), (math.atan2, "arctan2"),
                      (scipy.special.logsumexp, "logsumexp"), (operator.getitem, "getitem")]:
        assert lookup(obj) is by_name(name)
    assert method("clip")[0] is by_name("clip")
    assert method("trace")[0] is by_name("trace")
    assert inspect.signature(np.split).parameters.keys() == by_name("split").signature.parameters.keys()


def _float32(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_float32(v) for v in x)
    if isinstance(x, dict):
        return {k: _float32(v) for k, v in x.items()}
    return x.astype(np.float32) if isinstance(x, np.ndarray) and x.dtype == np.float64 else x


def _float32_leaves_with_other_dtype(value, like):
    """Float32 array leaves of `like` whose counterpart in `value` is not float32."""
    if isinstance(like, (list, tuple)):
        value = value if isinstance(value, (list, tuple)) else [None] * len(like)
        return [e for v, w in zip(value, like) for e in _float32_leaves_with_other_dtype(v, w)]
    if isinstance(like, dict):
        return [e for k in like for e in _float32_leaves_with_other_dtype((value or {}).get(k), like[k])]
    if isinstance(like, (np.ndarray, np.generic)) and like.dtype == np.float32 and value is not None:
        return [] if np.result_type(value) == np.float32 else [np.result_type(value)]
    return []


@pytest.mark.parametrize("kind", ["vjp", "jvp"])
@pytest.mark.parametrize("name, case", [p for p in all_cases("dtype", {})
                                        if (p.values[0], p.values[1].id) not in
                                        {(n, c) for n, c, _ in KNOWN_WRONG}])
def test_float32_stays_float32(name, case, kind):
    """Cotangents of float32 arrays, and tangents along them of float32 results, stay float32."""
    if (name, case.id, kind) in KNOWN_WRONG_DTYPES:
        pytest.xfail(KNOWN_WRONG_DTYPES[name, case.id, kind])
    prim = by_name(name)
    case = Case(*_float32(case.args), **_float32(case.kwargs), _slots=case.slots)
    out = call(prim, case)
    for slot, value in active_slots(prim, case):
        if kind == "vjp":
            cotangent = prim.evaluate_vjp(slot, case.args, case.kwargs, out, random_like(out), TEMPLATE_NAMESPACE)
            wrong = _float32_leaves_with_other_dtype(cotangent, value)
        else:
            if any(np.result_type(v) != np.float32 for v in _float_leaves(value)):
                continue            # a Python float argument is float64: its tangent may be too
            out_dot = prim.evaluate_jvp(case.args, case.kwargs, {slot: random_like(value)}, out, TEMPLATE_NAMESPACE)
            wrong = _float32_leaves_with_other_dtype(out_dot, out)
        assert not wrong, f"{kind} of {slot}: {wrong} for float32 inputs"


def _float_leaves(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _float_leaves(item)]
    if isinstance(x, dict):
        return [v for item in x.values() for v in _float_leaves(item)]
    return [x] if is_float(x) else []


def _template_helpers():
    """Plain helper functions that templates reach (s2s differentiates these from their source)."""
    from s2s.runtime.primitives import lookup
    pending = {name for p in all_primitives() for text in [*p.vjp_text.values(), *p.jvp_text.values()]
               for name in _free_names(ast.parse(text, mode="eval"))}
    seen = {}
    while pending:
        name = pending.pop()
        obj = TEMPLATE_NAMESPACE.get(name)
        if name in seen or not inspect.isfunction(obj) or lookup(obj) is not None:
            continue
        seen[name] = obj
        pending |= {n.id for n in ast.walk(ast.parse(inspect.getsource(obj))) if isinstance(n, ast.Name)}
    return seen


def _callee(func, namespace):
    """The object a call's function expression names, or None for a method call on a value."""
    if isinstance(func, ast.Name):
        return namespace.get(func.id, getattr(builtins, func.id, None))
    if isinstance(func, ast.Attribute):
        owner = _callee(func.value, namespace)
        if inspect.ismodule(owner):
            return getattr(owner, func.attr)
    return None


@pytest.mark.parametrize("name, helper", sorted(_template_helpers().items()))
def test_template_helpers_call_only_primitives(name, helper):
    """A helper s2s reads as source may call primitives, ndarray methods s2s knows, and other helpers."""
    from s2s.runtime.primitives import lookup, method
    namespace = vars(inspect.getmodule(helper))
    helpers = _template_helpers()
    for node in ast.walk(ast.parse(inspect.getsource(helper))):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee(node.func, namespace)
        if isinstance(callee, type) and issubclass(callee, Exception):
            continue        # `raise ValueError(...)`: raised as is, never differentiated
        if callee is None:
            assert isinstance(node.func, ast.Attribute) and (method(node.func.attr) or
                                                              node.func.attr in LIST_METHODS), \
                f"{name} calls the method {ast.unparse(node.func)}, which s2s does not know"
        else:
            assert lookup(callee) is not None or callee in helpers.values(), \
                f"{name} calls {ast.unparse(node.func)}, which is neither a primitive nor a helper"
