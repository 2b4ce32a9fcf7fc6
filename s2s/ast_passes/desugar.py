"""Spellings with a plainer equivalent, rewritten before normalization so every later pass
sees one form: `dict(a=x, b=y)` -> `{'a': x, 'b': y}`, `np.r_[a, b]` ->
`np.concatenate([np.atleast_1d(a), np.atleast_1d(b)])`, `np.c_[a, b]` ->
`np.concatenate([c_column(a), c_column(b)], axis=-1)`. Runs after `resolve`: it reads what
names mean, and gives the calls it builds their `Callee`."""
import gast
import numpy as np

from ..runtime import primitives
from . import nodes
from .resolve import Callee


def plainer_spellings(fn_tree):
    """Rewrite `fn_tree` in place."""
    _Desugar().visit(fn_tree)


def _primitive_call(path, args, keywords=None):
    call = nodes.call(_dotted(path), args, keywords)
    name = path.split(".")[-1]
    call.s2s = Callee("primitive", path, primitive=primitives.by_name(name))
    return call


def _dotted(path):
    parts = path.split(".")
    node = nodes.name(parts[0])
    if parts[0] == "np":
        node.s2s_value = np
    for part in parts[1:]:
        node = nodes.attr(node, part)
    return node


def _static(node):
    if isinstance(node, gast.Name):
        return getattr(node, "s2s_value", None)
    if isinstance(node, gast.Attribute):
        base = _static(node.value)
        return getattr(base, node.attr, None) if base is not None else None
    return None


class _Desugar(gast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        callee = getattr(node, "s2s", None)
        if callee is not None and callee.kind == "primitive" and callee.primitive.name == "dict" \
                and not node.args and node.keywords and all(kw.arg is not None for kw in node.keywords):
            return gast.Dict(keys=[nodes.const(kw.arg) for kw in node.keywords],
                             values=[kw.value for kw in node.keywords])
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if not isinstance(node.ctx, gast.Load):
            return node
        which = _static(node.value)
        if which is not np.r_ and which is not np.c_:
            return node
        items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if any(isinstance(i, gast.Slice) or (isinstance(i, gast.Constant) and isinstance(i.value, str))
               for i in items):
            return node       # ranges and directives: left to NumPy (no derivative flows)
        if which is np.r_:
            return _primitive_call("np.concatenate", [nodes.list_([_primitive_call("np.atleast_1d", [i])
                                                                    for i in items])])
        columns = nodes.list_([_primitive_call("c_column", [i]) for i in items])
        return _primitive_call("np.concatenate", [columns], {"axis": nodes.const(-1)})
