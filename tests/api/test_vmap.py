"""vmap against a Python loop over the examples and np.stack: every batching rule, batch axis
0, 1 and -1, unbatched (None) operands, control flow, nesting, per-example gradients, errors."""
import functools
import math

import numpy as np
import pytest
import scipy.special

import corpus
import s2s
from corpus import boolean_ops, elif_chain, nested_while, power, predict, return_in_loop, square, while_loop
from s2s.runtime.primitives.adjoints import index_add

rng = np.random.default_rng(0)
B = 3


# == user functions, one or two per rule ============================================================
# -- elementwise
def binary_ops(x, y):
    return (x + y) * (x - y) / (y * y + 1.0) + x ** 2 - y % 1.5 + x // 2.0


def unary_ops(x):
    return np.exp(-x) + np.tanh(x) + np.sin(x) * np.cos(x) + np.sqrt(np.abs(x)) + scipy.special.expit(x) \
        + np.log1p(x * x) - np.floor(x) + np.round(x, 1) + abs(x) + np.sign(x)


def scalar_times_vector(s, v):
    return s * v + v / (s + 2.0)          # a per-example scalar against a vector


def math_functions(s):
    return math.exp(s) + math.sin(s) * math.sqrt(abs(s) + 1.0) + max(s, 0.5) - min(s, -0.5)


def comparisons(x, y):
    return np.where(x > y, x, y) + (x <= y) * 1.0 + np.logical_and(x > 0, y > 0) * 2.0


def selections(x, y):
    return np.maximum(x, y) + np.minimum(x, 0.1) + np.clip(x, -0.5, 0.5) + np.arctan2(x, y + 2.0)


def clip_arrays(x, lo, hi):
    return np.clip(x, lo, lo + np.abs(hi))


def where_scalar_condition(c, x, y):
    return np.where(c > 0, x, y)


# -- reductions
def reductions(A):
    return (np.sum(A), np.mean(A, axis=0), np.max(A, axis=-1), np.min(A, axis=(0, 1)),
            np.prod(A, axis=1, keepdims=True), A.sum(axis=0), A.mean(), A.max(keepdims=True))


def arg_reductions(A):
    return np.argmax(A), np.argmin(A, axis=0), np.argsort(A), np.any(A > 0, axis=1), np.all(A > -3), \
        np.count_nonzero(A > 0)


def builtin_sum(x, y):
    return sum([x, y, x * y]) + sum(x, 1.0)


def special_functions(x):
    return (scipy.special.logsumexp(x), scipy.special.logsumexp(x, axis=-1, keepdims=True),
            scipy.special.softmax(x, axis=0), scipy.special.log_softmax(x))


def logsumexp_b(a, b):
    return scipy.special.logsumexp(a, axis=0, b=np.abs(b))


# -- products
def matmul(x, y):
    return x @ y


def dot(a, b):
    return np.dot(a, b)


def einsum_mv(A, v):
    return np.einsum("ij,j->i", A, v)


def einsum_implicit(A, B):
    return np.einsum("ij,jk", A, B) + np.einsum("ii", A)


def einsum_ellipsis(A, B):
    return np.einsum("...ij,...jk->...ik", A, B)


def tensordot(A, B):
    return np.tensordot(A, B, axes=1) + np.tensordot(A, B, axes=([1], [0]))


def inner_outer(a, b):
    return np.inner(a, b), np.outer(a, b), np.vdot(a, b)


def linalg(A, b):
    M = A @ A.T + 3.0 * np.eye(3)
    return np.linalg.inv(M), np.linalg.det(M), np.linalg.solve(M, b), np.trace(M)


# -- shapes
def reshapes(A):
    return np.reshape(A, (6,)), A.reshape(3, 2), A.reshape(-1), np.ravel(A), A.flatten(), np.reshape(A, -1)


def transposes(A):
    return A.T, np.transpose(A), np.transpose(A, (1, 0)), A.transpose(1, 0), np.swapaxes(A, 0, 1)


