"""(b) Per-call time of the gradient of a scalar function at 1.0: the fixed overhead."""
import numpy as np

from benchmarks import models, peers
from benchmarks.harness import compare, measure

NAME = "scalar grad tanh(x) * x at 1.0"


def bench_scalar_grad(settings):
    def s2s():
        grad_f = peers.require_s2s().grad(models.tanh_times_x)
        return lambda: grad_f(1.0)

    def autograd():
        ag = peers.require_autograd()
        grad_f = ag.grad(peers.with_numpy(models.tanh_times_x, ag.numpy))
        return lambda: grad_f(1.0)

    def jax_jit_grad():
        jax = peers.require_jax()
        grad_f = jax.jit(jax.grad(peers.with_numpy(models.tanh_times_x, jax.numpy)))
        return peers.jax_call(grad_f, 1.0)

    contenders = {"s2s": s2s, "autograd": autograd, "jax.jit(grad)": jax_jit_grad}
    expected = np.tanh(1.0) + (1 - np.tanh(1.0) ** 2)
    timings = measure(contenders, settings, expected, rtol=1e-12)
    return compare(NAME, timings, targets={"autograd": 1 / 10}, max_time=5e-6)
