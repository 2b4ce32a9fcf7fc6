"""What a transformation read: the functions whose source was parsed and the free names looked up.

`parse.function` and `resolve.names` report here while a build is being recorded; the program
cache (`codegen/program_cache.py`) uses the record to decide whether a stored program is still
what the passes would produce. Outside `recording()` the notes cost one attribute lookup.
"""
import contextlib
import threading

_local = threading.local()


class Reads:
    """The functions and names one build read, in order."""

    def __init__(self):
        self.functions = []      # python functions whose source was parsed
        self.names = []          # (globals dict, or None for builtins, name, value)
        self.cacheable = True    # False once a closure cell was read: it cannot be found again


@contextlib.contextmanager
def recording():
    """Record the reads of the build inside the block (a nested build records its own)."""
    outer = getattr(_local, "reads", None)
    reads = _local.reads = Reads()
    try:
        yield reads
    finally:
        _local.reads = outer


def note_function(fn):
    """`parse.function` read the source of `fn`."""
    reads = getattr(_local, "reads", None)
    if reads is not None:
        reads.functions.append(fn)


def note_name(where, name, value):
    """`resolve.names` looked `name` up: `where` is the globals dict, "closure" or "builtins"."""
    reads = getattr(_local, "reads", None)
    if reads is None:
        return
    if where == "closure":
        reads.cacheable = False
    else:
        reads.names.append((where if isinstance(where, dict) else None, name, value))
