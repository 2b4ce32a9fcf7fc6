"""`run.py --check`: the hand-written NumPy gradients are right, so the baseline is trustworthy.

Each is compared with autograd and JAX (when importable) and always with a central
finite difference along a random direction, in float64; the float32 MLP benchmark
input is compared with autograd too. s2s is checked against them when importable.
"""
import numpy as np

from benchmarks import handwritten, models, peers
from benchmarks.harness import first_line, tree_allclose


def _leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [leaf for branch in tree for leaf in _leaves(branch)]
    return [np.asarray(tree)]


def _along(tree, direction, step):
    """`tree + step * direction` for a pytree of lists and tuples."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(_along(t, d, step) for t, d in zip(tree, direction))
    return tree + step * direction


def _random_like(tree, rng):
    if isinstance(tree, (list, tuple)):
        return type(tree)(_random_like(t, rng) for t in tree)
    return rng.standard_normal(np.shape(tree))


def finite_difference_agrees(fn, grad, args, rtol=1e-6, eps=1e-6):
    """Whether <grad, v> matches (fn(p + eps v) - fn(p - eps v)) / (2 eps) for a random v."""
    primal, rest = args[0], args[1:]
    direction = _random_like(primal, np.random.default_rng(1))
    slope = (fn(_along(primal, direction, eps), *rest)
             - fn(_along(primal, direction, -eps), *rest)) / (2 * eps)
    predicted = sum(np.vdot(g, d) for g, d in zip(_leaves(grad), _leaves(direction)))
    return abs(predicted - slope) <= rtol * max(abs(slope), 1.0)


def _cases():
    """(name, user function, hand-written gradient, arguments, rtol against other AD tools)."""
    return [
        ("MLP f64", models.mlp_loss, handwritten.mlp_loss_grad,
         models.mlp_data(sizes=(20, 16, 16, 3), batch=8, dtype=np.float64), 1e-10),
        ("MLP f32 (benchmark size)", models.mlp_loss, handwritten.mlp_loss_grad,
         models.mlp_data(), 1e-3),
        ("logistic 4x3", models.logistic_loss, handwritten.logistic_loss_grad,
         models.logistic_data(), 1e-10),
        ("logistic 1000x50", models.logistic_loss, handwritten.logistic_loss_grad,
         models.logistic_data(1000, 50), 1e-10),
    ]


def _ad_tools():
    """(name, grad(fn) maker) for every importable AD tool besides s2s."""
    def autograd_grad(fn):
        ag = peers.require_autograd()
        return ag.grad(peers.with_numpy(fn, ag.numpy))

    def jax_grad(fn):
        jax = peers.require_jax()
        return jax.grad(peers.with_numpy(fn, jax.numpy))

    def s2s_grad(fn):
        return peers.require_s2s().grad(fn)

    return [("autograd", autograd_grad), ("jax.grad", jax_grad), ("s2s", s2s_grad)]


def run_checks():
    """Print one line per comparison; return whether none failed (skips are not failures)."""
    all_ok = True
    for name, fn, hand_grad, args, rtol in _cases():
        expected = hand_grad(*args)
        if np.asarray(_leaves(expected)[0]).dtype == np.float64:
            ok = finite_difference_agrees(fn, expected, args)
            all_ok &= ok
            print(f"{'ok' if ok else 'FAIL':4}  {name}: hand-written vs finite differences")
        for tool, make_grad in _ad_tools():
            try:
                actual = make_grad(fn)(*args)
            except peers.Unavailable as missing:
                print(f"skip  {name}: hand-written vs {tool}: {missing}")
                continue
            except Exception as error:
                ok, detail = False, f" ({first_line(error)})"
            else:
                ok, detail = tree_allclose(actual, expected, rtol), ""
            all_ok &= ok
            print(f"{'ok' if ok else 'FAIL':4}  {name}: hand-written vs {tool}{detail}")
    return all_ok
