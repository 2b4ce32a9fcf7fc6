"""Batching (vmap): the rule families of the rule table and the helpers batched code calls.

Inside batched code a batched value carries the batch axis first; a batched container holds
batched leaves (None stays None). A rule gets a `call` from `s2s.ast_passes.batching` that
describes one normalized operation: its slots, which of them are batched, and builders for
the new expression (`call.rewrite(axis=...)` keeps the user's spelling, `call.helper(name)`
names a helper below, `call.align(x, others)` raises a batched operand's rank, `call.shared(x)`
gives an unbatched operand a length-1 batch axis, `call.broadcast(x)` repeats it B times).
A rule returns the new right-hand side, or PER_EXAMPLE for a loop over the batch.

The helpers are plain NumPy Python in the subset s2s transforms, so code calling them can be
differentiated and batched again (`grad(vmap(f))`, `vmap(vmap(f))`).
"""
import numpy as np

from . import adjoints
from .core import primitive

PER_EXAMPLE = "per-example"


# -- rule families ----------------------------------------------------------------------------
class Rule:
    """How one primitive runs on a batch: `apply(call)` gives the new right-hand side."""

    def __init__(self, apply, out_batched=None, name=""):
        self._apply = apply
        self._out_batched = out_batched
        self.name = name or apply.__name__.strip("_")

    def apply(self, call):
        return self._apply(call)

    def out_batched(self, call):
        """Whether the result carries the batch axis (by default: when any input does)."""
        if self._out_batched is None:
            return call.any_batched()
        return self._out_batched(call)

    def __repr__(self):
        return f"<batching rule {self.name}>"


def rule(out_batched=None):
    def wrap(fn):
        return Rule(fn, out_batched)
    return wrap


def _never(call):
    return False


_OPERANDS = ("x", "y", "condition", "a", "a_min", "a_max", "min", "max", "val", "t")
# Callables that are not NumPy functions get their NumPy twin when batched (math.exp, max, round).
_NUMPY_TWIN = {"builtin_max": "maximum", "builtin_min": "minimum", "absolute": "abs"}


def _operands(call):
    return [s for s in _OPERANDS if s in call.slots and not call.is_none(s)]


def _statics_batched(call, operands):
    return any(call.batched(s) for s in call.slots if s not in operands)


@rule()
def elementwise(call):
    """Ufunc-like: the batch axis passes straight through; a batched operand whose example has
    fewer axes than another operand gets length-1 axes after its batch axis."""
    operands = _operands(call)
    if _statics_batched(call, operands):
        return PER_EXAMPLE
    new = {}
    for slot in operands:
        if call.batched(slot):
            others = [call.slots[s] for s in operands if s != slot]
            new[slot] = call.align(call.slots[slot], others)
    if not call.numpy_form():
        return call.rewrite_as(f"np.{_NUMPY_TWIN.get(call.prim.name, call.prim.name)}", **new)
    return call.rewrite(**new)


@rule()
def passthrough(call):
    """The batch axis of the first argument passes straight through (casts, copies, zeros_like)."""
    first = next(iter(call.slots))
    if any(call.batched(s) for s in call.slots if s != first):
        return PER_EXAMPLE
    return call.node


@rule(out_batched=lambda call: call.batched(next(iter(call.slots))))
def cotangent_passthrough(call):
    """`match_dtype(g, x)`: the result is `g` (cast), batched exactly when `g` is."""
    return call.node


@rule(out_batched=_never)
def shape_query(call):
    """`np.shape`, `np.ndim`, `np.size`, `len` of one example: the batch axis is dropped."""
    args = call.slots.get("args", ())
    if len(args) != 1 or call.slots.get("kwargs"):
        return PER_EXAMPLE
    x = args[0]
    name = call.prim.name
    if name == "len":
        return call.example_len(x)
    if name == "shape":
        return call.example_shape(x)
    if name == "ndim":
        return call.expr("np.ndim(x) - 1", x=x)
    return call.expr("example_size(x)", x=x, example_size=call.helper("example_size"))


@rule(out_batched=_never)
def unbatched_result(call):
    """A result that is the same for every example (`isinstance`, `result_type`, `print`)."""
    return call.node


@rule()
def per_example(call):
    """No vectorized form: a loop over the examples, results stacked."""
    return PER_EXAMPLE


@rule()
def cast(call):
    """`float(x)`, `int(x)`, `bool(x)` of a batched scalar: a cast of the whole batch."""
    args = call.slots.get("args")
    x = args[0] if args is not None else call.slots.get("x")
    if args is not None and (len(args) != 1 or call.slots.get("kwargs")):
        return PER_EXAMPLE
    dtype = {"float": "np.float64", "int": "np.int64", "bool": "np.bool_"}[call.prim.name]
    if call.prim.name == "int":
        return call.expr(f"np.trunc(x).astype({dtype})", x=x)
    return call.expr(f"np.asarray(x, dtype={dtype})", x=x)


# -- reductions and axes ------------------------------------------------------------------------
def _reduction_axis(call, slot="axis"):
    """The batched `axis` argument: example axes shifted by one, None meaning every example axis."""
    array = call.slots.get("a", call.slots.get("x"))
    if call.given(slot):
        return call.batch_axis(call.slots[slot], array)
    return call.expr("example_axes(a)", a=array, example_axes=call.helper("example_axes"))


