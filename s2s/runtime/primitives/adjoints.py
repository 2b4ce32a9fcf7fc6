"""Helper functions that derivative rules call, written as plain NumPy Python.

s2s differentiates these by reading their source, exactly like user functions, so
emitted gradient code can itself be differentiated again (`grad(grad(f))`).
Keep them to the Python subset s2s transforms: no try/except, no in-place writes
into arguments. Functions registered as primitives in `structural.py` (tree and index
helpers) are never transformed; their rules are written there instead.
"""
import numpy as np


_FLOAT_SCALARS = (float, np.float64, np.float32)


def unbroadcast(g, x):
    """Sum `g` down to the shape of `x`, undoing NumPy broadcasting; keep x's float dtype."""
    g_type, x_type = type(g), type(x)
    if g_type is np.ndarray and x_type is np.ndarray:
        if g.shape == x.shape and g.dtype == x.dtype:
            return g                      # the common case: nothing was broadcast
    elif x_type in _FLOAT_SCALARS and g_type in _FLOAT_SCALARS and (
            x_type is g_type or x_type is float or (x_type is np.float64 and g_type is float)):
        return g                          # scalars of the same precision
    x_shape = np.shape(x)
    if np.shape(g) != x_shape:
        extra = np.ndim(g) - len(x_shape)
        if extra > 0:
            g = np.sum(g, axis=tuple(range(extra)))
        g_shape = np.shape(g)
        stretched = tuple(i for i, n in enumerate(x_shape) if n == 1 and g_shape[i] != 1)
        if stretched:
            g = np.sum(g, axis=stretched, keepdims=True)
    return match_dtype(g, x)


def match_dtype(g, x):
    """Cast a cotangent to the floating dtype of its primal (float32 stays float32)."""
    if type(x) is float:
        return g
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        if x.dtype != np.result_type(g) and np.issubdtype(x.dtype, np.floating):
            return np.asarray(g).astype(x.dtype)
    return g


def broadcast_like(t, out):
    """A tangent broadcast to the shape of the result it belongs to."""
    if np.shape(t) == np.shape(out):
        return t
    return np.broadcast_to(t, np.shape(out))


def sum_grad(g, a, axis, keepdims):
    """Spread the cotangent of a reduction back over the reduced axes of `a`."""
    if axis is None:
        return np.ones_like(a) * g
    if not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(a))


def reduced_count(a, axis):
    """How many elements each output of a reduction over `axis` combines."""
    if axis is None:
        return np.size(a)
    axes = axis if isinstance(axis, tuple) else (axis,)
    count = 1
    for ax in axes:
        count = count * np.shape(a)[ax]
    return count


def mean_grad(g, a, axis, keepdims):
    return sum_grad(g, a, axis, keepdims) / reduced_count(a, axis)


def extremum_weights(out, a, axis, keepdims):
    """1/k at the k positions that attain a max/min, 0 elsewhere (ties share equally)."""
    if axis is not None and not keepdims:
        out = np.expand_dims(out, axis)
    hit = a == out
    ties = np.sum(hit, axis=axis, keepdims=True)
    return np.asarray(hit / ties, dtype=np.result_type(a))


def extremum_grad(g, out, a, axis, keepdims):
    weights = np.asarray(extremum_weights(out, a, axis, keepdims), dtype=np.result_type(g))
    return sum_grad(g, a, axis, keepdims) * weights


def prod_grad(g, out, a, axis, keepdims):
    """d prod / d a_i = prod / a_i (assumes no zeros in `a`)."""
    if axis is not None and not keepdims:
        out = np.expand_dims(out, axis)
    return sum_grad(g, a, axis, keepdims) * out / a


def matmul_grad_left(g, x, y):
    """Cotangent of `x` in `x @ y`."""
    x_ndim, y_ndim = np.ndim(x), np.ndim(y)
    if x_ndim == 2 and y_ndim == 2:
        return match_dtype(g @ y.T, x)
    if x_ndim == 2 and y_ndim == 1:
        return match_dtype(np.outer(g, y), x)
    if np.ndim(x) == 1 and np.ndim(y) == 1:
        return g * y
    if np.ndim(y) == 1:
        return unbroadcast(np.expand_dims(g, -1) * y, x)
    if np.ndim(x) == 1:
        return unbroadcast(np.matmul(y, np.expand_dims(g, -1))[..., 0], x)
    return unbroadcast(np.matmul(g, np.swapaxes(y, -1, -2)), x)


