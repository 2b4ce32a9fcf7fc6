"""Forward mode: every statement followed by the statement computing its tangent.

The pass walks the normalized body in order. After `y = op(args)` it writes
`y_dot = <sum of the jvp contributions of the arguments that carry a tangent>`, the
contributions being the `jvp` templates of the primitive's rule. Which variables carry a
tangent is tracked statically: a variable whose tangent is zero has no `_dot` variable at
all. Where paths meet (after an `if`, at a loop head, at a `break`) the paths that lack a
tangent get zeros, so every path agrees. Control flow stays as it is: loops stay loops.

User functions called with tangent-carrying arguments get their own `jvp_g` function,
generated on demand (`callees(function, mask)`), which returns `(result, tangent)`.
Lists built by `append` carry a list of tangents (`L_dot.append(v_dot)`, `v_dot = L_dot.pop()`),
so the tapes of emitted reverse-mode code are differentiated like any other list.
"""
import os
from dataclasses import dataclass, field

import gast

from . import activity, nodes, operations
from .reverse import ARRAY, _infer_kinds

_OUT = "__s2s_out__"      # placeholder for the primitive's result while a tangent is built
# Opaque right-hand sides that never carry a derivative: truth values and attribute reads (x.dtype).
_NOT_DIFFERENTIABLE = (gast.Compare, gast.BoolOp, gast.Attribute)


@dataclass
class State:
    """What is known statically at one point of the body."""

    has: set                 # variables whose `_dot` variable holds their tangent (others: zero)
    defined: set             # variables that may be bound here (only those can get zeros)
    alive: bool = True       # False after `break`

    def copy(self):
        return State(set(self.has), set(self.defined), self.alive)


@dataclass
class ForwardParts:
    params: list
    body: list
    out: object              # atom holding the function's result
    out_dot: object          # expression of its tangent
    dots: dict = field(default_factory=dict)   # active parameter -> name of its tangent parameter


class _Trial:
    """A loop-body walk whose statements are thrown away (the loop-head fixpoint)."""

    def __init__(self):
        self.breaks = []     # tangent sets at each `break`