def _reduce(call, array_slot="a"):
    if any(call.batched(s) for s in call.slots if s != array_slot):
        return PER_EXAMPLE
    if call.const("out") != (True, None):
        return PER_EXAMPLE
    name = call.prim.name
    if name in ("argmax", "argmin") and not call.given_not_none("axis"):
        if call.const("keepdims") not in ((True, False),):
            return PER_EXAMPLE
        flat = call.expr("np.reshape(a, (size, -1))", a=call.slots[array_slot], size=call.size())
        return call.rewrite(**{array_slot: flat, "axis": call.constant(1)})
    if name == "argsort" and not call.given("axis"):
        return call.node            # NumPy's default axis=-1 is the last axis of every example
    if name == "argsort" and call.const("axis") == (True, None):
        return PER_EXAMPLE
    return call.rewrite(axis=_reduction_axis(call))


reduction = Rule(_reduce, name="reduction")


@rule()
def builtin_sum(call):
    """Python's `sum(items, start)` of one example's items."""
    if call.batched("start") and not call.batched("iterable"):
        return PER_EXAMPLE
    start = call.slots["start"]
    if call.batched("iterable") and not call.batched("start") and not call.is_constant("start"):
        start = call.broadcast(start)
    items = call.slots["iterable"]
    if call.is_sequence_literal("iterable"):
        items = call.list_([call.broadcast(e) for e in items.elts])
    return call.expr("sum_batched(iterable, start)", iterable=items, start=start,
                     sum_batched=call.helper("sum_batched"))


@rule()
def axis_function(call):
    """softmax / log_softmax: `axis` shifted, None meaning every axis of one example."""
    if any(call.batched(s) for s in call.slots if s != "x"):
        return PER_EXAMPLE
    return call.rewrite(axis=_reduction_axis(call))


@rule()
def logsumexp(call):
    if not call.batched("a") or any(call.batched(s) for s in call.slots if s not in ("a", "b")):
        return PER_EXAMPLE
    if call.const("return_sign") != (True, False):
        return PER_EXAMPLE
    new = {"axis": _reduction_axis(call)}
    if call.batched("b"):
        new["b"] = call.align(call.slots["b"], [call.slots["a"]])
        new["a"] = call.align(call.slots["a"], [call.slots["b"]])
    return call.rewrite(**new)


# -- products ---------------------------------------------------------------------------------
def _both_batched(helper_name, slots):
    def apply(call):
        if any(call.batched(s) for s in call.slots if s not in slots):
            return PER_EXAMPLE
        args = [call.slots[s] if call.batched(s) else call.shared(call.slots[s]) for s in slots]
        return call.call(call.helper(helper_name), args)
    return Rule(apply, name=helper_name)


matmul = _both_batched("batch_matmul", ("x", "y"))
dot = _both_batched("batch_dot", ("a", "b"))
inner = _both_batched("batch_inner", ("a", "b"))
outer = _both_batched("batch_outer", ("a", "b"))
vdot = _both_batched("batch_vdot", ("a", "b"))
solve = _both_batched("batch_solve", ("a", "b"))


@rule()
def tensordot(call):
    if call.batched("axes"):
        return PER_EXAMPLE
    args = [call.slots[s] if call.batched(s) else call.shared(call.slots[s]) for s in ("a", "b")]
    return call.call(call.helper("batch_tensordot"), args + [call.slots["axes"]])


@rule()
def einsum(call):
    """A letter for the batch axis on every batched operand and on the result."""
    operands = call.slots["operands"]
    if call.batched("subscripts") or not isinstance(operands, tuple):
        return PER_EXAMPLE
    flags = tuple(call.batched_node(op) for op in operands)
    ok, spec = call.const("subscripts")
    if ok and isinstance(spec, str):
        new_spec = call.constant(batch_einsum_spec(spec, flags))
    elif ok:
        return PER_EXAMPLE          # the interleaved einsum(op, sublist, ...) form
    else:
        new_spec = call.call(call.helper("batch_einsum_spec"), [call.slots["subscripts"], call.constant(flags)])
    return call.rewrite(subscripts=new_spec)


@rule()
def stacked_linalg(call):
    """inv, det: NumPy's linalg already maps over leading axes."""
    return call.node


@rule()
def trace(call):
    if any(call.batched(s) for s in call.slots if s != "a"):
        return PER_EXAMPLE
    a = call.slots["a"]
    return call.rewrite(axis1=call.batch_axis(call.slots["axis1"], a),
                        axis2=call.batch_axis(call.slots["axis2"], a))


# -- shapes ------------------------------------------------------------------------------------
def _only(call, slot):
    return not any(call.batched(s) for s in call.slots if s != slot)


@rule()
def reshape(call):
    """Every example reshaped: the batch size goes in front of the new shape."""
    if not _only(call, "a"):
        return PER_EXAMPLE
    shape = call.slots.get("shape")
    if call.is_method():                               # a.reshape(n, m) or a.reshape((n, m))
        parts = list(shape)
        if len(parts) == 1 and not call.is_int_constant(parts[0]):
            return call.rewrite_args([call.call(call.helper("batch_shape"), [call.size(), parts[0]])])
        return call.rewrite_args([call.size()] + parts)
    if call.is_none("shape"):
        shape = call.slots.get("newshape")
        return call.expr("np.reshape(a, batch_shape(size, shape))", a=call.slots["a"], shape=shape,
                         size=call.size(), batch_shape=call.helper("batch_shape"))
    return call.rewrite(shape=call.prepend_size(shape))


@rule()
def ravel(call):
    if not _only(call, "a"):
        return PER_EXAMPLE
    return call.expr("np.reshape(a, (size, -1))", a=call.slots["a"], size=call.size())


@rule()
def transpose(call):
    if not _only(call, "a"):
        return PER_EXAMPLE
    a = call.slots["a"]
    axes = call.slots.get("axes")
    if call.is_method():
        axes = tuple(axes)
        if not axes:
            axes = None
        elif len(axes) == 1:
            axes = axes[0]
        else:
            axes = call.tuple_(list(axes))
    elif call.is_none("axes"):
        axes = None
    if axes is None:
        return call.expr("np.transpose(a, example_transpose(a))", a=a,
                         example_transpose=call.helper("example_transpose"))
    return call.expr("np.transpose(a, axes)", a=a, axes=call.batch_permutation(axes))


