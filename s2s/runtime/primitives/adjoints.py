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


def power_dx(x, y):
    """d(x ** y) / dx = y * x ** (y - 1), and 0 where y == 0 (x ** 0 is 1 for every x, 0 included)."""
    if np.ndim(y) == 0:
        if y == 0:
            return 0.0 * x
        return y * np.power(x, y - 1)
    safe = np.where(y == 0, 1.0, x)
    return np.where(y == 0, 0.0, y * np.power(safe, y - 1))


def power_dy(out, x):
    """d(x ** y) / dy = log(x) * x ** y, and 0 where x == 0 (as JAX has it)."""
    if np.ndim(x) == 0:
        if x == 0:
            return 0.0 * out
        return out * np.log(x)
    return out * np.log(np.where(x == 0, 1.0, x))


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


def unshared_write(x, message):
    """Before `acc += v` where another name may hold acc's object (and before every other `op=`
    on those names, so a 0-d array NumPy keeps through `+=` is caught where it is still one):
    a number is a new object after `+=`; an array is written in place, seen through the others."""
    if isinstance(x, np.ndarray):
        from ...errors import TransformError
        raise TransformError(message)


def repeat_grad(g, a, repeats, axis):
    """Cotangent of `a` in `np.repeat(a, repeats, axis)`: the copies of each entry summed back."""
    if axis is None:
        index = np.repeat(np.arange(np.size(a)), repeats)
        summed = index_add(np.zeros(np.size(a), dtype=np.result_type(g)), index, g)
        return match_dtype(np.reshape(summed, np.shape(a)), a)
    moved = np.moveaxis(g, axis, 0)
    index = np.repeat(np.arange(np.shape(a)[axis]), repeats)
    summed = index_add(np.zeros_like(np.moveaxis(a, axis, 0), dtype=np.result_type(g)), index, moved)
    return match_dtype(np.moveaxis(summed, 0, axis), a)


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
    out = []
    for i in range(len(operands)):
        out.append(einsum_cotangent(g, subscripts, operands, i))
    return tuple(out)


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


def _half_diagonal_lower(x):
    """The lower triangle of `x` with its diagonal halved (phi of the Cholesky rules)."""
    return np.tril(x, -1) + 0.5 * x * np.eye(np.shape(x)[-1], dtype=np.result_type(x))


def cholesky_tangent(a_dot, out):
    """Tangent of `L = cholesky(a)`: L phi(L^-1 s L^-T), s the symmetric matrix of a_dot's lower triangle."""
    s = np.tril(a_dot) + np.swapaxes(np.tril(a_dot, -1), -1, -2)
    right = np.swapaxes(np.linalg.solve(out, np.swapaxes(s, -1, -2)), -1, -2)     # s L^-T
    return np.matmul(out, _half_diagonal_lower(np.linalg.solve(out, right)))


def cholesky_grad(g, out):
    """Cotangent of `a` in `L = cholesky(a)`: M = L^-T phi(L^T g) L^-1, folded onto the lower
    triangle NumPy reads (an entry below the diagonal stands for itself and its mirror)."""
    lower_t = np.swapaxes(out, -1, -2)
    p = _half_diagonal_lower(np.matmul(lower_t, g))
    right = np.swapaxes(np.linalg.solve(lower_t, np.swapaxes(p, -1, -2)), -1, -2)  # p L^-1
    m = np.linalg.solve(lower_t, right)
    return np.tril(m + np.swapaxes(m, -1, -2), -1) + m * np.eye(np.shape(m)[-1], dtype=np.result_type(m))


def slogdet_grad(g, a):
    """Cotangent of `a` in `(sign, logabsdet) = slogdet(a)`: g_logabsdet inv(a)^T (the sign has none)."""
    if g is None or g[1] is None:
        return np.zeros_like(a)
    scale = np.expand_dims(g[1], (-2, -1))
    return match_dtype(scale * np.swapaxes(np.linalg.inv(a), -1, -2), a)


def slogdet_tangent(a_dot, out, a):
    """Tangent of `slogdet(a)`: (0, trace(solve(a, a_dot)))."""
    return np.zeros_like(out[0]), np.trace(np.linalg.solve(a, a_dot), axis1=-2, axis2=-1)


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


