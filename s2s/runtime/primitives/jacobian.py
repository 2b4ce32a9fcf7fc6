"""Building Jacobians from one tangent per input element or one cotangent per output element.

`jacfwd` code pushes the basis `unit_tangent(inputs, k)`, k < tree_size(inputs), through jvp and
collects the output tangents, the columns; `jacrev` code pushes `unit_tangent(out, k)` through vjp
and collects the input cotangents, the rows. Both are pytrees; the Jacobian is the pytree of the
output's structure whose leaves are pytrees of the input's structure, each leaf an array of shape
`out_leaf.shape + in_leaf.shape` (JAX's layout). Assembling is linear in the columns (rows), and
its adjoint cuts a Jacobian back into columns (rows), so both have rules and compose.
"""
import numpy as np

from ..pytree import tree_flatten, tree_unflatten
from . import batching
from .core import primitive


def _numeric(leaf):
    return isinstance(leaf, (np.ndarray, np.generic, int, float, complex)) and not isinstance(leaf, (bool, np.bool_))


def _size(leaf):
    return int(np.size(leaf)) if _numeric(leaf) else 0


def _float_dtype(leaf):
    dtype = np.result_type(leaf)
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def tree_size(tree):
    """How many numbers the leaves of `tree` hold."""
    return sum(_size(leaf) for leaf in tree_flatten(tree)[0])


def unit_tangent(tree, k):
    """A tree shaped like `tree`, zero but for a one at element `k` of its flattened leaves."""
    leaves, treedef = tree_flatten(tree)
    out = []
    for leaf in leaves:
        n = _size(leaf)
        if not _numeric(leaf):
            out.append(None)
            k -= n
            continue
        dtype = _float_dtype(leaf)
        unit = np.zeros(np.shape(leaf), dtype=dtype)
        if 0 <= k < n:
            unit.reshape(-1)[k] = 1
        out.append(unit if isinstance(leaf, np.ndarray) else unit[()])
        k -= n
    return tree_unflatten(treedef, out)


def _flat(leaf, shape):
    """A leaf as an array of `shape` (None, a zero tangent or cotangent, becomes zeros)."""
    if leaf is None:
        return np.zeros(shape)
    return np.reshape(leaf, shape)


def _shapes(tree):
    leaves, treedef = tree_flatten(tree)
    return [np.shape(leaf) if _numeric(leaf) else (0,) for leaf in leaves], treedef


def _offsets(shapes):
    offsets, start = [], 0
    for shape in shapes:
        offsets.append(start)
        start += int(np.prod(shape, dtype=int))
    return offsets


def _assemble(blocks, out_def, in_def):
    """The Jacobian tree from blocks[o][i] (output leaf o, input leaf i)."""
    return tree_unflatten(out_def, [tree_unflatten(in_def, row) for row in blocks])


def _blocks(jacobian, out_def, in_def):
    """blocks[o][i] of a Jacobian tree (None where a whole part is zero)."""
    if jacobian is None:
        return [[None] * in_def.num_leaves for _ in range(out_def.num_leaves)]
    parts = _leaves_as(jacobian, out_def)
    return [_leaves_as(part, in_def) for part in parts]


def _leaves_as(tree, treedef):
    """The leaves of `tree` taken at the leaf positions of `treedef` (None subtrees stay None)."""
    if treedef.kind == "leaf":
        return [tree]
    if treedef.kind == "none" or tree is None:
        return [None] * treedef.num_leaves
    children = [tree[k] for k in treedef.keys] if treedef.kind == "dict" else list(tree)
    return [leaf for child, sub in zip(children, treedef.children) for leaf in _leaves_as(child, sub)]


def jacobian_from_columns(columns, outputs, inputs):
    """The Jacobian whose column k (the tangent of `outputs` along input element k) is `columns[k]`."""
    out_shapes, out_def = _shapes(outputs)
    in_shapes, in_def = _shapes(inputs)
    n = sum(int(np.prod(s, dtype=int)) for s in in_shapes)
    offsets = _offsets(in_shapes)
    column_leaves = [_leaves_as(c, out_def) for c in columns]
    blocks = []
    for o, out_shape in enumerate(out_shapes):
        parts = [_flat(leaves[o], out_shape) for leaves in column_leaves]
        stacked = np.stack(parts, axis=-1) if parts else np.zeros(out_shape + (n,))
        blocks.append([np.reshape(stacked[..., start:start + int(np.prod(in_shape, dtype=int))],
                                  out_shape + in_shape)
                       for start, in_shape in zip(offsets, in_shapes)])
    return _assemble(blocks, out_def, in_def)