@rule()
def swapaxes(call):
    if not _only(call, "a"):
        return PER_EXAMPLE
    a = call.slots["a"]
    return call.rewrite(axis1=call.batch_axis(call.slots["axis1"], a),
                        axis2=call.batch_axis(call.slots["axis2"], a))


@rule()
def moveaxis(call):
    if not _only(call, "a"):
        return PER_EXAMPLE
    a = call.slots["a"]
    return call.rewrite(source=call.batch_axis(call.slots["source"], a),
                        destination=call.batch_axis(call.slots["destination"], a))


@rule()
def expand_dims(call):
    if not _only(call, "a"):
        return PER_EXAMPLE
    return call.rewrite(axis=call.batch_axis(call.slots["axis"], call.slots["a"]))


@rule()
def squeeze(call):
    if not _only(call, "a"):
        return PER_EXAMPLE
    a = call.slots["a"]
    if not call.given_not_none("axis"):
        return call.expr("squeeze_examples(a)", a=a, squeeze_examples=call.helper("squeeze_examples"))
    return call.rewrite(axis=call.batch_axis(call.slots["axis"], a))


@rule()
def flip(call):
    if not _only(call, "m"):
        return PER_EXAMPLE
    m = call.slots["m"]
    if not call.given_not_none("axis"):
        return call.rewrite(axis=call.expr("example_axes(m)", m=m, example_axes=call.helper("example_axes")))
    return call.rewrite(axis=call.batch_axis(call.slots["axis"], m))


@rule()
def roll(call):
    if not _only(call, "a") or not call.given_not_none("axis"):
        return PER_EXAMPLE          # axis=None rolls the flattened array, examples included
    return call.rewrite(axis=call.batch_axis(call.slots["axis"], call.slots["a"]))


@rule()
def repeat(call):
    if not _only(call, "a") or not call.given_not_none("axis"):
        return PER_EXAMPLE          # axis=None repeats the flattened array
    return call.rewrite(axis=call.batch_axis(call.slots["axis"], call.slots["a"]))


@rule()
def broadcast_to(call):
    if not _only(call, "array"):
        return PER_EXAMPLE
    return call.expr("broadcast_to_examples(array, shape)", array=call.slots["array"], shape=call.slots["shape"],
                     broadcast_to_examples=call.helper("broadcast_to_examples"))


def _helper_rule(helper_name, slots, batched_slots):
    """`helper(slots...)`, where only `batched_slots` may carry the batch axis."""
    def apply(call):
        if any(call.batched(s) for s in call.slots if s not in batched_slots):
            return PER_EXAMPLE
        args = [call.slots[s] for s in slots]
        return call.call(call.helper(helper_name), args)
    return Rule(apply, name=helper_name)


tile = _helper_rule("tile_examples", ("A", "reps"), ("A",))
diag = _helper_rule("diag_examples", ("v", "k"), ("v",))
broadcast_like = Rule(lambda call: (call.call(call.helper("broadcast_to_examples"),
                                              [call.slots["t"], call.example_shape(call.slots["out"])])
                                    if call.batched("t") else call.node),
                      name="broadcast_like")


def _sequence(call, slot):
    """The items of a sequence slot, every one batched; None if the slot cannot be batched."""
    seq = call.slots[slot]
    if call.is_sequence_literal(slot):
        return call.list_([call.broadcast(e) for e in seq.elts])
    if call.batched(slot):
        return call.example_sequence(seq)
    return None


def _join(call, slot="arrays"):
    if any(call.batched(s) for s in call.slots if s != slot):
        return PER_EXAMPLE
    items = _sequence(call, slot)
    if items is None:
        return PER_EXAMPLE
    if call.prim.name == "concatenate" and call.given("axis") and call.const("axis") == (True, None):
        return call.expr("np.concatenate(flat, axis=1)", flat=call.call(call.helper("flatten_examples"), [items]))
    axis = call.batch_axis(call.slots["axis"], None)
    return call.rewrite(**{slot: items, "axis": axis})


join = Rule(_join, name="join")
hstack = Rule(lambda call: (call.call(call.helper("hstack_examples"), [_sequence(call, "tup")])
                            if _only(call, "tup") and _sequence(call, "tup") is not None else PER_EXAMPLE),
              name="hstack")
vstack = Rule(lambda call: (call.call(call.helper("vstack_examples"), [_sequence(call, "tup")])
                            if _only(call, "tup") and _sequence(call, "tup") is not None else PER_EXAMPLE),
              name="vstack")


@rule()
def split(call):
    if not _only(call, "ary"):
        return PER_EXAMPLE
    return call.rewrite(axis=call.batch_axis(call.slots["axis"], call.slots["ary"]))


@rule()
def piece_grad(call):
    """concatenate_grad / stack_grad(g, arrays, axis): cut the batched cotangent along axis + 1."""
    if call.batched("axis") or (call.const("axis") == (True, None)):
        return PER_EXAMPLE
    arrays = call.broadcast(call.slots["arrays"])
    g = call.broadcast(call.slots["g"])
    return call.rewrite(g=g, arrays=arrays, axis=call.batch_axis(call.slots["axis"], None))


@rule()
def dense(call):
    """`dense(g, x)`: None (zero) cotangents made arrays, batched zeros for an unbatched `x`."""
    if call.batched("x"):
        return call.rewrite(g=call.broadcast(call.slots["g"]))
    return call.call(call.helper("dense_shared"), [call.slots["g"], call.slots["x"], call.size()])