# -- builtins that rebuild containers: tuple list sorted reversed zip enumerate dict --------
def _has_no_derivative(x):
    """Sequences whose entries never carry a derivative: ranges, strings, the keys of a dict."""
    return x is None or isinstance(x, (range, str, bytes, dict))


def sequence_grad(g, x):
    """The cotangent `g` of a sequence built from the entries of `x` (a list or tuple of entry
    cotangents, None for zero), given the form of `x`: a list, a tuple, or an array whose rows
    were the entries. Missing trailing entries are zeros (zip stops at the shortest input)."""
    if _has_no_derivative(x):
        return None
    items = []
    if g is not None:
        for v in g:
            items.append(v)
    if isinstance(x, (list, tuple, np.ndarray)):
        n = len(x)
        items = items[:n]
        while len(items) < n:
            items.append(None)
    if isinstance(x, np.ndarray):
        if len(items) == 0:
            return zeros_like_tree(x)
        rows = []
        for k in range(len(items)):
            rows.append(zeros_like_tree(x[k]) if items[k] is None else items[k])
        return np.stack(rows)
    if isinstance(x, tuple):
        return tuple(items)
    return items


def sequence_zeros(x):
    """Zero tangents, one per entry of `x` (a sequence that is not an iterator)."""
    if isinstance(x, (list, tuple, np.ndarray)):
        out = []
        for k in range(len(x)):
            out.append(zeros_like_tree(x[k]))
        return out
    if isinstance(x, range):
        return [0.0] * len(x)
    raise TypeError("s2s cannot make tangents for the entries of an iterator; pass a list or an array")


def zip_grad(g, iterables):
    """Cotangents of the inputs of `zip(*iterables)` from the cotangent of its pairs."""
    sized = len(iterables) > 0
    for it in iterables:
        sized = sized and isinstance(it, (list, tuple, np.ndarray, range))
    if g is not None and sized:
        shortest = len(iterables[0])
        for it in iterables:
            shortest = min(shortest, len(it))
        if len(g) != shortest:
            raise ValueError("s2s lost track of the entries of a zip (was it made into a dict with repeated "
                             "keys?); build the dict with a loop instead")
    out = []
    for i in range(len(iterables)):
        out.append(sequence_grad(_column(g, i), iterables[i]))
    return tuple(out)


def _column(rows, i):
    """Entry `i` of each row of a cotangent (None for a row that has none; no rows when None)."""
    column = []
    if rows is not None:
        for row in rows:
            column.append(None if row is None else row[i])
    return column


def zip_tangent(tangents, iterables):
    """The tangent of `zip(*iterables)`: a list of tuples of entry tangents."""
    columns = []
    for i in range(len(iterables)):
        columns.append(sequence_zeros(iterables[i]) if tangents[i] is None else tangents[i])
    return list(zip(*columns))


def enumerate_grad(g, args):
    """Cotangents of the arguments of `enumerate(iterable, start)` from that of its (index, entry) pairs."""
    column = _column(g, 1)
    if len(args) > 1:
        return (sequence_grad(column, args[0]), zeros_like_tree(args[1]))
    return (sequence_grad(column, args[0]),)


def enumerate_tangent(tangent, iterable):
    """The tangent of `enumerate(x)`: (0.0, entry tangent) pairs (the index has none)."""
    if tangent is None:
        tangent = sequence_zeros(iterable)
    out = []
    for t in tangent:
        out.append((0.0, t))
    return out


def reversed_grad(g, seq):
    """The cotangent of the input of `reversed(seq)`."""
    items = []
    if g is not None:
        for v in g:
            items.append(v)
    return sequence_grad(items[::-1], seq)


def sorted_order(iterable, options):
    """The positions of the entries of `iterable` in `sorted(iterable, **options)` (stable, like sorted)."""
    if not isinstance(iterable, (list, tuple, np.ndarray)):
        raise TypeError("s2s differentiates sorted() of a list, tuple or array, not of an iterator")
    key = options.get("key")
    items = list(iterable)
    if key is None:
        return sorted(range(len(items)), key=items.__getitem__, reverse=bool(options.get("reverse", False)))
    return sorted(range(len(items)), key=lambda k: key(items[k]), reverse=bool(options.get("reverse", False)))


