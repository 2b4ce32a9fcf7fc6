"""What a transformation read: the functions whose source was parsed and the free names looked up.

`parse.function`, `resolve.names` and `module_value` report here while a build is recorded; the program
cache (`codegen/program_cache.py`) uses the record to decide whether a stored program is still
what the passes would produce. Outside `recording()` the notes cost one attribute lookup.
"""
import builtins
import contextlib
import threading

import gast

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


def module_value(node, source):
    """The value a Name or an Attribute chain on one (`np.tanh`, `self.layers`) has in `source`'s
    closure, globals or builtins, noted like `resolve`'s reads; None when the root is none of them.
    For passes that rewrite before `resolve` by what a name means."""
    chain = []
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name):
        return None
    if node.id in source.closure:
        value, where = source.closure[node.id], "closure"
    elif node.id in source.globals:
        value, where = source.globals[node.id], source.globals
    elif hasattr(builtins, node.id):
        value, where = getattr(builtins, node.id), "builtins"
    else:
        return None
    note_name(where, node.id, value)
    for attr in reversed(chain):
        value = getattr(value, attr, None)
    return value
