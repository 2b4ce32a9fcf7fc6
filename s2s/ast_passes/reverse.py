"""Reverse mode: primal statements forward, then their adjoints backward.

The backward sweep walks the normalized body in reverse. A variable overwritten while its
old value is still needed is saved before the overwrite and restored at the matching point
of the backward sweep: in a plain variable (`h_in`) outside loops, in a per-variable list
tape (`h_tape.append(h)` / `h = h_tape.pop()`) inside loops. Loops run backwards
(`for t in reversed(range(n))`, `while` loops replay their recorded trip count), branches
replay the branch taken. Cotangents are named `<name>_bar`; a cotangent that is still
zero has no variable at all until something is added to it.
"""
import os
from dataclasses import dataclass, field

import gast

from ..runtime import primitives
from . import activity, nodes, operations

ARRAY, TREE, LIST = "array", "tree", "list"


@dataclass
class Restore:
    """Placeholder in the backward sweep: restore `name` to its value before `stmt`."""

    name: str
    stmt: object
    in_loop: bool
    reload: bool = False    # at the top of a backward loop body: reload this iteration's value


@dataclass
class ReverseParts:
    params: list
    preamble: list           # tape creation and initial values
    forward: list
    out: object              # atom holding the function's result
    backward: list = field(default_factory=list)
    bars: dict = field(default_factory=dict)   # active param -> its cotangent name or None


