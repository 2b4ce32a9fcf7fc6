"""A-normal form: one operation per statement, temporaries named for what they hold.

After this pass a function body holds only:

* `name = <one operation on atoms>` (atoms are names and constants; container literals of
  atoms, slices of atoms and comprehensions count as one operation);
* `a, b = name` (unpacking), `name.append(atom)` / `name = name.pop()`;
* `if name:`, `for name in range(atoms):`, `while name:` (the condition recomputed at the
  end of the body), `break` only as the last statement of a path, and one final `return`.

Loops over sequences become index loops (`for i in range(len(params)): W, b = params[i]`),
`a[i] = v` on local arrays becomes `a = index_update(a, i, v)`, and early returns,
`continue` and `break` are lifted so every path through a block is straight.
"""
import builtins
import dataclasses
import keyword

import gast

from . import nodes, parse
from .check import parameters_written_in_place
from .resolve import Callee
from ..runtime import primitives

_OP_WORDS = {gast.Add: "plus", gast.Sub: "minus", gast.Mult: "times", gast.Div: "over",
             gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.Pow: "pow", gast.MatMult: "",
             gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt", gast.GtE: "ge", gast.Eq: "eq",
             gast.NotEq: "ne", gast.Is: "is", gast.IsNot: "isnot", gast.In: "in",
             gast.NotIn: "notin", gast.BitAnd: "and", gast.BitOr: "or", gast.BitXor: "xor"}
_NUMBER_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three", 0.5: "half", -1: "neg1", -2: "neg2"}
_OPAQUE_EXPRESSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp,
                       gast.JoinedStr, gast.Lambda)


class Namer:
    """Fresh, readable, unique names."""

    def __init__(self, taken):
        self.taken = set(taken)

    def fresh(self, base):
        base = clean(base) or "tmp"
        if base[0].isdigit():
            base = "v" + base
        candidate, k = base, 0
        while candidate in self.taken or shadows(candidate):     # never `len = len(x)`
            k += 1
            candidate = f"{base}_{k}"
        self.taken.add(candidate)
        return candidate


def shadows(name):
    return keyword.iskeyword(name) or hasattr(builtins, name)


def clean(text):
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")[:24].rstrip("_")


def _word(node):
    if isinstance(node, gast.Name):
        return node.id
    if isinstance(node, gast.Constant):
        value = node.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value in _NUMBER_WORDS and not isinstance(value, bool):
            return _NUMBER_WORDS[value]
        return str(value).replace("-", "neg").replace(".", "_")
    if isinstance(node, gast.Attribute):
        return node.attr
    return ""


def describe(expr):
    """A short name for the value of `expr`: `tanh_x`, `W_h`, `x_gt_0`, `xs_t`."""
    if isinstance(expr, gast.Call):
        func = expr.func
        fname = func.attr if isinstance(func, gast.Attribute) else _word(func)
        callee = getattr(expr, "s2s", None)
        first = expr.args[0] if expr.args else None
        if callee is not None and callee.receiver and isinstance(func, gast.Attribute):
            first = func.value
        arg = _word(first) if first is not None else ""
        return f"{fname}_{arg}" if arg and len(arg) < 12 else fname
    if isinstance(expr, gast.BinOp):
        word = _OP_WORDS.get(type(expr.op), "op")
        left, right = _word(expr.left), _word(expr.right)
        return f"{left}_{word}_{right}" if word else f"{left}_{right}"
    if isinstance(expr, gast.Compare):
        return f"{_word(expr.left)}_{_OP_WORDS.get(type(expr.ops[0]), 'cmp')}_{_word(expr.comparators[0])}"
    if isinstance(expr, gast.UnaryOp):
        prefix = {gast.USub: "neg", gast.Not: "not", gast.UAdd: "pos", gast.Invert: "inv"}[type(expr.op)]
        return f"{prefix}_{_word(expr.operand)}"
    if isinstance(expr, gast.Subscript):
        index = expr.slice
        part = _word(index) if isinstance(index, (gast.Name, gast.Constant)) else ""
        if isinstance(index, gast.Constant) and type(index.value) is int:
            part = str(index.value).replace("-", "neg")
        return f"{_word(expr.value)}_{part}" if part else f"{_word(expr.value)}_part"
    if isinstance(expr, gast.Attribute):
        return f"{_word(expr.value)}_{expr.attr}"
    if isinstance(expr, (gast.Tuple, gast.List)):
        return "items"
    return "tmp"


