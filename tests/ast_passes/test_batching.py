"""The batching pass: the rule table is complete, which names carry the batch axis, control flow
on batched values lowered to straight-line code, the runtime helpers, and what `vmap_f` looks like."""
import numpy as np
import pytest

import s2s
from s2s.ast_passes import batching, parse, pipeline
from s2s.runtime import primitives
from s2s.runtime.primitives import batching as rules

rng = np.random.default_rng(0)


def test_every_primitive_has_a_batching_rule():
    missing = [p.name for p in primitives.all_primitives() if not isinstance(p.batch, rules.Rule)]
    assert not missing, f"primitives without a batching rule (give them batch=...): {missing}"


def test_every_emitted_helper_exists():
    for name in rules.HELPER_NAMES:
        assert callable(getattr(rules, name)), name


# -- which names carry the batch axis ---------------------------------------------------------------
def control_dependent(x, n):
    y = n * 2
    if x > 0:
        z = n + 1
    else:
        z = n
    return y + z


def shape_only(x, W):
    n = x.shape[0]
    m = len(x)
    k = np.ndim(x)
    return W * (n + m + k) + x


def list_of_batched(x):
    ys = []
    for i in range(3):
        ys.append(x * i)
    return ys


def analyze(fun, batched):
    program = pipeline.Program()
    state = batching.Batching(program, pipeline.prepare)
    source, fn = pipeline.prepare(parse.function(fun), program)
    ctx = batching.Context(state, source, fn, batched, {}, None)
    return batching.analyze(ctx)


def test_a_value_assigned_under_a_batched_condition_is_batched():
    analysis = analyze(control_dependent, ["x"])
    assert "z" in analysis.batched and "y" not in analysis.batched


def test_shapes_of_one_example_are_not_batched():
    analysis = analyze(shape_only, ["x"])
    assert not {"n", "m", "k"} & analysis.batched


def test_a_list_of_batched_values_is_batched():
    assert "ys" in analyze(list_of_batched, ["x"]).batched


# -- what vmap_f looks like ---------------------------------------------------------------------------
def dense_layer(x, W, b):
    return np.tanh(x @ W + b)


def reduce_rows(A):
    return np.sum(A, axis=0) + A.mean()


def matrix_vector(A, v):
    return np.einsum("ij,j->i", A, v)


def take_column(A, i):
    return A[:, i] + A[0]


def relu_branch(x):
    if x > 0:
        y = x
    else:
        y = 0.1 * x
    return y


def unbatched_branch(x, n):
    if n > 0:
        y = x * n
    else:
        y = x
    return y


def grow(x):
    while x < 10.0:
        x = x * 2.0
    return x


def source_of(fun, in_axes=0):
    vectorized = s2s.vmap(fun, in_axes=in_axes)
    text = s2s.source(vectorized)
    compile(text, "<vmap>", "exec")
    return text


def test_dense_layer_reads_like_batched_numpy():
    text = source_of(dense_layer, (0, None, None))
    assert "def vmap_dense_layer(x, W, b):" in text
    assert "x_W = batch_matmul(x, W[None])" in text
    assert "np.tanh(x_W_plus_b)" in text


def test_reductions_shift_their_axis():
    text = source_of(reduce_rows)
    assert "np.sum(A, axis=1)" in text
    assert "A.mean(axis=example_axes(A))" in text


def test_einsum_gets_a_batch_letter():
    assert "np.einsum('bij,j->bi', A, v)" in source_of(matrix_vector, (0, None))
    assert "np.einsum('ij,bj->bi', A, v)" in source_of(matrix_vector, (None, 0))


def test_indexing_skips_the_batch_axis():
    text = source_of(take_column, (0, None))
    assert "A[:, :, i]" in text and "A[:, 0]" in text


def test_batched_branch_becomes_a_select_unless_every_example_takes_one():
    text = source_of(relu_branch).split("def vmap_relu_branch")[1]
    assert "y = select_batched(x_gt_zero, y_then, y_else)" in text
    assert "same_branch = bool(np.all(x_gt_zero == x_gt_zero[:1]))" in text and "if same_branch:" in text
    for xs in (np.array([0.5, -2.0, 3.0]), np.array([0.5, 2.0]), np.array([-1.0, -2.0]), np.zeros((0,))):
        np.testing.assert_allclose(s2s.vmap(relu_branch)(xs), [relu_branch(v) for v in xs])


def test_unbatched_branch_stays_an_if():
    text = source_of(unbatched_branch, (0, None))
    assert "if n_gt_zero:" in text and "select" not in text


