"""Shape changes: the cotangent is reshaped, transposed, cut or summed back.

Sequence slots (`arrays` of concatenate/stack, `tup` of hstack/vstack) take a tuple of
cotangents from their vjp template, one per input array, and their jvp template receives a
tuple of tangents with None for inactive entries. `split` returns a list, so its `out_bar`
is a list of cotangents where None means zero. `fill_zeros` turns those Nones into zeros;
the helpers cutting a cotangent back into pieces are primitives whose rules join again.
"""
import numpy as np

from . import adjoints
from . import batching
from .core import primitive

reshape = primitive(
    "reshape", np.reshape, "a, shape=None, order='C', newshape=None",
    methods=[("reshape", "a, *shape, order='C'")],
    vjp={"a": "np.reshape(out_bar, np.shape(a))"},
    jvp={"a": "np.reshape(a_dot, np.shape(out))"}, batch=batching.reshape)

ravel = primitive(
    "ravel", np.ravel, "a, order='C'", methods=[("ravel", "a, order='C'"), ("flatten", "a, order='C'")],
    vjp={"a": "np.reshape(out_bar, np.shape(a))"}, jvp={"a": "np.ravel(a_dot)"}, batch=batching.ravel)

transpose = primitive(
    "transpose", np.transpose, "a, axes=None",
    methods=[("transpose", "a, *axes")], attributes=["T"],
    vjp={"a": "transpose_grad(out_bar, axes)"},
    jvp={"a": "np.transpose(a_dot, axes)"}, batch=batching.transpose)

swapaxes = primitive(
    "swapaxes", np.swapaxes, "a, axis1, axis2", methods=["swapaxes"],
    vjp={"a": "np.swapaxes(out_bar, axis1, axis2)"},
    jvp={"a": "np.swapaxes(a_dot, axis1, axis2)"}, batch=batching.swapaxes)

expand_dims = primitive(
    "expand_dims", np.expand_dims, "a, axis",
    vjp={"a": "np.reshape(out_bar, np.shape(a))"},
    jvp={"a": "np.expand_dims(a_dot, axis)"}, batch=batching.expand_dims)

squeeze = primitive(
    "squeeze", np.squeeze, "a, axis=None", methods=[("squeeze", "a, axis=None")],
    vjp={"a": "np.reshape(out_bar, np.shape(a))"},
    jvp={"a": "np.squeeze(a_dot, axis)"}, batch=batching.squeeze)

broadcast_to = primitive(
    "broadcast_to", np.broadcast_to, "array, shape",
    vjp={"array": "unbroadcast(out_bar, array)"},
    jvp={"array": "np.broadcast_to(array_dot, shape)"}, batch=batching.broadcast_to)

moveaxis = primitive(
    "moveaxis", np.moveaxis, "a, source, destination",
    vjp={"a": "np.moveaxis(out_bar, destination, source)"},
    jvp={"a": "np.moveaxis(a_dot, source, destination)"}, batch=batching.moveaxis)

flip = primitive(
    "flip", np.flip, "m, axis=None",
    vjp={"m": "np.flip(out_bar, axis)"}, jvp={"m": "np.flip(m_dot, axis)"}, batch=batching.flip)

roll = primitive(
    "roll", np.roll, "a, shift, axis=None",
    vjp={"a": "np.roll(out_bar, np.negative(shift), axis)"}, jvp={"a": "np.roll(a_dot, shift, axis)"},
    batch=batching.roll)

repeat = primitive(
    "repeat", np.repeat, "a, repeats, axis=None", methods=[("repeat", "a, repeats, axis=None")],
    vjp={"a": "repeat_grad(out_bar, a, repeats, axis)"}, jvp={"a": "np.repeat(a_dot, repeats, axis)"},
    batch=batching.repeat)

tile = primitive(
    "tile", np.tile, "A, reps",
    vjp={"A": "tile_grad(out_bar, A, reps)"}, jvp={"A": "np.tile(A_dot, reps)"}, batch=batching.tile)

# diag builds a matrix from a vector or extracts a diagonal; each is the other's adjoint.
diag = primitive(
    "diag", np.diag, "v, k=0",
    vjp={"v": "diag_grad(out_bar, v, k)"}, jvp={"v": "np.diag(v_dot, k)"}, batch=batching.diag)

