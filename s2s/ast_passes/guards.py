"""Run-time checks before writes in place that another name might see.

`check` finds `acc += v` where another name may share acc's object and read it afterwards
(`acc = y`, `t = acc[i]` read later). When acc holds a number, `+=` makes a new one and
nothing is shared; only an array is written in place. So instead of refusing, the write gets
`unshared_write(acc, message)` before it, which raises the TransformError `check` would have
raised when acc is an array at run time (jit: when its type is; vmap: when acc is batched, since
an example may be a 0-d array the batch cannot tell from a number).
Runs after `resolve`, so the check is a classified primitive call.
"""
import gast

from ..runtime import primitives
from . import nodes
from .resolve import Callee


def insert(fn_tree):
    """Put a check before every write `check` marked (in place)."""
    for node in list(nodes.walk(fn_tree, contexts=False)):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and any(hasattr(s, "s2s_shared_write") for s in block):
                setattr(node, field, [g for s in block for g in _guarded(s)])


def _guarded(stmt):
    message = getattr(stmt, "s2s_shared_write", None)
    if message is None:
        return [stmt]
    call = nodes.call(nodes.name("unshared_write"), [nodes.name(stmt.target.id), nodes.const(message)])
    call.s2s = Callee("primitive", "unshared_write", primitive=primitives.by_name("unshared_write"))
    check = gast.Expr(value=call)
    check.lineno = stmt.lineno
    return [check, stmt]
