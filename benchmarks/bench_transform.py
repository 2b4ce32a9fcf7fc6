"""(d) Transform time: first call of `s2s.grad` of the MLP loss, on a never-seen function.

Each measurement writes the MLP source, renamed with a fresh suffix, to a temporary
module, so neither s2s's in-memory nor its on-disk (content-addressed) cache can
answer. The time includes that first call's own run of the gradient (see benchmark (a)).
"""
import importlib.util
import inspect
import re
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import models, peers
from benchmarks.harness import Timing, compare, first_line

NAME = "first call of grad(new MLP loss)"
_SOURCE = "import numpy as np\n\n\n" + "\n\n".join(
    inspect.getsource(fn) for fn in (models.predict, models.mlp_loss))


class FreshModules:
    """Imports copies of the MLP functions under names no cache has seen."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.tag = f"{time.time_ns():x}"
        self.count = 0

    def mlp_loss(self):
        self.count += 1
        suffix = f"{self.tag}_{self.count}"
        source = re.sub(r"\b(predict|mlp_loss)\b", rf"\1_{suffix}", _SOURCE)
        path = self.directory / f"fresh_mlp_{suffix}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, f"mlp_loss_{suffix}")


def first_call_time(make_grad, fresh, args, repeats):
    """Median time of `make_grad(new_loss)(*args)`, each time on a new function."""
    make_grad(fresh.mlp_loss())(*args)   # warm-up: imports and one-time set-up of the library
    times = []
    for _ in range(repeats):
        loss = fresh.mlp_loss()
        start = time.perf_counter()
        make_grad(loss)(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timing(make_grad, fresh, args, repeats):
    try:
        return Timing(first_call_time(make_grad, fresh, args, repeats))
    except peers.Unavailable as missing:
        return Timing(note=f"skipped: {missing}")
    except Exception as error:
        return Timing(note=f"failed: {first_line(error)}")


def bench_transform(settings):
    params, x, y = models.mlp_data()
    repeats = max(settings.repeats, 3)

    def s2s_grad(loss):
        return peers.require_s2s().grad(loss)

    def jax_jit_grad(loss):
        jax = peers.require_jax()
        grad_loss = jax.jit(jax.grad(peers.with_numpy(loss, jax.numpy)))
        return lambda *args: jax.block_until_ready(grad_loss(*args))

    with tempfile.TemporaryDirectory(prefix="s2s_bench_") as directory:
        fresh = FreshModules(directory)
        args = (params, x, y)
        timings = {"s2s": _timing(s2s_grad, fresh, args, repeats),
                   "jax.jit(grad)": _timing(jax_jit_grad, fresh, args, repeats)}
    return compare(NAME, timings, max_time=50e-3)