def is_atom(node):
    return isinstance(node, (gast.Name, gast.Constant)) or (
        isinstance(node, gast.Attribute) and not hasattr(node, "s2s") and _is_static(node))


def _is_static(node):
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name) and hasattr(node, "s2s_value")


class Normalizer:
    def __init__(self, source):
        self.source = source
        fn = source.tree
        taken = {n.id for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Name)}
        taken |= set(primitives.TEMPLATE_NAMESPACE)
        self.namer = Namer(taken)
        self.params = {a.id for a in fn.args.args}
        self.lineno = getattr(fn, "lineno", None)

    # -- expressions ---------------------------------------------------------------------
    def atom(self, expr, out, hint=None):
        """Emit statements computing `expr` into `out`; return an atom holding its value."""
        if is_atom(expr):
            return expr
        simple = self.simple(expr, out)
        if is_atom(simple):
            return simple
        temp = self.namer.fresh(hint or describe(simple))
        out.append(self._stamp(nodes.assign(temp, simple)))
        return nodes.name(temp)

    def simple(self, expr, out):
        """`expr` as one operation on atoms, emitting statements for its operands."""
        if is_atom(expr):
            return expr
        if isinstance(expr, gast.BinOp):
            expr.left = self.atom(expr.left, out)
            expr.right = self.atom(expr.right, out)
            return expr
        if isinstance(expr, gast.UnaryOp):
            if isinstance(expr.op, gast.USub) and isinstance(expr.operand, gast.Constant) and \
                    isinstance(expr.operand.value, (int, float)) and not isinstance(expr.operand.value, bool):
                return nodes.const(-expr.operand.value)
            expr.operand = self.atom(expr.operand, out)
            return expr
        if isinstance(expr, gast.Compare):
            return self._compare(expr, out)
        if isinstance(expr, gast.BoolOp):
            return self._boolop(expr, out)
        if isinstance(expr, gast.IfExp):
            test = self.atom(expr.test, out)
            temp = self.namer.fresh("choice")
            then, orelse = [], []
            then.append(self._stamp(nodes.assign(temp, self.simple(expr.body, then))))
            orelse.append(self._stamp(nodes.assign(temp, self.simple(expr.orelse, orelse))))
            out.append(self._stamp(nodes.if_(test, then, orelse)))
            return nodes.name(temp)
        if isinstance(expr, gast.Call):
            return self._call(expr, out)
        if isinstance(expr, gast.Attribute):
            expr.value = self.atom(expr.value, out)
            return expr
        if isinstance(expr, gast.Subscript):
            expr.value = self.atom(expr.value, out)
            expr.slice = self.index(expr.slice, out)
            return expr
        if isinstance(expr, (gast.Tuple, gast.List, gast.Set)):
            expr.elts = [self._element(e, out) for e in expr.elts]
            return expr
        if isinstance(expr, gast.Dict):
            expr.keys = [self.atom(k, out) if k is not None else None for k in expr.keys]
            expr.values = [self.atom(v, out) for v in expr.values]
            return expr
        if isinstance(expr, _OPAQUE_EXPRESSIONS):
            return expr
        if isinstance(expr, gast.Starred):
            expr.value = self.atom(expr.value, out)
            return expr
        raise self.source.error(f"s2s cannot transform the expression `{nodes.to_source(expr)}`", expr)

    def _element(self, expr, out):
        if isinstance(expr, gast.Starred):
            expr.value = self.atom(expr.value, out)
            return expr
        return self.atom(expr, out)

    def index(self, index, out):
        """Atomize the parts of an index, keeping slices and tuples of them in place."""
        if isinstance(index, gast.Slice):
            for part in ("lower", "upper", "step"):
                value = getattr(index, part)
                if value is not None:
                    setattr(index, part, self.atom(value, out))
            return index
        if isinstance(index, gast.Tuple):
            index.elts = [self.index(e, out) for e in index.elts]
            return index
        return self.atom(index, out)

    def _call(self, expr, out):
        callee = getattr(expr, "s2s", None)
        if callee is not None and callee.kind == "user":
            expr.s2s = callee = _with_fresh_arguments(expr, _with_positional(expr, callee))
        if isinstance(expr.func, gast.Attribute) and not is_atom(expr.func):
            expr.func.value = self.atom(expr.func.value, out)
        elif not isinstance(expr.func, (gast.Name, gast.Attribute)):
            raise self.source.error("calling the result of an expression is not supported",
                                    expr, suggestion="Assign the function to a name first.")
        keep_sequences = callee is not None and callee.kind == "primitive"
        args = []
        for arg in expr.args:
            if keep_sequences and isinstance(arg, (gast.List, gast.Tuple)):
                arg.elts = [self._element(e, out) for e in arg.elts]
                args.append(arg)
            else:
                args.append(self._element(arg, out))
        expr.args = args
        for kw in expr.keywords:
            kw.value = self.atom(kw.value, out)
        return expr

    def _compare(self, expr, out):
        left = self.atom(expr.left, out)
        if len(expr.ops) == 1:
            return gast.Compare(left=left, ops=expr.ops, comparators=[self.atom(expr.comparators[0], out)])
        # a < b < c  ->  t = a < b; if t: t = b < c   (b evaluated once, c only if needed)
        temp = self.namer.fresh("in_order")
        right = self.atom(expr.comparators[0], out)
        out.append(self._stamp(nodes.assign(temp, gast.Compare(left=left, ops=[expr.ops[0]], comparators=[right]))))
        rest = gast.Compare(left=right, ops=expr.ops[1:], comparators=expr.comparators[1:])
        then = []
        then.append(self._stamp(nodes.assign(temp, self.simple(rest, then))))
        out.append(self._stamp(nodes.if_(nodes.name(temp), then)))
        return nodes.name(temp)

    def _boolop(self, expr, out):
        # a and b  ->  t = a; if t: t = b      a or b  ->  t = a; if not t: t = b
        temp = self.namer.fresh("both" if isinstance(expr.op, gast.And) else "either")
        out.append(self._stamp(nodes.assign(temp, self.simple(expr.values[0], out))))
        block = out
        for value in expr.values[1:]:
            inner = []
            inner.append(self._stamp(nodes.assign(temp, self.simple(value, inner))))
            test = nodes.name(temp)
            if isinstance(expr.op, gast.Or):
                flag = self.namer.fresh("not_" + temp)
                block.append(self._stamp(nodes.assign(flag, nodes.unary(gast.Not(), nodes.name(temp)))))
                test = nodes.name(flag)
            branch = self._stamp(nodes.if_(test, inner))
            block.append(branch)
            block = branch.body
        return nodes.name(temp)

    # -- statements ----------------------------------------------------------------------
    def _stamp(self, stmt):
        if getattr(stmt, "lineno", None) is None:
            stmt.lineno = self.lineno
        return stmt

    def block(self, stmts):
        out = []
        for stmt in stmts:
            self.lineno = getattr(stmt, "lineno", self.lineno)
            self.statement(stmt, out)
            if isinstance(stmt, gast.Raise):
                break       # what follows never runs
        return out

    def statement(self, stmt, out):
        if isinstance(stmt, gast.Assign):
            value = stmt.value
            targets = stmt.targets
            if len(targets) == 1 and isinstance(targets[0], gast.Name):
                out.append(self._stamp(nodes.assign(targets[0].id, self.simple(value, out))))
                return
            hint = None
            if len(targets) == 1 and isinstance(targets[0], gast.Subscript):
                hint = describe(targets[0].value) if isinstance(targets[0].value, gast.Name) else None
            value = self.atom(value, out, hint=None if not hint else f"new_{_word(targets[0].value)}")
            for target in targets:
                self.assign_to(target, value, out)
        elif isinstance(stmt, gast.AugAssign):
            target = stmt.target
            if isinstance(target, gast.Name):
                right = self.atom(stmt.value, out)
                out.append(self._stamp(nodes.assign(target.id, nodes.binop(nodes.name(target.id), stmt.op, right))))
            else:
                current = self.atom(self._load(target), out)
                right = self.atom(stmt.value, out)
                new = self.atom(nodes.binop(current, stmt.op, right), out)
                self.assign_to(target, new, out)
        elif isinstance(stmt, gast.Expr):
            if isinstance(stmt.value, gast.Constant):
                return   # docstring or bare constant
            value = self.simple(stmt.value, out)
            callee = getattr(value, "s2s", None)
            if isinstance(value, gast.Call) and callee is not None and callee.kind == "pop":
                value.func.value = self.atom(value.func.value, out)
            out.append(self._stamp(nodes.expr(value)))
        elif isinstance(stmt, gast.Return):
            value = stmt.value if stmt.value is not None else nodes.const(None)
            if isinstance(value, gast.Tuple):
                value.elts = [self.atom(e, out) for e in value.elts]
            else:
                value = self.atom(value, out, hint="out")
            out.append(self._stamp(nodes.return_(value)))
        elif isinstance(stmt, gast.If):
            test = self.atom(stmt.test, out, hint=None)
            line = self.lineno   # block() moves self.lineno to the branches' statements
            branch = nodes.if_(test, self.block(stmt.body), self.block(stmt.orelse))
            self.lineno = line
            out.append(self._stamp(branch))
        elif isinstance(stmt, gast.For):
            self._for(stmt, out)
        elif isinstance(stmt, gast.While):
            self._while(stmt, out)
        elif isinstance(stmt, (gast.Break, gast.Continue)):
            out.append(self._stamp(stmt))
        elif isinstance(stmt, gast.Pass):
            return
        elif isinstance(stmt, gast.Assert):
            stmt.test = self.atom(stmt.test, out)
            out.append(self._stamp(stmt))
        elif isinstance(stmt, gast.Raise):
            out.append(self._stamp(stmt))    # kept as written: the path ends here, nothing to differentiate
        else:
            raise self.source.error(f"s2s cannot transform a `{type(stmt).__name__}` statement", stmt)

    def _load(self, target):
        node = nodes.copy(target)
        for n in nodes.walk(node, contexts=False):
            if hasattr(n, "ctx"):
                n.ctx = gast.Load()
        return node

    def assign_to(self, target, value, out):
        """`target = value` for a name, a (nested) tuple of targets, or an item of a local."""
        if isinstance(target, gast.Name):
            out.append(self._stamp(nodes.assign(target.id, value)))
        elif isinstance(target, (gast.Tuple, gast.List)):
            names = []
            later = []
            for elt in target.elts:
                if isinstance(elt, gast.Name):
                    names.append(nodes.store(elt.id))
                else:
                    temp = self.namer.fresh("part")
                    names.append(nodes.store(temp))
                    later.append((elt, nodes.name(temp)))
            out.append(self._stamp(nodes.assign(nodes.tuple_(names, gast.Store()), value)))
            for elt, temp in later:
                self.assign_to(elt, temp, out)
        elif isinstance(target, gast.Subscript):
            # a[i] = v  ->  a = index_update(a, i, v)   (a copy: the caller's arrays never change)
            container = target.value
            index = self.index(target.slice, out)
            if isinstance(container, gast.Name):
                update = nodes.call(nodes.name("index_update"), [nodes.name(container.id), _as_value(index), value])
                update.s2s = Callee("primitive", "index_update", primitive=primitives.by_name("index_update"))
                out.append(self._stamp(nodes.assign(container.id, update)))
            else:   # a[i][j] = v: update the inner item, then store it back
                inner = self.atom(self._load(container), out)
                update = nodes.call(nodes.name("index_update"), [inner, _as_value(index), value])
                update.s2s = Callee("primitive", "index_update", primitive=primitives.by_name("index_update"))
                new_inner = self.atom(update, out)
                self.assign_to(container, new_inner, out)
        else:
            raise self.source.error("s2s cannot assign to this target", target)

    def _for(self, stmt, out):
        iterable = stmt.iter
        callee = getattr(iterable, "s2s", None)
        prim = callee.primitive if callee is not None and callee.kind == "primitive" else None
        body_prefix = []
        if _is_range_expression(iterable):
            self._atomize_range(iterable, out)
            if not isinstance(stmt.target, gast.Name):
                raise self.source.error("unpacking a range is not possible", stmt)
            target = stmt.target.id
            loop_iter = iterable
        else:
            # for W, b in params  ->  for i in range(len(params)): W, b = params[i]
            if isinstance(stmt.target, gast.Name) and not _is_enumerate(stmt.iter):
                target = self.namer.fresh("i")
            elif _is_enumerate(stmt.iter) and isinstance(stmt.target, gast.Tuple) and \
                    isinstance(stmt.target.elts[0], gast.Name):
                target = stmt.target.elts[0].id
            else:
                target = self.namer.fresh("i")
            counts = []
            outer, self._rebound = getattr(self, "_rebound", set()), set()
            for inner in stmt.body:     # Python iterates the object it started with
                self._rebound |= nodes.names_stored(inner)
            self._iterate(stmt.iter, stmt.target, nodes.name(target), out, body_prefix, counts)
            self._rebound = outer
            count = counts[0]
            if len(counts) > 1:
                count = nodes.call(nodes.name("min"), counts)
                count.s2s = Callee("opaque", "min")
                count = self.atom(count, out, hint="n_steps")
            loop_iter = nodes.call(nodes.name("range"), [count])
            loop_iter.s2s = Callee("primitive", "range", primitive=primitives.by_name("range"))
        body = body_prefix + self.block(stmt.body)
        loop = self._stamp(nodes.for_(target, loop_iter, lift_jumps(body)))
        loop.lineno = stmt.lineno
        out.append(loop)

    def _atomize_range(self, node, out):
        if isinstance(node, gast.Subscript):
            self._atomize_range(node.value, out)
            node.slice = self.index(node.slice, out)
        elif _primitive_name(node) == "reversed":
            self._atomize_range(node.args[0], out)
        else:
            node.args = [self.atom(a, out) for a in node.args]

    def _iterate(self, iterable, target, index, out, body, counts):
        """Bind `target` to item `index` of `iterable` (enumerate and zip unpacked)."""
        callee = getattr(iterable, "s2s", None)
        name_ = callee.primitive.name if callee is not None and callee.kind == "primitive" else None
        if name_ == "enumerate" and len(iterable.args) == 1 and not iterable.keywords and \
                isinstance(target, gast.Tuple) and len(target.elts) == 2:
            first = target.elts[0]
            if isinstance(first, gast.Name) and first.id != index.id:
                body.append(self._stamp(nodes.assign(first.id, nodes.name(index.id))))
            self._iterate(iterable.args[0], target.elts[1], index, out, body, counts)
            return
        if name_ == "zip" and not iterable.keywords and isinstance(target, gast.Tuple) and \
                len(target.elts) == len(iterable.args):
            for arg, elt in zip(iterable.args, target.elts):
                self._iterate(arg, elt, index, out, body, counts)
            return
        if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Attribute) and \
                iterable.func.attr in ("items", "keys", "values") and not iterable.args:
            # for k, v in d.items()  ->  keys = list(d); for i ...: k = keys[i]; v = d[k]
            mapping = self._kept(self.atom(iterable.func.value, out), out)
            listing = nodes.call(nodes.name("list"), [mapping])
            listing.s2s = Callee("primitive", "list", primitive=primitives.by_name("list"))
            keys = self.atom(listing, out, hint="keys")
            counts.append(self._len(keys))
            key = self.atom(nodes.subscript(keys, nodes.name(index.id)), body, hint="key")
            value = nodes.subscript(mapping, key)
            kind = iterable.func.attr
            item = key if kind == "keys" else value if kind == "values" else nodes.tuple_([key, self.atom(value, body, hint="value")])
            if isinstance(target, gast.Name):
                body.append(self._stamp(nodes.assign(target.id, item)))
            else:
                self.assign_to(target, self.atom(item, body, hint="item"), body)
            return
        sequence = self._kept(self.atom(iterable, out, hint="items"), out)
        counts.append(self._len(sequence))
        item = nodes.subscript(sequence, nodes.name(index.id))
        if isinstance(target, gast.Name):
            body.append(self._stamp(nodes.assign(target.id, item)))
        else:
            self.assign_to(target, self.atom(item, body, hint="item"), body)

    def _kept(self, sequence, out):
        """`sequence`, or a copy of the name when the loop body rebinds it (`for v in xs: xs = ...`)."""
        if isinstance(sequence, gast.Name) and sequence.id in getattr(self, "_rebound", ()):
            kept = self.namer.fresh(f"{sequence.id}_items")
            out.append(self._stamp(nodes.assign(kept, nodes.name(sequence.id))))
            return nodes.name(kept)
        return sequence

    def _len(self, sequence):
        node = nodes.call(nodes.name("len"), [sequence])
        node.s2s = Callee("primitive", "len", primitive=primitives.by_name("len"))
        return node

    def _while(self, stmt, out):
        if isinstance(stmt.test, gast.Name):
            test, recompute = stmt.test, []
        else:
            name_ = self.namer.fresh(describe(stmt.test) if not isinstance(stmt.test, gast.Call) else "going")
            recompute = []
            recompute.append(self._stamp(nodes.assign(name_, self.simple(nodes.copy(stmt.test), recompute))))
            out.extend(nodes.copy(s) for s in recompute)
            test = nodes.name(name_)
        body = lift_jumps(self.block(stmt.body))
        body = _append_to_fallthrough(body, recompute)
        loop = self._stamp(nodes.while_(test, body))
        loop.lineno = stmt.lineno
        out.append(loop)