class Reverse:
    def __init__(self, source, fn, active_params, namer, callees):
        self.source = source
        self.fn = fn
        self.namer = namer
        self.callees = callees
        self.params = [a.id for a in fn.args.args]
        self.active_params = [p for p in self.params if p in active_params]
        self.active = activity.mark(fn, self.active_params)
        self.guards = {}       # variable -> test that skips its cotangent in the first iteration
        self.armed = set()
        self.reloaded = set()  # loop-local variables reloaded at the top of backward iterations
        self.definitions = _definition_counts(fn)
        _mark_assigned_before(fn.body, set())
        self.kinds = _infer_kinds(fn)
        self.bars = {}
        self.restores = []
        self.loop_depth = 0
        self.filename = os.path.basename(source.filename)
        activity.check_rules(source, fn, self.active)   # an error, never a zero

    # -- names ----------------------------------------------------------------------------
    def bar(self, name):
        if name not in self.bars:
            self.bars[name] = self.namer.fresh(f"{name}_bar")
        return self.bars[name]

    def error(self, message, node, suggestion=None):
        return self.source.error(message, node, suggestion=suggestion)

    # -- forward: user calls get a forward/backward pair -------------------------------------
    def rewrite_forward(self, stmts):
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Call):
                op = operations.operation(stmt.value)
                if op.kind == "user":
                    bound = op.by_parameter()
                    mask = tuple(a is not None and bool(operations.slot_names(a) & self.active) for a in bound)
                    if not any(mask) and op.callee.function.python_function is None and \
                            isinstance(stmt.targets[0], gast.Name):
                        # a lifted def or lambda has no module-level name: call its forward sweep
                        forward_name, _ = self.callees(op.callee.function, mask)
                        call = nodes.call(nodes.name(forward_name), [nodes.copy(a) for a in op.args],
                                          {k: v for k, v in op.keywords.items()})
                        unused = self.namer.fresh(f"{op.callee.function.name}_saved")
                        new = nodes.assign(nodes.tuple_([nodes.store(stmt.targets[0].id), nodes.store(unused)],
                                                        gast.Store()), call)
                        new.lineno = stmt.lineno
                        out.append(new)
                        continue
                    if any(mask):
                        forward_name, backward_name = self.callees(op.callee.function, mask)
                        target = stmt.targets[0]
                        label = target.id if isinstance(target, gast.Name) else "result"
                        saved = self.namer.fresh(f"{op.callee.function.name}_saved")
                        call = nodes.call(nodes.name(forward_name), [nodes.copy(a) for a in op.args],
                                          {k: v for k, v in op.keywords.items()})
                        result = target if isinstance(target, gast.Name) else None
                        if result is None:
                            tmp = self.namer.fresh(label)
                            new = nodes.assign(nodes.tuple_([nodes.store(tmp), nodes.store(saved)], gast.Store()), call)
                            new.lineno = stmt.lineno
                            new.s2s_call = (bound, mask, backward_name, saved, nodes.name(tmp), op)
                            unpack = nodes.assign(target, nodes.name(tmp))
                            unpack.lineno = stmt.lineno
                            out.extend([new, unpack])
                            continue
                        new = nodes.assign(nodes.tuple_([nodes.store(target.id), nodes.store(saved)], gast.Store()), call)
                        new.lineno = stmt.lineno
                        new.s2s_call = (bound, mask, backward_name, saved, nodes.name(target.id), op)
                        out.append(new)
                        continue
            if isinstance(stmt, gast.If):
                inside = nodes.names_stored(gast.Module(body=stmt.body + stmt.orelse, type_ignores=[]))
                if nodes.names_read(stmt.test) & inside:
                    # `if returned: ... else: ... returned = True`: the backward sweep replays the
                    # branch taken, so it reads the test as it was, kept in a name of its own
                    taken = self.namer.fresh(f"{nodes.to_source(stmt.test)}_taken")
                    keep = nodes.assign(taken, stmt.test)
                    keep.lineno = stmt.lineno
                    out.append(keep)
                    stmt.test = nodes.name(taken)
                stmt.body = self.rewrite_forward(stmt.body)
                stmt.orelse = self.rewrite_forward(stmt.orelse)
            elif isinstance(stmt, (gast.For, gast.While)):
                stmt.body = self.rewrite_forward(stmt.body)
            out.append(stmt)
        return out

    # -- backward ---------------------------------------------------------------------------
    def backward(self, stmts, live):
        """Adjoint statements of `stmts`, in execution order; updates `live` in place."""
        groups = []
        for stmt in reversed(stmts):
            block = self.backward_stmt(stmt, live)
            if block:
                groups.append((getattr(stmt, "lineno", None), block))
        out = []
        last = None
        for lineno, block in groups:
            simple = not isinstance(stmt_of(block), (gast.If, gast.For, gast.While))
            if simple and lineno is not None and lineno != last and any(not isinstance(s, Restore) for s in block):
                out.append(nodes.comment(f"{self.filename}:{lineno}: {self.source.line(lineno)}"))
                last = lineno
            out.extend(block)
        return out

    def backward_stmt(self, stmt, live):
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            if hasattr(stmt, "s2s_call"):
                return self.backward_user_call(stmt, live)
            if isinstance(target, gast.Name):
                return self.backward_assign(stmt, target.id, live)
            return self.backward_unpack(stmt, live)
        if isinstance(stmt, gast.Expr):
            return self.backward_expr(stmt, live)
        if isinstance(stmt, gast.If):
            return self.backward_if(stmt, live)
        if isinstance(stmt, gast.For):
            return self.backward_loop(stmt, live)
        if isinstance(stmt, gast.While):
            return self.backward_loop(stmt, live)
        return []

    def restore(self, name, stmt):
        if name in self.reloaded:
            return Restore(name, stmt, True, reload=True)    # handled at the loop top: no-op here
        marker = Restore(name, stmt, self.loop_depth > 0)
        self.restores.append(marker)
        return marker

    def loop_locals(self, loop):
        """Variables defined once per iteration, at the top level of `loop`'s body, and used
        nowhere else: the backward sweep reloads them at the top of each reverse iteration
        (`h = h_tape.pop()`), so the forward sweep saves them after their definition."""
        if any(isinstance(n, gast.Break) for n in nodes.walk(loop, contexts=False)):
            return []
        seen_reads = set(nodes.names_read(loop.test if isinstance(loop, gast.While) else loop.iter))
        seen_reads |= _reads_outside(self.fn, loop)
        found = []
        for stmt in loop.body:
            if isinstance(stmt, gast.Assign) and not getattr(stmt, "s2s_counter", False):
                stored = nodes.names_stored(stmt.targets[0])
                seen_reads |= nodes.names_read(stmt.value)
                for name in sorted(stored):
                    if (name not in seen_reads and name not in self.params
                            and self.definitions.get(name) == 1):
                        found.append((name, stmt))
            else:
                seen_reads |= nodes.names_read(stmt)
        return found

    def backward_assign(self, stmt, name, live):
        if getattr(stmt, "s2s_counter", False):
            return []
        if name in self.guards:
            self.armed.add(name)    # from here on, cotangents of `name` are for its value at loop entry
        value = stmt.value
        block = []
        if name in live and name in self.active:
            out_node = nodes.name(name)
            bar_node = nodes.name(self.bar(name))
            if name in operations.all_inputs(value):
                # x = f(x): keep the result and its cotangent, restore the input first
                out_copy = self.namer.fresh(f"{name}_out")
                bar_copy = self.namer.fresh(f"{self.bar(name)}_out")
                block += [nodes.assign(out_copy, nodes.name(name)), nodes.assign(bar_copy, bar_node)]
                live.discard(name)
                block.append(self.restore(name, stmt))
                block += self.adjoint(value, nodes.name(out_copy), nodes.name(bar_copy), live, stmt)
                return block
            live.discard(name)
            block += self.adjoint(value, out_node, bar_node, live, stmt)
        else:
            live.discard(name)
            op = operations.operation(value)
            if op.kind == "pop" and op.args[0].id in self.active:
                # keep the cotangent list aligned with the tape: a zero for this entry
                block += self.adjoint(value, nodes.name(name), self.zeros(name), live, stmt)
        block.append(self.restore(name, stmt))
        return block

    def backward_unpack(self, stmt, live):
        names = [e.id for e in stmt.targets[0].elts]
        source = stmt.value
        block = []
        if any(n in live for n in names) and isinstance(source, gast.Name) and source.id in self.active:
            parts = [nodes.name(self.bar(n)) if n in live else self.zeros(n) for n in names]
            for n in names:
                live.discard(n)
            block += self.accumulate(source.id, nodes.tuple_(parts), live)
        for n in names:
            live.discard(n)
            block.append(self.restore(n, stmt))
        return block

    def backward_user_call(self, stmt, live):
        bound, mask, backward_name, saved, result, op = stmt.s2s_call
        block = []
        if result.id in live:
            call = nodes.call(nodes.name(backward_name), [nodes.name(saved), nodes.name(self.bar(result.id))])
            live.discard(result.id)
            active_args = [a for a, m in zip(bound, mask) if m]
            names = [a.id if isinstance(a, gast.Name) else None for a in active_args]
            temps = []
            for a in names:
                direct = a is not None and a not in live and names.count(a) == 1
                temps.append(self.bar(a) if direct else self.namer.fresh(f"{a}_bar_{op.callee.function.name}"))
            target = (nodes.store(temps[0]) if len(temps) == 1
                      else nodes.tuple_([nodes.store(t) for t in temps], gast.Store()))
            block.append(nodes.assign(target, call))
            for arg, temp in zip(active_args, temps):
                if isinstance(arg, gast.Name) and temp == self.bar(arg.id) and arg.id not in live:
                    live.add(arg.id)
                elif isinstance(arg, gast.Name):
                    block += self.accumulate(arg.id, nodes.name(temp), live)
                else:
                    raise self.error("a literal container passed to a differentiated function is not "
                                     "supported", stmt, suggestion="Assign it to a name first.")
        else:
            live.discard(result.id)
        block.append(self.restore(result.id, stmt))
        block.append(self.restore(saved, stmt))
        return block

    def backward_expr(self, stmt, live):
        call = stmt.value
        callee = getattr(call, "s2s", None)
        if isinstance(call, gast.Call) and callee is not None and callee.kind == "append":
            lst = call.func.value.id
            if lst in live:
                pop = nodes.call(nodes.attr(nodes.name(self.bar(lst)), "pop"))
                arg = call.args[0]
                if isinstance(arg, gast.Name) and arg.id in self.active:
                    pop = dense_of(pop, arg.id)              # an entry nothing read is None: zeros
                    return self.accumulate(arg.id, pop, live)
                return [nodes.expr(pop)]
            return []
        if isinstance(call, gast.Call) and callee is not None and callee.kind == "opaque":
            self.check_no_active(operations.operation(call), stmt)
        return []

    def backward_if(self, stmt, live):
        then_live, else_live = set(live), set(live)
        then_block = self.backward(stmt.body, then_live)
        else_block = self.backward(stmt.orelse, else_live)
        merged = then_live | else_live
        then_block += [self.materialize(n) for n in sorted(merged - then_live)]
        else_block += [self.materialize(n) for n in sorted(merged - else_live)]
        live.clear()
        live.update(merged)
        if not then_block and not else_block:
            return []
        node = nodes.if_(nodes.copy(stmt.test), then_block or [gast.Pass()], else_block)
        return [node]

    def backward_loop(self, stmt, live):
        is_while = isinstance(stmt, gast.While)
        has_break = any(isinstance(n, gast.Break) for n in nodes.walk(stmt, contexts=False))
        counter = getattr(stmt, "s2s_steps", None)
        if (is_while or has_break) and counter is None:
            counter = self.namer.fresh("steps")
            stmt.s2s_steps = counter
        entry = set(live)
        locals_ = self.loop_locals(stmt)
        self.reloaded |= {name for name, _ in locals_}
        guards = {} if has_break or is_while else self.first_iteration_guards(stmt)
        self.guards.update(guards)
        self.loop_depth += 1
        for _ in range(8):     # the cotangents live at the loop head: a small fixpoint
            snapshot = (set(self.namer.taken), dict(self.bars), len(self.restores))
            trial_live = set(entry)
            self.backward(stmt.body, trial_live)
            self.armed -= set(guards)
            self.namer.taken, self.bars = snapshot[0], snapshot[1]
            self.namer.taken |= {s.s2s_steps for s in nodes.walk(stmt, contexts=False) if hasattr(s, "s2s_steps")}
            self.namer.taken |= {s.s2s_counter_tape for s in nodes.walk(stmt, contexts=False)
                                 if hasattr(s, "s2s_counter_tape")}
            del self.restores[snapshot[2]:]
            if trial_live <= entry:
                break
            entry |= trial_live
        body_live = set(entry)
        body = self.backward(stmt.body, body_live)
        body += [self.materialize(n) for n in sorted(entry - body_live)]
        reloads = []
        for name, definition in locals_:
            marker = Restore(name, definition, True, reload=True)
            self.restores.append(marker)
            reloads.append(marker)
            self.reloaded.discard(name)
        body = reloads + body
        self.loop_depth -= 1
        for name_ in guards:
            self.guards.pop(name_, None)
            self.armed.discard(name_)
        block = [self.materialize(n) for n in sorted(entry - live)]
        live.clear()
        live.update(entry)
        if not body:
            return block
        if counter is not None and self.loop_depth > 0:
            if not hasattr(stmt, "s2s_counter_tape"):
                stmt.s2s_counter_tape = self.namer.fresh(f"{counter}_tape")
            block.append(nodes.assign(counter, nodes.call(nodes.attr(nodes.name(stmt.s2s_counter_tape), "pop"))))
        if is_while:
            loop = nodes.for_("_", nodes.call("range", [nodes.name(counter)]), body)
        else:
            loop = nodes.for_(nodes.copy(stmt.target), _reversed_iteration(stmt.iter, counter if has_break else None), body)
        loop.lineno = stmt.lineno
        block.append(loop)
        return block

    def first_iteration_guards(self, loop):
        """Loop-carried variables that enter the loop without a derivative (an input that is
        not differentiated, like the data of an MLP): the cotangent of their entry value is
        never used, so the backward sweep skips it in the first iteration."""
        iteration = loop.iter
        if not (isinstance(iteration, gast.Call) and isinstance(iteration.func, gast.Name)
                and iteration.func.id == "range" and 1 <= len(iteration.args) <= 3):
            return {}
        first = nodes.const(0) if len(iteration.args) == 1 else iteration.args[0]
        counts = {}
        for stmt in loop.body:
            if isinstance(stmt, gast.Assign):
                for n in nodes.names_stored(stmt.targets[0]):
                    counts[n] = counts.get(n, 0) + 1
        nested = {n for stmt in loop.body if not isinstance(stmt, gast.Assign) for n in nodes.names_stored(stmt)}
        guards = {}
        for name in counts:
            if (counts[name] == 1 and name not in nested and name in self.params
                    and name not in self.active_params and name not in loop.s2s_assigned_before):
                guards[name] = gast.Compare(left=nodes.name(loop.target.id), ops=[gast.NotEq()],
                                            comparators=[nodes.copy(first)])
        return guards

    # -- adjoint of one operation --------------------------------------------------------------
    def adjoint(self, value, out_node, bar_node, live, stmt):
        op = operations.operation(value)
        if op.kind == "copy":
            src = value.id
            return self.accumulate(src, bar_node, live) if src in self.active else []
        if op.kind == "constant":
            return []
        if op.kind == "container":
            return self.adjoint_container(value, bar_node, live)
        if op.kind == "pop":
            lst = op.args[0].id
            block = []
            if lst not in live:
                block.append(nodes.assign(self.bar(lst), nodes.list_([])))
                live.add(lst)
            block.append(nodes.expr(nodes.call(nodes.attr(nodes.name(self.bar(lst)), "append"), [bar_node])))
            return block
        if op.kind == "primitive":
            return self.adjoint_primitive(op, out_node, bar_node, live, stmt)
        self.check_no_active(op, stmt)
        return []

    def check_no_active(self, op, stmt):
        if nodes.names_read(op.node) & self.active:
            label = op.label or nodes.to_source(op.node)
            raise self.error(f"s2s has no derivative rule for `{label}`", stmt,
                             suggestion="Write it with NumPy functions s2s knows, or register a "
                                        "primitive with a vjp rule in s2s.runtime.primitives.")

    def adjoint_container(self, value, bar_node, live):
        block = []
        if isinstance(value, gast.Dict):
            pairs = list(zip(value.keys, value.values))
        else:
            pairs = [(nodes.const(k), v) for k, v in enumerate(value.elts)]
        for key, elt in pairs:
            if isinstance(elt, gast.Name) and elt.id in self.active:
                entry = nodes.subscript(nodes.copy(bar_node), nodes.copy(key))
                block += self.accumulate(elt.id, dense_of(entry, elt.id), live)
        return block

    def adjoint_primitive(self, op, out_node, bar_node, live, stmt):
        prim = op.primitive
        block = []
        if not prim.differentiable:
            return []
        for slot in op.differentiable_slots:
            bound = op.slots[slot]
            names = operations.slot_names(bound)
            if not names & self.active:
                continue
            expr = self.instantiate(prim.vjp[slot], op, out_node, bar_node)
            if isinstance(bound, gast.Name):
                block += self.accumulate(bound.id, expr, live)
            elif isinstance(bound, (gast.Tuple, gast.List)):
                parts = self.namer.fresh(f"{slot}_bar")
                block.append(nodes.assign(parts, expr))
                for k, elt in enumerate(bound.elts):
                    if isinstance(elt, gast.Starred):
                        raise self.error("`*` inside a differentiated call is not supported", stmt)
                    if isinstance(elt, gast.Name) and elt.id in self.active:
                        block += self.accumulate(elt.id, nodes.subscript(nodes.name(parts), nodes.const(k)), live)
                    elif isinstance(elt, (gast.Tuple, gast.List, gast.Dict)):     # tuple([a, b])
                        block += self.adjoint_container(elt, nodes.subscript(nodes.name(parts), nodes.const(k)), live)
        return block

    def instantiate(self, template, op, out_node, bar_node):
        """A copy of a rule template with its slots replaced by this call's values."""
        mapping = dict(op.slots)    # NumPy's own `out=` argument is shadowed by the result
        mapping.update(out=out_node, out_bar=bar_node)
        return operations.instantiate(template, mapping)

    # -- cotangent bookkeeping -------------------------------------------------------------
    def accumulate(self, name, expr, live):
        block = self._accumulate(name, expr, live)
        if name in self.armed:
            return [nodes.if_(nodes.copy(self.guards[name]), block)]
        return block

    def _accumulate(self, name, expr, live):
        bar = self.bar(name)
        if name in live:
            if self.kinds.get(name) == ARRAY:
                total = nodes.binop(nodes.name(bar), gast.Add(), expr)
            else:
                total = nodes.call(nodes.name("add_tree"), [nodes.name(bar), expr])
            return [nodes.assign(bar, total)]
        live.add(name)
        if self.kinds.get(name) == LIST:   # popped entry by entry: no None (zero) entries
            expr = nodes.call(nodes.name("list"), [dense_of(expr, name)])
        return [nodes.assign(bar, expr)]

    def zeros(self, name):
        kind = self.kinds.get(name)
        if kind == LIST:
            return nodes.list_([])
        if kind == ARRAY:
            return nodes.call("np.zeros_like", [nodes.name(name)])
        return nodes.call(nodes.name("zero_cotangent"), [nodes.name(name)])

    def materialize(self, name):
        return nodes.assign(self.bar(name), self.zeros(name))


