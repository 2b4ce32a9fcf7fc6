"""Tuples and lists grown by concatenation become lists grown by `append`:

    t = ()                     t = []
    t += (x * 2,)      ->      t.append(x * 2)
    t = t + (y, z)             t.append(y); t.append(z)

`+` on sequences is not arithmetic, and the transformations know lists built with `append`.
This is done for a local name whose every assignment is a tuple (or list) display or such a
concatenation, and whose other uses cannot tell a list from a tuple (indexing, `len`, loops,
NumPy and `sum` calls); for a list, `+=` extends in place, so it is `append` whatever the uses.
Any other `+` with a tuple or list display as an operand raises TransformError, since the
transformations would take it for an addition of arrays.
"""
import builtins

import gast

from . import nodes

_READERS = {"len", "sum", "min", "max", "zip", "enumerate", "reversed", "any", "all"}


def appends(source):
    """`source` with concatenations onto local sequences lowered to appends (tree changed in place)."""
    fn = source.tree
    if not any(_is_concatenation(n) for n in nodes.walk(fn, contexts=False)):
        return source
    kinds, seen = _sequence_names(source)
    fn.body = _block(fn.body, kinds)
    for node in nodes.walk(fn, contexts=False):
        if _is_concatenation(node) and _joins_sequences(node, seen):
            raise source.error("`+` joining tuples or lists is not supported here: the transformations "
                               "would add the items as arrays", node,
                               suggestion="Build a local list with `append` (or a tuple display "
                                          "`(a, b, c)`) instead.")
    return source


def _is_display(node):
    return isinstance(node, (gast.Tuple, gast.List)) and not any(isinstance(e, gast.Starred) for e in node.elts)


def _is_concatenation(node):
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add):
        return _is_display(node.left) or _is_display(node.right)
    return isinstance(node, gast.AugAssign) and isinstance(node.op, gast.Add) and _is_display(node.value)


def _joins_sequences(node, seen):
    """Whether both operands are sequences (a display, or a name assigned one): not `array + (1, 2)`."""
    if isinstance(node, gast.AugAssign):
        operands = [node.target, node.value]
    else:
        operands = [node.left, node.right]
    return all(_is_display(o) or (isinstance(o, gast.Name) and o.id in seen) for o in operands)


def _grown(stmt):
    """(name, display) of `t += (...)` or `t = t + (...)`, else None."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add) and \
            isinstance(stmt.target, gast.Name) and _is_display(stmt.value):
        return stmt.target.id, stmt.value
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
        value = stmt.value
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and \
                isinstance(value.left, gast.Name) and value.left.id == stmt.targets[0].id and _is_display(value.right):
            return stmt.targets[0].id, value.right
    return None


def _sequence_names(source):
    """{name: 'tuple' | 'list'} for the locals that may become lists grown by append."""
    fn = source.tree
    params = {a.id for a in fn.args.args}
    kinds, bad, seen = {}, set(params), set()
    for node in nodes.walk(fn, contexts=False):
        grown = None
        if isinstance(node, (gast.Assign, gast.AugAssign)):
            grown = _grown(node)
        if grown is not None:
            name, display = grown
            kind = "tuple" if isinstance(display, gast.Tuple) else "list"
            if name in nodes.names_read(display):     # t + (t[-1],): reverse mode cannot follow reading
                bad.add(name)                         # the list being appended to

        elif isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            name = node.targets[0].id
            if not _is_display(node.value):
                bad.add(name)
                continue
            kind = "tuple" if isinstance(node.value, gast.Tuple) else "list"
        else:
            for target in _stored_names(node):
                bad.add(target)
            continue
        seen.add(name)
        if kinds.setdefault(name, kind) != kind:
            bad.add(name)
    kinds = {n: k for n, k in kinds.items() if n not in bad}
    # a tuple, or a list rebound to a new list by `t = t + [...]`, must only be used where a list
    # grown in place behaves the same (no copies to other names, not returned)
    rebound = {g[0] for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Assign)
               for g in [_grown(n)] if g is not None}
    for name in [n for n, k in kinds.items() if k == "tuple" or n in rebound]:
        if not _list_like_uses(fn, name, source):
            del kinds[name]
    return kinds, seen


def _stored_names(node):
    """Names bound by anything but a plain `name = value` (loops, unpacking, augmented, nested defs)."""
    if isinstance(node, gast.For):
        return nodes.names_stored(node.target)
    if isinstance(node, gast.Assign):
        return {n for t in node.targets for n in nodes.names_stored(t)}
    if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
        return {node.target.id}
    if isinstance(node, gast.FunctionDef):
        return {node.name} | {a.id for a in node.args.args}
    if isinstance(node, gast.comprehension):
        return nodes.names_stored(node.target)
    return set()


def _list_like_uses(fn, name, source):
    """Whether every read of `name` is one a list answers as the tuple would."""
    allowed = set()
    for node in nodes.walk(fn, contexts=False):
        if isinstance(node, (gast.Assign, gast.AugAssign)) and _grown(node) is not None and _grown(node)[0] == name:
            if isinstance(node, gast.Assign):
                allowed.add(id(node.value.left))
        elif isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == name \
                and isinstance(node.ctx, gast.Load):
            allowed.add(id(node.value))
        elif isinstance(node, gast.For) and isinstance(node.iter, gast.Name) and node.iter.id == name:
            allowed.add(id(node.iter))
        elif isinstance(node, gast.Call) and _reads_only(node.func, source):
            allowed |= {id(a) for a in node.args if isinstance(a, gast.Name) and a.id == name}
    return all(id(n) in allowed for n in nodes.walk(fn, contexts=False)
               if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load))


def _reads_only(func, source):
    """A builtin reader (`len`, `sum`, ...) or a NumPy function: takes a list like the tuple."""
    locals_ = {n.id for n in nodes.walk(source.tree, contexts=False)
               if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))}
    if isinstance(func, gast.Name):
        return func.id in _READERS and func.id not in locals_ and func.id not in source.globals \
            and func.id not in source.closure and hasattr(builtins, func.id)
    root = func
    while isinstance(root, gast.Attribute):
        root = root.value
    if not isinstance(root, gast.Name) or root.id in locals_:
        return False
    module = source.closure.get(root.id, source.globals.get(root.id))
    return getattr(module, "__name__", "").split(".")[0] == "numpy"


def _block(stmts, kinds):
    out = []
    for stmt in stmts:
        out += _statement(stmt, kinds)
    return out


def _statement(stmt, kinds):
    grown = _grown(stmt) if isinstance(stmt, (gast.Assign, gast.AugAssign)) else None
    if grown is not None and grown[0] in kinds:
        return _appends(grown[0], grown[1].elts, stmt)
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
            and stmt.targets[0].id in kinds:
        start = nodes.assign(stmt.targets[0].id, nodes.list_([]), stmt.lineno)
        return [start] + _appends(stmt.targets[0].id, stmt.value.elts, stmt)
    for field in ("body", "orelse"):
        if isinstance(getattr(stmt, field, None), list):
            setattr(stmt, field, _block(getattr(stmt, field), kinds))
    return [stmt]


def _appends(name, elts, stmt):
    out = []
    for elt in elts:
        append = nodes.expr(nodes.call(nodes.attr(nodes.name(name), "append"), [elt]))
        append.lineno = stmt.lineno
        out.append(append)
    return out
