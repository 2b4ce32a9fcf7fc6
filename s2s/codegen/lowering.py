"""Lowering rules: what each primitive of the rule table does to run-time values when specializing.

`RULES[name](spec, slots, impl, hint)` handles a primitive called with run-time (`Dyn`) values;
`SPECIAL[id(fn)]` replaces a Python helper that is not worth inlining (tree bookkeeping, Jacobian
assembly) or cannot be (it raises, or writes in place). Rules build residual operations through
the specializer (`spec.ew`, `spec.reduce`, `spec.op`, ...), whose names `numba_cpu` renders.
"""
import operator

import gast
import numpy as np
import scipy.special

from ..runtime.primitives import adjoints, jacobian
from .residual import Const, Dyn, SetItem, Ty, ty_of
from .specialize import (BINARY, NO_ITEMS, REDUCTIONS, RULES, SPECIAL, UFUNC, UNARY, DynList, DynRange, SList,
                         Specializer, _describe, _int, _number, broadcast_shapes, function_source, has_dyn,
                         normalized)



def special(fn):
    """Register a rule replacing calls of the Python function `fn` (instead of inlining it)."""
    def register(rule_fn):
        SPECIAL[id(fn)] = rule_fn
        return rule_fn
    return register


def rule(*names):
    def register(fn):
        for name in names:
            RULES[name] = fn
        return fn
    return register


def _unary_rule(name):
    def apply(spec, slots, impl, hint=None):
        return spec.ew(name, impl if impl is not None and not isinstance(impl, type) else UFUNC[name],
                       [slots["x"]], hint or spec.hint(name, slots["x"]))
    return apply


def _binary_rule(name):
    def apply(spec, slots, impl, hint=None):
        x, y = list(slots.values())[:2]         # the row's operands in order (arctan2 names them y, x)
        if name in ("builtin_max", "builtin_min"):
            impl = UFUNC[name]
        return spec.ew(name, impl if impl is not None else UFUNC[name], [x, y], hint or spec.hint(name, x, y))
    return apply


for _n in UNARY:
    RULES[_n] = _unary_rule(_n)
for _n in BINARY:
    RULES[_n] = _binary_rule(_n)


def _hint(self, name, *args):
    first = next((a for a in args if isinstance(a, Dyn)), None)
    return f"{name}_{first.name}" if first is not None and len(first.name) < 12 else name


Specializer.hint = _hint


@rule("round")
def _round(spec, slots, impl, hint=None):
    if slots.get("decimals", 0) not in (0, None):
        raise spec.error("jit compiles np.round only with decimals=0")
    return spec.ew("rint", np.rint, [slots["x"]], hint or "rounded")


@rule("matmul", "dot")
def _matmul(spec, slots, impl, hint=None):
    x = slots.get("x", slots.get("a"))
    y = slots.get("y", slots.get("b"))
    name = "matmul" if "x" in slots else "dot"
    if not isinstance(x, Dyn) and not isinstance(y, Dyn):
        return impl(x, y)
    tx, ty_ = _ty(spec, x), _ty(spec, y)
    if not tx.is_array or not ty_.is_array or tx.ndim == 0 or ty_.ndim == 0:
        if name == "matmul":
            raise spec.error("matmul of a scalar")
        return spec.ew("multiply", operator.mul, [x, y], hint or "product")
    shape = _matmul_shape(spec, tx.shape, ty_.shape)
    dtype = np.result_type(tx.dtype, ty_.dtype)
    x, y = spec.cast(_dyn(spec, x), dtype), spec.cast(_dyn(spec, y), dtype)
    out_ty = Ty(dtype, shape, np.ndarray, "C") if shape != () else Ty(dtype, None, dtype.type)
    if name == "dot" and tx.ndim > 2 and ty_.ndim >= 2 or name == "dot" and ty_.ndim > 2:
        raise spec.error("jit compiles np.dot of arrays with more than 2 dimensions only as matmul/einsum")
    if (tx.ndim > 2 or ty_.ndim > 2 or dtype.kind not in "fc") and None not in tx.shape + ty_.shape:
        return einsum(spec, _matmul_spec(tx.ndim, ty_.ndim), [x, y], hint or "product")
    return spec.op("matmul", [x, y], out_ty, hint or "product")


def _matmul_shape(spec, a, b):
    """Shape of `a @ b` (and of np.dot for up to 2 dimensions), without computing it."""
    inner_a = a[-1]
    inner_b = b[0] if len(b) == 1 else b[-2]
    if None not in (inner_a, inner_b) and inner_a != inner_b:
        raise spec.error(f"matmul: shapes {a} and {b} do not align")
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    return broadcast_shapes([a[:-2], b[:-2]], spec) + (a[-2], b[-1]) if len(a) > 2 or len(b) > 2 else \
        (a[-2], b[-1])


def _matmul_spec(nx, ny):
    """The einsum subscripts of `x @ y` for operands of these dimensions (batch axes broadcast)."""
    batch = "abcdefgh"[:max(nx, ny, 2) - 2]
    left = (batch[len(batch) - (nx - 2):] if nx > 2 else "") + ("mk" if nx > 1 else "k")
    right = (batch[len(batch) - (ny - 2):] if ny > 2 else "") + ("kn" if ny > 1 else "k")
    out = batch + ("m" if nx > 1 else "") + ("n" if ny > 1 else "")
    return f"{left},{right}->{out}"


def _ty(spec, v):
    if isinstance(v, Dyn):
        return v.ty
    if isinstance(v, np.ndarray):
        return Ty(v.dtype, v.shape, np.ndarray, "C")
    if _number(v):
        return ty_of(v)
    raise spec.error(f"jit cannot use {_describe(v)} as an array")