def matmul_grad_right(g, x, y):
    """Cotangent of `y` in `x @ y`."""
    x_ndim, y_ndim = np.ndim(x), np.ndim(y)
    if x_ndim == 2 and (y_ndim == 2 or y_ndim == 1):
        return match_dtype(x.T @ g, y)
    if np.ndim(x) == 1 and np.ndim(y) == 1:
        return g * x
    if np.ndim(x) == 1 and np.ndim(g) == 1:
        return match_dtype(np.outer(x, g), y)
    if np.ndim(x) == 1:
        return unbroadcast(np.expand_dims(x, -1) * np.expand_dims(g, -2), y)
    if np.ndim(y) == 1:
        return unbroadcast(np.matmul(np.expand_dims(g, -2), x)[..., 0, :], y)
    return unbroadcast(np.matmul(np.swapaxes(x, -1, -2), g), y)


def dot_grad_left(g, a, b):
    """Cotangent of `a` in `np.dot(a, b)` (a scalar operand multiplies)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    if np.ndim(b) > 2:      # np.dot sums the last axis of a with the second-last of b
        return tensordot_grad_left(g, a, b, ([-1], [-2]))
    return matmul_grad_left(g, a, b)


def dot_grad_right(g, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    if np.ndim(b) > 2:
        return tensordot_grad_right(g, a, b, ([-1], [-2]))
    return matmul_grad_right(g, a, b)


def transpose_grad(g, axes):
    """Undo `np.transpose(a, axes)`."""
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort(axes))


def getitem_grad(g, a, index):
    """Cotangent of `a` in `a[index]`: `g` scattered into zeros shaped like `a`."""
    if isinstance(a, (list, tuple, dict)):
        return container_grad_at(g, a, index)
    return index_add(np.zeros_like(a, dtype=np.result_type(g, a)), index, g)


def index_update(x, index, y):
    """A copy of `x` with `x[index] = y` (lists and tuples too)."""
    if isinstance(x, np.ndarray):
        x = x.copy()
        x[index] = y
        return x
    if isinstance(x, tuple):
        items = list(x)
        items[index] = y
        return tuple(items)
    items = x.copy()
    items[index] = y
    return items


def index_add(x, index, y):
    """A copy of `x` with `y` added at `index`; repeated integer indices accumulate."""
    x = np.array(x, dtype=np.result_type(x, y), copy=True)
    if has_array_index(index):
        np.add.at(x, index, y)
    else:
        x[index] = x[index] + y
    return x


def has_array_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, (list, np.ndarray)):
            return True
    return False


def container_grad_at(g, container, key):
    """A container of cotangents shaped like `container`: `g` at `key`, None (zero) elsewhere."""
    if isinstance(key, slice):
        zeros = [None] * len(container)
        zeros[key] = g
        return tuple(zeros) if isinstance(container, tuple) else zeros
    if isinstance(container, dict):
        return {k: (g if k == key else None) for k in container}
    n = len(container)
    position = key % n
    items = [g if i == position else None for i in range(n)]
    return tuple(items) if isinstance(container, tuple) else items


def zeros_like_tree(x):
    """Zeros with the structure of `x`: arrays become zero arrays, containers recurse."""
    if isinstance(x, (list, tuple)):
        items = [zeros_like_tree(v) for v in x]
        return tuple(items) if isinstance(x, tuple) else items
    if isinstance(x, dict):
        return {k: zeros_like_tree(v) for k, v in x.items()}
    if x is None or isinstance(x, (bool, str)) or callable(x):
        return None
    if isinstance(x, (int, np.integer)) or (isinstance(x, np.ndarray) and not np.issubdtype(x.dtype, np.inexact)):
        return np.zeros(np.shape(x), dtype=np.float64) if np.ndim(x) else 0.0
    return np.zeros_like(x)


def add_tree(a, b):
    """Sum of two cotangents that may be containers (tuples, lists, dicts) or None."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (list, tuple)):
        items = [add_tree(u, v) for u, v in zip(a, b)]
        return tuple(items) if isinstance(a, tuple) else items
    if isinstance(a, dict):
        return {k: add_tree(a[k], b[k]) for k in a}
    return a + b