def sorted_grad(g, iterable, options):
    """The cotangent of the input of `sorted(iterable, **options)`."""
    order = sorted_order(iterable, options)
    items = [None] * len(order)
    if g is not None:
        for j in range(len(order)):
            items[order[j]] = g[j]
    return sequence_grad(items, iterable)


def sorted_tangent(tangent, iterable, options):
    """The tangent of `sorted(iterable, **options)`: the entry tangents in sorted order."""
    order = sorted_order(iterable, options)
    out = []
    for j in range(len(order)):
        out.append(tangent[order[j]])
    return out


def dict_grad(g, mapping):
    """The cotangent of the input of `dict(mapping)`: a dict, or a sequence of (key, value) pairs
    where only the last pair of each key reached the dict."""
    if isinstance(mapping, dict):
        out = {}
        for k in mapping:
            out[k] = None if g is None else g[k]
        return out
    if isinstance(mapping, (list, tuple)):
        items = [None] * len(mapping)
        last = {}
        for j in range(len(mapping)):
            last[mapping[j][0]] = j
        for j in range(len(mapping)):
            k = mapping[j][0]
            if last[k] == j:
                items[j] = (None, None if g is None else g[k])
        return tuple(items) if isinstance(mapping, tuple) else items
    if g is None:       # an iterator (a zip) is used up: its pairs are the dict's, in order
        return None
    pairs = []
    for k in g:
        pairs.append((None, g[k]))
    return pairs


def dict_tangent(tangent, mapping, out):
    """The tangent of `dict(mapping)` given the tangent of `mapping` and the dict it made."""
    if isinstance(tangent, dict):
        return dict(tangent)
    pairs = list(tangent)
    if isinstance(mapping, (list, tuple)):      # the last pair of each key is the one kept
        result = {}
        for k in out:
            result[k] = None
        for j in range(len(mapping)):
            result[mapping[j][0]] = pairs[j][1]
        return result
    if len(pairs) != len(out):
        raise ValueError("s2s cannot follow the tangent of dict() of pairs with repeated keys; "
                         "build the dict with a loop instead")
    result = {}
    for j, k in enumerate(out):
        result[k] = pairs[j][1]
    return result


def dict_values_grad(g, d):
    """The cotangent of `d` in `d.values()` (and `list(d.values())`)."""
    out = {}
    for j, k in enumerate(d):
        out[k] = None if g is None else g[j]
    return out


def dict_items_grad(g, d):
    """The cotangent of `d` in `d.items()`: the value part of each (key, value) pair."""
    return dict_values_grad(None if g is None else _column(g, 1), d)


def dict_get_grad(g, d, key):
    """The cotangent of `d` in `d.get(key, default)`."""
    out = {}
    for k in d:
        out[k] = g if k == key else None
    return out


def dict_get_default_grad(g, d, key, default):
    """The cotangent of `default` in `d.get(key, default)`: all of `g` when the key is missing."""
    if key in d:
        return zeros_like_tree(default)
    return g


def dict_get_tangent(tangent, d, key, default):
    """The tangent of `d.get(key, default)` from the tangent of `d`."""
    if key in d:
        return tangent[key]
    return zeros_like_tree(default)


def dict_get_default_tangent(tangent, d, key):
    """The tangent of `d.get(key, default)` from the tangent of `default`."""
    if key in d:
        return zeros_like_tree(d[key])
    return tangent


# -- constant-filled and evenly spaced arrays: full full_like linspace arange ---------------
def _bound(names, args, options):
    """The arguments of a NumPy creation call by parameter name (positional ones first)."""
    values = {}
    for k in range(len(args)):
        values[names[k]] = args[k]
    for name in options:
        values[name] = options[name]
    return values


_FULL = ("shape", "fill_value", "dtype")
_FULL_LIKE = ("a", "fill_value", "dtype")
_LINSPACE = ("start", "stop", "num", "endpoint", "retstep", "dtype", "axis")
_ARANGE = ("start", "stop", "step", "dtype")


def _zeros_of_each(args):
    """Zero cotangents, one per argument (an argument that only sets a shape gets zeros too)."""
    out = []
    for a in args:
        out.append(zeros_like_tree(a))
    return out


def _inexact(out):
    return np.issubdtype(np.result_type(out), np.inexact)


