"""Which variables carry derivatives: those computed from active inputs through
differentiable operations (a flow-insensitive fixpoint, so loops are covered)."""
import gast

from . import nodes, operations


def mark(fn_tree, active_params):
    """The set of active variable names of a normalized function."""
    active = set(active_params)
    flows = [flow for stmt in nodes.walk(fn_tree, contexts=False) for flow in _flows(stmt)]
    changed = True
    while changed:
        changed = False
        for target, sources in flows:
            if target not in active and sources & active:
                active.add(target)
                changed = True
    return active


def _flows(stmt):
    """(target name, names whose derivative reaches it) for one statement."""
    if isinstance(stmt, gast.Assign):
        target = stmt.targets[0]
        sources = operations.differentiable_inputs(stmt.value)
        if isinstance(target, gast.Name):
            return [(target.id, sources)]
        return [(elt.id, sources) for elt in target.elts]
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
        callee = getattr(stmt.value, "s2s", None)
        if callee is not None and callee.kind == "append":
            lst = stmt.value.func.value
            return [(lst.id, nodes.names_read(stmt.value.args[0]))]
    return []
