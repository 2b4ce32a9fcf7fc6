"""The GPU backend without a GPU: its kernels run in Numba's CUDA simulator with NumPy arrays standing
in for CuPy, and compile to PTX with NVVM (so a kernel real CUDA would reject fails here)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import s2s
from numerics import assert_tree_close

numba = pytest.importorskip("numba")


def _simulator():
    """numba.cuda in simulator mode (decided when numba.cuda is first imported in this process)."""
    from numba.core import config
    if "numba.cuda" not in sys.modules:
        config.ENABLE_CUDASIM = True
    import numba.cuda
    return bool(config.ENABLE_CUDASIM)


def readme(x):
    return x * x + x * 2.0


def reductions(x):
    return np.sum(np.maximum(np.tanh(x), 0.1) * np.exp(x) / (1.0 + np.sign(x) ** 2), axis=0), np.mean(x)


X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(8, 5)


def mlp_case():
    from benchmarks import models
    return s2s.grad(models.mlp_loss), models.mlp_data(sizes=(6, 5, 3), batch=4)


@pytest.mark.parametrize("case", ["readme", "reductions", "mlp_grad"])
def test_gpu_backend_in_the_simulator(case):
    if not _simulator():
        pytest.skip("numba.cuda was imported without the simulator in this process")
    fun, args = {"readme": (readme, (X,)), "reductions": (reductions, (X,)), "mlp_grad": mlp_case()}[case]
    jitted = s2s.jit(fun, backend="gpu")
    actual, expected = jitted(*args), fun(*args)
    assert_tree_close(actual, expected, rtol=1e-5, atol=1e-6)
    assert [np.result_type(v) for v in s2s.tree_util.tree_leaves(actual)] == \
        [np.result_type(v) for v in s2s.tree_util.tree_leaves(expected)]
    text = s2s.source(jitted)
    assert "@cuda.jit" in text and "cuda.grid(1)" in text


def test_backend_none_picks_the_cpu_without_a_gpu():
    assert s2s.jit(readme).__s2s__.backend == "cpu"


PTX_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    try:
        from numba.cuda.cudadrv import nvvm
        nvvm.NVVM()
    except Exception as err:
        print("SKIP NVVM (the CUDA toolkit's compiler library) is not available:", err)
        sys.exit(0)
    import s2s
    from s2s.codegen import cuda as gpu
    sys.path.insert(0, {tests!r})
    from codegen.test_cuda_sim import X, mlp_case, readme, reductions
    for fun, args in [(readme, (X,)), (reductions, (X,)), mlp_case()]:
        lowered, _, _ = gpu.lower(fun, args)
        ptx = gpu.kernel_ptx(lowered)
        assert ptx and all(".entry" in text for text in ptx.values()), ptx
        print(fun.__name__, sorted(ptx))
""")


@pytest.mark.slow
def test_kernels_compile_to_ptx(tmp_path):
    """In a fresh process: the simulator replaces numba.cuda's compiler, so PTX needs the real one."""
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    root = os.path.dirname(os.path.dirname(s2s.__file__))
    env["PYTHONPATH"] = os.pathsep.join([root, tests, env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", PTX_SCRIPT.format(tests=tests)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    if done.stdout.startswith("SKIP"):
        pytest.skip(done.stdout[5:].strip())
    assert "readme" in done.stdout and "grad_mlp_loss" in done.stdout
