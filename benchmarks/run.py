"""Run the s2s benchmarks and print a markdown table; `--check` verifies the baselines.

    python benchmarks/run.py            # all benchmarks, full repeats
    python benchmarks/run.py --quick    # fewer, shorter rounds
    python benchmarks/run.py --only mlp # benchmarks whose function name contains "mlp"
    python benchmarks/run.py --check    # hand-written NumPy gradients vs autograd, JAX, FD

Every contender runs in this one process. To add a benchmark, write a function
`settings -> list[harness.Row]` and append it to BENCHMARKS.
"""
import argparse
import os
import sys
from pathlib import Path

# BLAS threading is left as configured; on a machine busy with other jobs, set
# OPENBLAS_NUM_THREADS=1 (the header prints it): every NumPy contender shares the setting.

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `s2s` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import harness, report  # noqa: E402
from benchmarks.bench_jit import bench_jit  # noqa: E402
from benchmarks.bench_logistic import bench_logistic  # noqa: E402
from benchmarks.bench_mlp import bench_mlp_grad  # noqa: E402
from benchmarks.bench_scalar import bench_scalar_grad  # noqa: E402
from benchmarks.bench_transform import bench_transform  # noqa: E402
from benchmarks.checks import run_checks  # noqa: E402

from benchmarks.bench_hessian import bench_hessian  # noqa: E402
from benchmarks.bench_vmap import bench_per_example_grads  # noqa: E402

BENCHMARKS = [
    bench_mlp_grad,       # (a) MLP loss gradient vs hand NumPy, autograd, JAX
    bench_scalar_grad,    # (b) per-call overhead of a scalar gradient
    bench_logistic,       # (c) logistic regression training step
    bench_transform,      # (d) time to transform a new function
    bench_jit,            # (e) s2s.jit against jax.jit, and the time to a first result
    bench_hessian,        # issue 3: hessian via forward-over-reverse
    bench_per_example_grads,  # issue 4: vmap(grad) per-example gradients
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--check", action="store_true",
                        help="verify the hand-written NumPy gradients, then exit")
    parser.add_argument("--only", metavar="TEXT", default="",
                        help="run only benchmarks whose function name contains TEXT")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if run_checks() else 1
    settings = harness.QUICK if args.quick else harness.FULL
    rows = []
    for benchmark in BENCHMARKS:
        if args.only in benchmark.__name__:
            print(f"running {benchmark.__name__} ...", file=sys.stderr, flush=True)
            rows += benchmark(settings)
    report.print_report(settings, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
