"""Indexing, containers, casts, constants and the helpers emitted code calls.

The helpers here (`getitem_grad`, `add_tree`, ...) are primitives with their own rules,
so gradient code that calls them can be differentiated again.
"""
import math
import operator

import numpy as np

from . import adjoints
from . import batching
from .core import primitive

# -- reads by index -------------------------------------------------------------------------
getitem = primitive(
    "getitem", [operator.getitem], "a, index",
    vjp={"a": "getitem_grad(out_bar, a, index)"},
    jvp={"a": "a_dot[index]"}, result="any", batch=batching.getitem)

getitem_grad = primitive(
    "getitem_grad", adjoints.getitem_grad, "g, a, index",
    vjp={"g": "out_bar[index]"}, jvp={"g": "getitem_grad(g_dot, a, index)"},
    helper=True, result="any", batch=batching.getitem_grad)

index_update = primitive(
    "index_update", adjoints.index_update, "x, index, y",
    vjp={"x": "index_update(out_bar, index, zeros_like_tree(out_bar[index]))",
         "y": "unbroadcast(out_bar[index], y)"},
    jvp={"x": "index_update(x_dot, index, zeros_like_tree(x_dot[index]))",
         "y": "index_update(zeros_like_tree(out), index, y_dot)"},
    result="any", batch=batching.index_update)

index_add = primitive(
    "index_add", adjoints.index_add, "x, index, y",
    vjp={"x": "out_bar", "y": "unbroadcast(out_bar[index], y)"},
    jvp={"x": "broadcast_like(x_dot, out)", "y": "index_add(zeros_like_tree(out), index, y_dot)"}, batch=batching.index_add)

# -- cotangent bookkeeping (emitted by the reverse pass) --------------------------------------
add_tree = primitive(
    "add_tree", adjoints.add_tree, "a, b",
    vjp={"a": "out_bar", "b": "out_bar"}, jvp={"a": "a_dot", "b": "b_dot"},
    helper=True, result="any", batch=batching.add_tree)

zeros_like_tree = primitive("zeros_like_tree", adjoints.zeros_like_tree, "x",
                            differentiable=False, helper=True, result="any", batch=batching.passthrough)
zero_cotangent = primitive("zero_cotangent", adjoints.zero_cotangent, "x",
                           differentiable=False, helper=True, result="any", batch=batching.passthrough)
dense = primitive(
    "dense", adjoints.dense, "g, x",
    vjp={"g": "out_bar"}, jvp={"g": "dense(g_dot, x)"}, helper=True, result="any", batch=batching.dense)
scalar_seed = primitive("scalar_seed", adjoints.scalar_seed, "out", differentiable=False,
                        helper=True, batch=batching.scalar_seed)
match_dtype = primitive(
    "match_dtype", adjoints.match_dtype, "g, x",
    vjp={"g": "match_dtype(out_bar, g)"}, jvp={"g": "match_dtype(g_dot, out)"}, helper=True, batch=batching.cotangent_passthrough)
broadcast_like = primitive(
    "broadcast_like", adjoints.broadcast_like, "t, out",
    vjp={"t": "unbroadcast(out_bar, t)"}, jvp={"t": "broadcast_like(t_dot, out)"}, helper=True, batch=batching.broadcast_like)


def sequence_of(g, sequence):
    """The cotangent of every term of `sum(sequence)`: `g` repeated, as a list."""
    return [g for _ in sequence]


sequence_of_prim = primitive(
    "sequence_of", sequence_of, "g, sequence",
    vjp={"g": "sum(out_bar)"}, jvp={"g": "sequence_of(g_dot, sequence)"}, helper=True,
    result="tree", batch=batching.sequence_of)

# -- casts and copies: the identity for derivatives -----------------------------------------
asarray = primitive(
    "asarray", [np.asarray, np.array, np.ascontiguousarray, np.copy], "a, dtype=None",
    vjp={"a": "array_grad(out_bar, a)"}, jvp={"a": "match_dtype(np.asarray(fill_zeros(a_dot, a)), out)"},
    methods=[("copy", "a")], batch=batching.asarray)
astype = primitive(
    "astype", [np.ndarray.astype], "a, dtype",
    vjp={"a": "match_dtype(out_bar, a)"}, jvp={"a": "match_dtype(a_dot, out)"},
    methods=[("astype", "a, dtype")], batch=batching.passthrough)
to_float = primitive(
    "float", [float], "x=0.0",
    vjp={"x": "match_dtype(out_bar, x)"}, jvp={"x": "float(x_dot)"}, batch=batching.cast)
real = primitive("real", [np.real], "val", vjp={"val": "out_bar"}, jvp={"val": "val_dot"},
                 attributes=["real"], batch=batching.passthrough)

# -- values no gradient flows through ---------------------------------------------------------
for _name, _impls in [
        ("shape", [np.shape]), ("ndim", [np.ndim]), ("size", [np.size]), ("len", [len]),
        ("range", [range]), ("int", [int]), ("bool", [bool]), ("isinstance", [isinstance]),
        ("result_type", [np.result_type]), ("issubdtype", [np.issubdtype]),
        ("print", [print]), ("type", [type]), ("callable", [callable]), ("hasattr", [hasattr]),
        ("zip", [zip]), ("enumerate", [enumerate]), ("reversed", [reversed]),
        ("tuple", [tuple]), ("list", [list]), ("dict", [dict]), ("sorted", [sorted]),
        ("math_isclose", [math.isclose]), ("allclose", [np.allclose]),
        ("zeros", [np.zeros]), ("ones", [np.ones]), ("empty", [np.empty]), ("full", [np.full]),
        ("zeros_like", [np.zeros_like]), ("ones_like", [np.ones_like]),
        ("empty_like", [np.empty_like]), ("full_like", [np.full_like]),
        ("arange", [np.arange]), ("linspace", [np.linspace]), ("eye", [np.eye]),
        ("identity", [np.identity])]:
    primitive(_name, _impls, "*args, **kwargs", differentiable=False, result="any", batch=batching.BY_NAME.get(_name, batching.per_example))