def axes_ops(A):
    return (np.expand_dims(A, 0), np.expand_dims(A, -1), np.squeeze(np.expand_dims(A, 1)),
            np.squeeze(A[:1], axis=0), np.moveaxis(A, 0, -1), np.flip(A), np.flip(A, axis=1))


def broadcasts(v):
    return np.broadcast_to(v, (4, 3)) + np.tile(v, 2).sum() + np.tile(v, (4, 1))


def diagonals(v, A):
    return np.diag(v), np.diag(A), np.diag(v, 1)


def joins(x, y):
    return (np.concatenate([x, y]), np.concatenate((x, y), axis=-1), np.stack([x, y]),
            np.stack([x, y], axis=1), np.hstack([x, y]), np.vstack([x, y]), np.concatenate([x, y], axis=None))


def joins_2d(A, v):
    return np.concatenate([A, A], axis=1), np.hstack([A, A]), np.vstack([A, v]), np.stack([A, A], -1)


def splits(x):
    a, b = np.split(x, 2)
    parts = np.array_split(x, 3)
    return a * b, parts[0], parts[2]


# -- indexing
def indexing(x, i):
    return x[0] + x[1:3].sum() + x[-1] * x[i] + x[np.array([0, 0, 2])].sum()


def indexing_2d(A, j):
    return A[:, 1] + A[0, :] + A[j] + A[1, 2] + A[..., 0] + A[None][0, 0]


def advanced_apart(T, idx):
    return T[0, :, idx]


def gather(W, i):
    return W[i] * 2.0


def local_writes(x):
    n = x.shape[0]
    a = np.zeros(n)
    for k in range(n):
        a[k] = x[k] * x[k] + x[(k + 1) % n]
    a[0] += 1.0
    return a


def adds_at(x, idx):
    return index_add(x, idx, 1.0)


# -- shapes of one example
def shape_queries(A):
    n = A.shape[0]
    m = len(A)
    d = np.ndim(A)
    s = np.size(A) + A.size + A.ndim
    return A * n + m + d + s + np.shape(A)[1]


def shape_in_comprehension(g, x):
    axes = tuple(i for i, n in enumerate(np.shape(x)) if n == 1 and np.shape(g)[i] != 1)
    return np.sum(g, axis=axes, keepdims=True) + x


# -- casts, containers
def casts(s):
    return float(s) + int(s * 3.0) + np.asarray(s * 2.0) + np.array([s, s * 2.0]).sum() + s.astype(np.float32)


def containers(p, x):
    h = p["w"] * x + p["b"]
    pair = (h, x)
    first, second = pair
    return {"out": first + second, "n": x.shape[0]}


def lists(x):
    ys = []
    for k in range(3):
        ys.append(np.sin(x * (k + 1)))
    last = ys.pop()
    return np.stack(ys) + last + sum(ys)


def unpack_rows(A):
    a, b = A
    return a * b


# -- control flow (with elif_chain, while_loop, return_in_loop, nested_while, boolean_ops from the corpus)
def branch_on_vector(x):
    if np.sum(x) > 0:
        y = x * 2.0
        z = 1.0
    else:
        y = x - 1.0
        z = np.sum(x)
    return y * z


def while_break(x):
    i = 0
    while True:
        x = np.sin(x) + x
        i = i + 1
        if x > 2.0:
            break
        if i >= 20:
            break
    return x, i


def for_break(x):
    total = 0.0
    for k in range(6):
        total = total + x * k
        if total > 3.0:
            break
    return total


def last_positive(xs):
    last = 0.0
    for k in range(xs.shape[0]):
        if xs[k] > 0:
            last = xs[k]
    return last


def batched_range(x, n):
    total = 0.0
    for k in range(n):
        total = total + x ** k
    return total


def list_under_condition(x):
    ys = []
    if x > 0:
        ys.append(x)
    ys.append(x * 2.0)
    return ys[0]


# -- user functions (with square, power from the corpus)
def calls_user(x, y):
    return square(np.sin(x)) + square(y) * x


def recursion(x):
    return power(x, 3)