@rule()
def broadcast_all(call):
    """Helpers that work leafwise once every argument carries the batch axis (fill_zeros)."""
    return call.rewrite(**{s: call.broadcast(call.slots[s]) for s in call.slots if not call.is_constant(s)})


# -- indexing -----------------------------------------------------------------------------------
@rule()
def getitem(call):
    a, index = call.slots["a"], call.slots["index"]
    if not call.batched("index"):
        kind = call.kind(a)
        if kind == "tree":
            return call.node
        if kind == "array" and call.index_keeps_order(index):
            return call.prefix_index(a, index)
        return call.call(call.helper("getitem_batched"), [a, call.index_value(index)])
    if call.is_tuple_index(index):
        if not call.batched("a") and call.kind(a) == "array" and call.index_all_points(index):
            return call.node        # W[i, j] with batched i, j: the broadcast axes come first
        return PER_EXAMPLE
    if not call.batched("a"):
        return call.node if call.kind(a) == "array" else call.call(call.helper("gather"), [a, index])
    if call.kind(a) != "array":
        return PER_EXAMPLE
    return call.call(call.helper("take_batched"), [a, index])


def _index_update(helper_name):
    def apply(call):
        if call.batched("index"):
            return PER_EXAMPLE
        x = call.broadcast(call.slots["x"])
        y = call.broadcast(call.slots["y"]) if not call.is_constant("y") else call.slots["y"]
        return call.call(call.helper(helper_name), [x, call.index_value(call.slots["index"]), y])
    return Rule(apply, name=helper_name)


index_update = _index_update("index_update_batched")
index_add = _index_update("index_add_batched")


@rule()
def getitem_grad(call):
    if call.batched("index"):
        return PER_EXAMPLE
    g = call.broadcast(call.slots["g"])
    name = "getitem_grad_batched" if call.batched("a") else "getitem_grad_shared"
    return call.call(call.helper(name), [g, call.slots["a"], call.index_value(call.slots["index"])])


@rule()
def add_tree(call):
    return call.call(call.helper("add_tree_batched"), [call.broadcast(call.slots["a"]), call.broadcast(call.slots["b"])])


@rule()
def scalar_seed(call):
    return call.call(call.helper("scalar_seed_batched"), [call.slots["out"]])


@rule()
def sequence_of(call):
    if not call.batched("sequence"):
        return call.node
    g = call.broadcast(call.slots["g"])
    return call.rewrite(g=g, sequence=call.expr("range(n)", n=call.example_len(call.slots["sequence"])))


@rule()
def asarray(call):
    if any(call.batched(s) for s in call.slots if s != "a"):
        return PER_EXAMPLE
    if call.kind(call.slots["a"]) == "array" and not call.is_sequence_literal("a"):
        return call.node
    items = call.slots["a"]
    if call.is_sequence_literal("a"):
        items = call.list_([call.broadcast(e) for e in items.elts])
    return call.call(call.helper("asarray_batched"), [items, call.slots.get("dtype", call.constant(None))])


# -- control flow lowered by the batching pass ----------------------------------------------------
@rule()
def select_rule(call):
    """After an `if` on a batched condition: per example, the value of the branch it took. A scalar
    the same for every example is left as it is (np.where broadcasts it, keeping its weak type)."""
    x, y = call.slots["x"], call.slots["y"]
    if not call.batched("condition"):
        return call.rewrite(x=call.broadcast(x), y=call.broadcast(y))
    x, y = [v if call.example_scalar(v) else call.broadcast(v) for v in (x, y)]
    return call.call(call.helper("select_batched"), [call.slots["condition"], x, y])


@rule(out_batched=_never)
def any_active_rule(call):
    return call.expr("np.any(active)", active=call.slots["active"])


@rule(out_batched=_never)
def unshared_write(call):
    if not call.batched("x"):
        return call.node
    return call.call(call.helper("unshared_write_batched"), [call.slots["x"], call.slots["message"]])


@rule(out_batched=_never)
def same_for_all_rule(call):
    return call.expr("bool(np.all(condition == condition[:1]))", condition=call.slots["condition"])


def _keys_of_dict(call):
    args = call.slots.get("args", ())
    return len(args) == 1 and call.is_dict(args[0])


@rule(out_batched=lambda call: call.any_batched() and not _keys_of_dict(call))
def sequence_copy(call):
    """`list(x)` / `tuple(x)` of one example: a container's items, or a batched array's rows;
    the keys of a dict are the same for every example."""
    args = call.slots.get("args", ())
    if len(args) != 1 or call.slots.get("kwargs"):
        return PER_EXAMPLE
    if _keys_of_dict(call):
        return call.node
    return call.expr(f"{call.prim.name}(items)", items=call.example_sequence(args[0]))


@rule(out_batched=_never)
def tree_size(call):
    """How many numbers one example of a tree holds."""
    return call.call(call.helper("example_tree_size"), [call.slots["tree"]])


@rule()
def full_like(call):
    """`np.full_like(x, fill)`: the batch axis of `x` passes through when the fill value is the
    same for every example (a batched fill would broadcast against the wrong axis)."""
    args = call.slots.get("args", ())
    if any(call.batched_node(a) for a in args[1:]) or call.batched("kwargs"):
        return PER_EXAMPLE
    return call.node


# Rules of primitives registered in loops, by name (the loop's family rule otherwise).
BY_NAME = {
    "is_": unbatched_result, "is_not": unbatched_result, "contains": per_example,
    "shape": shape_query, "ndim": shape_query, "size": shape_query, "len": shape_query,
    "int": cast, "bool": cast, "isinstance": unbatched_result, "result_type": unbatched_result,
    "issubdtype": unbatched_result, "print": unbatched_result, "type": unbatched_result,
    "tuple": sequence_copy, "list": sequence_copy, "sorted": Rule(
        lambda call: call.node if _keys_of_dict(call) else PER_EXAMPLE,
        out_batched=lambda call: call.any_batched() and not _keys_of_dict(call), name="sorted"),
    "zeros_like": passthrough, "ones_like": passthrough, "empty_like": passthrough, "full_like": full_like,
}


