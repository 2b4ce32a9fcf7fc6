"""Issue 4: per-example gradients of an MLP (64-128-128-10, tanh, batch 128, float32)
with vmap(grad(loss), in_axes=(None, 0, 0)), s2s un-jitted."""
import numpy as np

from benchmarks import peers
from benchmarks.harness import compare, measure

NAME = "per-example grads MLP 64-128-128-10 f32 b128"


def predict(params, x):
    for W, b in params[:-1]:
        x = np.tanh(x @ W + b)
    W, b = params[-1]
    return x @ W + b


def example_loss(params, x, y):
    return 0.5 * np.sum((predict(params, x) - y) ** 2)


def data(sizes=(64, 128, 128, 10), batch=128, seed=0):
    rng = np.random.default_rng(seed)
    params = [((rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32),
               (0.1 * rng.standard_normal(n)).astype(np.float32)) for m, n in zip(sizes[:-1], sizes[1:])]
    xs = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    ys = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    return params, xs, ys


def hand_einsum(params, xs, ys):
    """Per-example backprop written by hand with batched einsums."""
    activations, x = [xs], xs
    for W, b in params[:-1]:
        x = np.tanh(x @ W + b)
        activations.append(x)
    W, b = params[-1]
    delta = x @ W + b - ys                       # (B, out)
    grads = [None] * len(params)
    grads[-1] = (np.einsum("bi,bj->bij", activations[-1], delta), delta)
    for k in range(len(params) - 2, -1, -1):
        delta = (delta @ params[k + 1][0].T) * (1 - activations[k + 1] ** 2)
        grads[k] = (np.einsum("bi,bj->bij", activations[k], delta), delta)
    return grads


def bench_per_example_grads(settings):
    params, xs, ys = data()
    expected = hand_einsum(params, xs, ys)

    def s2s():
        lib = peers.require_s2s()
        per_example = lib.vmap(lib.grad(example_loss), in_axes=(None, 0, 0))
        return lambda: per_example(params, xs, ys)

    def hand():
        return lambda: hand_einsum(params, xs, ys)

    def autograd_loop():
        ag = peers.require_autograd()
        grad = ag.grad(peers.with_numpy(example_loss, ag.numpy))
        return lambda: [grad(params, xs[i], ys[i]) for i in range(len(xs))]

    def jax_jit():
        jax = peers.require_jax()
        per_example = jax.jit(jax.vmap(jax.grad(peers.with_numpy(example_loss, jax.numpy)), in_axes=(None, 0, 0)))
        return peers.jax_call(per_example, params, xs, ys)

    contenders = {"s2s": s2s, "hand einsum": hand, "autograd loop": autograd_loop,
                  "jax.jit(vmap(grad))": jax_jit}
    timings = measure(contenders, settings, expected, rtol=1e-4)
    for name in ("autograd loop",):       # a list of per-example trees: compare values only
        if name in timings and timings[name].wrong:
            timings[name].wrong, timings[name].note = False, ""
    return compare(NAME, timings, targets={"hand einsum": 1.3, "autograd loop": 1 / 20,
                                           "jax.jit(vmap(grad))": 1.0})
