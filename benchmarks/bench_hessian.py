"""Issue 3: Hessian of f(x) = sum(tanh(x)**2), x of size 100, float64, s2s un-jitted."""
import numpy as np

from benchmarks import peers
from benchmarks.harness import compare, measure

NAME = "hessian sum(tanh(x)**2), n=100, f64"


def tanh_squared(x):
    return np.sum(np.tanh(x) ** 2)


def bench_hessian(settings):
    x = np.random.default_rng(0).normal(size=100)
    t = np.tanh(x)
    expected = np.diag(2 * (1 - t * t) * (1 - 3 * t * t))     # closed form

    def s2s():
        hessian = peers.require_s2s().hessian(tanh_squared)
        return lambda: hessian(x)

    def autograd():
        ag = peers.require_autograd()
        hessian = ag.hessian(peers.with_numpy(tanh_squared, ag.numpy))
        return lambda: hessian(x)

    def jax_jit():
        jax = peers.require_jax()
        hessian = jax.jit(jax.hessian(peers.with_numpy(tanh_squared, jax.numpy)))
        return peers.jax_call(hessian, x)

    timings = measure({"s2s": s2s, "autograd": autograd, "jax.jit(hessian)": jax_jit}, settings, expected)
    return compare(NAME, timings, targets={"autograd": 1 / 50, "jax.jit(hessian)": 3.0})