def full_grad(g, args, options, like):
    """Cotangents of the positional arguments of `np.full(shape, fill_value)` (`like`: full_like)."""
    values = _bound(_FULL_LIKE if like else _FULL, args, options)
    fill = values.get("fill_value")
    out = _zeros_of_each(args)
    if len(args) > 1 and _inexact(g):
        out[1] = unbroadcast(g, fill)
    return tuple(out)


def full_tangent(tangents, args, options, out, like):
    """The tangent of `np.full(shape, fill_value)` (`like`: full_like) from its arguments' tangents."""
    if len(tangents) < 2 or tangents[1] is None or not _inexact(out):
        return zeros_like_tree(out)
    return match_dtype(broadcast_like(tangents[1], out), out)


def _linspace_weights(values, out):
    """(weight of start, weight of stop) broadcast against `out`: out = start * (1 - t) + stop * t."""
    num = values.get("num", 50)
    endpoint = values.get("endpoint", True)
    axis = values.get("axis", 0)
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    shape = [1] * np.ndim(out)
    shape[axis] = num
    t = np.reshape(t, shape)
    return 1.0 - t, t


def linspace_grad(g, args, options, out):
    """Cotangents of the positional arguments of `np.linspace(start, stop, ...)`."""
    values = _bound(_LINSPACE, args, options)
    if values.get("retstep", False):
        raise ValueError("s2s differentiates np.linspace without retstep=True")
    result = _zeros_of_each(args)
    if not _inexact(out):
        return tuple(result)
    w_start, w_stop = _linspace_weights(values, out)
    axis = values.get("axis", 0) % np.ndim(out)
    result[0] = unbroadcast(np.sum(g * w_start, axis=axis), values["start"])
    if len(args) > 1:
        result[1] = unbroadcast(np.sum(g * w_stop, axis=axis), values["stop"])
    return tuple(result)


def linspace_tangent(tangents, args, options, out):
    """The tangent of `np.linspace(start, stop, ...)` from the tangents of start and stop."""
    values = _bound(_LINSPACE, args, options)
    if values.get("retstep", False):
        raise ValueError("s2s differentiates np.linspace without retstep=True")
    if not _inexact(out):
        return zeros_like_tree(out)
    w_start, w_stop = _linspace_weights(values, out)
    axis = values.get("axis", 0) % np.ndim(out)
    total = zeros_like_tree(out)
    ends = np.shape(np.sum(total, axis=axis))        # the broadcast shape of start and stop
    if len(tangents) > 0 and tangents[0] is not None:
        total = total + np.expand_dims(np.broadcast_to(tangents[0], ends), axis) * w_start
    if len(tangents) > 1 and tangents[1] is not None:
        total = total + np.expand_dims(np.broadcast_to(tangents[1], ends), axis) * w_stop
    return match_dtype(total, out)


def _arange_roles(args, options):
    """{role: position} of the positional arguments of np.arange: one argument is the stop."""
    if len(args) == 1 and "stop" not in options:
        return {"stop": 0}
    return {name: k for k, name in enumerate(_ARANGE[:len(args)])}


def arange_grad(g, args, options, out):
    """Cotangents of the positional arguments of `np.arange`: out[k] = start + k * step
    (the stop only sets how many entries there are)."""
    result = _zeros_of_each(args)
    if not _inexact(out):
        return tuple(result)
    roles = _arange_roles(args, options)
    if "start" in roles:
        result[roles["start"]] = np.sum(g)
    if "step" in roles:
        result[roles["step"]] = np.sum(g * np.arange(len(out)))
    return tuple(result)


def arange_tangent(tangents, args, options, out):
    """The tangent of `np.arange` from the tangents of its start and step."""
    if not _inexact(out):
        return zeros_like_tree(out)
    roles = _arange_roles(args, options)
    total = zeros_like_tree(out)
    if "start" in roles and tangents[roles["start"]] is not None:
        total = total + tangents[roles["start"]]
    if "step" in roles and tangents[roles["step"]] is not None:
        total = total + tangents[roles["step"]] * np.arange(len(out))
    return match_dtype(total, out)


def c_column(a):
    """One item of `np.c_[...]`: arrays of two or more axes as they are, others as a column."""
    if np.ndim(a) >= 2:
        return a
    return np.reshape(a, (-1, 1))
