"""(a) Gradient of the JAX README MLP loss, 784-512-512-10, tanh, batch 128, float32."""
from benchmarks import handwritten, models, peers
from benchmarks.harness import compare, measure

NAME = "MLP loss grad 784-512-512-10 f32 b128"


def bench_mlp_grad(settings):
    params, x, y = models.mlp_data()

    def s2s():
        grad_loss = peers.require_s2s().grad(models.mlp_loss)
        return lambda: grad_loss(params, x, y)

    def hand():
        return lambda: handwritten.mlp_loss_grad(params, x, y)

    def autograd():
        ag = peers.require_autograd()
        grad_loss = ag.grad(peers.with_numpy(models.mlp_loss, ag.numpy))
        return lambda: grad_loss(params, x, y)

    def jax_grad(jit):
        jax = peers.require_jax()
        grad_loss = jax.grad(peers.with_numpy(models.mlp_loss, jax.numpy))
        return peers.jax_call(jax.jit(grad_loss) if jit else grad_loss, params, x, y)

    contenders = {"s2s": s2s, "hand NumPy": hand, "autograd": autograd,
                  "jax.grad": lambda: jax_grad(jit=False),
                  "jax.jit(grad)": lambda: jax_grad(jit=True)}
    expected = handwritten.mlp_loss_grad(params, x, y)
    timings = measure(contenders, settings, expected, rtol=1e-3)
    return compare(NAME, timings, targets={"hand NumPy": 1.15, "autograd": 1 / 4})
