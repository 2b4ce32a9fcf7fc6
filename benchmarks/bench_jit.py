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
def _readme_data():
    return (np.random.default_rng(0).standard_normal((5000, 5000)).astype(np.float32),)


def _per_example_data():
    return models.mlp_data(sizes=(32, 64, 10), batch=128)


# name -> (build the s2s function, build the JAX function, the arguments)
FIRST_RESULT_CASES = {
    "README x*x + x*2.0": (lambda s2s: s2s.jit(readme),
                           lambda jax: jax.jit(peers.with_numpy(readme, jax.numpy)), _readme_data),
    "jit(grad(tanh))": (lambda s2s: s2s.jit(s2s.grad(tanh)),
                        lambda jax: jax.jit(jax.grad(peers.with_numpy(tanh, jax.numpy))), lambda: (1.0,)),
    "jit(grad(MLP loss))": (lambda s2s: s2s.jit(s2s.grad(models.mlp_loss)),
                            lambda jax: jax.jit(jax.grad(peers.with_numpy(models.mlp_loss, jax.numpy))),
                            models.mlp_data),
    "jit(vmap(grad)) per-example": (
        lambda s2s: s2s.jit(s2s.vmap(s2s.grad(models.mlp_loss), in_axes=(None, 0, 0))),
        lambda jax: jax.jit(jax.vmap(jax.grad(peers.with_numpy(models.mlp_loss, jax.numpy)), in_axes=(None, 0, 0))),
        _per_example_data),
    "jit(hessian) 100-dim": (lambda s2s: s2s.jit(s2s.hessian(hessian_target)),
                             lambda jax: jax.jit(jax.hessian(peers.with_numpy(hessian_target, jax.numpy))),
                             lambda: (np.linspace(-1.0, 1.0, 100),)),
}


def time_first_result(case, who):
    """Run in a new process: seconds from building the jitted function to its first result (and,
    for s2s, to its compiled code being ready). Imports and data are outside the timing."""
    import time
    build_s2s, build_jax, data = FIRST_RESULT_CASES[case]
    args = data()
    if who == "s2s":
        import numba  # noqa: F401  (imported before timing, as jax is)
        s2s = peers.require_s2s()
        start = time.perf_counter()
        jitted = build_s2s(s2s)
        jitted(*args)
        first = time.perf_counter() - start
        jitted.__s2s__.wait()
        return {"first": first, "ready": time.perf_counter() - start}
    jax = peers.require_jax()
    args = jax.tree_util.tree_map(jax.numpy.asarray, args)
    start = time.perf_counter()
    jax.block_until_ready(build_jax(jax)(*args))
    first = time.perf_counter() - start
    return {"first": first, "ready": first}


_FIRST = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    from benchmarks import bench_jit
    print(json.dumps(bench_jit.time_first_result({case!r}, {who!r})))
""")


def _first_result(case, who, cache_dir):
    env = dict(os.environ, S2S_CACHE_DIR=str(cache_dir), S2S_JIT_BACKGROUND="1")
    done = subprocess.run([sys.executable, "-c", _FIRST.format(root=str(ROOT), case=case, who=who)], env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_first_result(settings):
    """Time to the first result of each jitted benchmark in a new process (median of several runs):
    s2s with an empty and with a warm Numba disk cache, against JAX's first call. s2s answers with
    the emitted NumPy code while Numba compiles in the background; the time until the compiled code
    is ready is reported beside it (it includes ~0.5 s that Numba spends setting up its CPU target in
    every new process, which no disk cache removes)."""
    import statistics
    runs = 1 if settings.repeats < 5 else 3
    rows = []
    for case in FIRST_RESULT_CASES:
        name = f"first result of {case}, new process"
        try:
            peers.require_s2s()
            cold, warm = [], []
            for _ in range(runs):
                with tempfile.TemporaryDirectory(prefix="s2s_jit_cache_") as cache:
                    cold.append(_first_result(case, "s2s", cache))
                    warm.append(_first_result(case, "s2s", cache))
            timings = []
            for runs_ in (cold, warm):
                first = statistics.median(r["first"] for r in runs_)
                ready = statistics.median(r["ready"] for r in runs_)
                timings.append(Timing(first, note=f"compiled code ready after {ready:.2f} s"))
            s2s_cold, s2s_warm = timings
        except Exception as error:
            s2s_cold = s2s_warm = Timing(note=f"failed: {first_line(error)}")
        try:
            peers.require_jax()
            jax = Timing(statistics.median(_first_result(case, "jax", tempfile.gettempdir())["first"]
                                           for _ in range(runs)))
        except peers.Unavailable as missing:
            jax = Timing(note=f"skipped: {missing}")
        except Exception as error:
            jax = Timing(note=f"failed: {first_line(error)}")
        rows += [Row(name + ", empty cache", s2s_cold, "jax.jit first call", jax, max_ratio=1.0),
                 Row(name + ", warm cache", s2s_warm, "jax.jit first call", jax, max_ratio=0.5)]
    return rows


def bench_jit(settings):
    rows = []
    for part in (bench_readme, bench_scalar, bench_mlp, bench_per_example, bench_hessian, bench_first_result):
        try:
            rows += part(settings)
        except Exception as error:      # one broken part must not hide the others
            rows.append(Row(part.__name__, Timing(note=f"failed: {first_line(error)}")))
    return rows