def _reversed_iteration(iteration, executed=None):
    """The indices a forward loop visited, last first (`executed`: how many it visited)."""
    sequence = nodes.copy(iteration)
    is_reversed = (isinstance(sequence, gast.Call) and isinstance(sequence.func, gast.Name)
                   and getattr(sequence, "s2s", None) is not None
                   and getattr(sequence.s2s, "primitive", None) is not None
                   and sequence.s2s.primitive.name == "reversed")
    if executed is None:
        return sequence.args[0] if is_reversed else nodes.call("reversed", [sequence])
    if is_reversed:
        sequence = nodes.subscript(sequence.args[0], gast.Slice(lower=None, upper=None, step=nodes.const(-1)))
    visited = nodes.subscript(sequence, gast.Slice(lower=None, upper=nodes.name(executed), step=None))
    return nodes.call("reversed", [visited])


def dense_of(expr, name):
    """`dense(expr, name)`: an entry of a container cotangent, None made zeros."""
    return nodes.call(nodes.name("dense"), [expr, nodes.name(name)])


def stmt_of(block):
    """The last real statement of a generated block (to tell compound blocks apart)."""
    real = [s for s in block if not isinstance(s, Restore)]
    return real[-1] if real else None


def _mark_assigned_before(stmts, assigned):
    """Record on each loop the names assigned anywhere before it (in program order)."""
    for stmt in stmts:
        if isinstance(stmt, (gast.For, gast.While)):
            stmt.s2s_assigned_before = set(assigned)
            _mark_assigned_before(stmt.body, assigned)
        elif isinstance(stmt, gast.If):
            _mark_assigned_before(stmt.body, assigned)
            _mark_assigned_before(stmt.orelse, assigned)
        assigned |= nodes.names_stored(stmt)
    return assigned


