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
unshared_write = primitive("unshared_write", adjoints.unshared_write, "x, message", differentiable=False,
                           helper=True, result="any", batch=batching.unshared_write)
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
        ("math_isclose", [math.isclose]), ("allclose", [np.allclose]),
        ("zeros", [np.zeros]), ("ones", [np.ones]), ("empty", [np.empty]),
        ("zeros_like", [np.zeros_like]), ("ones_like", [np.ones_like]), ("empty_like", [np.empty_like]),
        ("eye", [np.eye]), ("identity", [np.identity]), ("sorted_order", [adjoints.sorted_order])]:
    primitive(_name, _impls, "*args, **kwargs", differentiable=False, result="any", batch=batching.BY_NAME.get(_name, batching.per_example))


# -- builtins that rebuild containers: the entries' derivatives go along ----------------------
# Their signatures stay `*args, **kwargs` (the batching and jit rules read them so); `args` is
# one sequence slot, so a vjp returns one cotangent per positional argument.
for _name, _impl, _vjp, _jvp in [
        ("tuple", tuple, "(sequence_grad(out_bar, args[0]),)", "tuple(args_dot[0])"),
        ("list", list, "(sequence_grad(out_bar, args[0]),)", "list(args_dot[0])"),
        ("reversed", reversed, "(reversed_grad(out_bar, args[0]),)", "reversed(args_dot[0])"),
        ("sorted", sorted, "(sorted_grad(out_bar, args[0], kwargs),)", "sorted_tangent(args_dot[0], args[0], kwargs)"),
        ("zip", zip, "zip_grad(out_bar, args)", "zip_tangent(args_dot, args)"),
        ("enumerate", enumerate, "enumerate_grad(out_bar, args)", "enumerate_tangent(args_dot[0], args[0])"),
        ("dict", dict, "(dict_grad(out_bar, args[0]),)", "dict_tangent(args_dot[0], args[0], out)"),
        ("full", np.full, "full_grad(out_bar, args, kwargs, False)", "full_tangent(args_dot, args, kwargs, out, False)"),
        ("full_like", np.full_like, "full_grad(out_bar, args, kwargs, True)",
         "full_tangent(args_dot, args, kwargs, out, True)"),
        ("linspace", np.linspace, "linspace_grad(out_bar, args, kwargs, out)", "linspace_tangent(args_dot, args, kwargs, out)"),
        ("arange", np.arange, "arange_grad(out_bar, args, kwargs, out)", "arange_tangent(args_dot, args, kwargs, out)")]:
    primitive(_name, [_impl], "*args, **kwargs", vjp={"args": _vjp}, jvp={"args": _jvp}, result="any",
              batch=batching.BY_NAME.get(_name, batching.per_example))

# dict methods: the values carry derivatives, the keys do not
dict_keys = primitive("dict_keys", [dict.keys], "d", differentiable=False, methods=[("keys", "d")],
                      result="any", batch=batching.per_example)
dict_values = primitive("dict_values", [dict.values], "d", methods=[("values", "d")],
                        vjp={"d": "dict_values_grad(out_bar, d)"}, jvp={"d": "list(d_dot.values())"},
                        result="any", batch=batching.per_example)
dict_items = primitive("dict_items", [dict.items], "d", methods=[("items", "d")],
                       vjp={"d": "dict_items_grad(out_bar, d)"}, jvp={"d": "list(d_dot.items())"},
                       result="any", batch=batching.per_example)
dict_get = primitive("dict_get", [dict.get], "d, key, default=None", methods=[("get", "d, key, default=None")],
                     vjp={"d": "dict_get_grad(out_bar, d, key)",
                          "default": "dict_get_default_grad(out_bar, d, key, default)"},
                     jvp={"d": "dict_get_tangent(d_dot, d, key, default)",
                          "default": "dict_get_default_tangent(default_dot, d, key)"},
                     result="any", batch=batching.per_example)
