"""Which variables carry derivatives: those computed from active inputs through
differentiable operations (a flow-insensitive fixpoint, so loops are covered), and the
check, shared by every derivative pass, that no operation without rules drops one."""
import gast

from . import nodes, operations

# Right-hand sides that never carry a derivative: truth values and metadata reads (x.dtype).
_NO_DERIVATIVE = (gast.Compare, gast.BoolOp, gast.Constant)


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


def needed(fn_tree):
    """Names the result depends on through differentiable operations (a backward fixpoint)."""
    out = nodes.names_read(fn_tree.body[-1].value)
    flows = [flow for stmt in nodes.walk(fn_tree, contexts=False) for flow in _flows(stmt)]
    changed = True
    while changed:
        changed = False
        for target, sources in flows:
            if target in out and not sources <= out:
                out |= sources
                changed = True
    return out


def without_rule(op):
    """True for an operation s2s has no derivative rule for (a call it cannot read, or a
    primitive registered without rules whose derivative is not zero)."""
    if op.kind == "opaque":
        return isinstance(op.node, gast.Call) or isinstance(op.node, (gast.ListComp, gast.SetComp,
                                                                           gast.DictComp, gast.GeneratorExp))
    if op.kind == "primitive":
        return not op.primitive.differentiable and not op.primitive.constant
    return False


def check_rules(source, fn_tree, active):
    """TransformError at the first operation without a derivative rule that reads a differentiated
    value whose derivative matters: its result reaches the function's result, or it is a statement
    of its own (a call that may change its arguments). Every derivative pass calls this, so forward
    and reverse mode refuse the same programs, and nothing becomes a silent zero."""
    reaching = needed(fn_tree)
    for stmt in nodes.walk(fn_tree, contexts=False):
        if isinstance(stmt, gast.Assign):
            targets = nodes.names_stored(stmt.targets[0])
            if not targets & reaching:
                continue
        elif isinstance(stmt, gast.Expr):
            callee = getattr(stmt.value, "s2s", None)
            if callee is not None and callee.kind in ("append", "pop"):
                continue
        else:
            continue
        value = stmt.value
        if isinstance(value, _NO_DERIVATIVE) or not nodes.names_read(value) & active:
            continue
        op = operations.operation(value)
        if op.kind == "primitive" and op.primitive.differentiable:
            for slot, bound in op.slots.items():      # `**kwargs` no rule reads: dict(m, a=x)
                if slot not in op.primitive.vjp and isinstance(bound, dict) and \
                        any(nodes.names_read(v) & active for v in bound.values()):
                    raise source.error(f"s2s has no derivative rule for keyword arguments of `{op.label}`", stmt,
                                       suggestion="Pass the differentiated values as positional arguments.")
        if not without_rule(op):
            continue
        if isinstance(value, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            raise source.error("a comprehension over differentiated values is not supported", stmt,
                               suggestion="Write it as a for loop that appends to a list.")
        label = op.label or nodes.to_source(op.node)
        raise source.error(f"s2s has no derivative rule for `{label}`", stmt,
                           suggestion="Write it with NumPy functions s2s knows, or register a "
                                      "primitive with vjp and jvp rules in s2s.runtime.primitives.")