def countdown(x, n):
    if n <= 0:
        return x
    return countdown(x * 1.1, n - 1)


def closure_and_lambda(x):
    scale = 3.0

    def inner(y):
        return y * scale * x

    f = lambda z: z * z + x
    return inner(x) + inner(2.0) + f(x)


cube = functools.partial(power, n=3)


def calls_partial(x):
    return cube(x) + 1.0


def shared_only(x, W):
    n = W.shape[1]
    return np.sum(W) * n + x


# -- networks (with predict from the corpus)
def loss(params, x, y):
    preds = predict(params, x)
    return np.sum((preds - y) ** 2)


def mlp_loss(params, x, y):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.mean((h - y) ** 2)


def distance(a, b):
    return np.sqrt(np.sum((a - b) ** 2))


batched_predict = s2s.vmap(predict, in_axes=(None, 0))


def batch_loss(W, xs):
    return np.sum(np.tanh(batched_predict([(W, np.zeros(W.shape[1]))], xs)))


def tanh_poly(x):
    return np.tanh(x) * x ** 2


# == harness ==========================================================================================
def normal(*shape):
    return lambda: rng.normal(size=shape)


def positive(*shape):
    return lambda: rng.uniform(0.5, 2.0, size=shape)


def ints(high, *shape):
    return lambda: rng.integers(0, high, size=shape) if shape else int(rng.integers(0, high))


def fixed(value):
    return lambda: value