def _primitive_name(node):
    callee = getattr(node, "s2s", None)
    if isinstance(node, gast.Call) and callee is not None and callee.kind == "primitive":
        return callee.primitive.name
    return None


def _is_range_expression(node):
    """`range(...)`, and `reversed(...)` or slices of a range expression."""
    if isinstance(node, gast.Subscript):
        return isinstance(node.slice, gast.Slice) and _is_range_expression(node.value)
    name_ = _primitive_name(node)
    if name_ == "reversed" and len(node.args) == 1:
        return _is_range_expression(node.args[0])
    return name_ == "range"


def _is_enumerate(node):
    callee = getattr(node, "s2s", None)
    return callee is not None and callee.kind == "primitive" and callee.primitive.name == "enumerate"


def _as_value(index):
    """An index as an ordinary expression: slices become `slice(...)` calls."""
    if isinstance(index, gast.Slice):
        parts = [index.lower or nodes.const(None), index.upper or nodes.const(None),
                 index.step or nodes.const(None)]
        node = nodes.call(nodes.name("slice"), parts)
        node.s2s = Callee("opaque", "slice")
        return node
    if isinstance(index, gast.Tuple):
        return nodes.tuple_([_as_value(e) for e in index.elts])
    return index


index_as_value = _as_value


# -- helpers writing into their parameters ------------------------------------------------
# calls that always make a new array: a helper may write into the parameter they fill
_FRESH_ARRAYS = {"zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
                 "array", "copy", "arange", "linspace", "eye", "identity"}


