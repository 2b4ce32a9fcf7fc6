"""Reject Python that s2s cannot transform, at the user's line, with a rewrite where one exists."""
import gast

from . import nodes, sharing

_UNSUPPORTED = {
    gast.Try: ("`try/except` around transformed code",
               "Move the try/except outside the function you transform."),
    gast.With: ("a `with` block", "Move the `with` outside the function you transform."),
    gast.Yield: ("a generator (`yield`)", "Return a list or an array instead of yielding values."),
    gast.YieldFrom: ("a generator (`yield from`)", "Return a list or an array instead."),
    gast.AsyncFunctionDef: ("an `async` function", None),
    gast.Await: ("`await`", None),
    gast.AsyncFor: ("`async for`", None),
    gast.AsyncWith: ("`async with`", None),
    gast.ClassDef: ("a class definition inside a transformed function",
                    "Define the class at module level."),
    gast.Delete: ("`del`", "Rebind the name instead of deleting it."),
    gast.NamedExpr: ("an assignment expression (`:=`)", "Assign on its own line first."),
}


def supported(source):
    """Raise TransformError at the first construct of `source.tree` s2s cannot transform."""
    fn = source.tree
    if isinstance(fn, gast.AsyncFunctionDef):
        raise source.error("s2s cannot transform an `async` function", fn)
    all_params = {a.id for a in fn.args.args}
    # parameters every call site fills with a fresh array (normalize checked them) are written like locals
    params = all_params - getattr(fn, "s2s_fresh_params", frozenset())
    if fn.args.vararg is not None or fn.args.kwarg is not None:
        raise source.error("`*args`/`**kwargs` parameters are not supported", fn,
                           suggestion="Give the function explicit parameters.")
    shared = None                        # built when a write in place asks
    guarded = set()                      # names a run-time check is about, and the names they share
    for node in nodes.walk(fn, contexts=False):
        if node is fn:
            continue
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            name_ = node.target.id
            if name_ not in params:
                shared = shared or sharing.Sharing(fn, source.globals)
                conflict = shared.conflict(node, name_, params)
            if name_ in params or conflict:
                what = f"the argument `{name_}`" if name_ in params else f"`{name_}`, which {conflict},"
                op = nodes.to_source(gast.BinOp(left=nodes.name(name_), op=node.op, right=node.value))
                err = source.error(f"`{source.line(node.lineno)}` changes {what} in place (NumPy `op=` on an "
                                   "array writes into it), which s2s cannot follow.", node, construct="",
                                   suggestion=f"Write a new value instead: {name_} = {op}")
                if name_ in params:
                    raise err
                # a number is a new object after `+=`: only an array there would be seen elsewhere,
                # which the run-time check `guards.py` puts before it refuses
                node.s2s_shared_write = str(err)
                guarded |= {name_} | shared.observers(name_, node, False, False)
        if isinstance(node, (gast.Assign, gast.AugAssign)):
            for target in node.targets if isinstance(node, gast.Assign) else [node.target]:
                root = _root_name(target) if isinstance(target, gast.Subscript) else None
                if root is not None and root not in params:
                    shared = shared or sharing.Sharing(fn, source.globals)
                    conflict = shared.conflict(node, root, params, into_items=isinstance(target.value, gast.Name),
                                               deep=isinstance(node, gast.AugAssign))
                    if conflict:
                        raise source.error(f"`{source.line(node.lineno)}` writes into `{root}` in place, and "
                                           f"`{root}` {conflict}: s2s cannot follow that.", node, construct="",
                                           suggestion=f"Copy it first: {root} = {root}.copy()")
        kind = type(node)
        if kind in _UNSUPPORTED:
            what, fix = _UNSUPPORTED[kind]
            raise source.error(f"s2s cannot transform {what}", node, suggestion=fix)
        if isinstance(node, gast.Global):
            raise source.error(f"`global {', '.join(node.names)}` writes module state, which a "
                               "transformation cannot follow", node,
                               suggestion="Pass the value in as an argument and return the new value.")
        if isinstance(node, gast.Nonlocal):
            raise source.error(f"`nonlocal {', '.join(node.names)}` writes an enclosing function's "
                               "variable, which a transformation cannot follow", node,
                               suggestion="Return the new value instead.")
        if isinstance(node, (gast.For, gast.While)) and node.orelse:
            raise source.error("`else` on a loop is not supported", node,
                               suggestion="Use a flag variable set before `break`.")
        if isinstance(node, (gast.Assign, gast.AugAssign)):
            targets = node.targets if isinstance(node, gast.Assign) else [node.target]
            for target in targets:
                _check_target(source, node, target, params)
        if isinstance(node, gast.Expr) and isinstance(node.value, gast.Call):
            _check_mutating_call(source, node, all_params)
    # every other `op=` on those names is checked too: a 0-d array (np.where of numbers) stays one
    # through `acc0 += 0.5` in NumPy, but is a NumPy scalar in transformed code by the time
    # `acc3 = acc0; acc3 *= acc3` is checked (fuzz seed 20261204 index 392)
    for node in nodes.walk(fn, contexts=False) if guarded else ():
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name) and \
                node.target.id in guarded and not hasattr(node, "s2s_shared_write"):
            node.s2s_shared_write = str(source.error(
                f"`{source.line(node.lineno)}` changes `{node.target.id}` in place, and `{node.target.id}` "
                "shares memory with another name: s2s cannot follow an array written in place", node,
                construct="", suggestion=f"Write a new value instead: {node.target.id} = ..."))


_MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "fill",
                     "resize", "update", "setdefault", "itemset", "put"}


def _root_name(node):
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _check_target(source, stmt, target, params):
    if isinstance(target, (gast.Tuple, gast.List)):
        for elt in target.elts:
            if isinstance(elt, gast.Starred):
                raise source.error("starred assignment targets are not supported", stmt,
                                   suggestion="Index the sequence explicitly.")
            _check_target(source, stmt, elt, params)
    elif isinstance(target, gast.Attribute):
        raise source.error("assigning to an attribute changes an object in place, which a "
                           "transformation cannot follow", stmt,
                           suggestion="Return the new value instead.")
    elif isinstance(target, gast.Subscript):
        root = _root_name(target)
        if root in params:
            text = source.line(stmt.lineno)
            fix = _index_rewrite(stmt, target, root)
            raise source.error(
                f"`{text}` changes the argument `{root}` in place, which s2s cannot follow.",
                stmt, construct="", suggestion=f"Return a new array instead: {fix}")


def _index_rewrite(stmt, target, root):
    index = nodes.to_source(target.slice)
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add) and target.value.id == root:
        return f"{root} = s2s.numpy.index_add({root}, {index}, {nodes.to_source(stmt.value)})"
    value = nodes.to_source(stmt.value) if isinstance(stmt, gast.Assign) else "..."
    return f"{root} = s2s.numpy.index_update({root}, {index}, {value})"


def _check_mutating_call(source, stmt, params):
    func = stmt.value.func
    if isinstance(func, gast.Attribute) and func.attr in _MUTATING_METHODS:
        root = _root_name(func.value)
        if root in params:
            raise source.error(f"`{source.line(stmt.lineno)}` changes the argument `{root}` in place, "
                               "which s2s cannot follow.", stmt, construct="",
                               suggestion="Build a new list or array and return it instead.")


def parameters_written_in_place(fn):
    """Parameters of `fn` written into by `p[i] = v`, `p[i] += v` or `p += v` (NumPy in place)."""
    params = {a.id for a in fn.args.args}
    out = set()
    for node in nodes.walk(fn, contexts=False):
        if isinstance(node, (gast.Assign, gast.AugAssign)):
            for target in node.targets if isinstance(node, gast.Assign) else [node.target]:
                for part in nodes.walk(target, contexts=False):
                    if isinstance(part, gast.Subscript) and _root_name(part) in params:
                        out.add(_root_name(part))
            if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name) and node.target.id in params:
                out.add(node.target.id)
    return frozenset(out)
