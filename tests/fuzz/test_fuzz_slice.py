"""A fixed slice of the differential fuzzer: no check may give a wrong value or crash.

Refusals (s2s.TransformError) are allowed here; the campaign CLI (`python -m tests.fuzz`)
reports them per construct. Runs in well under 90 s on one core.
"""
import pytest

from . import checks
from .generator import generate

SEED = 20261203
N_FAST = 80           # programs checked with grad, jvp, vjp, hessian, vmap
N_JIT = 8             # of those, the first ones also with jit and jit(grad) (Numba compiles are slow)


@pytest.mark.slow
def test_fuzz_slice():
    bad = []
    checked = 0
    for index in range(N_FAST):
        program = generate(SEED, index)
        names = checks.ALL_CHECKS if index < N_JIT else checks.FAST_CHECKS
        report = checks.run_program(program, names)
        if report.status == "checked":
            checked += 1
        for name, outcome in report.outcomes.items():
            if outcome.status in ("wrong", "crash"):
                bad.append(f"seed {SEED} index {index} {name} {outcome.status}: {outcome.message[:160]}")
    assert checked >= N_FAST // 2, f"only {checked} of {N_FAST} programs had a trustworthy reference"
    assert not bad, f"{len(bad)} wrong/crash outcomes (reproduce with python -m tests.fuzz --seed {SEED} " \
                    f"--start INDEX --n 1 --show):\n" + "\n".join(bad)