def scalar_seed(out):
    """The cotangent 1 for a scalar output; `grad` of anything else is a TypeError."""
    if type(out) is float or type(out) is np.float64:
        return 1.0
    if isinstance(out, (np.ndarray, np.generic)) and out.shape == () and np.issubdtype(out.dtype, np.floating):
        return np.ones((), dtype=out.dtype)[()]
    if isinstance(out, (int, np.integer)) or (isinstance(out, (np.ndarray, np.generic)) and out.shape == ()):
        raise TypeError(f"grad requires a real floating-point scalar output, got {np.result_type(out)}; "
                        "cast the result with float(...) or use a float input")
    raise TypeError(f"grad requires a scalar output, got shape {np.shape(out)}; "
                    "use vjp or jacrev for non-scalar outputs, or reduce with np.sum")


# -- sequences of arrays: concatenate, stack, split ------------------------------------------
def fill_zeros(items, like):
    """`items` with every None (a zero cotangent or an inactive tangent) replaced by zeros like `like`."""
    return [zeros_like_tree(like[i]) if items[i] is None else items[i] for i in range(len(like))]


def _pieces(g, shapes, axis):
    """Cut `g` along `axis` into consecutive pieces of the given joined shapes."""
    pieces = []
    start = 0
    for shape in shapes:
        stop = start + shape[axis]
        index = (slice(None),) * (axis % np.ndim(g)) + (slice(start, stop),)
        pieces.append(g[index])
        start = stop
    return pieces


def concatenate_grad(g, arrays, axis):
    """Cotangents of the inputs of `np.concatenate(arrays, axis)`: `g` cut back into pieces."""
    if axis is None:
        sizes = [(int(np.size(a)),) for a in arrays]
        pieces = _pieces(np.ravel(g), sizes, 0)
    else:
        pieces = _pieces(g, [np.shape(a) for a in arrays], axis)
    return tuple(match_dtype(np.reshape(p, np.shape(a)), a) for p, a in zip(pieces, arrays))


def stack_grad(g, arrays, axis):
    """Cotangents of the inputs of `np.stack(arrays, axis)`: the slices of `g` along `axis`."""
    moved = np.moveaxis(g, axis, 0)
    return tuple(match_dtype(moved[i], arrays[i]) for i in range(len(arrays)))


def hstack_grad(g, tup):
    """Cotangents of the inputs of `np.hstack(tup)` (1-d inputs join on axis 0, others on axis 1)."""
    shapes = [np.shape(a) if np.ndim(a) else (1,) for a in tup]
    pieces = _pieces(g, shapes, 0 if len(shapes[0]) == 1 else 1)
    return tuple(match_dtype(np.reshape(p, np.shape(a)), a) for p, a in zip(pieces, tup))


def vstack_grad(g, tup):
    """Cotangents of the inputs of `np.vstack(tup)` (inputs are made 2-d, then join on axis 0)."""
    shapes = [np.shape(a) if np.ndim(a) >= 2 else (1,) + np.shape(a) + (1,) * (1 - np.ndim(a))
              for a in tup]
    pieces = _pieces(g, shapes, 0)
    return tuple(match_dtype(np.reshape(p, np.shape(a)), a) for p, a in zip(pieces, tup))


def tile_grad(g, a, reps):
    """Cotangent of `a` in `np.tile(a, reps)`: the copies summed back onto `a`."""
    reps = tuple(reps) if np.ndim(reps) else (reps,)
    d = max(len(reps), np.ndim(a))
    shape = (1,) * (d - np.ndim(a)) + np.shape(a)
    reps = (1,) * (d - len(reps)) + reps
    split_shape = tuple(n for k in range(d) for n in (reps[k], shape[k]))
    summed = np.sum(np.reshape(g, split_shape), axis=tuple(range(0, 2 * d, 2)))
    return match_dtype(np.reshape(summed, np.shape(a)), a)


def diag_grad(g, v, k):
    """Cotangent of `v` in `np.diag(v, k)`: extract the diagonal back, or put it back in zeros."""
    if np.ndim(v) == 1:
        return np.diag(g, k)
    n = np.shape(g)[0]
    rows = np.arange(n) + max(-k, 0)
    cols = np.arange(n) + max(k, 0)
    return match_dtype(index_add(np.zeros(np.shape(v), dtype=np.result_type(g)), (rows, cols), g), v)


