"""The printed report: machine and versions, then one markdown table of all rows."""
import datetime
import importlib.metadata
import os
import platform
import sys


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(name):
    """Installed version of a distribution; for an uninstalled but imported one, say so."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "from source tree" if name in sys.modules else "not installed"


def header(settings):
    packages = ["s2s", "numpy", "numba", "autograd", "jax", "jaxlib"]
    versions = ", ".join(f"{name} {version(name)}" for name in packages)
    return "\n".join([
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"cpu: {cpu_model()} ({os.cpu_count()} logical cores)",
        f"python {platform.python_version()}, {versions}",
        f"timing: median of {settings.repeats} rounds, each >= {settings.min_time:g} s; "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}",
    ])


def format_time(seconds):
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_target(row):
    if row.max_time is not None:
        return f"≤ {format_time(row.max_time)}"
    if row.max_ratio is None:
        return "—"
    if row.max_ratio < 1:
        return f"≤ {row.max_ratio:.3g}× ({1 / row.max_ratio:.3g}× faster)"
    return f"≤ {row.max_ratio:.3g}×"


def table(rows):
    lines = ["| benchmark | s2s | peer | peer time | s2s / peer | target | result |",
             "|---|---:|---|---:|---:|---|---|"]
    notes = []
    for row in rows:
        ratio = "—" if row.ratio is None else f"{row.ratio:.3g}×"
        peer_time = format_time(row.peer_timing.seconds) if row.peer_timing else "—"
        lines.append(f"| {row.name} | {format_time(row.s2s.seconds)} | {row.peer} | "
                     f"{peer_time} | {ratio} | {format_target(row)} | {row.status} |")
        for who, timing in (("s2s", row.s2s), (row.peer, row.peer_timing)):
            if timing is not None and timing.note:
                note = f"- {row.name}, {who}: {timing.note}"
                if note not in notes:
                    notes.append(note)
    return "\n".join(lines + ([""] + notes if notes else []))


def print_report(settings, rows, file=sys.stdout):
    print(header(settings), end="\n\n", file=file)
    print(table(rows), file=file)