def _reads_outside(fn, loop):
    """Names read anywhere in `fn` except inside `loop`."""
    reads = set()
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        if node is loop:
            continue
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            reads.add(node.id)
        stack.extend(gast.iter_child_nodes(node))
    return reads


def _definition_counts(fn):
    counts = {}
    for node in nodes.walk(fn, contexts=False):
        if isinstance(node, gast.Assign) and not getattr(node, "s2s_counter", False):
            for name in nodes.names_stored(node.targets[0]):
                counts[name] = counts.get(name, 0) + 1
    return counts


def _has_code(block):
    return any(not isinstance(s, Restore) and not nodes.is_comment(s) for s in block)


def _infer_kinds(fn):
    """ARRAY for variables only ever used as arrays; TREE if they may hold a container (used as
    one, passed to a user function that may use it as one, or copied to or from such a name),
    so their cotangents are added leaf by leaf; LIST for lists built with append."""
    kinds = {}
    container_use = set()
    lists = set()
    arithmetic = set()      # operands of arithmetic: arrays or numbers, whatever else they are used for
    passed = set()          # arguments of user functions
    copies = []
    for node in nodes.walk(fn, contexts=False):
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name):
            container_use.add(node.value.id)
        if isinstance(node, (gast.BinOp, gast.UnaryOp)):
            for operand in (node.left, node.right) if isinstance(node, gast.BinOp) else (node.operand,):
                if isinstance(operand, gast.Name):
                    arithmetic.add(operand.id)
        if isinstance(node, gast.Assign):
            target = node.targets[0]
            if isinstance(target, gast.Tuple) and isinstance(node.value, gast.Name):
                container_use.add(node.value.id)
            if isinstance(target, gast.Name):
                value = node.value
                op = operations.operation(value)
                if isinstance(value, gast.List) and not value.elts:
                    lists.add(target.id)
                elif isinstance(value, gast.Constant) and value.value is None:
                    container_use.add(target.id)      # may stay None: its cotangent may be None
                elif op.kind == "copy":
                    copies.append((target.id, value.id))
                elif op.kind in ("container", "user", "pop", "opaque") or (
                        op.kind == "primitive" and op.primitive.result != "array"):
                    container_use.add(target.id)
                if op.kind == "user":
                    passed |= {a.id for a in op.args if isinstance(a, gast.Name)}
                    passed |= {a.id for a in op.keywords.values() if isinstance(a, gast.Name)}
            else:
                for elt in target.elts:
                    container_use.add(elt.id)
        if isinstance(node, gast.Call):
            callee = getattr(node, "s2s", None)
            if callee is not None and callee.kind in ("append", "pop"):
                lists.add(node.func.value.id)
            if callee is not None and callee.kind == "primitive" and callee.primitive.name in ("len",):
                for arg in node.args:
                    if isinstance(arg, gast.Name):
                        container_use.add(arg.id)
    container_use |= passed - arithmetic
    changed = True
    while changed:       # a copy shares its cotangent with its source
        changed = False
        for target, source in copies:
            if (target in container_use) != (source in container_use):
                container_use |= {target, source}
                changed = True
    for node in nodes.walk(fn, contexts=False):
        if isinstance(node, gast.Name):
            if node.id in lists:
                kinds[node.id] = LIST
            elif node.id in container_use:
                kinds[node.id] = TREE
            else:
                kinds[node.id] = ARRAY
    return kinds