# ==================================================================================================
# Runtime helpers. Plain NumPy in the subset s2s transforms.
# ==================================================================================================
def select(condition, x, y):
    """`x if condition else y`: one example's value after an `if` on a batched condition."""
    if condition:
        return x
    return y


def unshared_write_batched(x, message):
    """`unshared_write` on a batch: an example of a batched array may be a number or a 0-d array
    (np.where of numbers makes one, and `+=` writes into it), which the batch cannot tell apart."""
    from ...errors import TransformError
    raise TransformError(message)


def same_for_all(condition):
    """Whether every example has this condition; for one example, always."""
    return True


def any_active(active):
    """Whether the loop still runs for this example; batched, whether it runs for any example."""
    return bool(active)


def match_rank(x, ndim):
    """Batched `x` with length-1 axes inserted after its batch axis, up to `ndim` axes in all."""
    shape = np.shape(x)
    if len(shape) >= ndim:
        return x
    return np.reshape(x, shape[:1] + (1,) * (ndim - len(shape)) + shape[1:])


def broadcast_batch(x, size, like=None):
    """`x` repeated along a new leading batch axis of length `size` (containers leafwise). A Python
    float takes the float type it would get next to `like` (0.0 next to float32 stays float32)."""
    if x is None:
        return None
    if like is not None and isinstance(x, float):
        x = np.asarray(x, dtype=np.result_type(x, like))
    if isinstance(x, tuple):
        return tuple(broadcast_batch(list(x), size))
    if isinstance(x, list):
        items = []
        for item in x:
            items.append(broadcast_batch(item, size))
        return items
    if isinstance(x, dict):
        out = {}
        for key in x:
            out[key] = broadcast_batch(x[key], size)
        return out
    return np.broadcast_to(x, (size,) + np.shape(x))


def move_batch_axes(x, axes, size):
    """Entry of vmap: the batch axis of every leaf moved to the front (`axes` an int, None or a tree)."""
    if x is None:
        return None
    if axes is None:
        return broadcast_batch(x, size)
    if isinstance(x, (tuple, list, dict)):
        keys = list(x.keys()) if isinstance(x, dict) else list(range(len(x)))
        out = {} if isinstance(x, dict) else [None] * len(x)
        for key in keys:
            sub = axes[key] if isinstance(axes, (tuple, list, dict)) else axes
            out[key] = move_batch_axes(x[key], sub, size)
        return tuple(out) if isinstance(x, tuple) else out
    if axes == 0:
        return x
    return np.moveaxis(x, axes, 0)


def move_out_axes(x, axes, size):
    """Exit of vmap: the batch axis of every leaf moved from the front to `axes`."""
    if x is None:
        return None
    if isinstance(x, (tuple, list, dict)):
        keys = list(x.keys()) if isinstance(x, dict) else list(range(len(x)))
        out = {} if isinstance(x, dict) else [None] * len(x)
        for key in keys:
            sub = axes[key] if isinstance(axes, (tuple, list, dict)) else axes
            out[key] = move_out_axes(x[key], sub, size)
        return tuple(out) if isinstance(x, tuple) else out
    if axes is None:
        return x
    if axes == 0:
        return x
    return np.moveaxis(x, 0, axes)


def batch_size_of(x):
    """The batch size of a batched value: the length of the first axis of its first leaf."""
    if isinstance(x, (tuple, list)):
        for item in x:
            if item is not None:
                return batch_size_of(item)
    if isinstance(x, dict):
        for key in x:
            if x[key] is not None:
                return batch_size_of(x[key])
    return np.shape(x)[0]


def example_axes(x):
    """Every axis of a batched array but the batch axis."""
    return tuple(range(1, np.ndim(x)))


def batch_axis(axis, x):
    """An axis of one example as an axis of the batch (None: every axis of one example)."""
    if axis is None:
        return example_axes(x)
    if isinstance(axis, (tuple, list)):
        out = []
        for k in axis:
            out.append(batch_axis(k, x))
        return tuple(out)
    if axis < 0:
        return axis
    return axis + 1


def batch_permutation(axes):
    """A permutation of one example's axes as a permutation of the batch's."""
    out = [0]
    for k in axes:
        out.append(k if k < 0 else k + 1)
    return tuple(out)


def example_transpose(x):
    """The permutation reversing one example's axes, the batch axis kept first."""
    return (0,) + tuple(range(np.ndim(x) - 1, 0, -1))


def batch_shape(size, shape):
    """A reshape target for one example as one for the batch."""
    if isinstance(shape, (tuple, list)):
        return (size,) + tuple(shape)
    return (size, shape)


def example_shape(x):
    """The shape of one example of a batched value."""
    if isinstance(x, (tuple, list)):
        return (len(x),) + np.shape(x[0])[1:] if len(x) else (0,)
    return np.shape(x)[1:]


def example_len(x):
    """`len` of one example: a container's length, or the second axis of a batched array."""
    if isinstance(x, (tuple, list, dict)):
        return len(x)
    return np.shape(x)[1]


def example_size(x):
    """`np.size` of one example of a batched array."""
    count = 1
    for n in np.shape(x)[1:]:
        count = count * n
    return count


def example_tree_size(tree):
    """How many numbers one example of a batched tree holds."""
    if tree is None:
        return 0
    if isinstance(tree, (tuple, list)):
        total = 0
        for item in tree:
            total = total + example_tree_size(item)
        return total
    if isinstance(tree, dict):
        total = 0
        for key in tree:
            total = total + example_tree_size(tree[key])
        return total
    return example_size(tree)