def tree_close(a, b, rtol=1e-9, atol=1e-9):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), (type(a), type(b))
        for u, v in zip(a, b):
            tree_close(u, v, rtol, atol)
    elif isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            tree_close(a[k], b[k], rtol, atol)
    else:
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, (a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def stack_tree(items, axis=0):
    first = items[0]
    if isinstance(first, (tuple, list)):
        return type(first)(stack_tree([it[k] for it in items], axis) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: stack_tree([it[k] for it in items], axis) for k in first}
    return np.stack([np.asarray(it) for it in items], axis=axis)


def run_case(f, gens, mask, axis, out_axes=0, rtol=1e-9):
    examples = []
    for _ in range(B):
        examples.append([g() for g in gens])
    shared = [g() for g in gens]
    per_example = [[ex[k] if mask[k] else shared[k] for k in range(len(gens))] for ex in examples]
    args, in_axes = [], []
    for k in range(len(gens)):
        if mask[k]:
            column = [np.asarray(ex[k]) for ex in examples]
            ax = axis if np.ndim(column[0]) >= 1 or axis == -1 else 0
            args.append(np.stack(column, axis=ax))
            in_axes.append(ax)
        else:
            args.append(shared[k])
            in_axes.append(None)
    expected = stack_tree([f(*ex) for ex in per_example], out_axes)
    got = s2s.vmap(f, in_axes=tuple(in_axes), out_axes=out_axes)(*args)
    tree_close(got, expected, rtol=rtol)
    return got


ALL, FIRST, REST = "all", "first", "rest"
CASES = [
    (binary_ops, [normal(4), positive(4)], [ALL, FIRST, REST]),
    (binary_ops, [normal(), positive(4)], [ALL, FIRST, REST]),
    (unary_ops, [normal(2, 3)], [ALL]),
    (scalar_times_vector, [normal(), normal(3)], [ALL, FIRST, REST]),
    (scalar_times_vector, [normal(2, 1), normal(3)], [ALL, FIRST]),
    (math_functions, [normal()], [ALL]),
    (comparisons, [normal(3), normal(3)], [ALL, FIRST, REST]),
    (selections, [normal(2, 3), normal(3)], [ALL, FIRST, REST]),
    (clip_arrays, [normal(4), normal(4), normal()], [ALL, FIRST, REST]),
    (where_scalar_condition, [normal(), normal(3), normal(2, 3)], [ALL, FIRST, REST]),
    (reductions, [normal(2, 3)], [ALL]),
    (arg_reductions, [normal(3, 4)], [ALL]),
    (builtin_sum, [normal(3), normal(3)], [ALL, FIRST, REST]),
    (special_functions, [normal(2, 3)], [ALL]),
    (logsumexp_b, [normal(3, 2), normal(2)], [ALL, FIRST]),
    (matmul, [normal(3), normal(3, 2)], [ALL, FIRST, REST]),
    (matmul, [normal(2, 3), normal(3)], [ALL, FIRST, REST]),
    (matmul, [normal(2, 3), normal(3, 4)], [ALL, FIRST, REST]),
    (matmul, [normal(3), normal(3)], [ALL, FIRST, REST]),
    (matmul, [normal(3), normal(5, 3, 2)], [ALL, FIRST, REST]),
    (matmul, [normal(2, 2, 3), normal(3, 2)], [ALL, FIRST, REST]),
    (dot, [normal(3), normal(3, 2)], [ALL, FIRST, REST]),
    (dot, [normal(), normal(3)], [ALL, FIRST, REST]),
    (dot, [normal(2, 3), normal(4, 3, 2)], [ALL, FIRST, REST]),
    (einsum_mv, [normal(2, 3), normal(3)], [ALL, FIRST, REST]),
    (einsum_implicit, [normal(3, 3), normal(3, 2)], [ALL, FIRST, REST]),
    (einsum_ellipsis, [normal(2, 2, 3), normal(3, 4)], [ALL, FIRST, REST]),
    (tensordot, [normal(2, 3), normal(3, 4)], [ALL, FIRST, REST]),
    (inner_outer, [normal(3), normal(3)], [ALL, FIRST, REST]),
    (linalg, [normal(3, 3), normal(3)], [ALL, FIRST, REST]),
    (reshapes, [normal(2, 3)], [ALL]),
    (transposes, [normal(2, 3)], [ALL]),
    (axes_ops, [normal(2, 3)], [ALL]),
    (broadcasts, [normal(3)], [ALL]),
    (diagonals, [normal(3), normal(3, 3)], [ALL, FIRST, REST]),
    (joins, [normal(3), normal(3)], [ALL, FIRST, REST]),
    (joins_2d, [normal(2, 3), normal(3)], [ALL, FIRST, REST]),
    (splits, [normal(6)], [ALL]),
    (indexing, [normal(4), ints(4)], [ALL, FIRST, REST]),
    (indexing_2d, [normal(3, 3), ints(3)], [ALL, FIRST, REST]),
    (advanced_apart, [normal(2, 3, 4), ints(4, 2)], [ALL, FIRST, REST]),
    (gather, [normal(5, 2), ints(5)], [ALL, FIRST, REST]),
    (gather, [normal(5, 2), ints(5, 3)], [REST]),
    (local_writes, [normal(4)], [ALL]),
    (adds_at, [normal(4), fixed(np.array([0, 2, 0]))], [FIRST]),
    (shape_queries, [normal(2, 3)], [ALL]),
    (shape_in_comprehension, [normal(2, 3), normal(2, 1)], [ALL, FIRST, REST]),
    (casts, [normal()], [ALL]),
    (lists, [normal(3)], [ALL]),
    (unpack_rows, [normal(2, 3)], [ALL]),
    (elif_chain, [normal()], [ALL]),
    (branch_on_vector, [normal(3)], [ALL]),
    (while_loop, [positive()], [ALL]),
    (while_break, [normal()], [ALL]),
    (for_break, [positive()], [ALL]),
    (last_positive, [normal(5)], [ALL]),
    (batched_range, [normal(), ints(5)], [ALL, FIRST, REST]),
    (return_in_loop, [positive()], [ALL]),
    (nested_while, [positive()], [ALL]),
    (boolean_ops, [normal(3)], [ALL]),
    (list_under_condition, [normal()], [ALL]),
    (calls_user, [normal(3), normal(3)], [ALL, FIRST, REST]),
    (recursion, [normal(2)], [ALL]),
    (countdown, [normal(2), ints(4)], [ALL, FIRST, REST]),
    (closure_and_lambda, [normal(3)], [ALL]),
    (calls_partial, [normal(3)], [ALL]),
    (shared_only, [normal(3), normal(2, 3)], [FIRST]),
    (distance, [normal(3), normal(3)], [ALL, FIRST, REST]),
]


def _masks(n, kinds):
    for kind in kinds:
        if kind == ALL:
            yield kind, (True,) * n
        elif kind == FIRST:
            yield kind, (True,) + (False,) * (n - 1)
        else:
            yield kind, (False,) + (True,) * (n - 1)


PARAMS = [pytest.param(f, gens, mask, id=f"{f.__name__}-{'x'.join(str(np.shape(g())) for g in gens)}-{kind}")
          for f, gens, kinds in CASES for kind, mask in _masks(len(gens), kinds)]


@pytest.mark.parametrize("f, gens, mask", PARAMS)
def test_rule_against_loop(f, gens, mask):
    for axis in (0, 1, -1):
        run_case(f, gens, mask, axis)


def test_dict_argument_with_per_leaf_axes():
    p = {"w": rng.normal(size=(3, B)), "b": rng.normal(size=3)}
    x = rng.normal(size=(B, 3))
    got = s2s.vmap(containers, in_axes=({"w": 1, "b": None}, 0))(p, x)
    expected = [containers({"w": p["w"][:, k], "b": p["b"]}, x[k]) for k in range(B)]
    tree_close(got["out"], np.stack([e["out"] for e in expected]))
    np.testing.assert_array_equal(got["n"], [3] * B)


def test_tuple_argument_with_one_axis():
    params = [(rng.normal(size=(B, 3, 2)), rng.normal(size=(B, 2)))]
    xs = rng.normal(size=(B, 3))
    got = s2s.vmap(predict)(params, xs)
    expected = np.stack([predict([(params[0][0][k], params[0][1][k])], xs[k]) for k in range(B)])
    tree_close(got, expected)


@pytest.mark.parametrize("out_axes", [1, -1, (0, 1)])
def test_out_axes(out_axes):
    x = rng.normal(size=(B, 2, 3))
    got = s2s.vmap(lambda a: (a * 2.0, np.sum(a, axis=0)), out_axes=out_axes)(x)
    axes = out_axes if isinstance(out_axes, tuple) else (out_axes, out_axes)
    tree_close(got[0], np.stack([x[k] * 2.0 for k in range(B)], axis=axes[0]))
    tree_close(got[1], np.stack([np.sum(x[k], axis=0) for k in range(B)], axis=axes[1]))


def test_unbatched_result_is_broadcast():
    W = rng.normal(size=(2, 3))
    got = s2s.vmap(lambda x, W: np.sum(W) * 2.0, in_axes=(0, None))(rng.normal(size=B), W)
    tree_close(got, np.full(B, np.sum(W) * 2.0))


# -- composition ---------------------------------------------------------------------------------------
def test_nested_vmap_pairwise():
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    pairwise = s2s.vmap(s2s.vmap(distance, (0, None)), (None, 0))
    expected = np.array([[distance(a[i], b[j]) for i in range(4)] for j in range(5)])
    tree_close(pairwise(a, b), expected)
    compile(s2s.source(pairwise), "<vmap of vmap>", "exec")


def test_nested_vmap_with_control_flow():
    xs = rng.uniform(0.5, 2.0, size=(2, 3))
    got = s2s.vmap(s2s.vmap(while_loop))(xs)
    tree_close(got, np.vectorize(while_loop)(xs))


def test_vmap_of_a_primitive():
    A = rng.normal(size=(3, 4))
    tree_close(s2s.vmap(np.sum)(A), A.sum(axis=1))
    tree_close(s2s.vmap(np.tanh, in_axes=1)(A), np.tanh(A).T)
    tree_close(s2s.vmap(np.dot, in_axes=(0, None))(A, A[0]), A @ A[0])


def _params(sizes, dtype=np.float64):
    return [((rng.normal(size=(m, n)) / np.sqrt(m)).astype(dtype), rng.normal(size=n).astype(dtype))
            for m, n in zip(sizes[:-1], sizes[1:])]


@pytest.mark.parametrize("fun", [loss, mlp_loss])
def test_per_example_gradients_equal_a_loop_of_grad(fun):
    params = _params([4, 5, 3])
    xs, ys = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    per_example = s2s.vmap(s2s.grad(fun), in_axes=(None, 0, 0))
    expected = stack_tree([s2s.grad(fun)(params, xs[k], ys[k]) for k in range(6)])
    tree_close(per_example(params, xs, ys), expected)


@pytest.mark.parametrize("fun, gens", [(elif_chain, [normal()]), (while_loop, [positive()]),
                                       (for_break, [positive()]), (recursion, [normal()]),
                                       (tanh_poly, [normal()]), (closure_and_lambda, [normal()]),
                                       (lists, [normal()]), (local_writes, [normal(3)])])
def test_per_example_gradients_with_control_flow(fun, gens):
    scalar = (lambda *a: np.sum(fun(*a))) if fun in (lists, local_writes) else fun
    g = s2s.grad(scalar if scalar is fun else _summed[fun])
    run_case(g, gens, (True,) * len(gens), 0)


def test_per_example_gradients_transform_again():
    """The batched seed `vmap(grad(f))` calls is plain Python, so the result can be vmapped and
    differentiated again; a non-scalar output per example is still grad's TypeError."""
    per_example = s2s.vmap(s2s.grad(tanh_poly))
    xs = rng.normal(size=(2, B))
    tree_close(s2s.vmap(per_example)(xs), np.stack([per_example(row) for row in xs]))
    x, step = xs[0], 1e-6
    numeric = np.stack([(per_example(x + step * e) - per_example(x - step * e)) / (2 * step)
                        for e in np.eye(B)], axis=1)
    tree_close(s2s.jacfwd(per_example)(x), numeric, rtol=1e-6, atol=1e-7)
    tree_close(s2s.jacrev(per_example)(x), numeric, rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="scalar output"):
        s2s.vmap(s2s.grad(square))(rng.normal(size=(B, 2)))


def sum_of_lists(x):
    return np.sum(lists(x))


def sum_of_local_writes(x):
    return np.sum(local_writes(x))


_summed = {lists: sum_of_lists, local_writes: sum_of_local_writes}


def test_grad_of_a_function_calling_vmap():
    W, xs = rng.normal(size=(3, 2)), rng.normal(size=(6, 3))
    got = s2s.grad(batch_loss)(W, xs)
    step, numeric = 1e-6, np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        d = np.zeros_like(W)
        d[idx] = step
        numeric[idx] = (batch_loss(W + d, xs) - batch_loss(W - d, xs)) / (2 * step)
    tree_close(got, numeric, rtol=1e-6, atol=1e-7)


X0 = np.array([0.3, -0.2, 0.5])


def push_tangent(t):
    return s2s.jvp(tanh_poly, (X0,), (t,))[1]


def test_vmap_of_jvp_is_the_jacobian():
    tree_close(s2s.vmap(push_tangent)(np.eye(3)), np.diag(np.tanh(X0) * 2 * X0 + (1 - np.tanh(X0) ** 2) * X0 ** 2))
    tangents, primals = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    out, out_dot = s2s.vmap(lambda x, t: s2s.jvp(tanh_poly, (x,), (t,)))(primals, tangents)
    tree_close(out, tanh_poly(primals))
    tree_close(out_dot, np.stack([s2s.jvp(tanh_poly, (primals[k],), (tangents[k],))[1] for k in range(4)]))


def test_per_example_gradients_mlp_measurement(capsys):
    """MLP 64-128-128-10, tanh, batch 128, float32: vmap(grad(loss)) against hand-written einsum.
    Checked here; timed in a fresh process with single-threaded BLAS (multithreaded OpenBLAS on a
    busy machine times thread contention, not the code) and printed, not asserted."""
    import os
    import subprocess
    import sys
    per_example, hand, args = _mlp_per_example_setup()
    for (gw, gb), (ew, eb) in zip(per_example(*args), hand(*args)):
        assert gw.dtype == np.float32 and gb.dtype == np.float32
        tree_close((gw, gb), (ew, eb), rtol=1e-3, atol=1e-4)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys; sys.path[:0] = [{here!r}, {os.path.dirname(here)!r}]; "
            "import test_vmap; test_vmap._mlp_timing()")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    with capsys.disabled():
        print("\n" + (result.stdout.strip() or result.stderr.strip()[-500:]))