# -- saving overwritten values -----------------------------------------------------------------
def _assignment_sites(fn):
    """{name: number of definitions}, and names defined inside loops (params count once)."""
    counts = {a.id: 1 for a in fn.args.args}
    in_loop = set()
    first_in_loop = set()
    seen = set(counts)

    def visit(stmts, depth):
        for stmt in stmts:
            if isinstance(stmt, gast.Assign) and not getattr(stmt, "s2s_counter", False):
                for n in nodes.names_stored(stmt.targets[0]):
                    counts[n] = counts.get(n, 0) + 1
                    if depth:
                        in_loop.add(n)
                        if n not in seen:
                            first_in_loop.add(n)
                    seen.add(n)
            elif isinstance(stmt, gast.If):
                visit(stmt.body, depth)
                visit(stmt.orelse, depth)
            elif isinstance(stmt, (gast.For, gast.While)):
                if isinstance(stmt, gast.For):
                    seen.add(stmt.target.id)
                visit(stmt.body, depth + 1)

    visit(fn.body, 0)
    return counts, in_loop, first_in_loop


def place_saves(parts, reverse, fn):
    """Turn Restore placeholders into saves (forward) and restores (backward) where needed."""
    reads = set()
    for stmt in nodes.statements(parts.backward):
        if isinstance(stmt, Restore):
            continue
        reads |= nodes.names_read(stmt)
    counts, in_loop, first_in_loop = _assignment_sites(fn)
    needed = {n for n in reads if n in counts and (n in in_loop or counts[n] > 1)}
    before = {}       # id(stmt) -> statements to insert before it in the forward sweep
    after = {}        # id(stmt) -> statements to insert after it
    replace = {}      # id(marker) -> statement
    tapes = {}        # variable -> its tape
    for marker in reverse.restores:
        if marker.name not in needed:
            continue
        if marker.reload:
            if marker.name not in tapes:
                tapes[marker.name] = reverse.namer.fresh(f"{marker.name}_tape")
            tape = tapes[marker.name]
            save = nodes.expr(nodes.call(nodes.attr(nodes.name(tape), "append"), [nodes.name(marker.name)]))
            after.setdefault(id(marker.stmt), []).append(save)
            replace[id(marker)] = nodes.assign(marker.name, nodes.call(nodes.attr(nodes.name(tape), "pop")))
            continue
        if marker.in_loop:
            if marker.name not in tapes:
                tapes[marker.name] = reverse.namer.fresh(f"{marker.name}_tape")
            tape = tapes[marker.name]
            save = nodes.expr(nodes.call(nodes.attr(nodes.name(tape), "append"), [nodes.name(marker.name)]))
            restore = nodes.assign(marker.name, nodes.call(nodes.attr(nodes.name(tape), "pop")))
        else:
            keep = reverse.namer.fresh(f"{marker.name}_in")
            save = nodes.assign(keep, nodes.name(marker.name))
            restore = nodes.assign(marker.name, nodes.name(keep))
        before.setdefault(id(marker.stmt), []).append(save)
        replace[id(marker)] = restore
    preamble = [nodes.assign(tape, nodes.list_([])) for tape in tapes.values()]
    reloaded = {m.name for m in reverse.restores if m.reload}
    preamble += [nodes.assign(name, nodes.const(None)) for name in tapes
                 if name in first_in_loop and name not in reloaded]
    parts.preamble = preamble + parts.preamble
    parts.forward = _insert_before(parts.forward, before, after)
    parts.backward = _replace_markers(parts.backward, replace)