def test_batched_while_runs_while_any_example_is_active():
    text = source_of(grow)
    assert "while going:" in text and "going = np.any(active)" in text
    assert "x = select_batched(active, x_then, x)" in text
    xs = np.array([0.5, 3.0, 20.0])
    np.testing.assert_allclose(s2s.vmap(grow)(xs), [grow(v) for v in xs])


# -- runtime helpers ------------------------------------------------------------------------------------
def test_batch_einsum_spec():
    assert rules.batch_einsum_spec("ij,jk->ik", (True, False)) == "bij,jk->bik"
    assert rules.batch_einsum_spec("ij,jk", (False, True)) == "ij,bjk->bik"
    assert rules.batch_einsum_spec("ii", (True,)) == "bii->b"
    assert rules.batch_einsum_spec("...ij,...jk", (True, True)) == "b...ij,b...jk->b...ik"
    assert rules.batch_einsum_spec("bi,ib->b", (True, False)) == "zbi,ib->zb"


def test_match_rank_inserts_axes_after_the_batch_axis():
    assert rules.match_rank(np.ones((3, 2)), 4).shape == (3, 1, 1, 2)
    assert rules.match_rank(np.ones((3, 2)), 1).shape == (3, 2)


@pytest.mark.parametrize("a_shape, b_shape, axes", [((2, 3), (3, 4), 1), ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
                                                    ((3,), (3,), 0), ((2, 3), (2, 3), 2)])
@pytest.mark.parametrize("a_batched, b_batched", [(True, True), (True, False), (False, True)])
def test_batch_tensordot(a_shape, b_shape, axes, a_batched, b_batched):
    a = rng.normal(size=(4,) + a_shape if a_batched else a_shape)
    b = rng.normal(size=(4,) + b_shape if b_batched else b_shape)
    got = rules.batch_tensordot(a if a_batched else a[None], b if b_batched else b[None], axes)
    expected = np.stack([np.tensordot(a[k] if a_batched else a, b[k] if b_batched else b, axes) for k in range(4)])
    np.testing.assert_allclose(got, expected)


def test_getitem_batched_keeps_numpys_axis_order():
    A = rng.normal(size=(4, 2, 3, 5))
    idx = np.array([1, 0, 1])
    for index in [(0, slice(None), idx), (slice(None), idx), (idx, 1), 1, (Ellipsis, idx), (None, 0)]:
        expected = np.stack([A[k][index] for k in range(4)])
        np.testing.assert_allclose(rules.getitem_batched(A, index), expected)


def test_index_updates_per_example():
    x = rng.normal(size=(4, 5))
    y = rng.normal(size=(4, 2))
    idx = np.array([1, 1])
    np.testing.assert_allclose(rules.index_add_batched(x, idx, y),
                               np.stack([x[k] + np.bincount(idx, y[k], 5) for k in range(4)]))
    z = rules.index_update_batched(x, slice(1, 3), y)
    np.testing.assert_allclose(z[:, 1:3], y)
    np.testing.assert_allclose(z[:, 0], x[:, 0])


def test_select_batched_on_trees():
    c = np.array([True, False, True])
    a = (np.ones((3, 2)), {"k": np.ones(3)}, None)
    b = (np.zeros((3, 2)), {"k": np.zeros(3)}, np.full(3, 5.0))
    out = rules.select_batched(c, a, b)
    np.testing.assert_array_equal(out[0], [[1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(out[1]["k"], [1, 0, 1])
    np.testing.assert_array_equal(out[2], [5, 5, 5])


def test_moving_batch_axes_of_trees():
    tree = {"a": np.ones((2, 3)), "b": (np.ones((3, 4)), 2.0)}
    moved = rules.move_batch_axes(tree, {"a": 1, "b": (0, None)}, 3)
    assert moved["a"].shape == (3, 2) and moved["b"][0].shape == (3, 4) and moved["b"][1].shape == (3,)
    back = rules.move_out_axes(moved, {"a": -1, "b": (1, 0)}, 3)
    assert back["a"].shape == (2, 3) and back["b"][0].shape == (4, 3)
    rows = [rules.take_example(moved, k) for k in range(3)]
    assert rules.stack_examples(rows)["b"][0].shape == (3, 4)


def test_scalar_seed_batched_rejects_non_scalar_examples():
    with pytest.raises(TypeError, match="scalar output"):
        rules.scalar_seed_batched(np.ones((3, 2)))
    assert rules.scalar_seed_batched(np.zeros(3, np.float32)).dtype == np.float32
