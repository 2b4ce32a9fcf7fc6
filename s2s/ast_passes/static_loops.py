"""Loops over a module-level sequence of objects are unrolled, one copy of the body per item.

    for layer, p in zip(self.layers, params):        p = params[0]
        x = layer(p, x)                       ->      x = self.layers[0](p, x)
                                                      p = params[1]
                                                      x = self.layers[1](p, x)

`self.layers` is known when transforming (a closure or module value) and holds objects that are
not numbers or arrays (layers, functions), so each call through the loop variable is a call
of a known object that `resolve` can follow. The loop variable must not be assigned in the
body, and the body must not `break` or `continue`. Runs before `resolve`.
"""
import gast

from . import nodes, reads

MAX_ITEMS = 64


def unroll(source):
    """Rewrite `source.tree` in place."""
    fn = source.tree
    local = {a.id for a in fn.args.args} | {n.id for n in nodes.walk(fn, contexts=False)
                                             if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    fn.body = _block(fn.body, source, local)


def _block(stmts, source, local):
    out = []
    for stmt in stmts:
        for field in ("body", "orelse"):
            if isinstance(getattr(stmt, field, None), list) and not isinstance(stmt, gast.FunctionDef):
                setattr(stmt, field, _block(getattr(stmt, field), source, local))
        unrolled = _unrolled(stmt, source, local) if isinstance(stmt, gast.For) else None
        out.extend(unrolled if unrolled is not None else [stmt])
    return out


def _unrolled(loop, source, local):
    if loop.orelse or any(isinstance(n, (gast.Break, gast.Continue)) for n in nodes.walk_body(loop.body)):
        return None
    plan = _plan(loop.iter, loop.target, source, local)
    if plan is None:
        return None
    static_name, items, others = plan                  # others: [(target node, expression, kind)]
    if static_name in nodes.names_stored(gast.Module(body=loop.body, type_ignores=[])):
        return None
    out = []
    for k in range(len(items)):
        for target, expr, kind in others:
            value = nodes.const(k) if kind == "index" else nodes.subscript(nodes.copy(expr), nodes.const(k))
            assign = nodes.assign(nodes.copy(target), value)
            assign.lineno = loop.lineno
            out.append(assign)
        body = [nodes.copy(s) for s in loop.body]
        item = nodes.subscript(nodes.copy(_static_expr(loop.iter)), nodes.const(k))
        out.extend(_substitute(body, static_name, item))
    return out


def _static_expr(iter_):
    """The static sequence expression inside `iter_` (itself, or zip's / enumerate's argument)."""
    if isinstance(iter_, gast.Call) and isinstance(iter_.func, gast.Name) and iter_.func.id in ("zip", "enumerate"):
        return iter_.args[0] if iter_.func.id == "enumerate" else next(a for a in iter_.args if a.s2s_static)
    return iter_


def _plan(iter_, target, source, local):
    """(loop variable bound to the items, the items, [(other target, expr, kind)]) or None."""
    if isinstance(iter_, gast.Call) and isinstance(iter_.func, gast.Name) and iter_.func.id in ("zip", "enumerate") \
            and iter_.func.id not in local and not iter_.keywords and iter_.args and \
            not any(isinstance(a, gast.Starred) for a in iter_.args):
        if not isinstance(target, gast.Tuple) or any(not isinstance(e, gast.Name) for e in target.elts):
            return None
        if iter_.func.id == "enumerate":
            if len(iter_.args) != 1 or len(target.elts) != 2:
                return None
            items = _objects(iter_.args[0], source, local)
            if items is None:
                return None
            iter_.args[0].s2s_static = True
            return target.elts[1].id, items, [(target.elts[0], None, "index")]
        if len(target.elts) != len(iter_.args):
            return None
        found = [(k, _objects(a, source, local)) for k, a in enumerate(iter_.args)]
        static = [(k, items) for k, items in found if items is not None]
        if len(static) != 1:
            return None
        k, items = static[0]
        for j, a in enumerate(iter_.args):
            a.s2s_static = j == k
        others = [(target.elts[j], a, "item") for j, a in enumerate(iter_.args) if j != k]
        if any(_reads_names(a, local) and not isinstance(a, (gast.Name, gast.Attribute)) for _, a, _ in others):
            return None                 # zip over a computed sequence: indexing it would recompute
        return target.elts[k].id, items, others
    if not isinstance(target, gast.Name):
        return None
    items = _objects(iter_, source, local)
    return None if items is None else (target.id, items, [])


def _reads_names(node, local):
    return bool(nodes.names_read(node) & local)


def _objects(node, source, local):
    """The items of a module-level list or tuple of objects (not numbers or arrays), else None."""
    root = node
    while isinstance(root, gast.Attribute):
        root = root.value
    if not isinstance(root, gast.Name) or root.id in local:
        return None
    value = reads.module_value(node, source)      # noted: the program cache must see it change
    if not isinstance(value, (list, tuple)) or not 0 < len(value) <= MAX_ITEMS:
        return None
    if all(isinstance(v, (int, float, complex, bool, str)) or hasattr(v, "__array__") or v is None for v in value):
        return None                     # numbers and arrays: the loop runs as written
    return list(value)


def _substitute(stmts, name, item):
    """`stmts` with reads of `name` replaced by copies of `item`."""
    class Swap(gast.NodeTransformer):
        def visit_Name(self, node):
            if node.id == name and isinstance(node.ctx, gast.Load):
                new = nodes.copy(item)
                return gast.copy_location(new, node)
            return node

        def visit_Lambda(self, node):
            if name in {a.id for a in node.args.args}:
                return node
            self.generic_visit(node)
            return node

    swap = Swap()
    return [swap.visit(s) for s in stmts]