def _mlp_per_example_setup():
    sizes = [64, 128, 128, 10]
    state = np.random.default_rng(7)
    params = [((state.normal(size=(m, n)) / np.sqrt(m)).astype(np.float32), np.zeros(n, np.float32))
              for m, n in zip(sizes[:-1], sizes[1:])]
    X = state.normal(size=(128, 64)).astype(np.float32)
    Y = state.normal(size=(128, 10)).astype(np.float32)
    return s2s.vmap(s2s.grad(mlp_regression_loss), in_axes=(None, 0, 0)), per_example_grads_by_hand, (params, X, Y)


def _mlp_timing():
    import timeit
    per_example, hand, args = _mlp_per_example_setup()
    per_example(*args)
    t_s2s = min(timeit.repeat(lambda: per_example(*args), number=20, repeat=5)) / 20
    t_hand = min(timeit.repeat(lambda: hand(*args), number=20, repeat=5)) / 20
    print(f"per-example grads, MLP 64-128-128-10 f32 b128 (1 BLAS thread): vmap(grad(loss)) {t_s2s * 1e3:.2f} ms, "
          f"hand-written einsum {t_hand * 1e3:.2f} ms, ratio {t_s2s / t_hand:.2f}x")


def mlp_regression_loss(params, x, y):
    h = x
    for W, b in params[:-1]:
        h = np.tanh(h @ W + b)
    W, b = params[-1]
    out = h @ W + b
    return np.sum((out - y) ** 2)