def _insert_before(stmts, before, after):
    out = []
    for stmt in stmts:
        out.extend(before.get(id(stmt), []))
        if isinstance(stmt, gast.If):
            stmt.body = _insert_before(stmt.body, before, after)
            stmt.orelse = _insert_before(stmt.orelse, before, after)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _insert_before(stmt.body, before, after)
        out.append(stmt)
        out.extend(after.get(id(stmt), []))
    return out


def _replace_markers(stmts, replace):
    out = []
    for stmt in stmts:
        if isinstance(stmt, Restore):
            if id(stmt) in replace:
                out.append(replace[id(stmt)])
            continue
        if isinstance(stmt, gast.If):
            stmt.body = _replace_markers(stmt.body, replace) or [gast.Pass()]
            stmt.orelse = _replace_markers(stmt.orelse, replace)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _replace_markers(stmt.body, replace) or [gast.Pass()]
        out.append(stmt)
    return out


def _add_counters(stmts, depth=0):
    """Count the iterations of loops that the backward sweep replays by count."""
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.If):
            stmt.body = _add_counters(stmt.body, depth)
            stmt.orelse = _add_counters(stmt.orelse, depth)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _add_counters(stmt.body, depth + 1)
            counter = getattr(stmt, "s2s_steps", None)
            if counter is not None:
                start = nodes.assign(counter, nodes.const(0))
                step = nodes.assign(counter, nodes.binop(nodes.name(counter), gast.Add(), nodes.const(1)))
                start.s2s_counter = step.s2s_counter = True
                stmt.body = [step] + stmt.body
                out.append(start)
                out.append(stmt)
                if getattr(stmt, "s2s_counter_tape", False):
                    out.append(nodes.expr(nodes.call(nodes.attr(nodes.name(stmt.s2s_counter_tape), "append"),
                                                     [nodes.name(counter)])))
                continue
        out.append(stmt)
    return out