def _dyn(spec, v):
    return spec.as_dyn(v)


@rule("outer")
def _outer(spec, slots, impl, hint=None):
    a, b = _dyn(spec, slots["a"]), _dyn(spec, slots["b"])
    a = spec.reshape(a, (-1,)) if a.ty.ndim != 1 else a
    b = spec.reshape(b, (-1,)) if b.ty.ndim != 1 else b
    col = spec.reshape(a, (a.ty.shape[0], 1))
    return spec.ew("multiply", operator.mul, [col, b], hint or "outer")


@rule("vdot", "inner")
def _inner(spec, slots, impl, hint=None):
    a, b = slots["a"], slots["b"]
    ta, tb = _ty(spec, a), _ty(spec, b)
    if impl is np.vdot:
        a, b = spec.reshape(_dyn(spec, a), (-1,)), spec.reshape(_dyn(spec, b), (-1,))
        return _matmul(spec, {"x": a, "y": b}, np.matmul, hint)
    if ta.ndim == 0 or tb.ndim == 0:
        return spec.ew("multiply", operator.mul, [a, b], hint or "inner")
    if tb.ndim == 1:
        return _matmul(spec, {"x": a, "y": b}, np.matmul, hint)
    if tb.ndim == 2:
        return _matmul(spec, {"x": a, "y": spec.transpose(_dyn(spec, b))}, np.matmul, hint)
    raise spec.error("jit compiles np.inner only for 1-d and 2-d second operands")


@rule("tensordot")
def _tensordot(spec, slots, impl, hint=None):
    a, b, axes = _dyn(spec, slots["a"]), _dyn(spec, slots["b"]), slots["axes"]
    if has_dyn(axes):
        raise spec.error("jit needs the axes of np.tensordot known")
    na, nb = a.ty.ndim, b.ty.ndim
    if _int(axes):
        a_axes, b_axes = list(range(na - axes, na)), list(range(axes))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if _int(a_axes) else list(a_axes)
        b_axes = [b_axes] if _int(b_axes) else list(b_axes)
    letters = "abcdefghijklmnopqrstuvwxyz"
    sa = list(letters[:na])
    sb = list(letters[na:na + nb])
    for i, j in zip(a_axes, b_axes):
        sb[j % nb] = sa[i % na]
    out = [c for k, c in enumerate(sa) if k not in [i % na for i in a_axes]] + \
          [c for k, c in enumerate(sb) if k not in [j % nb for j in b_axes]]
    return einsum(spec, "".join(sa) + "," + "".join(sb) + "->" + "".join(out), [a, b], hint or "tensordot")


@rule("einsum")
def _einsum(spec, slots, impl, hint=None):
    subscripts = slots["subscripts"]
    operands = list(slots["operands"])
    if has_dyn(subscripts) or not isinstance(subscripts, str):
        raise spec.error("jit needs the subscripts of np.einsum as a string known when compiling")
    return einsum(spec, subscripts, operands, hint or "einsum")


def einsum(spec, subscripts, operands, hint):
    operands = [_dyn(spec, o) for o in operands]
    terms, output, _ = adjoints._einsum_terms(subscripts, [o.ty.shape for o in operands])
    # an operand that only broadcasts another array is read from that array (no copy)
    for k, o in enumerate(operands):
        src, added = spec.broadcast_source(o)
        if src is not o and src.ty.dtype == o.ty.dtype and None not in src.ty.shape:
            operands[k], terms[k] = src, terms[k][added:]
    subscripts = ",".join(terms) + "->" + output
    dtype = np.result_type(*[o.ty.dtype for o in operands])
    operands = [spec.cast(o, dtype) for o in operands]
    sizes = {}
    for term, o in zip(terms, operands):
        if len(term) != o.ty.ndim:
            raise spec.error(f"einsum: {term!r} does not match an operand of {o.ty.ndim} dimensions")
        for c, n in zip(term, o.ty.shape):
            if n is None:
                raise spec.error("jit needs the shapes of np.einsum operands known")
            if c in sizes and n != 1 and sizes[c] not in (1, n):
                raise spec.error(f"einsum: dimension {c!r} is {sizes[c]} and {n}")
            if n != 1 or c not in sizes:
                sizes[c] = max(sizes.get(c, 1), n)
    shape = tuple(sizes[c] for c in output)
    out_ty = Ty(dtype, shape, np.ndarray, "C") if shape else Ty(dtype, None, dtype.type)
    return spec.op("einsum", operands, out_ty, hint, terms=tuple(terms), output=output,
                   sizes=tuple(sorted(sizes.items())))


def _reduction_rule(kind):
    def apply(spec, slots, impl, hint=None):
        a = slots["a"]
        if slots.get("out") is not None:
            raise spec.error(f"jit cannot compile `{kind}(..., out=...)`")
        if isinstance(a, (tuple, list)) and not isinstance(a, DynList):
            a = _stack(spec, list(a), 0, "items")
        if not isinstance(a, Dyn):
            a = _dyn(spec, a)
        if kind == "count_nonzero":
            nz = spec.ew("not_equal", np.not_equal, [a, 0], "nonzero")
            return spec.reduce("sum", nz, slots.get("axis"), slots.get("keepdims", False), hint=hint or "count")
        return spec.reduce(kind, a, slots.get("axis"), slots.get("keepdims", False), slots.get("dtype"),
                           hint=hint or spec.hint(kind, a))
    return apply


for _n in REDUCTIONS:
    RULES[_n] = _reduction_rule(_n)


@rule("builtin_sum")
def _builtin_sum(spec, slots, impl, hint=None):
    items = spec.static_items(slots["iterable"])
    total = slots.get("start", 0)
    for item in items:
        total = spec.binop(gast.Add, total, item, hint or "total")
    return total