def trace_grad(g, a, offset, axis1, axis2):
    """Cotangent of `a` in `np.trace(a, offset, axis1, axis2)`: `g` spread on that diagonal."""
    shape = np.shape(a)
    mask = np.eye(shape[axis1], shape[axis2], offset, dtype=np.result_type(g, 0.0))
    spread = np.expand_dims(g, (-2, -1)) * mask
    return match_dtype(np.moveaxis(spread, (-2, -1), (axis1, axis2)), a)


# -- products: einsum, tensordot, inner, linalg ----------------------------------------------
def replace_at(items, position, value):
    """A tuple of `items` with the entry at `position` replaced by `value`."""
    return tuple(value if i == position else items[i] for i in range(len(items)))


def einsum_replaced(subscripts, operands, position, value):
    """`np.einsum(subscripts, *operands)` with operand `position` replaced by `value`."""
    return np.einsum(subscripts, *replace_at(operands, position, value))


def einsum_tangent(subscripts, operands, tangents):
    """Tangent of `np.einsum(subscripts, *operands)`: one term per active operand (einsum is multilinear)."""
    total = None
    for i in range(len(operands)):
        if tangents[i] is not None:
            total = add_tree(total, einsum_replaced(subscripts, operands, i, tangents[i]))
    return total


def einsum_grad(g, subscripts, operands):
    """Cotangents of every operand of `np.einsum(subscripts, *operands)`, as a tuple."""
    return tuple(einsum_cotangent(g, subscripts, operands, i) for i in range(len(operands)))


def einsum_cotangent_grad(g, subscripts, operands, position, h):
    """Cotangents of `operands` in <h, einsum_cotangent(g, subscripts, operands, position)>.

    That pairing is <g, einsum with operand `position` replaced by h>, so operand j != position
    gets its einsum cotangent there; operand `position` itself does not enter.
    """
    replaced = replace_at(operands, position, h)
    return tuple(zeros_like_tree(operands[j]) if j == position else
                 einsum_cotangent(g, subscripts, replaced, j) for j in range(len(operands)))


def einsum_cotangent_tangent(g, subscripts, operands, position, tangents):
    """Tangent of `einsum_cotangent(g, subscripts, operands, position)` along the operands."""
    total = zeros_like_tree(operands[position])
    for j in range(len(operands)):
        if j != position and tangents[j] is not None:
            total = total + einsum_cotangent(g, subscripts, replace_at(operands, j, tangents[j]), position)
    return total