def _with_fresh_arguments(call, callee):
    """The callee of `g(np.zeros(2), x)` where g writes into the parameter given the fresh array:
    a twin of g whose in-place writes of those parameters are allowed (they become index_update,
    which is the same since no other name sees that array). Other calls keep `callee`, and g's own
    check refuses the writes if g is transformed."""
    fn = callee.function.python_function if callee.function is not None else None
    if fn is None or callee.prefix_args or callee.suffix_args or callee.receiver:
        return callee
    tree = callee.function.tree
    written = parameters_written_in_place(tree)
    if not written or any(isinstance(a, gast.Starred) for a in call.args) or \
            any(kw.arg is None for kw in call.keywords):
        return callee
    params = [a.id for a in tree.args.args]
    given = dict(zip(params, call.args))
    given.update({kw.arg: kw.value for kw in call.keywords})
    if not all(p in given and _fresh(given[p]) for p in written):
        return callee
    source = dataclasses.replace(callee.function, tree=nodes.copy(tree),
                                 python_function=parse.twin(fn, ("fresh", written)))
    source.tree.s2s_fresh_params = written
    return dataclasses.replace(callee, function=source)


def _with_positional(call, callee):
    """The callee of `g(a, b, c)` where `def g(a, *xs)`: g with parameters a, xs_0, xs_1."""
    function = callee.function
    if function is None or function.tree.args.vararg is None or callee.prefix_args or callee.suffix_args \
            or callee.receiver or any(isinstance(a, gast.Starred) for a in call.args):
        return callee
    extra = len(call.args) - len(function.tree.args.args)
    if extra < 0:
        return callee
    return dataclasses.replace(callee, function=parse.with_positional(function, extra))