def columns_of_jacobian(jacobian, outputs, inputs):
    """The columns of a Jacobian laid out as `jacobian_from_columns` builds it, as a list."""
    out_shapes, out_def = _shapes(outputs)
    in_shapes, in_def = _shapes(inputs)
    blocks = _blocks(jacobian, out_def, in_def)
    joined = []
    for o, out_shape in enumerate(out_shapes):
        pieces = [_flat(blocks[o][i], out_shape + (int(np.prod(s, dtype=int)),)) for i, s in enumerate(in_shapes)]
        joined.append(np.concatenate(pieces, axis=-1) if pieces else np.zeros(out_shape + (0,)))
    n = sum(int(np.prod(s, dtype=int)) for s in in_shapes)
    return [tree_unflatten(out_def, [j[..., k] for j in joined]) for k in range(n)]


def jacobian_from_rows(rows, outputs, inputs):
    """The Jacobian whose row k (the cotangent of `inputs` for output element k) is `rows[k]`."""
    out_shapes, out_def = _shapes(outputs)
    in_shapes, in_def = _shapes(inputs)
    row_leaves = [_leaves_as(r, in_def) for r in rows]
    blocks = []
    for start, out_shape in zip(_offsets(out_shapes), out_shapes):
        size = int(np.prod(out_shape, dtype=int))
        block = []
        for i, in_shape in enumerate(in_shapes):
            parts = [_flat(leaves[i], in_shape) for leaves in row_leaves[start:start + size]]
            stacked = np.stack(parts) if parts else np.zeros((0,) + in_shape)
            block.append(np.reshape(stacked, out_shape + in_shape))
        blocks.append(block)
    return _assemble(blocks, out_def, in_def)


def rows_of_jacobian(jacobian, outputs, inputs):
    """The rows of a Jacobian laid out as `jacobian_from_rows` builds it, as a list."""
    out_shapes, out_def = _shapes(outputs)
    in_shapes, in_def = _shapes(inputs)
    blocks = _blocks(jacobian, out_def, in_def)
    rows = []
    for o, out_shape in enumerate(out_shapes):
        size = int(np.prod(out_shape, dtype=int))
        flat = [_flat(blocks[o][i], (size,) + s) for i, s in enumerate(in_shapes)]
        rows += [tree_unflatten(in_def, [f[k] for f in flat]) for k in range(size)]
    return rows


def unshared(tree):
    """`tree` with every list in it copied, arrays shared: a backward sweep pops the tapes of the
    saved values it is given, and the original must stay whole for the next one."""
    if isinstance(tree, list):
        return [unshared(v) for v in tree]
    if isinstance(tree, tuple):
        return tuple(unshared(v) for v in tree)
    if isinstance(tree, dict):
        return {k: unshared(v) for k, v in tree.items()}
    return tree


tree_size_prim = primitive("tree_size", tree_size, "tree", differentiable=False, helper=True, result="any", batch=batching.tree_size)
unit_tangent_prim = primitive("unit_tangent", unit_tangent, "tree, k", differentiable=False, helper=True,
                              result="any", batch=batching.per_example)

# Assembling is linear in the columns (rows); cutting a Jacobian back up is its adjoint.
jacobian_from_columns_prim = primitive(
    "jacobian_from_columns", jacobian_from_columns, "columns, outputs, inputs",
    vjp={"columns": "columns_of_jacobian(out_bar, outputs, inputs)"},
    jvp={"columns": "jacobian_from_columns(columns_dot, outputs, inputs)"}, helper=True, result="tree", batch=batching.per_example)
columns_of_jacobian_prim = primitive(
    "columns_of_jacobian", columns_of_jacobian, "jacobian, outputs, inputs",
    vjp={"jacobian": "jacobian_from_columns(out_bar, outputs, inputs)"},
    jvp={"jacobian": "columns_of_jacobian(jacobian_dot, outputs, inputs)"}, helper=True, result="tree", batch=batching.per_example)
jacobian_from_rows_prim = primitive(
    "jacobian_from_rows", jacobian_from_rows, "rows, outputs, inputs",
    vjp={"rows": "rows_of_jacobian(out_bar, outputs, inputs)"},
    jvp={"rows": "jacobian_from_rows(rows_dot, outputs, inputs)"}, helper=True, result="tree", batch=batching.per_example)
rows_of_jacobian_prim = primitive(
    "rows_of_jacobian", rows_of_jacobian, "jacobian, outputs, inputs",
    vjp={"jacobian": "jacobian_from_rows(out_bar, outputs, inputs)"},
    jvp={"jacobian": "rows_of_jacobian(jacobian_dot, outputs, inputs)"}, helper=True, result="tree", batch=batching.per_example)

unshared_prim = primitive("unshared", unshared, "tree", vjp={"tree": "out_bar"}, jvp={"tree": "unshared(tree_dot)"},
                          helper=True, result="tree", batch=batching.passthrough)

# Names the templates above (and emitted Jacobian code) call.
HELPERS = {f.__name__: f for f in (tree_size, unit_tangent, jacobian_from_columns, columns_of_jacobian,
                                   jacobian_from_rows, rows_of_jacobian, unshared)}
