"""`if` statements whose test is known when transforming keep only the branch taken.

`if self.activation is not None:` in a method of a known object, `if DEBUG:` on a module flag:
the test reads only module-level values (names `resolve` bound, their attributes) and
constants, so it is decided now, as JAX decides Python control flow when it traces. Runs after
`resolve`; the branch not taken may call things s2s could not differentiate (`None(y)`).
"""
import operator

import gast

_COMPARE = {gast.Is: operator.is_, gast.IsNot: operator.is_not, gast.Eq: operator.eq, gast.NotEq: operator.ne,
            gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge}
_UNKNOWN = object()


def decide(fn_tree):
    """Replace each `if` with a known test by the statements of the branch taken (in place)."""
    fn_tree.body = _block(fn_tree.body)


def _block(stmts):
    out = []
    for stmt in stmts:
        for field in ("body", "orelse"):
            if isinstance(getattr(stmt, field, None), list) and not isinstance(stmt, gast.FunctionDef):
                setattr(stmt, field, _block(getattr(stmt, field)))
        if isinstance(stmt, gast.If):
            value = _value(stmt.test)
            if value is not _UNKNOWN:
                try:
                    taken = bool(value)
                except Exception:       # an array's truth value, ...: left to run time
                    taken = None
                if taken is not None:
                    out.extend(stmt.body if taken else stmt.orelse)
                    continue
        out.append(stmt)
    return out or [gast.Pass()]


def _value(node):
    """The transform-time value of a test made of module values and constants, else _UNKNOWN."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Name):
        return getattr(node, "s2s_value", _UNKNOWN)
    if isinstance(node, gast.Attribute):
        base = _value(node.value)
        if base is _UNKNOWN or not _plain_object(base):
            return _UNKNOWN
        return getattr(base, node.attr, _UNKNOWN)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
        value = _value(node.operand)
        return _UNKNOWN if value is _UNKNOWN or not _is_simple(value) else not value
    if isinstance(node, gast.BoolOp):
        values = [_value(v) for v in node.values]
        if any(v is _UNKNOWN or not _is_simple(v) for v in values):
            return _UNKNOWN
        return all(values) if isinstance(node.op, gast.And) else any(values)
    if isinstance(node, gast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left, right = _value(node.left), _value(node.comparators[0])
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        if not isinstance(node.ops[0], (gast.Is, gast.IsNot)) and not (_is_simple(left) and _is_simple(right)):
            return _UNKNOWN
        return _COMPARE[type(node.ops[0])](left, right)
    return _UNKNOWN


def _is_simple(value):
    """None, a bool, a Python number or string: its truth and comparisons are plain."""
    return value is None or isinstance(value, (bool, int, float, str))


def _plain_object(value):
    """Objects whose attributes are read now: user objects and modules, not arrays."""
    return not hasattr(value, "__array__") and not isinstance(value, (list, tuple, dict))