def _fresh(arg):
    """Whether the argument expression surely makes a new array no other name holds."""
    if isinstance(arg, (gast.BinOp, gast.UnaryOp)):
        return True
    if not isinstance(arg, gast.Call):
        return False
    callee = getattr(arg, "s2s", None)
    if callee is None or callee.kind != "primitive":
        return False
    if any(kw.arg == "copy" for kw in arg.keywords):
        return False
    func = arg.func
    return (func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)) in _FRESH_ARRAYS


# -- jumps -------------------------------------------------------------------------------
def _ends_in_jump(block):
    if not block:
        return False
    last = block[-1]
    if isinstance(last, (gast.Break, gast.Continue, gast.Return)):
        return True
    if isinstance(last, gast.If):
        return _ends_in_jump(last.body) and _ends_in_jump(last.orelse)
    return False


def _contains_jump(stmt):
    if isinstance(stmt, (gast.Break, gast.Continue, gast.Return)):
        return True
    if isinstance(stmt, gast.If):
        return any(_contains_jump(s) for s in stmt.body + stmt.orelse)
    return False


def lift_jumps(stmts):
    """Push the statements after an `if` holding a jump into its falling-through branches,
    so jumps end paths; drop `continue` at the end of a path (it is a fall-through)."""
    out = []
    for k, stmt in enumerate(stmts):
        if isinstance(stmt, (gast.Break, gast.Continue, gast.Return)):
            if not isinstance(stmt, gast.Continue):
                out.append(stmt)
            return out
        if isinstance(stmt, gast.If) and _contains_jump(stmt):
            rest = stmts[k + 1:]
            body = stmt.body if _ends_in_jump(stmt.body) else stmt.body + [nodes.copy(s) for s in rest]
            orelse = stmt.orelse if _ends_in_jump(stmt.orelse) else stmt.orelse + [nodes.copy(s) for s in rest]
            stmt.body = lift_jumps(body) or [gast.Pass()]
            stmt.orelse = lift_jumps(orelse)
            out.append(stmt)
            return out
        out.append(stmt)
    return out


