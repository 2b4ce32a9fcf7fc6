"""Checks shared by the program tests: central differences on every leaf of a pytree, jit's
compiled result (not its NumPy fallback), and that calls leave their inputs unchanged."""
import copy

import numpy as np

import s2s
from numerics import assert_tree_close, numerical_grad

FD_EPS = 1e-6


def fd_grad(fun, args, argnums=0, eps=FD_EPS):
    """Central differences of scalar fun(*args) for argnums (int or tuple), leafwise on pytrees."""
    if isinstance(argnums, int):
        return numerical_grad(fun, list(args), argnums, eps)
    return tuple(numerical_grad(fun, list(args), k, eps) for k in argnums)


def snapshot(tree):
    return copy.deepcopy(tree)


def assert_unchanged(tree, before):
    """Same structure and bit-identical leaves."""
    if isinstance(before, (list, tuple)):
        assert type(tree) is type(before) and len(tree) == len(before)
        for a, b in zip(tree, before):
            assert_unchanged(a, b)
    elif isinstance(before, dict):
        assert set(tree) == set(before)
        for k in before:
            assert_unchanged(tree[k], before[k])
    elif isinstance(before, np.ndarray):
        assert isinstance(tree, np.ndarray) and tree.dtype == before.dtype
        np.testing.assert_array_equal(tree, before)
    else:
        assert tree == before


def check_grad(fun, *args, argnums=0, rtol=1e-6, atol=1e-8, eps=FD_EPS):
    """s2s.grad(fun) against central differences; the arguments must come back unchanged."""
    before = snapshot(args)
    g = s2s.grad(fun, argnums=argnums)(*args)
    assert_unchanged(args, before)
    expected = fd_grad(fun, args, argnums, eps)
    assert_tree_close(g, expected, rtol=rtol, atol=atol)
    return g


def check_value_and_grad(fun, *args, argnums=0, rtol=1e-6, atol=1e-8):
    before = snapshot(args)
    value, g = s2s.value_and_grad(fun, argnums=argnums)(*args)
    assert_unchanged(args, before)
    np.testing.assert_allclose(value, fun(*args), rtol=1e-12, atol=1e-12)
    assert_tree_close(g, fd_grad(fun, args, argnums), rtol=rtol, atol=atol)
    return value, g


def compiled(fun, *args):
    """The compiled result of jit(fun)(*args): the first call may run NumPy while Numba compiles."""
    jitted = s2s.jit(fun)
    first = jitted(*args)
    jitted.__s2s__.wait()
    result = jitted(*args)
    assert jitted.__s2s__.latest.call is not None, "the compiled version did not run"
    return first, result


def check_jit(fun, *args, expected=None, rtol=1e-10, atol=1e-12):
    """jit(fun) equals fun (or `expected`) both on the first (NumPy) call and compiled."""
    before = snapshot(args)
    if expected is None:
        expected = fun(*args)
    first, result = compiled(fun, *args)
    assert_unchanged(args, before)
    assert_tree_close(first, expected, rtol=rtol, atol=atol)
    assert_tree_close(result, expected, rtol=rtol, atol=atol)
    return result


def tree_loop(fun, batch_args, in_axes):
    """A Python loop over the mapped axis 0 of the arguments whose in_axes entry is 0, stacked."""
    if not isinstance(in_axes, (tuple, list)):
        in_axes = (in_axes,) * len(batch_args)
    n = next(len(a) for a, ax in zip(batch_args, in_axes) if ax == 0)
    outs = [fun(*[a[i] if ax == 0 else a for a, ax in zip(batch_args, in_axes)]) for i in range(n)]
    return s2s.tree_util.tree_map(lambda *xs: np.stack(xs), *outs)


def check_vmap(fun, *args, in_axes, rtol=1e-10, atol=1e-12):
    before = snapshot(args)
    got = s2s.vmap(fun, in_axes=in_axes)(*args)
    assert_unchanged(args, before)
    assert_tree_close(got, tree_loop(fun, args, in_axes), rtol=rtol, atol=atol)
    return got


# -- s2s bugs these programs hit (see /work/notes/programs.md for minimized reproducers) ------------
BUGS = {          # none known now; add "key": "what fails" and mark the check @bug("key")
}


def bug(*keys):
    """xfail(strict=True) naming the s2s bugs that make a check fail."""
    import pytest
    return pytest.mark.xfail(strict=True, reason="; ".join(BUGS[k] for k in keys))
