"""(c) Logistic regression from the JAX README: 100 gradient-descent steps, time per step."""
from benchmarks import handwritten, models, peers
from benchmarks.harness import compare, measure

STEPS = 100
CASES = [  # (name, data size or None for the README's 4x3 toy set, learning rate)
    ("logistic regression step 4x3", (None, None), 0.1),
    ("logistic regression step 1000x50", (1000, 50), 1e-3),
]


def train(grad_fn, weights, inputs, targets, learning_rate):
    """The README's training loop, without updating `weights` in place."""
    for _ in range(STEPS):
        weights = weights - learning_rate * grad_fn(weights, inputs, targets)
    return weights


def bench_logistic(settings):
    rows = []
    for name, size, learning_rate in CASES:
        weights, inputs, targets = models.logistic_data(*size)
        args = (weights, inputs, targets, learning_rate)

        def s2s():
            grad_loss = peers.require_s2s().grad(models.logistic_loss)
            return lambda: train(grad_loss, *args)

        def hand():
            return lambda: train(handwritten.logistic_loss_grad, *args)

        def autograd():
            ag = peers.require_autograd()
            grad_loss = ag.grad(peers.with_numpy(models.logistic_loss, ag.numpy))
            return lambda: train(grad_loss, *args)

        def jax_jit_grad():
            jax = peers.require_jax()
            grad_loss = jax.jit(jax.grad(peers.with_numpy(models.logistic_loss, jax.numpy)))
            return peers.jax_call(lambda *a: train(grad_loss, *a), *args)

        contenders = {"s2s": s2s, "hand NumPy": hand, "autograd": autograd,
                      "jax.jit(grad)": jax_jit_grad}
        expected = train(handwritten.logistic_loss_grad, *args)
        timings = measure(contenders, settings, expected, rtol=1e-6)
        for timing in timings.values():
            if timing.seconds is not None:
                timing.seconds /= STEPS
        rows += compare(name, timings, targets={"hand NumPy": 3.0})
    return rows
