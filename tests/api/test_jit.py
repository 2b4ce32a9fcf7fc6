"""jit: compiled results equal the NumPy ones (values and dtypes), caching per shapes/dtypes/static
arguments, errors, the NumPy backend, background compilation and Numba's disk cache."""
import functools
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import corpus as c
import s2s
from numerics import assert_tree_close

pytest.importorskip("numba")
rng = np.random.default_rng(0)


def compiled(fun, *args, **jit_kwargs):
    """The compiled result of jit(fun)(*args): the first call may run NumPy while Numba compiles."""
    jitted = s2s.jit(fun, **jit_kwargs)
    jitted(*args)
    jitted.__s2s__.wait()
    result = jitted(*args)
    assert jitted.__s2s__.latest.call is not None, "the compiled version did not run"
    return jitted, result


def dtypes(tree):
    return [np.result_type(leaf) for leaf in s2s.tree_util.tree_leaves(tree)]


def check(fun, *args, rtol=1e-10, **jit_kwargs):
    expected = fun(*args)
    _, actual = compiled(fun, *args, **jit_kwargs)
    assert_tree_close(actual, expected, rtol=rtol, atol=rtol)
    assert dtypes(actual) == dtypes(expected)
    return actual


# -- the README, as functions and as gradients --------------------------------------------------------
def test_readme_tanh_and_its_gradients():
    check(c.tanh, 1.0)
    value = check(s2s.grad(c.tanh), 1.0)
    assert value == pytest.approx(0.41997434161402614, rel=1e-12)
    assert isinstance(value, np.float64)
    check(s2s.grad(s2s.grad(s2s.grad(c.tanh))), 1.0)


def test_readme_abs_val_compiles_a_branch():
    jitted, _ = compiled(s2s.grad(c.abs_val), 1.0)
    assert jitted(1.0) == 1.0 and jitted(-1.0) == -1.0       # one compiled version, both branches
    assert "if " in s2s.source(jitted)


def test_logistic_regression_gradient():
    inputs = rng.normal(size=(4, 3))
    targets = np.array([True, True, False, True])
    check(s2s.grad(c.logistic_loss, argnums=(0, 1)), np.zeros(3), 0.0, inputs, targets)


def test_mlp_loss_and_gradient_float32():
    from benchmarks import models
    params, x, y = models.mlp_data(sizes=(6, 5, 4, 3), batch=7)
    loss = check(models.mlp_loss, params, x, y, rtol=1e-5)
    assert np.result_type(loss) == np.float32
    grads = check(s2s.grad(models.mlp_loss), params, x, y, rtol=1e-5)
    assert isinstance(grads, list) and all(isinstance(layer, tuple) for layer in grads)


def test_corpus_mlp_with_list_of_tuples():
    params = [(rng.normal(size=(4, 5)), rng.normal(size=5)), (rng.normal(size=(5, 3)), rng.normal(size=3))]
    check(s2s.grad(c.mlp_loss), params, rng.normal(size=(7, 4)), rng.normal(size=(7, 3)))


def test_hessian_and_jacobians():
    def f(x):
        return np.sum(np.tanh(x) ** 2) * x[0]
    x = np.linspace(0.1, 1.0, 5)
    check(s2s.hessian(f), x)
    check(s2s.jacrev(np.tanh), x)