def differentiate(source, fn, active_params, namer, callees):
    """Forward and backward sweeps of a normalized function, as `ReverseParts`."""
    rev = Reverse(source, fn, active_params, namer, callees)
    body = rev.rewrite_forward(list(fn.body))
    ret = body[-1]
    forward = body[:-1]
    out = ret.value
    parts = ReverseParts(params=list(rev.params), preamble=[], forward=forward, out=out)
    parts.reverse = rev
    return parts


def backward_from(parts, seeds):
    """Fill in the backward sweep given seed cotangents {name: expression}."""
    rev = parts.reverse
    live = set()
    seed_stmts = []
    for name, expr in seeds.items():
        if name in rev.active:
            if not (isinstance(expr, gast.Name) and expr.id == rev.bar(name)):
                seed_stmts.append(nodes.assign(rev.bar(name), expr))
            live.add(name)
    backward = seed_stmts + rev.backward(parts.forward, live)
    parts.backward = backward
    counter_tapes = sorted({s.s2s_counter_tape for s in nodes.statements(parts.forward)
                            if getattr(s, "s2s_counter_tape", False)})
    parts.forward = _add_counters(parts.forward)
    parts.preamble = [nodes.assign(t, nodes.list_([])) for t in counter_tapes]
    place_saves(parts, rev, rev.fn)
    for param in parts.params:
        if param in rev.active:
            parts.bars[param] = rev.bar(param) if param in live else None
    return parts