def per_example_grads_by_hand(params, X, Y):
    (W1, b1), (W2, b2), (W3, b3) = params
    h1 = np.tanh(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    dout = 2 * (h2 @ W3 + b3 - Y)
    dz2 = (dout @ W3.T) * (1 - h2 * h2)
    dz1 = (dz2 @ W2.T) * (1 - h1 * h1)
    return [(np.einsum("bi,bj->bij", X, dz1), dz1), (np.einsum("bi,bj->bij", h1, dz2), dz2),
            (np.einsum("bi,bj->bij", h2, dout), dout)]


# -- what cannot be vectorized runs one example at a time ----------------------------------------------
def test_recursion_through_a_batched_branch_loops_over_examples():
    x, n = rng.normal(size=(4, 2)), np.array([0, 3, 1, 2])
    vectorized = s2s.vmap(countdown)
    tree_close(vectorized(x, n), np.stack([countdown(x[k], n[k]) for k in range(4)]))
    assert "one example at a time" in s2s.source(vectorized)


def test_list_append_under_a_batched_condition_loops_over_examples():
    vectorized = s2s.vmap(list_under_condition)
    x = rng.normal(size=5)
    tree_close(vectorized(x), np.array([list_under_condition(v) for v in x]))
    assert "one example at a time" in s2s.source(vectorized)


# -- errors --------------------------------------------------------------------------------------------
def test_mismatched_batch_sizes_name_the_arguments():
    with pytest.raises(ValueError, match=r"argument 0 \(x\) has size 3 along axis 0.*argument 1 \(y\) has size 4"):
        s2s.vmap(binary_ops)(rng.normal(size=3), rng.normal(size=4))


def test_in_axes_structure_must_match():
    with pytest.raises(ValueError, match="in_axes has 3 entries"):
        s2s.vmap(binary_ops, in_axes=(0, 0, 0))(rng.normal(size=3), rng.normal(size=3))
    with pytest.raises(ValueError, match="dict with keys"):
        s2s.vmap(containers, in_axes=({"w": 0}, 0))({"w": np.ones(3), "b": np.ones(3)}, np.ones(3))
    with pytest.raises(ValueError, match="tuple of 2 entries"):
        s2s.vmap(predict, in_axes=([(0, 0)], 0))([(np.ones((3, 2, 2)),)], np.ones((3, 2)))


def test_axis_out_of_range():
    with pytest.raises(ValueError, match="in_axes=2 is out of range"):
        s2s.vmap(binary_ops, in_axes=(2, 0))(rng.normal(size=(3, 2)), rng.normal(size=3))
    with pytest.raises(ValueError, match="out of range"):
        s2s.vmap(binary_ops)(1.0, 2.0)


def test_nothing_to_map_and_bad_axes():
    with pytest.raises(ValueError, match="at least one argument"):
        s2s.vmap(binary_ops, in_axes=None)(1.0, 2.0)
    with pytest.raises(TypeError):
        s2s.vmap(binary_ops, in_axes="0")
    with pytest.raises(ValueError, match="out_axes=None"):
        s2s.vmap(square, out_axes=None)(rng.normal(size=3))


def pick(items, k):
    return items[k] * 2.0


def test_batched_index_into_an_unbatched_list():
    items = [rng.normal(size=2) for _ in range(4)]
    ks = np.array([3, 0, 2])
    tree_close(s2s.vmap(pick, in_axes=(None, 0))(items, ks), np.stack([pick(items, k) for k in ks]))


# -- the shared corpus: vmap and per-example grad against loops ----------------------------------------
def _corpus_cases():
    n, p = normal, positive
    params = lambda: [(rng.normal(size=(3, 4)), rng.normal(size=4)), (rng.normal(size=(4, 2)), rng.normal(size=2))]
    return {
        "tanh": [n()], "abs_val": [n()], "sigmoid": [n(3)], "poly": [n()], "uses_aliases": [n()], "chained": [n(3)],
        "broadcasting": [n(3), n(3)], "augmented": [n(3)], "conditional_expression": [n(3)],
        "chained_comparison": [n(3)], "boolean_ops": [n(3)], "elif_chain": [n()], "for_range": [n()],
        "for_over_array": [n(4, 3), n(3)], "for_zip_enumerate": [n(3), n(3)], "while_loop": [p()],
        "while_break": [n()], "loop_continue": [n()], "early_return": [n()], "return_in_loop": [p()],
        "nested_loops": [n()], "nested_while": [p()], "calls_user": [n()], "recursion": [n()],
        "closure_inner": [n()], "with_lambda": [n()], "calls_partial": [n()],
        "dict_params": [lambda: {"w": rng.normal(size=3), "b": rng.normal(size=3)}, n(3)],
        "dict_loop": [lambda: {"a": rng.normal(size=3), "b": rng.normal(size=3)}, n(3)],
        "tuple_out": [n(3)], "local_array_writes": [n(4)], "list_append": [n(3)], "indexing": [n(4)],
        "two_d_indexing": [n(3, 3)], "reductions": [n(3, 4)], "matmuls": [n(3, 3), n(3)], "shapes": [n(3, 4)],
        "special": [n(3)], "mlp_loss": [params, n(5, 3), n(5, 2)],
        "logistic_loss": [n(3), n(), n(4, 3), lambda: (rng.uniform(size=4) > 0.5) * 1.0],
    }


@pytest.mark.parametrize("name", sorted(_corpus_cases()))
def test_corpus_vmap_and_per_example_grad(name):
    fun, gens = getattr(corpus, name), _corpus_cases()[name]
    examples = [[g() for g in gens] for _ in range(B)]
    args = [stack_tree([ex[k] for ex in examples]) for k in range(len(gens))]
    tree_close(s2s.vmap(fun)(*args), stack_tree([fun(*ex) for ex in examples]))
    value = fun(*examples[0])
    if not isinstance(value, tuple) and np.ndim(value) == 0:
        grad = s2s.grad(fun)
        tree_close(s2s.vmap(grad)(*args), stack_tree([grad(*ex) for ex in examples]), rtol=1e-8)