def _einsum_terms(subscripts, shapes):
    """Input terms and output term of an einsum spec, `...` spelt out as spare letters."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, output = spec.partition("->")
    inputs = lhs.split(",")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in spec]
    n_ellipsis = max([len(shape) - len(term) + 3 for term, shape in zip(inputs, shapes) if "..." in term],
                     default=0)
    ellipsis = "".join(spare[:n_ellipsis])
    terms = []
    for term, shape in zip(inputs, shapes):
        if "..." in term:
            k = len(shape) - len(term) + 3
            term = term.replace("...", ellipsis[n_ellipsis - k:])
        terms.append(term)
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        letters = lhs.replace(".", "").replace(",", "")
        output = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, output, spare[n_ellipsis:]


def einsum_cotangent(g, subscripts, operands, position):
    """Cotangent of operand `position` of `np.einsum(subscripts, *operands)` for the output cotangent `g`.

    Again an einsum: `g` with the other operands, writing the operand's own indices; an index
    repeated in the operand (a diagonal) goes through an identity matrix, an index only the
    operand has (summed away) through a vector of ones, a broadcast size-1 axis is summed back
    and an axis broadcast against the operand's is spread over it.
    """
    shapes = [np.shape(x) for x in operands]
    terms, output, spare = _einsum_terms(subscripts, shapes)
    sizes = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            sizes[c] = max(sizes.get(c, 1), n)
    dtype = np.result_type(g, 0.0)
    specs = [output] + [terms[j] for j in range(len(operands)) if j != position]
    inputs = [g] + [operands[j] for j in range(len(operands)) if j != position]
    elsewhere = set("".join(specs))
    own = terms[position]
    target = ""
    for c in own:
        if c in target:
            fresh = spare.pop(0)
            specs.append(c + fresh)
            inputs.append(np.eye(sizes[c], dtype=dtype))
            target += fresh
        else:
            target += c
            if c not in elsewhere:
                specs.append(c)
                inputs.append(np.ones(sizes[c], dtype=dtype))
    grad = np.einsum(",".join(specs) + "->" + target, *inputs)
    stretched = tuple(p for p, (c, n) in enumerate(zip(own, shapes[position])) if n == 1 and sizes[c] != 1)
    if stretched:
        grad = np.sum(grad, axis=stretched, keepdims=True)
    if np.shape(grad) != shapes[position]:
        # an axis only other operands' size-1 axes met: every entry along it gets the same
        grad = np.array(np.broadcast_to(grad, shapes[position]))
    return match_dtype(grad, operands[position])


def tensordot_plan(a_ndim, b_ndim, axes, side):
    """Axes for the cotangent of `np.tensordot(a, b, axes)`: (g axes, other operand axes, permutation).

    For side 0 the cotangent of `a` is `transpose(tensordot(g, b, (g axes, b axes)), permutation)`,
    for side 1 that of `b` is `transpose(tensordot(a, g, (a axes, g axes)), permutation)`.
    """
    if isinstance(axes, (int, np.integer)):
        a_axes, b_axes = list(range(a_ndim - axes, a_ndim)), list(range(axes))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    a_axes = [int(k) % a_ndim for k in a_axes]
    b_axes = [int(k) % b_ndim for k in b_axes]
    a_free = [k for k in range(a_ndim) if k not in a_axes]
    b_free = [k for k in range(b_ndim) if k not in b_axes]
    if side == 0:
        # tensordot(g, b) has a's free axes, then b's contracted axes in increasing order.
        g_axes = list(range(len(a_free), len(a_free) + len(b_free)))
        position = {k: p for p, k in enumerate(a_free)}
        for a_k, b_k in zip(a_axes, b_axes):
            position[a_k] = len(a_free) + sorted(b_axes).index(b_k)
        return g_axes, b_free, [position[k] for k in range(a_ndim)]
    # tensordot(a, g) has a's contracted axes in increasing order, then b's free axes.
    g_axes = list(range(len(a_free)))
    position = {k: len(a_axes) + p for p, k in enumerate(b_free)}
    for a_k, b_k in zip(a_axes, b_axes):
        position[b_k] = sorted(a_axes).index(a_k)
    return a_free, g_axes, [position[k] for k in range(b_ndim)]


def tensordot_grad_left(g, a, b, axes):
    """Cotangent of `a` in `np.tensordot(a, b, axes)`."""
    g_axes, b_axes, order = tensordot_plan(np.ndim(a), np.ndim(b), axes, 0)
    return match_dtype(np.transpose(np.tensordot(g, b, axes=(g_axes, b_axes)), order), a)


def tensordot_grad_right(g, a, b, axes):
    """Cotangent of `b` in `np.tensordot(a, b, axes)`."""
    a_axes, g_axes, order = tensordot_plan(np.ndim(a), np.ndim(b), axes, 1)
    return match_dtype(np.transpose(np.tensordot(a, g, axes=(a_axes, g_axes)), order), b)


def inner_grad_left(g, a, b):
    """Cotangent of `a` in `np.inner(a, b)` (a product over the last axes; a scalar multiplies)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    return tensordot_grad_left(g, a, b, (-1, -1))