def test_per_example_gradients():
    def loss(w, x, y):
        return np.sum((np.tanh(x @ w) - y) ** 2)
    w, xs, ys = rng.normal(size=(3, 2)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    check(s2s.vmap(s2s.grad(loss), in_axes=(None, 0, 0)), w, xs, ys)


# -- control flow compiles as loops and branches -----------------------------------------------------
@pytest.mark.parametrize("fun, args", [
    (c.while_loop, (0.7,)), (c.while_break, (0.3,)), (c.return_in_loop, (1.0,)), (c.nested_while, (0.7,)),
    (c.local_array_writes, (rng.normal(size=4),)), (c.list_append, (0.5,)), (c.for_over_array,
                                                                             (rng.normal(size=(3, 3)),
                                                                              rng.normal(size=3))),
], ids=lambda v: getattr(v, "__name__", ""))
def test_control_flow_gradients(fun, args):
    check(s2s.grad(fun), *args)


def test_early_return_both_ways():
    jitted, _ = compiled(c.early_return, 3.0)
    assert jitted(3.0) == pytest.approx(9.0) and jitted(1.0) == pytest.approx(np.exp(1.0))


@pytest.mark.slow
@pytest.mark.parametrize("fun, args", [
    (c.poly, (0.7,)), (c.uses_aliases, (0.3,)), (c.chained, (rng.normal(size=3),)),
    (c.broadcasting, (rng.normal(size=(3, 3)), rng.normal(size=3))), (c.augmented, (rng.normal(size=3),)),
    (c.conditional_expression, (rng.normal(size=3),)), (c.boolean_ops, (rng.normal(size=3),)),
    (c.elif_chain, (0.5,)), (c.for_range, (0.4,)), (c.for_zip_enumerate, (rng.normal(size=3),
                                                                           rng.normal(size=3))),
    (c.loop_continue, (0.9,)), (c.nested_loops, (0.3,)), (c.calls_user, (0.3,)), (c.recursion, (1.3,)),
    (c.closure_inner, (0.7,)), (c.with_lambda, (0.7,)), (c.calls_partial, (0.8,)),
    (c.indexing, (rng.normal(size=3),)), (c.two_d_indexing, (rng.normal(size=(3, 3)),)),
    (c.reductions, (rng.normal(size=(3, 3)),)), (c.matmuls, (rng.normal(size=(3, 3)), rng.normal(size=3))),
    (c.shapes, (rng.normal(size=(3, 4)),)), (c.special, (rng.normal(size=3),)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_corpus_functions_and_gradients(fun, args):
    check(fun, *args)
    check(s2s.grad(fun), *args)


# -- dtypes, caching, static arguments ---------------------------------------------------------------------
def test_dtypes_are_kept():
    def mixed(x, s):
        return x * 2.0 + s, np.sum(x), x.shape[0] * 1, x > 0.5
    x = np.linspace(0, 1, 4, dtype=np.float32)
    out = check(mixed, x, 1.5)
    assert [np.result_type(v) for v in out] == [np.float32, np.float32, np.int64, np.bool_]
    assert isinstance(out[1], np.float32)


def test_recompiles_for_a_new_shape_and_dtype():
    def f(x):
        return np.sum(np.sin(x) * x)
    jitted = s2s.jit(f)
    for x in (np.ones(3), np.ones(4), np.ones(4, np.float32), np.ones(3)):
        jitted(x)
        jitted.__s2s__.wait()
        assert_tree_close(jitted(x), f(x), rtol=1e-6)
    assert len(jitted.__s2s__.cache) == 3


def test_pytree_structures_get_their_own_versions():
    def f(tree):
        return sum(np.sum(v) for v in s2s.tree_util.tree_leaves(tree))
    jitted = s2s.jit(f)
    for tree in ({"a": np.ones(2), "b": np.ones(3)}, (np.ones(2), np.ones(2))):
        jitted(tree)
        jitted.__s2s__.wait()
        assert jitted(tree) == pytest.approx(f(tree))
    assert len(jitted.__s2s__.cache) == 2


def test_static_arguments():
    jitted, value = compiled(c.power, 1.3, 3, static_argnums=1)
    assert value == pytest.approx(1.3 ** 3)
    assert jitted(2.0, 3) == pytest.approx(8.0)
    jitted(2.0, 2)
    jitted.__s2s__.wait()
    assert jitted(2.0, 2) == pytest.approx(4.0)
    assert len(jitted.__s2s__.cache) == 2


def test_vmap_compiles_the_variant_its_arguments_need():
    def affine(p, x):
        return p[0] * x + p[1]

    # in_axes=0 on a tuple argument: the call needs the "tree" variant, not the default one
    batched = s2s.vmap(affine, in_axes=(0, 0))
    p, x = (np.arange(3.0), np.ones(3)), np.array([1.0, 2.0, 3.0])
    _, actual = compiled(batched, p, x)
    assert_tree_close(actual, np.array([1.0, 3.0, 7.0]))


def test_gradient_of_a_partial_function():
    def scaled(a, x):
        return a * np.sum(np.tanh(x) ** 2)

    x = np.linspace(-1.0, 1.0, 5)
    gradient = s2s.grad(functools.partial(scaled, 2.0))
    _, actual = compiled(gradient, x)
    assert_tree_close(actual, 4.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2))


def test_unhashable_static_argument_is_a_type_error():
    jitted = s2s.jit(c.power, static_argnums=1)
    with pytest.raises(TypeError, match="static argument 1 .* not hashable"):
        jitted(1.0, [3])


def test_decorator_forms():
    @s2s.jit
    def double(x):
        return 2.0 * x

    @s2s.jit(backend="numpy")
    def triple(x):
        return 3.0 * x

    assert double(np.ones(2)).tolist() == [2.0, 2.0]
    assert double(x=np.ones(2)).tolist() == [2.0, 2.0]        # keywords move to their positions
    assert triple(np.ones(2)).tolist() == [3.0, 3.0]


# -- backends, source, errors ------------------------------------------------------------------------------
def test_numpy_backend_runs_the_normalized_source():
    jitted = s2s.jit(c.poly, backend="numpy")
    assert jitted(0.7) == pytest.approx(c.poly(0.7))
    text = s2s.source(jitted)
    assert "def poly(x):" in text and "numba" not in text
    assert s2s.jit(s2s.grad(c.poly), backend="numpy")(0.7) == pytest.approx(s2s.grad(c.poly)(0.7))


def test_source_shows_the_compiled_module():
    jitted, _ = compiled(s2s.grad(c.tanh), 1.0)
    text = s2s.source(jitted)
    assert "@numba.njit(" in text and "def grad_tanh(x):" in text
    compile(text, "<jit source>", "exec")


def test_grad_of_jit_differentiates_the_numpy_source():
    assert s2s.grad(s2s.jit(c.tanh))(1.0) == pytest.approx(0.41997434161402614, rel=1e-12)


def test_value_dependent_if_that_cannot_compile():
    def branchy(x):
        if np.sum(x) > 0:
            y = x
        else:
            y = 0.0
        return y

    with pytest.raises(s2s.TransformError) as info:
        s2s.jit(branchy)(np.ones(3))
    message = str(info.value)
    assert "test_jit.py" in message and "if np.sum(x) > 0" in message
    assert "lax.cond" in message and "static_argnums" in message


def test_recursion_on_a_run_time_value_names_static_argnums():
    with pytest.raises(s2s.TransformError, match="static_argnums"):
        s2s.jit(c.power)(1.3, 3)


def test_unsupported_construct_names_the_users_line():
    def uses_sort(x):
        return np.sort(x)[0]

    with pytest.raises(s2s.TransformError, match=r"test_jit.py:\d+ in .*uses_sort.*sort"):
        s2s.jit(uses_sort)(np.ones(3))


def test_bad_backend():
    with pytest.raises(ValueError, match="backend"):
        s2s.jit(c.tanh, backend="tpu")


# -- compile cost: NumPy while Numba compiles, then the disk cache in the next process -------------------
def test_first_calls_run_numpy_while_numba_compiles(monkeypatch):
    monkeypatch.setenv("S2S_JIT_BACKGROUND", "1")

    def f(x):
        return np.cos(x) * x + 0.25

    jitted = s2s.jit(f)
    x = np.linspace(0, 1, 7)
    assert_tree_close(jitted(x), f(x))          # at once, from NumPy or from Numba if already done
    jitted.__s2s__.wait()
    assert_tree_close(jitted(x), f(x))
    assert jitted.__s2s__.latest.call is not None


SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import s2s

    def loss(w, x):
        return np.sum(np.tanh(x @ w) ** 2)

    w, x = np.ones((3, 2)) / 3, np.linspace(-1, 1, 12).reshape(4, 3)
    jitted = s2s.jit(s2s.grad(loss))
    start = time.perf_counter()
    jitted(w, x)
    first = time.perf_counter() - start
    jitted.__s2s__.wait()
    compiled = time.perf_counter() - start
    record = jitted.__s2s__.latest
    hits = sum(record.dispatcher.stats.cache_hits.values())
    print(json.dumps({"first": first, "compiled": compiled, "hits": hits,
                      "value": jitted(w, x).tolist()}))
    print(json.dumps(dict(first=first, compiled=compiled)), file=sys.stderr)
""")


@pytest.mark.slow
def test_disk_cache_is_hit_in_a_second_process(tmp_path):
    script = tmp_path / "use_jit.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, S2S_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(s2s.__file__)),
                                           os.environ.get("PYTHONPATH", "")]))
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["hits"] == 0 and warm["hits"] >= 1
    np.testing.assert_allclose(warm["value"], cold["value"], rtol=1e-12)
    assert warm["compiled"] < cold["compiled"]