def example_items(x):
    """The items one example iterates over (`a, b = x`): a container's, or a batched array's rows."""
    if isinstance(x, (tuple, list)):
        return x
    return list(np.moveaxis(x, 1, 0))


def take_example(x, i):
    """Example `i` of a batched value (containers leafwise)."""
    if x is None:
        return None
    if isinstance(x, tuple):
        return tuple(take_example(list(x), i))
    if isinstance(x, list):
        items = []
        for item in x:
            items.append(take_example(item, i))
        return items
    if isinstance(x, dict):
        out = {}
        for key in x:
            out[key] = take_example(x[key], i)
        return out
    return x[i]


def stack_examples(items):
    """The per-example results of a loop over the batch, stacked along a new first axis."""
    first = items[0] if len(items) else None
    if first is None:
        return None
    if isinstance(first, (tuple, list)):
        out = []
        for k in range(len(first)):
            column = []
            for item in items:
                column.append(item[k])
            out.append(stack_examples(column))
        return tuple(out) if isinstance(first, tuple) else out
    if isinstance(first, dict):
        out = {}
        for key in first:
            column = []
            for item in items:
                column.append(item[key])
            out[key] = stack_examples(column)
        return out
    return np.stack(items)


def select_batched(condition, x, y):
    """Per example, `x` where `condition` holds, else `y` (x and y batched, containers leafwise)."""
    if x is None:
        return y
    if y is None:
        return x
    if isinstance(x, tuple):
        return tuple(select_batched(condition, list(x), list(y)))
    if isinstance(x, list):
        items = []
        for k in range(len(x)):
            items.append(select_batched(condition, x[k], y[k]))
        return items
    if isinstance(x, dict):
        out = {}
        for key in x:
            out[key] = select_batched(condition, x[key], y[key])
        return out
    mask = match_rank(condition, max(np.ndim(x), np.ndim(y)))
    return np.where(mask, x, y)


def _vector(x):
    return np.expand_dims(x, -1)


def batch_matmul(x, y):
    """Per-example `x @ y`; each operand has a leading batch axis of the batch size or 1 (shared)."""
    x_ndim = np.ndim(x)
    y_ndim = np.ndim(y)
    if np.shape(y)[0] == 1 and y_ndim <= 3:
        return np.matmul(x, y[0])                    # a shared vector or matrix: one big product
    if np.shape(x)[0] == 1 and x_ndim <= 3 and y_ndim >= 3:
        return np.matmul(x[0], match_rank(y, x_ndim))
    if x_ndim == 2 and y_ndim == 2:
        return np.einsum("bi,bi->b", x, y)
    if x_ndim == 2:                                  # examples of x are vectors
        rows = match_rank(np.expand_dims(x, -2), y_ndim)
        return np.matmul(rows, y)[..., 0, :]
    if y_ndim == 2:                                  # examples of y are vectors
        columns = match_rank(_vector(y), x_ndim)
        return np.matmul(x, columns)[..., 0]
    rank = max(x_ndim, y_ndim)
    return np.matmul(match_rank(x, rank), match_rank(y, rank))


def batch_dot(a, b):
    """Per-example `np.dot(a, b)` (leading batch axis of the batch size or 1 on each)."""
    if np.ndim(a) == 1 or np.ndim(b) == 1:          # a scalar example multiplies
        rank = max(np.ndim(a), np.ndim(b))
        return match_rank(a, rank) * match_rank(b, rank)
    if np.ndim(b) <= 3:
        return batch_matmul(a, b)
    return batch_tensordot(a, b, ([-1], [-2]))


def batch_inner(a, b):
    """Per-example `np.inner(a, b)`: a product over the last axes (a scalar example multiplies)."""
    if np.ndim(a) == 1 or np.ndim(b) == 1:
        rank = max(np.ndim(a), np.ndim(b))
        return match_rank(a, rank) * match_rank(b, rank)
    return batch_tensordot(a, b, ([-1], [-1]))


def batch_outer(a, b):
    """Per-example `np.outer(a, b)` of the flattened examples."""
    flat_a = np.reshape(a, (np.shape(a)[0], -1))
    flat_b = np.reshape(b, (np.shape(b)[0], -1))
    return np.einsum("bi,bj->bij", flat_a, flat_b)


def batch_vdot(a, b):
    """Per-example `np.vdot(a, b)` (real arrays)."""
    flat_a = np.reshape(a, (np.shape(a)[0], -1))
    flat_b = np.reshape(b, (np.shape(b)[0], -1))
    return np.einsum("bi,bi->b", flat_a, flat_b)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def batch_tensordot(a, b, axes):
    """Per-example `np.tensordot(a, b, axes)`, written as one einsum over the batch."""
    a_rank = np.ndim(a) - 1
    b_rank = np.ndim(b) - 1
    if isinstance(axes, (int, np.integer)):
        a_axes = list(range(a_rank - axes, a_rank))
        b_axes = list(range(axes))
    else:
        a_axes = [axes[0]] if isinstance(axes[0], (int, np.integer)) else list(axes[0])
        b_axes = [axes[1]] if isinstance(axes[1], (int, np.integer)) else list(axes[1])
    a_axes = [k % a_rank for k in a_axes]
    b_axes = [k % b_rank for k in b_axes]
    a_terms = _LETTERS[1:1 + a_rank]
    b_letters = list(_LETTERS[1 + a_rank:1 + a_rank + b_rank])
    for ka, kb in zip(a_axes, b_axes):
        b_letters[kb] = a_terms[ka]
    b_terms = "".join(b_letters)
    free_a = "".join(a_terms[k] for k in range(a_rank) if k not in a_axes)
    free_b = "".join(b_terms[k] for k in range(b_rank) if k not in b_axes)
    return np.einsum("a" + a_terms + ",a" + b_terms + "->a" + free_a + free_b, a, b)