class Forward:
    def __init__(self, source, fn, active_params, namer, callees):
        self.source = source
        self.fn = fn
        self.namer = namer
        self.callees = callees
        self.params = [a.id for a in fn.args.args]
        self.active_params = [p for p in self.params if p in active_params]
        self.active = activity.mark(fn, self.active_params)
        self.needed = activity.needed(fn)
        activity.check_rules(source, fn, self.active)   # the same refusals as reverse mode
        self.kinds = _infer_kinds(fn)
        self.maybe_none = {s.targets[0].id for s in nodes.walk(fn, contexts=False)
                           if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                           and isinstance(s.value, gast.Constant) and s.value.value is None}
        self.filename = os.path.basename(source.filename)
        self.dots = {}
        self.loops = []      # innermost last: a _Trial, or the tangent set of the loop head
        self.trials = 0
        self.last_line = None    # the user line the last comment named
        for p in self.active_params:
            self.dot(p)

    # -- names ----------------------------------------------------------------------------
    def dot(self, name):
        if name not in self.dots:
            self.dots[name] = self.namer.fresh(f"{name}_dot")
        return self.dots[name]

    def error(self, message, node, suggestion=None):
        return self.source.error(message, node, suggestion=suggestion)

    def output_active(self):
        """False when the result's tangent is zero whatever the inputs' tangents are."""
        out = self.fn.body[-1].value
        return bool(nodes.names_read(out) & self.active)

    # -- zeros ----------------------------------------------------------------------------
    def zeros(self, name):
        if self.kinds.get(name) == ARRAY and name not in self.maybe_none:
            return nodes.call("np.zeros_like", [nodes.name(name)])
        return nodes.call(nodes.name("zeros_like_tree"), [nodes.name(name)])

    def zeros_of(self, atom):
        """The zero tangent of an atom (a name or a constant)."""
        if isinstance(atom, gast.Name):
            return self.zeros(atom.id)
        if isinstance(atom, gast.Constant):
            value = atom.value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return nodes.const(0.0)
            if value is None or isinstance(value, (bool, str)):
                return nodes.const(None)
        return nodes.call(nodes.name("zeros_like_tree"), [nodes.copy(atom)])

    def tangent_of(self, atom, state):
        """The tangent of an atom: its `_dot` variable, or zeros."""
        if isinstance(atom, gast.Name) and atom.id in state.has:
            return nodes.name(self.dot(atom.id))
        return self.zeros_of(atom)

    def materialize(self, names, state):
        """`n_dot = zeros` for the names (that may be bound here) about to be given a tangent."""
        return [nodes.assign(self.dot(n), self.zeros(n)) for n in sorted(names) if n in state.defined]

    # -- blocks ---------------------------------------------------------------------------
    def block(self, stmts, state):
        out = []
        for stmt in stmts:
            if not state.alive:
                break
            lineno = getattr(stmt, "lineno", None)
            simple = not isinstance(stmt, (gast.If, gast.For, gast.While))
            if simple and lineno is not None and lineno != self.last_line and self.source.line(lineno):
                out.append(nodes.comment(f"{self.filename}:{lineno}: {self.source.line(lineno)}"))
                self.last_line = lineno
            out.extend(self.statement(stmt, state))
        return out

    def statement(self, stmt, state):
        if isinstance(stmt, gast.Assign):
            if isinstance(stmt.targets[0], gast.Name):
                return self.assign(stmt, stmt.targets[0].id, state)
            return self.unpack(stmt, state)
        if isinstance(stmt, gast.Expr):
            return self.expr(stmt, state)
        if isinstance(stmt, gast.If):
            return self.if_(stmt, state)
        if isinstance(stmt, (gast.For, gast.While)):
            return self.loop(stmt, state)
        if isinstance(stmt, gast.Break):
            return self.break_(stmt, state)
        return [stmt]

    # -- assignments ----------------------------------------------------------------------
    def assign(self, stmt, name, state):
        state.defined.add(name)
        value = stmt.value
        op = operations.operation(value)
        if op.kind == "opaque" and name in self.needed and not isinstance(value, _NOT_DIFFERENTIABLE):
            self.check_no_tangent(op, stmt, state)
        if op.kind == "user" and op.callee.function.python_function is None and not self.trials and \
                not any(isinstance(a, gast.Name) and a.id in state.has for a in op.by_parameter()):
            return self.lifted_plain_call(stmt, op, name, state)
        if name not in self.active:
            state.has.discard(name)
            return [stmt]
        if op.kind == "user":
            return self.user_call(stmt, op, name, state)
        tangent = None
        if op.kind == "copy":
            if value.id in state.has:
                tangent = nodes.name(self.dot(value.id))
        elif op.kind == "constant":
            pass
        elif op.kind == "container":
            tangent = self.container(value, state)
        elif op.kind == "pop":
            lst = op.args[0].id
            if lst in state.has:
                pop = nodes.copy(value)
                pop.func.value = nodes.name(self.dot(lst))
                tangent = pop
        elif op.kind == "primitive":
            tangent = self.primitive(op, stmt, state)
        if tangent is None:
            state.has.discard(name)
            return [stmt]
        state.has.add(name)
        return self.place(stmt, name, tangent)

    def place(self, stmt, name, tangent):
        """The primal statement and `name_dot = tangent`, in an order that reads the right values."""
        reads = nodes.names_read(tangent)
        dot_stmt = nodes.assign(self.dot(name), tangent)
        if name not in reads:
            _rename(tangent, _OUT, name)
            return [stmt, dot_stmt]
        if _OUT not in reads:              # x = f(x): the tangent needs only the old x
            return [dot_stmt, stmt]
        keep = self.namer.fresh(f"{name}_in")  # needs both: keep the old value
        _rename(tangent, name, keep)
        _rename(tangent, _OUT, name)
        return [nodes.assign(keep, nodes.name(name)), stmt, dot_stmt]

    def container(self, value, state):
        """`(a, b)` -> `(a_dot, zeros)`; None when no element carries a tangent."""
        if isinstance(value, gast.Dict):
            atoms = [v for v in value.values]
        else:
            atoms = [e.value if isinstance(e, gast.Starred) else e for e in value.elts]
        if isinstance(value, gast.List) and not value.elts:
            return nodes.list_([])
        if not any(isinstance(a, gast.Name) and a.id in state.has for a in atoms):
            return None
        if isinstance(value, gast.Dict):
            return gast.Dict(keys=[nodes.copy(k) for k in value.keys],
                             values=[self.tangent_of(v, state) for v in value.values])
        elts = []
        for e in value.elts:
            if isinstance(e, gast.Starred):
                elts.append(gast.Starred(value=self.tangent_of(e.value, state), ctx=gast.Load()))
            else:
                elts.append(self.tangent_of(e, state))
        return nodes.list_(elts) if isinstance(value, gast.List) else nodes.tuple_(elts)

    def primitive(self, op, stmt, state):
        """The sum of the jvp contributions of the slots carrying a tangent, or None."""
        prim = op.primitive
        terms = []
        active_slots = [s for s in op.differentiable_slots if operations.slot_names(op.slots[s]) & state.has]
        for slot in active_slots:
            if slot not in prim.jvp:
                raise self.error(f"s2s has no forward-mode rule for argument `{slot}` of `{op.label}`", stmt,
                                 suggestion=f"Add a jvp template for {slot!r} to the primitive {prim.name!r}.")
            terms.append(self.instantiate(prim, slot, op, active_slots, stmt, state))
        if not terms:
            return None
        total = terms[0]
        for term in terms[1:]:
            if prim.result == "array":
                total = nodes.binop(total, gast.Add(), term)
            else:
                total = nodes.call(nodes.name("add_tree"), [total, term])
        return total

    def instantiate(self, prim, slot, op, active_slots, stmt, state):
        """A copy of the jvp template of `slot` with this call's values in its slots."""
        mapping = dict(op.slots)
        mapping["out"] = nodes.name(_OUT)
        bound = op.slots[slot]
        if isinstance(bound, gast.Name):
            mapping[f"{slot}_dot"] = nodes.name(self.dot(bound.id))
        else:   # a literal sequence: one tangent per element, None where it is zero
            elts = []
            for elt in bound.elts:
                if isinstance(elt, gast.Starred):
                    raise self.error("`*` inside a differentiated call is not supported", stmt)
                if isinstance(elt, (gast.Tuple, gast.List, gast.Dict)):   # tuple([a, b])
                    elts.append(self.container(elt, state) or nodes.const(None))
                    continue
                carries = isinstance(elt, gast.Name) and elt.id in state.has
                elts.append(nodes.name(self.dot(elt.id)) if carries else nodes.const(None))
            mapping[f"{slot}_dot"] = nodes.tuple_(elts)
        expr = operations.instantiate(prim.jvp[slot], mapping, drop_default_keywords=True)
        if prim.name in ("add", "subtract") and _fills_result(op, active_slots):
            expr = _unwrap_broadcast(expr)
        return expr

    def lifted_plain_call(self, stmt, op, name, state):
        """A lifted def or lambda has no module-level name: call its jvp, which takes no tangents."""
        jvp_name, _, _ = self.callees(op.callee.function, tuple(False for _ in op.by_parameter()))
        unused = self.namer.fresh(f"{name}_dot")
        call = nodes.call(nodes.name(jvp_name), [nodes.copy(a) for a in op.args],
                          {k: nodes.copy(v) for k, v in op.keywords.items()})
        new = nodes.assign(nodes.tuple_([nodes.store(name), nodes.store(unused)], gast.Store()), call)
        new.lineno = getattr(stmt, "lineno", None)
        state.has.discard(name)
        return [new]

    def user_call(self, stmt, op, name, state):
        """`y = g(a, b)` -> `y, y_dot = jvp_g(a, b, a_dot)` when some argument carries a tangent."""
        bound = op.by_parameter()
        mask = tuple(isinstance(a, gast.Name) and a.id in state.has for a in bound)
        if not any(mask):
            state.has.discard(name)
            return [stmt]
        if self.trials:
            state.has.add(name)
            return [stmt]
        generated = self.callees(op.callee.function, mask)
        if generated is None:          # the callee's result never depends on its inputs
            state.has.discard(name)
            return [stmt]
        jvp_name, dot_params, mask = generated
        dots = [nodes.name(self.dot(a.id)) for a, m in zip(bound, mask) if m]
        args = [nodes.copy(a) for a in op.args]
        keywords = {k: nodes.copy(v) for k, v in op.keywords.items()}
        if keywords or len(args) != len(bound):
            keywords.update(zip(dot_params, dots))
        else:
            args += dots
        call = nodes.call(nodes.name(jvp_name), args, keywords)
        new = nodes.assign(nodes.tuple_([nodes.store(name), nodes.store(self.dot(name))], gast.Store()), call)
        new.lineno = getattr(stmt, "lineno", None)
        state.has.add(name)
        return [new]

    def check_no_tangent(self, op, stmt, state):
        if nodes.names_read(op.node) & state.has:
            label = op.label or nodes.to_source(op.node)
            raise self.error(f"s2s has no derivative rule for `{label}`", stmt,
                             suggestion="Write it with NumPy functions s2s knows, or register a "
                                        "primitive with a jvp rule in s2s.runtime.primitives.")

    def unpack(self, stmt, state):
        """`a, b = t` -> `a_dot, b_dot = t_dot`."""
        names = [e.id for e in stmt.targets[0].elts]
        source = stmt.value
        carries = isinstance(source, gast.Name) and source.id in state.has
        state.defined.update(names)
        if not carries or not any(n in self.active for n in names):
            state.has.difference_update(names)
            return [stmt]
        targets = [nodes.store(self.dot(n)) if n in self.active else nodes.store("_") for n in names]
        state.has.difference_update(names)
        state.has.update(n for n in names if n in self.active)
        dot_stmt = nodes.assign(nodes.tuple_(targets, gast.Store()), nodes.name(self.dot(source.id)))
        return [stmt, dot_stmt]

    # -- statements without a result ----------------------------------------------------------
    def expr(self, stmt, state):
        call = stmt.value
        callee = getattr(call, "s2s", None)
        if isinstance(call, gast.Call) and callee is not None and callee.kind == "append":
            lst = call.func.value.id
            arg = call.args[0]
            if lst not in self.active:
                return [stmt]
            carries = isinstance(arg, gast.Name) and arg.id in state.has
            block = []
            if lst not in state.has:
                if not carries:
                    return [stmt]
                block.append(nodes.assign(self.dot(lst), nodes.call(nodes.name("zeros_like_tree"),
                                                                    [nodes.name(lst)])))
                state.has.add(lst)
            append = nodes.call(nodes.attr(nodes.name(self.dot(lst)), "append"), [self.tangent_of(arg, state)])
            return block + [stmt, nodes.expr(append)]
        if isinstance(call, gast.Call) and callee is not None and callee.kind == "pop":
            lst = call.func.value.id
            if lst in state.has:
                pop = nodes.copy(call)
                pop.func.value = nodes.name(self.dot(lst))
                return [stmt, nodes.expr(pop)]
            return [stmt]
        return [stmt]

    # -- control flow ---------------------------------------------------------------------------
    def if_(self, stmt, state):
        then_state, else_state = state.copy(), state.copy()
        then_block = self.block(stmt.body, then_state)
        else_block = self.block(stmt.orelse, else_state)
        alive = [s for s in (then_state, else_state) if s.alive]
        merged = set().union(*(s.has for s in alive)) if alive else set(state.has)
        if then_state.alive:
            then_block += self.materialize(merged - then_state.has, then_state)
        if else_state.alive:
            else_block += self.materialize(merged - else_state.has, else_state)
        state.has = merged
        state.defined = then_state.defined | else_state.defined
        state.alive = bool(alive)
        return [nodes.if_(nodes.copy(stmt.test), then_block or [gast.Pass()], else_block)]

    def loop(self, stmt, state):
        is_for = isinstance(stmt, gast.For)
        target = stmt.target.id if is_for and isinstance(stmt.target, gast.Name) else None
        assigned = {n for s in stmt.body for n in nodes.names_stored(s)} | ({target} if target else set())
        defined = state.defined | assigned
        head = set(state.has) - {target}
        for _ in range(20):   # the tangents carried round the loop: a small fixpoint
            trial = State(set(head), set(defined))
            frame = _Trial()
            snapshot = (set(self.namer.taken), dict(self.dots), self.last_line)
            self.loops.append(frame)
            self.trials += 1
            self.block(stmt.body, trial)
            self.trials -= 1
            self.loops.pop()
            self.namer.taken, self.dots, self.last_line = snapshot
            grown = set(head)
            if trial.alive:
                grown |= trial.has
            for at_break in frame.breaks:
                grown |= at_break
            grown.discard(target)
            if grown == head:
                break
            head = grown
        before = self.materialize(head - state.has, state)
        body_state = State(set(head), set(defined))
        self.loops.append(head)
        body = self.block(stmt.body, body_state)
        self.loops.pop()
        if body_state.alive:
            body += self.materialize(head - body_state.has, body_state)
        if is_for:
            new = nodes.for_(nodes.copy(stmt.target), nodes.copy(stmt.iter), body)
        else:
            new = nodes.while_(nodes.copy(stmt.test), body)
        new.lineno = getattr(stmt, "lineno", None)
        state.has = head
        state.defined = defined
        return before + [new]

    def break_(self, stmt, state):
        frame = self.loops[-1]
        state.alive = False
        if isinstance(frame, _Trial):
            frame.breaks.append(set(state.has))
            return [stmt]
        return self.materialize(frame - state.has, state) + [stmt]

    # -- the whole function ---------------------------------------------------------------------
    def differentiate(self):
        state = State(set(self.active_params), set(self.params))
        body = self.block(self.fn.body[:-1], state)
        out = self.fn.body[-1].value
        if isinstance(out, gast.Tuple):
            out_dot = nodes.tuple_([self.tangent_of(e, state) for e in out.elts])
        else:
            out_dot = self.tangent_of(out, state)
        return ForwardParts(params=list(self.params), body=body, out=out, out_dot=out_dot,
                            dots={p: self.dot(p) for p in self.active_params})


def _fills_result(op, active_slots):
    """True when the tangents of `x + y` already have the result's shape without broadcasting:
    both operands carry tangents, or the other one is a Python number."""
    others = [op.slots[s] for s in ("x", "y") if s not in active_slots]
    return all(isinstance(o, gast.Constant) and isinstance(o.value, (int, float)) for o in others)


def _unwrap_broadcast(expr):
    """`broadcast_like(t, out)` -> `t`."""
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and expr.func.id == "broadcast_like":
        return expr.args[0]
    return expr


def _rename(expr, old, new):
    for node in nodes.walk(expr, contexts=False):
        if isinstance(node, gast.Name) and node.id == old:
            node.id = new


def differentiate(source, fn, active_params, namer, callees):
    """The body of `jvp_f`, as `ForwardParts`: primal and tangent statements interleaved."""
    return Forward(source, fn, active_params, namer, callees).differentiate()


def has_forward_rule(prim):
    """True when every differentiable argument of `prim` has a jvp template."""
    return not prim.differentiable or set(prim.vjp) <= set(prim.jvp)

