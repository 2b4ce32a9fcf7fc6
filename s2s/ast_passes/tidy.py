"""Remove what no output needs: dead assignments, unused saves, empty branches and loops."""
import gast

from . import nodes

_LIST_METHODS = ("append", "pop")


def _list_call(value):
    """('append'|'pop', list name) for `L.append(v)` / `L.pop()` on a plain name."""
    if (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
            and value.func.attr in _LIST_METHODS and isinstance(value.func.value, gast.Name)):
        return value.func.attr, value.func.value.id
    return None


def _stmt_effect(stmt, live, effects):
    """(keep, defined names, read names) of a simple statement given names live after it."""
    defined, reads, keeps, _ = _effect(stmt, effects)
    if keeps is None:
        return True, defined, reads
    defines, list_name = keeps
    return bool(defines & live or list_name in live), defined, reads


def _effect(stmt, effects):
    """(defined, read, what keeps it, whether it kills what it defines) of a simple statement,
    worked out once per statement in `effects`; what keeps it is None (always kept) or
    (names whose liveness keeps it, a list it changes or None)."""
    found = effects.get(id(stmt))
    if found is None:
        found = effects[id(stmt)] = (stmt, _simple_effect(stmt))
    return found[1]


def _simple_effect(stmt):
    if isinstance(stmt, gast.Assign):
        defined = nodes.names_stored(stmt.targets[0])
        reads = nodes.names_read(stmt.value) | nodes.names_read(stmt.targets[0])
        lst = _list_call(stmt.value)
        if lst is not None:                    # v = L.pop(): also changes L
            return defined, reads, (defined, lst[1]), False
        return defined, reads, (defined, None), True
    if isinstance(stmt, gast.Expr):
        if nodes.is_comment(stmt):
            return set(), set(), None, False
        lst = _list_call(stmt.value)
        if lst is not None:
            return set(), nodes.names_read(stmt.value), (set(), lst[1]), False
        return set(), nodes.names_read(stmt.value), None, False
    return set(), nodes.names_read(stmt), None, False


def _sweep(stmts, live, rewrite, effects):
    """Liveness backwards through a block; with rewrite=True, also drop dead statements."""
    out = []
    live = set(live)
    for stmt in reversed(stmts):
        if isinstance(stmt, gast.If):
            body, live_body = _sweep(stmt.body, live, rewrite, effects)
            orelse, live_else = _sweep(stmt.orelse, live, rewrite, effects)
            live = live_body | live_else | nodes.names_read(stmt.test)
            if rewrite:
                if _empty(body) and _empty(orelse):
                    continue
                stmt.body = body or [gast.Pass()]
                stmt.orelse = [] if _empty(orelse) else orelse
                if _empty(stmt.body):
                    stmt.test = nodes.unary(gast.Not(), stmt.test)
                    stmt.body, stmt.orelse = stmt.orelse, []
            out.append(stmt)
        elif isinstance(stmt, (gast.For, gast.While)):
            loop_vars = nodes.names_stored(stmt.target) if isinstance(stmt, gast.For) else set()
            head_reads = nodes.names_read(stmt.iter if isinstance(stmt, gast.For) else stmt.test)
            head = set(live) | (head_reads if isinstance(stmt, gast.While) else set())
            for _ in range(50):
                _, start = _sweep(stmt.body, head, False, effects)
                new = set(live) | start | (head_reads if isinstance(stmt, gast.While) else set())
                if new == head:
                    break
                head = new
            body, start = _sweep(stmt.body, head, rewrite, effects)
            live = (head | start) - loop_vars | head_reads
            if rewrite:
                if _empty(body) or all(isinstance(s, gast.Break) or nodes.is_comment(s) for s in body):
                    live = set(head) - loop_vars
                    continue
                stmt.body = body
            out.append(stmt)
        else:
            keep, defined, reads = _stmt_effect(stmt, live, effects)
            if not keep:
                continue
            if _effect(stmt, effects)[3]:
                live -= defined
            live |= reads
            out.append(stmt)
    out.reverse()
    return out, live


def _empty(block):
    return all(isinstance(s, gast.Pass) or nodes.is_comment(s) for s in block)


def _self_only(stmts, keep, effects):
    """Names whose every read is in a statement that assigns them (e.g. unused counters)."""
    readers = {}
    assigned = set()
    for stmt in nodes.statements(stmts):
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            header = stmt.test if not isinstance(stmt, gast.For) else stmt.iter
            for n in nodes.names_read(header):
                readers.setdefault(n, set()).add("other")
            continue
        defined, reads, _, _ = _effect(stmt, effects)
        if isinstance(stmt, gast.Assign) and len(stmt.targets) > 1:
            reads = nodes.names_read(stmt)        # the sweep reads only the first target
        for n in reads:       # `a, n = f(n)` reads n for `a` too: only `n = f(n)` is a self read
            readers.setdefault(n, set()).add("self" if defined == {n} else "other")
        if isinstance(stmt, gast.Assign):
            assigned |= defined
    return {n for n in assigned if n not in keep and readers.get(n, set()) <= {"self"}}


def _drop_assignments(stmts, dead):
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id in dead:
            continue
        if isinstance(stmt, gast.If):
            stmt.body = _drop_assignments(stmt.body, dead) or [gast.Pass()]
            stmt.orelse = _drop_assignments(stmt.orelse, dead)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _drop_assignments(stmt.body, dead) or [gast.Pass()]
        out.append(stmt)
    return out


def _comments(stmts):
    """Drop comments that no longer head any code."""
    out = []
    for k, stmt in enumerate(stmts):
        if nodes.is_comment(stmt):
            following = stmts[k + 1] if k + 1 < len(stmts) else None
            if following is None or nodes.is_comment(following) or isinstance(following, gast.Pass):
                continue
        if isinstance(stmt, gast.If):
            stmt.body = _comments(stmt.body) or [gast.Pass()]
            stmt.orelse = _comments(stmt.orelse)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _comments(stmt.body) or [gast.Pass()]
        out.append(stmt)
    return out


def remove_dead_code(stmts, live_out=()):
    """`stmts` without statements that nothing in `live_out` (or a return) depends on."""
    keep = set(live_out)
    for n in nodes.walk_body([s for s in stmts if isinstance(s, gast.Return)], contexts=False):
        if isinstance(n, gast.Name):
            keep.add(n.id)
    effects = {}
    for _ in range(4):
        stmts, _ = _sweep(stmts, set(live_out), True, effects)
        dead = _self_only(stmts, keep, effects)
        if not dead:
            break
        stmts = _drop_assignments(stmts, dead)
    return _comments(stmts)


def free_names(stmts, params=()):
    """Names a block reads before (or without) assigning them."""
    _, live = _sweep(stmts, set(), False, {})
    return live - set(params)