def batch_solve(a, b):
    """Per-example `np.linalg.solve(a, b)`: b read as a vector when one example of it is 1-d."""
    if np.ndim(b) == 2:
        rank = max(np.ndim(a), 3)
        return np.linalg.solve(match_rank(a, rank), match_rank(_vector(b), rank))[..., 0]
    rank = max(np.ndim(a), np.ndim(b))
    return np.linalg.solve(match_rank(a, rank), match_rank(b, rank))


def batch_einsum_spec(subscripts, batched):
    """An einsum spec for one example turned into one for the batch: a new letter for the batch axis
    on every batched operand and on the output (the implicit output made explicit)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, output = spec.partition("->")
    terms = lhs.split(",")
    letter = "b"
    for candidate in "bzyxwvutsrqponmlkjihgfedcaZYXWVUTSRQPONMLKJIHGFEDCBA":
        if candidate not in spec:
            letter = candidate
            break
    if not arrow:
        letters = lhs.replace(".", "").replace(",", "")
        output = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    new_terms = [letter + t if flag else t for t, flag in zip(terms, batched)]
    return ",".join(new_terms) + "->" + letter + output


def squeeze_examples(x):
    """`np.squeeze` of every example: length-1 axes removed, never the batch axis."""
    axes = tuple(k for k in range(1, np.ndim(x)) if np.shape(x)[k] == 1)
    return np.squeeze(x, axis=axes)


def broadcast_to_examples(t, shape):
    """Every example of batched `t` broadcast to `shape`."""
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    shape = tuple(shape)
    return np.broadcast_to(match_rank(t, len(shape) + 1), (np.shape(t)[0],) + shape)


def tile_examples(A, reps):
    """Per-example `np.tile(A, reps)`."""
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)
    rank = max(len(reps), np.ndim(A) - 1)
    reps = (1,) * (rank + 1 - len(reps)) + reps
    return np.tile(match_rank(A, rank + 1), reps)


def diag_examples(v, k):
    """Per-example `np.diag(v, k)`: a diagonal matrix from a vector, or a matrix's diagonal."""
    if np.ndim(v) == 3:
        return np.diagonal(v, k, axis1=1, axis2=2)
    n = np.shape(v)[1] + abs(k)
    rows = np.arange(np.shape(v)[1]) + max(-k, 0)
    cols = np.arange(np.shape(v)[1]) + max(k, 0)
    out = np.zeros((np.shape(v)[0], n, n), dtype=np.result_type(v))
    return adjoints.index_update(out, (slice(None), rows, cols), v)


def flatten_examples(arrays):
    """Every batched array flattened to (batch, -1), for `np.concatenate(..., axis=None)`."""
    out = []
    for a in arrays:
        out.append(np.reshape(a, (np.shape(a)[0], -1)))
    return out


def hstack_examples(tup):
    """Per-example `np.hstack(tup)`: 1-d examples join on their first axis, others on the second."""
    items = []
    for a in tup:
        items.append(match_rank(a, 2))
    return np.concatenate(items, axis=1 if np.ndim(items[0]) == 2 else 2)


def vstack_examples(tup):
    """Per-example `np.vstack(tup)`: examples made 2-d, then joined on their first axis."""
    items = []
    for a in tup:
        if np.ndim(a) == 1:
            a = np.reshape(a, (np.shape(a)[0], 1, 1))
        elif np.ndim(a) == 2:
            a = np.expand_dims(a, 1)
        items.append(a)
    return np.concatenate(items, axis=1)


def _index_parts(index):
    return index if isinstance(index, tuple) else (index,)


def _advanced(part):
    return isinstance(part, (list, np.ndarray)) and not isinstance(part, (str, bytes))


def _leading_index_axes(parts):
    """How many axes NumPy puts before everything else for `a[(slice(None),) + parts]`: the
    broadcast axes of the advanced indices when a slice separates them from the batch axis."""
    if not any(_advanced(p) for p in parts):
        return 0
    positions = []
    shapes = []
    for k in range(len(parts)):
        p = parts[k]
        if _advanced(p) or isinstance(p, (int, np.integer)):
            positions.append(k)
            if _advanced(p) and np.asarray(p).dtype == np.bool_:
                shapes.append((int(np.count_nonzero(p)),))
            else:
                shapes.append(np.shape(p))
    if positions[-1] - positions[0] + 1 == len(positions):
        return 0
    return len(np.broadcast_shapes(*shapes))


def getitem_batched(a, index):
    """One example's `a[index]` for every example: `a[:, index]` on arrays, `a[index]` on containers."""
    if isinstance(a, (tuple, list, dict)):
        return a[index]
    parts = _index_parts(index)
    out = a[(slice(None),) + parts]
    lead = _leading_index_axes(parts)
    if lead:
        out = np.moveaxis(out, lead, 0)
    return out


def gather(a, index):
    """`a[index]` per example for an unbatched `a` and batched indices (a container's items stacked)."""
    if isinstance(a, (tuple, list, dict)):
        items = []
        for k in index:
            items.append(a[k.item()])
        return stack_examples(items)
    return a[index]


def take_batched(a, index):
    """`a[index]` per example for a batched array and batched integer indices."""
    rows = match_rank(np.arange(np.shape(a)[0]), np.ndim(index))
    return a[rows, index]


def _target_rank(x, parts):
    return np.ndim(x[(slice(None),) + parts])