def _append_to_fallthrough(block, extra):
    """Append `extra` to every path of `block` that does not end in break."""
    if not extra:
        return block
    if block and isinstance(block[-1], gast.Break):
        return block
    if block and isinstance(block[-1], gast.If) and (_has_break(block[-1])):
        last = block[-1]
        last.body = _append_to_fallthrough(last.body, [nodes.copy(s) for s in extra])
        last.orelse = _append_to_fallthrough(last.orelse, [nodes.copy(s) for s in extra])
        return block
    return block + [nodes.copy(s) for s in extra]


def _has_break(stmt):
    return any(isinstance(n, gast.Break) for n in nodes.walk(stmt, contexts=False))


# -- returns -----------------------------------------------------------------------------
def _returns_in_loops(stmts, namer, state):
    """`return v` inside a loop -> `result = v; returned = True; break`, checked after it."""
    out = []
    for stmt in stmts:
        if isinstance(stmt, (gast.For, gast.While)) and any(isinstance(n, gast.Return)
                                                             for n in nodes.walk(stmt, contexts=False)):
            if state.get("flag") is None:
                state["flag"] = namer.fresh("returned")
                state["value"] = namer.fresh("result")
            stmt.body = _returns_to_breaks(_returns_in_loops(stmt.body, namer, state), state)
            out.append(stmt)
            back = nodes.return_(nodes.name(state["value"]))
            check = nodes.if_(nodes.name(state["flag"]), [back])
            check.lineno = back.lineno = stmt.lineno
            out.append(check)
        elif isinstance(stmt, gast.If):
            stmt.body = _returns_in_loops(stmt.body, namer, state)
            stmt.orelse = _returns_in_loops(stmt.orelse, namer, state)
            out.append(stmt)
        else:
            out.append(stmt)
    return out


