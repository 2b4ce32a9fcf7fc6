"""Local names bound once to a function: `act = np.tanh`, `p = functools.partial(loss, W)`.

Calls through such a name become calls of the function itself (`act(x)` -> `np.tanh(x)`,
`p(x)` -> `loss(W, x)`), so `resolve` classifies them like any other call. Only a name assigned
once, by a statement of the function's own body, to a function known when transforming (a
module-level name or a local def) is rewritten. A partial's bound arguments that are not
constants or names that never change after it is made (parameters, names assigned once before
it, module names) are first given names of their own where the partial is made
(`p_b = f(x)`), so the rewritten calls read the values the partial held. Runs before `resolve`.
"""
import builtins
import collections
import functools

import gast

from . import nodes, reads


def calls_through_locals(source):
    """Rewrite `source.tree` in place."""
    fn = source.tree
    params = {a.id for a in fn.args.args}
    stores = collections.Counter(n.id for n in nodes.walk(fn, contexts=False)
                                 if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)))
    stores.update(n.name for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.FunctionDef) and n is not fn)
    local = set(stores) | params
    stable = {p for p in params if stores[p] == 1}      # parameters nothing assigns
    taken = {n.id for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Name)} | local | set(dir(builtins))
    for stmt in list(fn.body):
        index = fn.body.index(stmt)
        if isinstance(stmt, gast.FunctionDef) and stores[stmt.name] == 1:
            stable.add(stmt.name)
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
            continue
        target = stmt.targets[0].id
        if stores[target] != 1:
            continue
        later = fn.body[index + 1:]
        rewritten = True
        if _names_a_function(stmt.value, source, local, stable):
            _substitute_alias(later, target, stmt.value)
        elif _is_partial(stmt.value, source, local, stable):
            hoisted = _hoist_arguments(stmt, target, local, stable, taken)
            fn.body[index:index] = hoisted       # evaluated where the partial was made, as before
            _substitute_partial(later, target, stmt.value)
        else:
            rewritten = False
        if rewritten and not _reads([s for s in fn.body if s is not stmt and s is not None], target):
            fn.body[fn.body.index(stmt)] = None   # nothing reads it any more (a def made before it may)
        stable.add(target)          # assigned once, here: it holds this object from now on
    fn.body = [s for s in fn.body if s is not None]


def _root(node):
    while isinstance(node, gast.Attribute):
        node = node.value
    return node


def _names_a_function(node, source, local, stable):
    """`np.tanh`, `jnp_like.sin`, a local def's name: a function known when transforming."""
    if not isinstance(node, (gast.Name, gast.Attribute)) or not isinstance(_root(node), gast.Name):
        return False
    root = _root(node).id
    if root in local:
        return isinstance(node, gast.Name) and root in stable and root not in source.closure \
            and _is_local_def(root, source)
    return callable(reads.module_value(node, source))


def _is_local_def(name, source):
    return any(isinstance(s, gast.FunctionDef) and s.name == name for s in source.tree.body)


def _is_partial(node, source, local, stable):
    if not (isinstance(node, gast.Call) and node.args and isinstance(node.func, (gast.Name, gast.Attribute))):
        return False
    root = _root(node.func)
    if not isinstance(root, gast.Name) or root.id in local:
        return False
    if reads.module_value(node.func, source) is not functools.partial:
        return False
    if any(k.arg is None for k in node.keywords) or any(isinstance(a, gast.Starred) for a in node.args):
        return False
    return _names_a_function(node.args[0], source, local, stable)


def _hoist_arguments(stmt, target, local, stable, taken):
    """`p = partial(h, b=f(x))` -> `p_b = f(x)`, `p = partial(h, b=p_b)`: each bound argument
    that is not a constant or a fixed name gets a name of its own, so calls can read it."""
    partial, hoisted = stmt.value, []
    slots = [(f"arg{k}", partial.args, k) for k in range(1, len(partial.args))]
    slots += [(kw.arg, kw, "value") for kw in partial.keywords]
    for label, holder, where in slots:
        value = holder[where] if isinstance(where, int) else getattr(holder, where)
        if _fixed(value, local, stable):
            continue
        name_ = nodes.unique_name(f"{target}_{label}", taken)
        stable.add(name_)
        assign = nodes.assign(nodes.store(name_), value)
        assign.lineno = stmt.lineno
        hoisted.append(assign)
        if isinstance(where, int):
            holder[where] = _located(nodes.name(name_), value)
        else:
            setattr(holder, where, _located(nodes.name(name_), value))
    return hoisted


def _fixed(node, local, stable):
    """A constant, or names that hold the same object wherever the function reads them."""
    if isinstance(node, (gast.Constant, gast.Lambda)):
        return True             # a lambda reads its free names when called, wherever it is written
    if isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Constant):
        return True
    if isinstance(node, gast.Tuple):
        return all(_fixed(e, local, stable) for e in node.elts)
    if isinstance(node, (gast.Name, gast.Attribute)) and isinstance(_root(node), gast.Name):
        root = _root(node).id
        return root not in local or root in stable
    return False


def _loads(stmts, target):
    return [n for n in nodes.free_names(gast.Module(body=stmts, type_ignores=[]))
            if n.id == target and isinstance(n.ctx, gast.Load)]


def _reads(stmts, target):
    return bool(_loads(stmts, target))


def _substitute_alias(stmts, target, value):
    loads = _loads(stmts, target)           # kept alive: ids of freed nodes are reused by the copies
    replaced = {id(n) for n in loads}
    for stmt in stmts:
        nodes.replace(stmt, lambda n: _located(nodes.copy(value), n) if id(n) in replaced else None)


def _substitute_partial(stmts, target, partial):
    loads = _loads(stmts, target)
    replaced = {id(n) for n in loads}
    for node in nodes.walk_body(stmts, contexts=False):
        if isinstance(node, gast.Call) and id(node.func) in replaced:
            given = {k.arg for k in node.keywords}
            node.func = _located(nodes.copy(partial.args[0]), node.func)
            node.args = [nodes.copy(a) for a in partial.args[1:]] + node.args
            node.keywords = [nodes.copy(k) for k in partial.keywords if k.arg not in given] + node.keywords


def _located(new, old):
    for node in nodes.walk(new):
        if hasattr(old, "lineno"):
            node.lineno = old.lineno
    return new