# -- joining and splitting sequences of arrays ------------------------------------------------
fill_zeros = primitive(
    "fill_zeros", adjoints.fill_zeros, "items, like",
    vjp={"items": "out_bar"}, jvp={"items": "fill_zeros(items_dot, like)"},
    helper=True, result="tree", batch=batching.broadcast_all)

_JOIN = "arrays, axis=0, out=None, dtype=None, casting='same_kind'"
concatenate = primitive(
    "concatenate", np.concatenate, _JOIN,
    vjp={"arrays": "concatenate_grad(out_bar, arrays, axis)"},
    jvp={"arrays": "np.concatenate(fill_zeros(arrays_dot, arrays), axis)"}, batch=batching.join)

stack = primitive(
    "stack", np.stack, _JOIN,
    vjp={"arrays": "stack_grad(out_bar, arrays, axis)"},
    jvp={"arrays": "np.stack(fill_zeros(arrays_dot, arrays), axis)"}, batch=batching.join)

hstack = primitive(
    "hstack", np.hstack, "tup, dtype=None, casting='same_kind'",
    vjp={"tup": "hstack_grad(out_bar, tup)"},
    jvp={"tup": "np.hstack(fill_zeros(tup_dot, tup))"}, batch=batching.hstack)

vstack = primitive(
    "vstack", np.vstack, "tup, dtype=None, casting='same_kind'",
    vjp={"tup": "vstack_grad(out_bar, tup)"},
    jvp={"tup": "np.vstack(fill_zeros(tup_dot, tup))"}, batch=batching.vstack)

# Cutting a cotangent into pieces is linear; its adjoint joins the pieces again.
concatenate_grad = primitive(
    "concatenate_grad", adjoints.concatenate_grad, "g, arrays, axis",
    vjp={"g": "np.concatenate(fill_zeros(out_bar, arrays), axis)"},
    jvp={"g": "concatenate_grad(g_dot, arrays, axis)"}, helper=True, result="tree", batch=batching.piece_grad)

stack_grad = primitive(
    "stack_grad", adjoints.stack_grad, "g, arrays, axis",
    vjp={"g": "np.stack(fill_zeros(out_bar, arrays), axis)"},
    jvp={"g": "stack_grad(g_dot, arrays, axis)"}, helper=True, result="tree", batch=batching.piece_grad)

hstack_grad = primitive(
    "hstack_grad", adjoints.hstack_grad, "g, tup",
    vjp={"g": "np.hstack(fill_zeros(out_bar, tup))"},
    jvp={"g": "hstack_grad(g_dot, tup)"}, helper=True, result="tree", batch=batching.per_example)

vstack_grad = primitive(
    "vstack_grad", adjoints.vstack_grad, "g, tup",
    vjp={"g": "np.vstack(fill_zeros(out_bar, tup))"},
    jvp={"g": "vstack_grad(g_dot, tup)"}, helper=True, result="tree", batch=batching.per_example)

split = primitive(
    "split", np.split, "ary, indices_or_sections, axis=0",
    vjp={"ary": "np.concatenate(fill_zeros(out_bar, out), axis)"},
    jvp={"ary": "np.split(ary_dot, indices_or_sections, axis)"}, result="tree", batch=batching.split)

array_split = primitive(
    "array_split", np.array_split, "ary, indices_or_sections, axis=0",
    vjp={"ary": "np.concatenate(fill_zeros(out_bar, out), axis)"},
    jvp={"ary": "np.array_split(ary_dot, indices_or_sections, axis)"}, result="tree", batch=batching.split)


# np.r_ and np.c_ items (see ast_passes/desugar.py): the same numbers with axes added
atleast_1d = primitive(
    "atleast_1d", np.atleast_1d, "a",
    vjp={"a": "np.reshape(out_bar, np.shape(a))"}, jvp={"a": "np.atleast_1d(a_dot)"}, batch=batching.per_example)
c_column = primitive(
    "c_column", adjoints.c_column, "a",
    vjp={"a": "np.reshape(out_bar, np.shape(a))"}, jvp={"a": "c_column(a_dot)"}, batch=batching.per_example)

# triangles: linear, and their own transposes' masks
tril = primitive(
    "tril", np.tril, "m, k=0",
    vjp={"m": "np.tril(out_bar, k)"}, jvp={"m": "np.tril(m_dot, k)"}, batch=batching.per_example)
triu = primitive(
    "triu", np.triu, "m, k=0",
    vjp={"m": "np.triu(out_bar, k)"}, jvp={"m": "np.triu(m_dot, k)"}, batch=batching.per_example)