def _returns_to_breaks(stmts, state):
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.Return):
            for s in (nodes.assign(state["value"], stmt.value), nodes.assign(state["flag"], nodes.const(True)),
                      gast.Break()):
                s.lineno = stmt.lineno
                out.append(s)
            return out
        if isinstance(stmt, gast.If):
            stmt.body = _returns_to_breaks(stmt.body, state) or [gast.Pass()]
            stmt.orelse = _returns_to_breaks(stmt.orelse, state)
        out.append(stmt)
    return out


def _single_return(body, namer):
    """Make the function end in exactly one `return`, every path assigning its value."""
    body = lift_jumps(body)
    returns = [n for n in nodes.walk_body(body, contexts=False) if isinstance(n, gast.Return)]
    if len(returns) == 1 and body and body[-1] is returns[0]:
        return body
    result = namer.fresh("out")

    def convert(block):
        out = []
        for stmt in block:
            if isinstance(stmt, gast.Return):
                assign = nodes.assign(result, stmt.value)
                assign.lineno = stmt.lineno
                out.append(assign)
                return out
            if isinstance(stmt, gast.If):
                stmt.body = convert(stmt.body) or [gast.Pass()]
                stmt.orelse = convert(stmt.orelse)
            out.append(stmt)
        return out

    body = convert(body)
    if not _ends_in_return_assignment(body, result):
        none = nodes.assign(result, nodes.const(None))
        body = [none] + body
    final = nodes.return_(nodes.name(result))
    final.lineno = returns[-1].lineno if returns else None
    return body + [final]


def _ends_in_return_assignment(block, result):
    if not block:
        return False
    last = block[-1]
    if isinstance(last, gast.Assign) and isinstance(last.targets[0], gast.Name) and last.targets[0].id == result:
        return True
    if isinstance(last, gast.If):
        return _ends_in_return_assignment(last.body, result) and _ends_in_return_assignment(last.orelse, result)
    return False


def one_op_per_line(source, taken=()):
    """Normalize `source.tree` in place and return it; new names avoid `taken`."""
    normalizer = Normalizer(source)
    normalizer.namer.taken |= set(taken)
    fn = source.tree
    body = normalizer.block(fn.body)
    state = {}
    body = _returns_in_loops(body, normalizer.namer, state)
    if state.get("flag"):
        body = [nodes.assign(state["flag"], nodes.const(False)),
                nodes.assign(state["value"], nodes.const(None))] + body
        for s in body[:2]:
            s.lineno = fn.lineno
    body = _single_return(body, normalizer.namer)
    if not body or not isinstance(body[-1], gast.Return):
        body.append(nodes.return_(nodes.const(None)))
    fn.body = body
    fn.s2s_namer = normalizer.namer
    return fn
