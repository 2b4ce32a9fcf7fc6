"""(e) s2s.jit (Numba) against jax.jit on the CPU, and the time to a first result.

Compiled s2s functions are warmed up (first call, then `__s2s__.wait()` for the background
compilation) before timing, as JAX's are by their first call. The time-to-first-result rows run
each contender in a new process (imports excluded), twice for s2s: with an empty and with a warm
Numba disk cache.
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from benchmarks import models, peers
from benchmarks.harness import Row, Timing, compare, first_line, measure

ROOT = Path(__file__).resolve().parent.parent


def readme(x):
    return x * x + x * 2.0


def tanh(x):
    y = np.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)


def hessian_target(x):
    return np.sum(np.tanh(x) ** 2) + 0.5 * np.sum(x * x) * np.sum(np.sin(x))


def _jitted(fun, *args):
    """A zero-argument call of s2s.jit(fun), compiled before timing starts."""
    s2s = peers.require_s2s()
    jitted = s2s.jit(fun)
    jitted(*args)
    jitted.__s2s__.wait()
    return lambda: jitted(*args)


def _jax(build, *args):
    jax = peers.require_jax()
    return peers.jax_call(build(jax), *args)


def bench_readme(settings):
    x = np.random.default_rng(0).standard_normal((5000, 5000)).astype(np.float32)
    contenders = {
        "s2s": lambda: _jitted(readme, x),
        "NumPy": lambda: (lambda: readme(x)),
        "jax.jit": lambda: _jax(lambda jax: jax.jit(peers.with_numpy(readme, jax.numpy)), x)}
    return compare("jit README x*x + x*2.0, 5000x5000 f32", measure(contenders, settings, readme(x), rtol=1e-6),
                   targets={"jax.jit": 1 / 3})


_ALONE = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    from benchmarks import bench_jit, harness, peers
    settings = harness.Settings(repeats={repeats}, min_time={min_time})
    call = lambda: bench_jit._jitted(peers.require_s2s().grad(bench_jit.tanh), 1.0)
    print(json.dumps(harness.measure({{"s2s": call}}, settings)["s2s"].seconds))
""")


def bench_scalar(settings):
    """Per-call time: s2s in a process of its own (once JAX has run, its runtime threads can slow
    every other call in the process by ~50%), then side by side with JAX."""
    name = "jit(grad(tanh))(1.0) per call"
    expected = 1.0 - np.tanh(1.0) ** 2
    s2s = lambda: _jitted(peers.require_s2s().grad(tanh), 1.0)           # noqa: E731
    try:
        done = subprocess.run([sys.executable, "-c", _ALONE.format(root=str(ROOT), repeats=settings.repeats,
                                                                   min_time=settings.min_time)],
                              capture_output=True, text=True, timeout=600)
        alone = Timing(json.loads(done.stdout.strip().splitlines()[-1]), note="in a process without JAX")
    except Exception as error:
        alone = Timing(note=f"failed: {first_line(error)}")
    contenders = {
        "s2s": s2s,
        "jax.jit(grad)": lambda: _jax(lambda jax: jax.jit(jax.grad(peers.with_numpy(tanh, jax.numpy))), 1.0)}
    return [Row(name + ", s2s alone", alone, max_time=1e-6)] + \
        compare(name + ", after JAX ran", measure(contenders, settings, expected, rtol=1e-12))


def bench_mlp(settings):
    params, x, y = models.mlp_data()
    contenders = {
        "s2s": lambda: _jitted(peers.require_s2s().grad(models.mlp_loss), params, x, y),
        "jax.jit(grad)": lambda: _jax(lambda jax: jax.jit(jax.grad(peers.with_numpy(models.mlp_loss, jax.numpy))),
                                      params, x, y)}
    expected = peers.require_s2s().grad(models.mlp_loss)(params, x, y)
    return compare("jit(grad(MLP loss)) 784-512-512-10 f32 b128", measure(contenders, settings, expected, rtol=1e-3),
                   targets={"jax.jit(grad)": 1.0})


def bench_per_example(settings):
    params, x, y = models.mlp_data(sizes=(32, 64, 10), batch=128)

    def s2s():
        s2s_ = peers.require_s2s()
        return _jitted(s2s_.vmap(s2s_.grad(models.mlp_loss), in_axes=(None, 0, 0)), params, x, y)

    def jax_build(jax):
        return jax.jit(jax.vmap(jax.grad(peers.with_numpy(models.mlp_loss, jax.numpy)), in_axes=(None, 0, 0)))

    s2s_ = peers.require_s2s()
    expected = s2s_.vmap(s2s_.grad(models.mlp_loss), in_axes=(None, 0, 0))(params, x, y)
    contenders = {"s2s": s2s, "jax.jit(vmap(grad))": lambda: _jax(jax_build, params, x, y)}
    return compare("jit(vmap(grad)) per-example MLP 32-64-10 b128", measure(contenders, settings, expected, rtol=1e-3),
                   targets={"jax.jit(vmap(grad))": 1 / 2})