def inner_grad_right(g, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    return tensordot_grad_right(g, a, b, (-1, -1))


def solve_matrix_or_vector(a, rhs, b):
    """`np.linalg.solve(a, rhs)` where `rhs` is shaped like the solution for right-hand side `b`.

    NumPy reads a right-hand side as a vector only when it is 1-d, so batched vectors are
    solved as one-column matrices.
    """
    if np.ndim(b) == 1 and np.ndim(rhs) > 1:
        return np.squeeze(np.linalg.solve(a, np.expand_dims(rhs, -1)), -1)
    return np.linalg.solve(a, rhs)


def solve_grad_b(g, a, b):
    """Cotangent of `b` in `x = solve(a, b)`: solve(a^T, g), summed over broadcast batch axes."""
    return unbroadcast(solve_matrix_or_vector(np.swapaxes(a, -1, -2), g, b), b)


def solve_grad_a(g, out, a, b):
    """Cotangent of `a` in `x = solve(a, b)`: -solve(a^T, g) x^T."""
    b_bar = solve_matrix_or_vector(np.swapaxes(a, -1, -2), g, b)
    if np.ndim(b) == 1:
        return unbroadcast(-np.expand_dims(b_bar, -1) * np.expand_dims(out, -2), a)
    return unbroadcast(-np.matmul(b_bar, np.swapaxes(out, -1, -2)), a)


def solve_tangent_a(a_dot, out, a, b):
    """Tangent of `x = solve(a, b)` along `a`: -solve(a, a_dot x)."""
    if np.ndim(b) == 1:
        return -solve_matrix_or_vector(a, np.squeeze(np.matmul(a_dot, np.expand_dims(out, -1)), -1), b)
    return -np.linalg.solve(a, np.matmul(a_dot, out))


def det_grad(g, out, a):
    """Cotangent of `a` in `det(a)`: g det(a) inv(a)^T (a must be invertible)."""
    scale = np.expand_dims(g * out, (-2, -1))
    return match_dtype(scale * np.swapaxes(np.linalg.inv(a), -1, -2), a)


def det_tangent(a_dot, out, a):
    """Tangent of `det(a)`: det(a) trace(solve(a, a_dot))."""
    return out * np.trace(np.linalg.solve(a, a_dot), axis1=-2, axis2=-1)


# -- selections: maximum, minimum --------------------------------------------------------------
def max_share(x, y):
    """Share of the derivative of `maximum(x, y)` that goes to `x`: 1, 0, or 1/2 at ties."""
    dtype = np.result_type(x, y, 0.5)
    return np.asarray(x > y, dtype=dtype) + 0.5 * np.asarray(x == y, dtype=dtype)


def min_share(x, y):
    """Share of the derivative of `minimum(x, y)` that goes to `x`: 1, 0, or 1/2 at ties."""
    return max_share(y, x)


# -- special functions -------------------------------------------------------------------------
def logsumexp_weights(out, a, axis, keepdims, b):
    """b exp(a - logsumexp(a, b=b)): how much each term of the sum moves the result."""
    if axis is not None and not keepdims:
        out = np.expand_dims(out, axis)
    weights = np.exp(a - out)
    if b is None:
        return weights
    return weights * b


def logsumexp_grad(g, out, a, axis, keepdims, b):
    """Cotangent of `a` in `scipy.special.logsumexp(a, axis, b)`."""
    return unbroadcast(sum_grad(g, a, axis, keepdims) * logsumexp_weights(out, a, axis, keepdims, b), a)


def logsumexp_grad_b(g, out, a, axis, keepdims, b):
    """Cotangent of `b` in `scipy.special.logsumexp(a, axis, b)`: g exp(a - out)."""
    return unbroadcast(sum_grad(g, a, axis, keepdims) * logsumexp_weights(out, a, axis, keepdims, None), b)


def array_grad(g, a):
    """Cotangent of `a` in `np.array(a)`: a list or tuple of floats gets one back."""
    if isinstance(a, (list, tuple)):
        items = [array_grad(g[k], a[k]) for k in range(len(a))]
        return tuple(items) if isinstance(a, tuple) else items
    return match_dtype(g, a)


def zero_cotangent(x):
    """A zero cotangent for `x`; a container gets None (an unmaterialized zero) per entry."""
    if isinstance(x, (list, tuple)):
        items = [None] * len(x)
        return tuple(items) if isinstance(x, tuple) else items
    if isinstance(x, dict):
        return {k: None for k in x}
    return zeros_like_tree(x)


def dense(g, x):
    """The cotangent `g` of `x` with every None (a zero) replaced by zeros shaped like `x`."""
    if g is None:
        return zeros_like_tree(x)
    if isinstance(g, (list, tuple)) and isinstance(x, (list, tuple)):
        items = [dense(a, b) for a, b in zip(g, x)]
        return tuple(items) if isinstance(g, tuple) else items
    if isinstance(g, dict):
        return {k: dense(g[k], x[k]) for k in g}
    return g


def unit_basis(x):
    """Every unit tangent of `x` at once: the identity shaped (x.size,) + x.shape."""
    n = np.size(x)
    return np.reshape(np.eye(n, dtype=np.result_type(x, 1.0)), (n,) + np.shape(x))


def jacobian_from_batched_columns(columns, out, x):
    """Columns stacked on a leading axis, (x.size,) + out.shape, as a Jacobian out.shape + x.shape."""
    return np.reshape(np.moveaxis(columns, 0, -1), np.shape(out) + np.shape(x))
