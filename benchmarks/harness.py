"""Timing, result checks and result rows shared by all benchmarks."""
import dataclasses
import statistics
import timeit

import numpy as np

from benchmarks import peers


@dataclasses.dataclass(frozen=True)
class Settings:
    repeats: int = 7          # timed rounds per contender; the median is reported
    min_time: float = 0.2     # seconds that one round of one contender lasts at least


FULL = Settings()
QUICK = Settings(repeats=3, min_time=0.05)


@dataclasses.dataclass
class Timing:
    seconds: float | None = None   # median seconds per call; None if it could not run
    note: str = ""                 # why it did not run, or what is off
    wrong: bool = False            # its result disagreed with the reference


@dataclasses.dataclass
class Row:
    """One line of the table: s2s against one peer, or against an absolute target."""
    name: str
    s2s: Timing
    peer: str = "—"
    peer_timing: Timing | None = None
    max_ratio: float | None = None   # target: s2s time / peer time <= max_ratio
    max_time: float | None = None    # target: s2s time <= max_time seconds

    @property
    def ratio(self):
        if self.peer_timing is None or None in (self.s2s.seconds, self.peer_timing.seconds):
            return None
        return self.s2s.seconds / self.peer_timing.seconds

    @property
    def status(self):
        if self.s2s.seconds is None:
            return "n/a"
        if self.s2s.wrong:
            return "WRONG"
        if self.max_time is not None:
            return "pass" if self.s2s.seconds <= self.max_time else "FAIL"
        if self.ratio is None:
            return "n/a"
        if self.max_ratio is None:
            return "info"
        return "pass" if self.ratio <= self.max_ratio else "FAIL"


def first_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def tree_allclose(actual, expected, rtol):
    """Leaf-wise closeness of two pytrees (lists, tuples, arrays, JAX arrays, scalars).

    Shapes and dtypes must match; tolerances are relative to each expected leaf's
    largest entry, so float32 sums pass.
    """
    if isinstance(expected, (list, tuple)):
        return (isinstance(actual, (list, tuple)) and len(actual) == len(expected)
                and all(tree_allclose(a, e, rtol) for a, e in zip(actual, expected)))
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = np.max(np.abs(expected), initial=0.0)
    return (actual.shape == expected.shape and actual.dtype == expected.dtype
            and np.allclose(actual, expected, rtol=rtol, atol=rtol * scale))


def calls_per_round(call, min_time):
    """Smallest 1, 2, 5, 10, 20, 50, ... calls of `call` that last at least `min_time`."""
    timer = timeit.Timer(call)
    number = 1
    while True:
        for step in (1, 2, 5):
            if timer.timeit(number * step) >= min_time:
                return number * step
        number *= 10


def measure(contenders, settings, expected=None, rtol=1e-6):
    """Median seconds per call of each contender, timed in interleaved rounds.

    `contenders` maps a name to a factory returning a zero-argument call. A factory that
    raises `peers.Unavailable` is skipped with a note; any other error is noted too.
    Each first result is checked against `expected`, the reference gradient.
    """
    timings, calls = {}, {}
    for name, factory in contenders.items():
        try:
            call = factory()
            result = call()
        except peers.Unavailable as missing:
            timings[name] = Timing(note=f"skipped: {missing}")
            continue
        except Exception as error:
            timings[name] = Timing(note=f"failed: {first_line(error)}")
            continue
        timings[name] = Timing()
        calls[name] = call
        if expected is not None and not tree_allclose(result, expected, rtol):
            timings[name].wrong = True
            timings[name].note = "result differs from the reference (value, shape or dtype)"
    numbers = {name: calls_per_round(call, settings.min_time) for name, call in calls.items()}
    rounds = {name: [] for name in calls}
    for _ in range(settings.repeats):   # interleaved, so drifting load hits everyone alike
        for name, call in calls.items():
            rounds[name].append(timeit.Timer(call).timeit(numbers[name]) / numbers[name])
    for name, seconds in rounds.items():
        timings[name].seconds = statistics.median(seconds)
    return timings


def compare(name, timings, targets=(), max_time=None):
    """Rows for one benchmark: s2s against each other contender in `timings`.

    `targets` maps a peer name to the largest acceptable s2s/peer ratio; `max_time` adds a
    row with an absolute target in seconds.
    """
    targets = dict(targets)
    s2s = timings.get("s2s", Timing(note="s2s missing from the benchmark"))
    rows = [Row(name, s2s, max_time=max_time)] if max_time is not None else []
    for peer, timing in timings.items():
        if peer != "s2s":
            rows.append(Row(name, s2s, peer, timing, max_ratio=targets.get(peer)))
    return rows