def bench_hessian(settings):
    x = np.linspace(-1.0, 1.0, 100)
    contenders = {
        "s2s": lambda: _jitted(peers.require_s2s().hessian(hessian_target), x),
        "jax.jit(hessian)": lambda: _jax(lambda jax: jax.jit(jax.hessian(peers.with_numpy(hessian_target,
                                                                                          jax.numpy))), x)}
    expected = peers.require_s2s().hessian(hessian_target)(x)
    return compare("jit(hessian) 100-dim", measure(contenders, settings, expected, rtol=1e-9),
                   targets={"jax.jit(hessian)": 1 / 2})


# -- time to a first result, in new processes ------------------------------------------------------------
_FIRST = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    from benchmarks import models
    params, x, y = models.mlp_data()
    if {who!r} == "s2s":
        import s2s
        import numba             # imported before timing, as jax is
        start = time.perf_counter()
        jitted = s2s.jit(s2s.grad(models.mlp_loss))
        jitted(params, x, y)
        first = time.perf_counter() - start
        jitted.__s2s__.wait()
        ready = time.perf_counter() - start
    else:
        import jax
        jax.config.update("jax_platforms", "cpu")
        from benchmarks import peers
        args = jax.tree_util.tree_map(jax.numpy.asarray, (params, x, y))
        start = time.perf_counter()
        grad = jax.jit(jax.grad(peers.with_numpy(models.mlp_loss, jax.numpy)))
        jax.block_until_ready(grad(*args))
        first = ready = time.perf_counter() - start
    print(json.dumps({{"first": first, "ready": ready}}))
""")


def _first_result(who, cache_dir):
    env = dict(os.environ, S2S_CACHE_DIR=str(cache_dir), S2S_JIT_BACKGROUND="1")
    done = subprocess.run([sys.executable, "-c", _FIRST.format(root=str(ROOT), who=who)], env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_first_result(settings):
    """First result of jit(grad(MLP loss)) in a new process (median of several): with an empty and
    with a warm Numba disk cache, against JAX's first call."""
    import statistics
    name = "first result of jit(grad(MLP loss)), new process"
    runs = 1 if settings.repeats < 5 else 3
    try:
        peers.require_s2s()
        cold, warm = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="s2s_jit_cache_") as cache:
                cold.append(_first_result("s2s", cache))
                warm.append(_first_result("s2s", cache))
        median = {key: {part: statistics.median(r[part] for r in runs_) for part in ("first", "ready")}
                  for key, runs_ in (("cold", cold), ("warm", warm))}
        s2s_cold = Timing(median["cold"]["first"], note=f"compiled code ready after {median['cold']['ready']:.2f} s")
        s2s_warm = Timing(median["warm"]["first"], note=f"compiled code ready after {median['warm']['ready']:.2f} s")
    except Exception as error:
        s2s_cold = s2s_warm = Timing(note=f"failed: {first_line(error)}")
    try:
        peers.require_jax()
        jax = Timing(statistics.median(_first_result("jax", tempfile.gettempdir())["first"] for _ in range(runs)))
    except peers.Unavailable as missing:
        jax = Timing(note=f"skipped: {missing}")
    except Exception as error:
        jax = Timing(note=f"failed: {first_line(error)}")
    ready_cold = Timing(_ready(s2s_cold))
    ready_warm = Timing(_ready(s2s_warm))
    return [Row(name + ", empty cache", s2s_cold, "jax.jit first call", jax, max_ratio=1.0),
            Row(name + ", warm cache", s2s_warm, "jax.jit first call", jax, max_ratio=0.5),
            Row("compiled code ready, empty cache", ready_cold, "jax.jit first call", jax),
            Row("compiled code ready, warm cache", ready_warm, "jax.jit first call", jax, max_ratio=0.5)]


def _ready(timing):
    if timing.seconds is None:
        return None
    return float(timing.note.split("after ")[1].split(" s")[0])


def bench_jit(settings):
    rows = []
    for part in (bench_readme, bench_scalar, bench_mlp, bench_per_example, bench_hessian, bench_first_result):
        try:
            rows += part(settings)
        except Exception as error:      # one broken part must not hide the others
            rows.append(Row(part.__name__, Timing(note=f"failed: {first_line(error)}")))
    return rows