@rule("transpose")
def _transpose(spec, slots, impl, hint=None):
    axes = slots.get("axes")
    if isinstance(axes, tuple) and len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if has_dyn(axes):
        raise spec.error("jit needs transpose axes known")
    return spec.transpose(_dyn(spec, slots["a"]), None if axes is None or axes == () else tuple(axes), hint)


@rule("swapaxes")
def _swapaxes(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    n = a.ty.ndim
    axes = list(range(n))
    i, j = slots["axis1"] % n, slots["axis2"] % n
    axes[i], axes[j] = axes[j], axes[i]
    return spec.transpose(a, tuple(axes), hint)


@rule("moveaxis")
def _moveaxis(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    n = a.ty.ndim
    src = slots["source"]
    dst = slots["destination"]
    src = [src] if _int(src) else list(src)
    dst = [dst] if _int(dst) else list(dst)
    order = np.moveaxis(np.empty(tuple(range(2, n + 2)), np.int8), src, dst).shape   # axis k has length k + 2
    axes = tuple(d - 2 for d in order)
    return spec.transpose(a, axes, hint)


@rule("reshape")
def _reshape(spec, slots, impl, hint=None):
    shape = slots.get("shape")
    if shape is None:
        shape = slots.get("newshape")
    if isinstance(shape, tuple) and len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    if slots.get("order", "C") not in ("C", None):
        raise spec.error("jit compiles reshape only in C order")
    return spec.reshape(_dyn(spec, slots["a"]), shape, hint)


@rule("ravel")
def _ravel(spec, slots, impl, hint=None):
    return spec.reshape(_dyn(spec, slots["a"]), (-1,), hint)


@rule("expand_dims")
def _expand_dims(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    axis = slots["axis"]
    shape = np.expand_dims(np.zeros(tuple(1 if d is None else d for d in (a.ty.shape or ())), np.int8), axis).shape
    return spec.reshape(a, shape, hint) if a.ty.is_array else spec.reshape(a, shape, hint)


@rule("squeeze")
def _squeeze(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    shape = np.squeeze(np.zeros(a.ty.shape, np.int8), slots.get("axis")).shape
    return spec.reshape(a, shape, hint)


@rule("broadcast_to")
def _broadcast_to(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["array"])
    shape = slots["shape"]
    shape = (shape,) if _int(shape) else tuple(shape)
    if has_dyn(shape):
        raise spec.error("jit needs the shape of broadcast_to known")
    if a.ty.is_array and a.ty.shape == shape:
        return a
    broadcast_shapes([a.ty.shape or (), shape], spec)
    if None not in (a.ty.shape or ()) and shape:
        # an elementwise copy: kernels read `a` with its broadcast index, nothing is materialized
        return spec.op("ew", [a], Ty(a.ty.dtype, shape, np.ndarray, "C"), hint or "broadcast", fn="positive")
    if not a.ty.is_array:
        a = spec.op("asarray0", [a], Ty(a.ty.dtype, (), np.ndarray, "C"), "a")
    return spec.op("broadcast_to", [a], Ty(a.ty.dtype, shape, np.ndarray, "A"), hint or "broadcast", shape=shape)


@rule("flip")
def _flip(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["m"])
    axis = slots.get("axis")
    axes = range(a.ty.ndim) if axis is None else ([axis] if _int(axis) else axis)
    index = [slice(None)] * a.ty.ndim
    for k in axes:
        index[k % a.ty.ndim] = slice(None, None, -1)
    return spec.getitem(a, tuple(index), hint)


def _stack(spec, items, axis, hint):
    if isinstance(items, DynList):
        tmpl = spec.list_elems.get(items.tag, NO_ITEMS)
        if not isinstance(tmpl, Ty):
            raise spec.error("jit stacks run-time lists of arrays only")
        n = items.length
        base = tmpl.shape or ()
        axis = axis % (len(base) + 1)
        shape = base[:axis] + (n,) + base[axis:]
        return spec.op("stack_list", [Dyn(items.name, None)], Ty(tmpl.dtype, shape, np.ndarray, "C"), hint,
                       axis=axis, scalar_items=not tmpl.is_array)
    arrays = [_dyn(spec, v) for v in items]
    if len(arrays) == 1 and arrays[0].ty.is_array:
        shape = list(arrays[0].ty.shape)
        shape.insert(axis % (len(shape) + 1), 1)
        return spec.reshape(spec.op("copy_array", [arrays[0]], arrays[0].ty.with_(layout="C"), hint)
                            if arrays[0].ty.layout != "C" else arrays[0], tuple(shape), hint)
    shapes = {a.ty.shape or () for a in arrays}
    if len(shapes) != 1 or None in next(iter(shapes)):
        raise spec.error(f"np.stack needs arrays of one known shape, got {sorted(map(str, shapes))}")
    base = next(iter(shapes))
    axis = axis % (len(base) + 1)
    dtype = np.result_type(*[a.ty.dtype for a in arrays])
    arrays = [spec.cast(a, dtype) for a in arrays]
    shape = base[:axis] + (len(arrays),) + base[axis:]
    if base == ():      # numbers: Numba's np.stack takes arrays only
        return spec.op("array_of", arrays, Ty(dtype, shape, np.ndarray, "C"), hint, dtype=dtype)
    return spec.op("stack", arrays, Ty(dtype, shape, np.ndarray, "C"), hint, axis=axis)


@rule("stack")
def _stack_rule(spec, slots, impl, hint=None):
    return _stack(spec, slots["arrays"] if isinstance(slots["arrays"], DynList) else list(slots["arrays"]),
                  slots.get("axis", 0), hint or "stacked")


@rule("concatenate")
def _concatenate(spec, slots, impl, hint=None):
    arrays = [_dyn(spec, v) for v in spec.static_items(slots["arrays"])]
    axis = slots.get("axis", 0)
    if axis is None:
        arrays = [spec.reshape(a, (-1,)) for a in arrays]
        axis = 0
    small = [np.zeros(tuple(1 if k != axis % max(a.ty.ndim, 1) else (d or 0) for k, d in enumerate(a.ty.shape)),
                      a.ty.dtype) for a in arrays]
    with np.errstate(all="ignore"):
        np.concatenate(small, axis)           # the checks NumPy makes, on small arrays
    base = list(arrays[0].ty.shape)
    axis = axis % len(base)
    base[axis] = sum(a.ty.shape[axis] for a in arrays)
    dtype = np.result_type(*[a.ty.dtype for a in arrays])
    arrays = [spec.cast(a, dtype) for a in arrays]
    return spec.op("concatenate", arrays, Ty(dtype, tuple(base), np.ndarray, "C"), hint or "joined", axis=axis)


@rule("hstack")
def _hstack(spec, slots, impl, hint=None):
    arrays = [_dyn(spec, v) for v in spec.static_items(slots["tup"])]
    arrays = [spec.reshape(a, (1,)) if a.ty.ndim == 0 else a for a in arrays]
    axis = 0 if arrays[0].ty.ndim == 1 else 1
    return _concatenate(spec, {"arrays": arrays, "axis": axis}, None, hint)


@rule("vstack")
def _vstack(spec, slots, impl, hint=None):
    arrays = [_dyn(spec, v) for v in spec.static_items(slots["tup"])]
    arrays = [spec.reshape(a, (1,) + (a.ty.shape or ()) if a.ty.ndim < 2 else a.ty.shape) if a.ty.ndim < 2
              else a for a in arrays]
    arrays = [spec.reshape(a, (1, 1)) if a.ty.ndim == 1 and a.ty.shape == (1,) else a for a in arrays]
    return _concatenate(spec, {"arrays": arrays, "axis": 0}, None, hint)


@rule("split", "array_split")
def _split(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["ary"])
    parts = impl(a.ty.witness(), slots["indices_or_sections"], slots.get("axis", 0)) if not has_dyn(
        slots["indices_or_sections"]) else None
    if parts is None:
        raise spec.error("jit needs the split points known")
    axis = slots.get("axis", 0) % a.ty.ndim
    out, start = [], 0
    for p in parts:
        stop = start + p.shape[axis]
        index = (slice(None),) * axis + (slice(start, stop),)
        out.append(spec.getitem(a, index, hint or "part"))
        start = stop
    return SList(out, spec.depth)


@rule("tile")
def _tile(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["A"])
    reps = slots["reps"]
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)
    d = max(len(reps), a.ty.ndim)
    shape = (1,) * (d - a.ty.ndim) + (a.ty.shape or ())
    reps = (1,) * (d - len(reps)) + reps
    expanded = spec.reshape(a, tuple(x for n in shape for x in (1, n)))
    target = tuple(x for r, n in zip(reps, shape) for x in (r, n))
    full = _broadcast_to(spec, {"array": expanded, "shape": target}, None)
    return spec.reshape(spec.op("copy_array", [full], full.ty.with_(layout="C"), "tiled"),
                        tuple(r * n for r, n in zip(reps, shape)), hint)


@rule("roll")
def _roll(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    shift, axis = slots["shift"], slots.get("axis")
    if has_dyn(shift) or has_dyn(axis) or None in (a.ty.shape or ()):
        raise spec.error("jit needs the shift, the axis and the shape of np.roll known")
    if axis is None:
        rolled = _roll(spec, {"a": spec.reshape(a, (int(np.prod(a.ty.shape, dtype=int)),)), "shift": shift,
                              "axis": 0}, impl)
        return spec.reshape(rolled, a.ty.shape, hint)
    out = a
    for s, ax in zip(*(np.ravel(v) for v in np.broadcast_arrays(shift, axis))):
        ax = int(ax) % a.ty.ndim
        n = a.ty.shape[ax]
        s = int(s) % n if n else 0
        if s == 0:
            continue
        head = spec.getitem(out, (slice(None),) * ax + (slice(n - s, None),))
        tail = spec.getitem(out, (slice(None),) * ax + (slice(0, n - s),))
        out = _concatenate(spec, {"arrays": [head, tail], "axis": ax}, None, hint or "rolled")
    return out if out is not a else spec.op("copy_array", [a], a.ty.with_(layout="C"), hint or "rolled")


@rule("repeat")
def _repeat(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    repeats, axis = slots["repeats"], slots.get("axis")
    if has_dyn(repeats) or has_dyn(axis) or None in (a.ty.shape or ()):
        raise spec.error("jit needs the repeats, the axis and the shape of np.repeat known")
    if axis is None:
        a = spec.reshape(a, (int(np.prod(a.ty.shape, dtype=int)),))
        axis = 0
    ax = axis % a.ty.ndim
    shape = a.ty.shape
    if np.ndim(repeats) == 0 or np.size(repeats) == 1:
        r = int(np.ravel(repeats)[0])
        expanded = spec.reshape(a, shape[:ax + 1] + (1,) + shape[ax + 1:])
        full = _broadcast_to(spec, {"array": expanded, "shape": shape[:ax + 1] + (r,) + shape[ax + 1:]}, None)
        copied = spec.op("copy_array", [full], full.ty.with_(layout="C"), "repeated")
        return spec.reshape(copied, shape[:ax] + (shape[ax] * r,) + shape[ax + 1:], hint)
    index = np.repeat(np.arange(shape[ax]), repeats)
    return spec.getitem(a, (slice(None),) * ax + (index,), hint)


@rule("diag")
def _diag(spec, slots, impl, hint=None):
    v = _dyn(spec, slots["v"])
    k = slots.get("k", 0)
    r = np.diag(v.ty.witness(), k)
    return spec.op("diag", [v], Ty(v.ty.dtype, r.shape, np.ndarray, "C"), hint or "diag", k=k)


@rule("trace")
def _trace(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    offset, ax1, ax2 = slots.get("offset", 0), slots.get("axis1", 0), slots.get("axis2", 1)
    if a.ty.ndim != 2 or (ax1, ax2) not in ((0, 1), (-2, -1)):
        return einsum(spec, "ii->", [a], hint or "trace") if offset == 0 and a.ty.ndim == 2 else \
            spec.error("jit compiles np.trace of 2-d arrays")
    d = _diag(spec, {"v": a, "k": offset}, None)
    return spec.reduce("sum", d, None, False, hint=hint or "trace")


@rule("inv", "det", "cholesky")
def _linalg_unary(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    if a.ty.ndim != 2 or a.ty.dtype.kind != "f":
        raise spec.error(f"jit compiles np.linalg.{impl.__name__} of 2-d float arrays only")
    r = impl(np.eye(1, dtype=a.ty.dtype))
    ty = Ty(np.result_type(r), a.ty.shape, np.ndarray, "C") if isinstance(r, np.ndarray) else \
        Ty(np.result_type(r), None, type(r))
    return spec.op("linalg", [a], ty, hint or impl.__name__, fn=impl.__name__)


@rule("unshared_write")
def _unshared_write(spec, slots, impl, hint=None):
    x = slots["x"]
    if isinstance(x, Dyn) or type(x) not in (int, float, complex, bool):
        # compiled code cannot tell a number from a 0-d array NumPy would write into
        raise spec.error(str(slots["message"]).split(": ", 1)[-1].split("\n")[0])
    return None


@rule("slogdet")
def _slogdet(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    if a.ty.ndim != 2 or a.ty.dtype.kind != "f":
        raise spec.error("jit compiles np.linalg.slogdet of 2-d float arrays only")
    ty = Ty(np.dtype(a.ty.dtype), None, float)
    return (spec.op("linalg", [a], ty, "sign", fn="slogdet", part=0),
            spec.op("linalg", [a], ty, hint or "logabsdet", fn="slogdet", part=1))


@rule("solve")
def _solve(spec, slots, impl, hint=None):
    a, b = _dyn(spec, slots["a"]), _dyn(spec, slots["b"])
    if a.ty.ndim != 2 or b.ty.ndim not in (1, 2):
        raise spec.error("jit compiles np.linalg.solve of a 2-d matrix and 1-d or 2-d right-hand side")
    dtype = np.result_type(a.ty.dtype, b.ty.dtype, np.float32)
    a, b = spec.cast(a, dtype), spec.cast(b, dtype)
    return spec.op("linalg", [a, b], Ty(dtype, b.ty.shape, np.ndarray, "C"), hint or "solution", fn="solve")


@rule("where")
def _where(spec, slots, impl, hint=None):
    c, x, y = slots["condition"], slots["x"], slots["y"]
    return spec.ew("where", np.where, [c, x, y], hint or "chosen")


@rule("tril", "triu")
def _triangle(spec, slots, impl, hint=None):
    m = _dyn(spec, slots["m"])
    k = slots.get("k", 0)
    if has_dyn(k) or m.ty.ndim < 2 or None in m.ty.shape[-2:]:
        raise spec.error(f"jit compiles np.{impl.__name__} of arrays of known shape with a known k")
    keep = impl(np.ones(m.ty.shape[-2:], dtype=bool), k)        # the entries kept, a constant mask
    zero = np.zeros((), dtype=m.ty.dtype)
    return spec.ew("where", np.where, [keep, m, zero], hint or impl.__name__)


@rule("atleast_1d")
def _atleast_1d(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    return spec.reshape(a, (1,), hint) if a.ty.ndim == 0 else a


@rule("clip")
def _clip(spec, slots, impl, hint=None):
    a = slots["a"]
    lo = slots.get("a_min") if slots.get("a_min") is not None else slots.get("min")
    hi = slots.get("a_max") if slots.get("a_max") is not None else slots.get("max")
    if lo is not None:
        a = spec.ew("maximum", np.maximum, [a, lo], "clipped")
    if hi is not None:
        a = spec.ew("minimum", np.minimum, [a, hi], hint or "clipped")
    return a


@rule("getitem")
def _getitem(spec, slots, impl, hint=None):
    return spec.subscript(slots["a"], slots["index"], hint)


@rule("index_update", "index_add")
def _index_update(spec, slots, impl, hint=None):
    x, index, y = slots["x"], slots["index"], slots["y"]
    add = impl is adjoints.index_add
    if isinstance(x, (tuple, list, dict)) and not isinstance(x, DynList):
        if has_dyn(index):
            raise spec.unstable("a container updated at a run-time index")
        if add:
            raise spec.error("jit cannot index_add into a container")
        if isinstance(x, tuple):
            items = list(x)
            items[index] = y
            return tuple(items)
        items = SList(x, spec.depth) if isinstance(x, list) else dict(x)
        items[index] = y
        return items
    x = _dyn(spec, x)
    parts = index if isinstance(index, tuple) else (index,)
    dtype = x.ty.dtype
    if add:
        dtype = np.result_type(x.ty.unit(), spec.unit(y))
    out = spec.op("copy_array", [spec.cast(x, dtype)], x.ty.with_(dtype=dtype, layout="C"), hint or x.name)
    repeated = add and any(isinstance(p, (np.ndarray, list)) or (isinstance(p, Dyn) and p.ty.is_array)
                           for p in parts)
    if repeated:
        arrays = [np.asarray(p) if isinstance(p, (np.ndarray, list)) else p for p in parts]
        lengths = {a.shape if isinstance(a, np.ndarray) else a.ty.shape if isinstance(a, Dyn) else None
                   for a in arrays}
        if len(lengths) != 1 or None in lengths or len(next(iter(lengths))) != 1:
            raise spec.error("jit compiles index_add with repeated indices given as 1-d integer arrays "
                             "of one length, one per leading axis")
        spec.emit(SetItem(out.name, tuple(spec.index_atom(p) for p in parts), spec.atom(y, dtype), add="at"))
    else:
        spec.setitem(out, parts, spec.cast(y, dtype) if isinstance(y, Dyn) else y, add=add)
    return out


@rule("asarray")
def _asarray(spec, slots, impl, hint=None):
    a, dtype = slots["a"], slots.get("dtype")
    if isinstance(a, (tuple, list)) and not isinstance(a, DynList):
        items = [spec.cast(v, dtype) if dtype is not None else v for v in a]
        if any(isinstance(v, (tuple, list)) for v in items):
            items = [_asarray(spec, {"a": v, "dtype": dtype}, impl) for v in items]
        return _stack(spec, items, 0, hint or "array")
    if isinstance(a, DynList):
        return _stack(spec, a, 0, hint or "array")
    if dtype is not None:
        a = spec.cast(a, dtype)
    if isinstance(a, Dyn) and not a.ty.is_array:
        return spec.op("asarray0", [a], Ty(a.ty.dtype, (), np.ndarray, "C"), hint or "array")
    if impl in (np.array, np.copy) and isinstance(a, Dyn) and a.ty.is_array:
        return spec.op("copy_array", [a], a.ty.with_(layout="C"), hint or "copy")
    if impl is np.ascontiguousarray and isinstance(a, Dyn) and a.ty.layout != "C":
        return spec.op("copy_array", [a], a.ty.with_(layout="C"), hint or "contiguous")
    return a


@rule("astype")
def _astype(spec, slots, impl, hint=None):
    a = _dyn(spec, slots["a"])
    dtype = np.dtype(slots["dtype"])
    if a.ty.dtype == dtype:
        return spec.op("copy_array", [a], a.ty.with_(layout="C"), hint or "copy") if a.ty.is_array else a
    return spec.cast(a, dtype)


@rule("float")
def _float(spec, slots, impl, hint=None):
    x = slots["x"]
    if isinstance(x, Dyn) and x.ty.is_array:
        x = spec.item(x)
    return spec.cast(x, np.float64, float)


@rule("int")
def _int_rule(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    if isinstance(x, Dyn) and x.ty.is_array:
        x = spec.item(x)
    return spec.op("int", [x], Ty(np.int64, None, int), hint or "n")


@rule("bool")
def _bool_rule(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    if isinstance(x, Dyn):
        return spec.truth_dyn(x)
    return bool(x)


@rule("real")
def _real(spec, slots, impl, hint=None):
    return slots["val"]


@rule("shape")
def _shape(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    if isinstance(x, Dyn):
        return spec.shape_of(x) if x.ty.is_array else ()
    if isinstance(x, DynList):
        return (x.length,) + spec.list_elems[x.tag].shape if isinstance(spec.list_elems.get(x.tag), Ty) else \
            spec.error("np.shape of a run-time list")
    return np.shape(_witness_tree(x))


@rule("ndim")
def _ndim(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    if isinstance(x, Dyn):
        return x.ty.ndim
    return np.ndim(_witness_tree(x))


@rule("size")
def _size(spec, slots, impl, hint=None):
    x = slots["args"][0]
    if isinstance(x, Dyn):
        if len(slots["args"]) > 1:
            return x.ty.shape[slots["args"][1]]
        n = x.ty.size
        return n if n is not None else spec.op("size", [x], Ty(np.int64, None, int), "size")
    return np.size(_witness_tree(x))


@rule("len")
def _len(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    if isinstance(x, Dyn):
        if not x.ty.is_array or not x.ty.shape:
            raise spec.error("len() of a scalar")
        d = x.ty.shape[0]
        return d if d is not None else spec.op("dim", [x], Ty(np.int64, None, int), "n", axis=0)
    if isinstance(x, DynList):
        if x.length is not None:
            return x.length
        return spec.op("len", [Dyn(x.name, None)], Ty(np.int64, None, int), "n")
    return len(x)


@rule("isinstance")
def _isinstance(spec, slots, impl, hint=None):
    x, cls = slots["args"]
    if isinstance(x, Dyn):
        return issubclass(x.ty.pytype, cls)
    if isinstance(x, DynList):
        return issubclass(list, cls)
    return isinstance(x, cls)


@rule("type")
def _type(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    if isinstance(x, Dyn):
        return x.ty.pytype
    if isinstance(x, DynList):
        return list
    return type(x)


@rule("callable")
def _callable(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    return False if isinstance(x, (Dyn, DynList)) else callable(x)


@rule("hasattr")
def _hasattr(spec, slots, impl, hint=None):
    x, name = slots["args"]
    if isinstance(x, Dyn):
        return hasattr(x.ty.witness(), name)
    return hasattr(x, name)


@rule("result_type")
def _result_type(spec, slots, impl, hint=None):
    return np.result_type(*[spec.unit(a) if isinstance(a, Dyn) else _witness_tree(a) for a in slots["args"]])


@rule("issubdtype")
def _issubdtype(spec, slots, impl, hint=None):
    return np.issubdtype(*slots["args"])


@rule("range")
def _range(spec, slots, impl, hint=None):
    args = list(slots["args"])
    for k, a in enumerate(args):
        if isinstance(a, Dyn):
            if a.ty.dtype.kind not in "iu" or a.ty.is_array:
                raise spec.error("range() needs integers")
    if len(args) == 1:
        args = [0, args[0], 1]
    elif len(args) == 2:
        args = args + [1]
    if isinstance(args[2], Dyn):
        raise spec.error("jit needs the step of range() known")
    return DynRange(*args)


@special(reversed)
def _reversed_builtin(spec, args, kwargs):
    (x,) = args
    if isinstance(x, range):
        return x[::-1]                      # still a range, so the loop stays a loop
    return _reversed(spec, {"args": (x,)}, reversed)


@rule("reversed")
def _reversed(spec, slots, impl, hint=None):
    (x,) = slots["args"]
    if isinstance(x, DynRange):
        if x.step == 1:
            start = x.start
            last = spec.binop(gast.Sub, x.stop, 1)
            return DynRange(last, spec.binop(gast.Sub, start, 1), -1)
        if x.step == -1:
            return DynRange(spec.binop(gast.Add, x.stop, 1), spec.binop(gast.Add, x.start, 1), 1)
        raise spec.error("jit reverses only ranges of step 1")
    if isinstance(x, DynList):
        if x.length is None:
            raise spec.error("jit cannot reverse a run-time list")
        return [spec.list_getitem(x, k) for k in reversed(range(x.length))]
    if isinstance(x, Dyn):
        return reversed(spec.static_items(x))
    return reversed(x)


@rule("zip", "enumerate", "tuple", "list", "dict", "sorted")
def _structural(spec, slots, impl, hint=None):
    args = [spec.static_items(a) if isinstance(a, (Dyn, DynList)) else a for a in slots["args"]]
    if impl is list and len(args) == 1 and isinstance(slots["args"][0], DynList):
        return spec.list_copy(slots["args"][0])
    if impl is sorted and has_dyn(args):
        raise spec.error("jit cannot sort run-time values")
    if isinstance(args and args[0], DynRange) or any(isinstance(a, DynRange) for a in args):
        raise spec.error(f"jit cannot use {impl.__name__}() on a range with run-time bounds")
    return spec.own(impl(*args, **slots["kwargs"]))


@rule("print")
def _print(spec, slots, impl, hint=None):
    return None


@rule("math_isclose", "allclose")
def _isclose(spec, slots, impl, hint=None):
    raise spec.error("jit cannot compile isclose/allclose on run-time values")


def _creation(name):
    def apply(spec, slots, impl, hint=None):
        args, kwargs = list(slots["args"]), dict(slots["kwargs"])
        if name in ("zeros_like", "ones_like", "empty_like", "full_like"):
            like = args.pop(0) if args else kwargs.pop("a", None)
            ty = _ty(spec, like) if not isinstance(like, (tuple, list)) else None
            if ty is None:
                like = np.asarray(_witness_tree(like))
                ty = Ty(like.dtype, like.shape)
            dtype = kwargs.pop("dtype", None)
            if name == "full_like":
                fill = args.pop(0) if args else kwargs.pop("fill_value")
                if len(args) and dtype is None:
                    dtype = args.pop(0)
            elif args and dtype is None:
                dtype = args.pop(0)
            kwargs.pop("order", None)
            kwargs.pop("subok", None)
            shape = kwargs.pop("shape", None) or ty.shape
            dtype = np.dtype(dtype) if dtype is not None else ty.dtype
            if shape is None:          # like a scalar: a scalar result, like NumPy's 0-d array
                value = {"zeros_like": 0, "ones_like": 1, "empty_like": 0}.get(name)
                if name == "full_like":
                    value = fill
                if isinstance(value, Dyn):
                    return spec.cast(value, dtype)
                return _full(spec, (), dtype, value, hint or name)
            value = {"zeros_like": 0, "ones_like": 1, "empty_like": None}.get(name, None)
            if name == "full_like":
                value = fill
            return _full(spec, shape, dtype, value, hint or name)
        shape = args.pop(0) if args else kwargs.pop("shape")
        shape = (shape,) if not isinstance(shape, (tuple, list)) else tuple(shape)
        if name == "full":
            fill = args.pop(0) if args else kwargs.pop("fill_value")
            dtype = args.pop(0) if args else kwargs.pop("dtype", None)
            if dtype is None:
                dtype = np.result_type(spec.unit(fill))
        else:
            fill = {"zeros": 0, "ones": 1, "empty": None}[name]
            dtype = args.pop(0) if args else kwargs.pop("dtype", np.float64)
        return _full(spec, shape, np.dtype(dtype if dtype is not None else np.float64), fill, hint or name)
    return apply


def _full(spec, shape, dtype, fill, hint):
    if any(isinstance(d, Dyn) for d in shape):
        z = spec.zeros(shape, dtype, hint)
        if fill not in (0, None):
            spec.setitem(z, (Ellipsis,), fill)
        return z
    ty = Ty(dtype, tuple(shape), np.ndarray, "C")
    if fill is None:
        return spec.op("empty", [], ty, hint, shape=tuple(shape), dtype=dtype)
    if isinstance(fill, Dyn):
        fill = spec.cast(fill, dtype)
        if fill.ty.is_array:
            return spec.op("ew", [fill], ty, hint, fn="positive")
        return spec.op("ew", [fill], ty, hint, fn="positive")
    return spec.fill(shape, dtype, fill, hint)


for _n in ("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like"):
    RULES[_n] = _creation(_n)


def _witness_tree(x):
    if isinstance(x, Dyn):
        return x.ty.witness()
    if isinstance(x, (tuple, list)) and not isinstance(x, DynList):
        items = [_witness_tree(v) for v in x]
        return tuple(items) if isinstance(x, tuple) else items
    if isinstance(x, dict):
        return {k: _witness_tree(v) for k, v in x.items()}
    return x


# -- helpers with compiled versions instead of their Python source ---------------------------------


@special(adjoints.scalar_seed)
def _scalar_seed(spec, args, kwargs):
    (out,) = args
    if isinstance(out, Dyn):
        if out.ty.is_array and out.ty.shape != ():
            adjoints.scalar_seed(out.ty.witness())        # raises the grad TypeError
        return adjoints.scalar_seed(out.ty.witness()[()] if out.ty.is_array else out.ty.witness())
    return adjoints.scalar_seed(_witness_tree(out))


@special(adjoints.index_update)
def _index_update_special(spec, args, kwargs):
    return _index_update(spec, dict(zip(("x", "index", "y"), args), **kwargs), adjoints.index_update)


@special(adjoints.index_add)
def _index_add_special(spec, args, kwargs):
    return _index_update(spec, dict(zip(("x", "index", "y"), args), **kwargs), adjoints.index_add)


@special(jacobian.tree_size)
def _tree_size(spec, args, kwargs):
    (tree,) = args
    return jacobian.tree_size(_witness_tree(tree))


@special(jacobian.unit_tangent)
def _unit_tangent(spec, args, kwargs):
    tree, k = args
    if not isinstance(k, Dyn):
        value = jacobian.unit_tangent(_witness_tree(tree), k)
        return _bind_static_tree(spec, value)
    offset = 0
    from ..runtime.pytree import tree_flatten, tree_unflatten
    leaves, treedef = tree_flatten(tree)
    out = []
    for leaf in leaves:
        w = _witness_tree(leaf)
        if not jacobian._numeric(w):
            out.append(None)
            continue
        n = int(np.size(w))
        dtype = jacobian._float_dtype(w)
        shape = np.shape(w)
        is_array = isinstance(w, np.ndarray)
        ty = Ty(dtype, shape, np.ndarray, "C") if is_array else Ty(dtype, None, type(dtype.type(0)) if not
                                                                      isinstance(w, float) else float)
        out.append(spec.op("unit", [k], ty, "unit", offset=offset, size=n, shape=shape, dtype=dtype))
        offset += n
    return tree_unflatten(treedef, out)


def _bind_static_tree(spec, value):
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (tuple, list)):
        items = [_bind_static_tree(spec, v) for v in value]
        return tuple(items) if isinstance(value, tuple) else SList(items, spec.depth)
    if isinstance(value, dict):
        return {k: _bind_static_tree(spec, v) for k, v in value.items()}
    return value


@special(jacobian.jacobian_from_columns)
def _jacobian_from_columns(spec, args, kwargs):
    columns, outputs, inputs = args
    if isinstance(outputs, Dyn) and isinstance(inputs, Dyn) and isinstance(columns, DynList):
        out_shape = outputs.ty.shape or ()
        in_shape = inputs.ty.shape or ()
        stacked = _stack(spec, columns, -1, "columns")
        return spec.reshape(stacked, out_shape + in_shape, "jacobian")
    return _inline(spec, jacobian.jacobian_from_columns, args)


@special(jacobian.jacobian_from_rows)
def _jacobian_from_rows(spec, args, kwargs):
    rows, outputs, inputs = args
    if isinstance(outputs, Dyn) and isinstance(inputs, Dyn) and isinstance(rows, DynList):
        out_shape = outputs.ty.shape or ()
        in_shape = inputs.ty.shape or ()
        stacked = _stack(spec, rows, 0, "rows")
        return spec.reshape(stacked, out_shape + in_shape, "jacobian")
    return _inline(spec, jacobian.jacobian_from_rows, args)


def _inline(spec, fn, args):
    source = function_source(fn)
    checked, tree = normalized(source)
    return spec.call_source(checked, tree, list(args), {})


@special(jacobian.unshared)
def _unshared(spec, args, kwargs):
    (tree,) = args

    def walk(v):
        if isinstance(v, DynList):
            return spec.list_copy(v)
        if isinstance(v, SList):
            return SList([walk(x) for x in v], spec.depth)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, tuple):
            return tuple(walk(x) for x in v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(tree)


@special(scipy.special.logsumexp)
def _logsumexp(spec, args, kwargs):
    return _inline(spec, _logsumexp_numpy, args) if not kwargs else _inline_kw(spec, _logsumexp_numpy, args, kwargs)


def _inline_kw(spec, fn, args, kwargs):
    source = function_source(fn)
    checked, tree = normalized(source)
    return spec.call_source(checked, tree, list(args), kwargs)


def _logsumexp_numpy(a, axis=None, b=None, keepdims=False, return_sign=False):
    """scipy.special.logsumexp in the NumPy jit compiles."""
    m = np.max(a, axis=axis, keepdims=True)
    shifted = np.exp(a - m)
    if b is not None:
        shifted = shifted * b
    total = np.sum(shifted, axis=axis, keepdims=True)
    out = np.log(total) + m
    if not keepdims:
        if axis is None:
            out = np.reshape(out, ())
        else:
            out = np.squeeze(out, axis=axis)
    return out


def _softmax_numpy(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_numpy(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_expit_numpy(x):
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


for _fn, _impl in ((scipy.special.softmax, _softmax_numpy), (scipy.special.log_softmax, _log_softmax_numpy),
                   (scipy.special.log_expit, _log_expit_numpy)):
    SPECIAL[id(_fn)] = (lambda impl: lambda spec, args, kwargs: _inline_kw(spec, impl, args, kwargs))(_impl)