def index_update_batched(x, index, y):
    """Per-example `index_update(x, index, y)` for batched x and y."""
    if isinstance(x, (tuple, list)):
        return adjoints.index_update(x, index, y)
    parts = _index_parts(index)
    if _leading_index_axes(parts):
        y = np.moveaxis(match_rank(y, _target_rank(x, parts)), 0, _leading_index_axes(parts))
        return adjoints.index_update(x, (slice(None),) + parts, y)
    return adjoints.index_update(x, (slice(None),) + parts, match_rank(y, _target_rank(x, parts)))


def index_add_batched(x, index, y):
    """Per-example `index_add(x, index, y)` for batched x and y (repeated indices accumulate)."""
    parts = _index_parts(index)
    lead = _leading_index_axes(parts)
    y = match_rank(y, _target_rank(x, parts))
    if lead:
        y = np.moveaxis(y, 0, lead)
    return adjoints.index_add(x, (slice(None),) + parts, y)


def dense_shared(g, x, size):
    """Per-example `dense(g, x)` for batched `g` and an unbatched `x`: zeros repeated B times."""
    if g is None:
        return broadcast_batch(adjoints.zeros_like_tree(x), size)
    if isinstance(g, tuple):
        return tuple(dense_shared(list(g), list(x), size))
    if isinstance(g, list):
        items = []
        for k in range(len(g)):
            items.append(dense_shared(g[k], x[k], size))
        return items
    if isinstance(g, dict):
        out = {}
        for key in g:
            out[key] = dense_shared(g[key], x[key], size)
        return out
    return g


def getitem_grad_batched(g, a, index):
    """Per-example `getitem_grad(g, a, index)` for batched g and a."""
    if isinstance(a, (tuple, list, dict)):
        return adjoints.container_grad_at(g, a, index)
    zeros = np.zeros(np.shape(a), dtype=np.result_type(g, a))
    return index_add_batched(zeros, index, g)


def getitem_grad_shared(g, a, index):
    """Per-example `getitem_grad(g, a, index)` for batched g and an unbatched a."""
    size = batch_size_of(g)
    if isinstance(a, (tuple, list, dict)):
        return adjoints.container_grad_at(g, a, index)       # None (zero) for the other items
    zeros = np.zeros((size,) + np.shape(a), dtype=np.result_type(g, a))
    return index_add_batched(zeros, index, g)


def add_tree_batched(a, b):
    """Per-example `add_tree(a, b)` for batched a and b (leaves of one example may differ in rank)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, tuple):
        return tuple(add_tree_batched(list(a), list(b)))
    if isinstance(a, list):
        items = []
        for k in range(len(a)):
            items.append(add_tree_batched(a[k], b[k]))
        return items
    if isinstance(a, dict):
        out = {}
        for key in a:
            out[key] = add_tree_batched(a[key], b[key])
        return out
    rank = max(np.ndim(a), np.ndim(b))
    return match_rank(a, rank) + match_rank(b, rank)


def scalar_seed_batched(out):
    """The cotangent 1 for every example of a batched scalar output. grad's TypeError for anything
    but a real scalar comes from `scalar_seed` of one example's shape and dtype (a primitive, so
    this helper stays plain Python that s2s can transform again)."""
    example = np.zeros(np.shape(out)[1:], dtype=np.result_type(out))
    return np.full_like(out, adjoints.scalar_seed(example))


def sum_batched(iterable, start):
    """Per-example Python `sum(iterable, start)`."""
    if isinstance(iterable, np.ndarray):
        return np.sum(iterable, axis=1) + start
    total = start
    for item in iterable:
        rank = max(np.ndim(total), np.ndim(item))
        if np.ndim(total) == 0:
            total = total + item
        else:
            total = match_rank(total, rank) + match_rank(item, rank)
    return total


def asarray_batched(items, dtype):
    """Per-example `np.asarray(items, dtype)`: a batched container's leaves stacked on axis 1."""
    if isinstance(items, (tuple, list)):
        rows = []
        for item in items:
            rows.append(asarray_batched(item, dtype))
        return np.stack(rows, axis=1)
    return np.asarray(items, dtype=dtype)


# -- primitives of the per-example code the batching pass writes ----------------------------------
select_prim = primitive(
    "select", select, "condition, x, y",
    vjp={"x": "out_bar if condition else zeros_like_tree(out_bar)",
         "y": "zeros_like_tree(out_bar) if condition else out_bar"},
    jvp={"x": "x_dot if condition else zeros_like_tree(x_dot)",
         "y": "zeros_like_tree(y_dot) if condition else y_dot"},
    helper=True, result="any", batch=select_rule)
any_active_prim = primitive("any_active", any_active, "active", differentiable=False, helper=True,
                            result="any", batch=any_active_rule)
same_for_all_prim = primitive("same_for_all", same_for_all, "condition", differentiable=False, helper=True,
                              result="any", batch=same_for_all_rule)

HELPER_NAMES = [
    "select", "any_active", "same_for_all", "unshared_write_batched", "match_rank", "broadcast_batch", "move_batch_axes", "move_out_axes",
    "batch_size_of", "example_axes", "batch_axis", "batch_permutation", "example_transpose",
    "batch_shape", "example_shape", "example_len", "example_size", "example_tree_size", "example_items", "take_example",
    "stack_examples", "select_batched", "batch_matmul", "batch_dot", "batch_inner", "batch_outer",
    "batch_vdot", "batch_tensordot", "batch_solve", "batch_einsum_spec", "squeeze_examples",
    "broadcast_to_examples", "tile_examples", "diag_examples", "flatten_examples", "hstack_examples",
    "vstack_examples", "getitem_batched", "gather", "take_batched", "index_update_batched", "index_add_batched",
    "getitem_grad_batched", "getitem_grad_shared", "dense_shared", "add_tree_batched", "scalar_seed_batched",
    "sum_batched", "asarray_batched"]
