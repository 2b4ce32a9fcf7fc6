"""Comprehensions become loops: `ys = [f(v) for v in xs if c(v)]` ->

    ys = []
    for v in xs:
        if c(v):
            ys.append(f(v))

so every transformation sees plain statements (lists built with `append` and `for` loops, which
they all know). A generator expression consumed whole by `sum`, `min`, `max`, `any`, `all`
or `list` becomes the same list (NumPy refuses generators: `np.sum(gen)` stays).
Comprehension variables keep their names unless that name is
used elsewhere in the function (then `v_1`): nothing leaks into or clobbers user names.
Comprehensions evaluated only sometimes (in `x if c else [...]`, after `and`/`or`, in a `while`
test, in a lambda), dict and set comprehensions and other generators stay as they are (the
transformations refuse them where they carry derivatives: a dict filled in a loop is not followed).
"""
import builtins

import gast

from . import nodes

_COMPREHENSIONS = nodes.COMPREHENSIONS
# builtins that iterate a generator once, whole, and that s2s follows on a list (`tuple` and `sorted`
# are not differentiated: tuple(gen) stays a generator, which the transformations refuse)
_CONSUMERS = {"sum", "min", "max", "any", "all", "list"}


def loops(source):
    """`source` with its comprehensions lowered to loops (the tree is changed in place)."""
    fn = source.tree
    if not any(isinstance(n, _COMPREHENSIONS) for n in nodes.walk(fn, contexts=False)):
        return source
    _Lowering(source).function(fn)
    return source


class _Lowering:
    def __init__(self, source):
        self.source = source
        fn = source.tree
        bound = set()           # names bound by comprehension targets
        for node in nodes.walk(fn, contexts=False):
            if isinstance(node, gast.comprehension):
                bound |= nodes.names_stored(node.target)
        self.outside = _names_outside_comprehensions(fn) | {a.id for a in fn.args.args}
        self.locals = {n.id for n in nodes.walk(fn, contexts=False)
                       if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))} - bound
        self.taken = {n.id for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Name)}
        self.taken |= set(self.outside) | bound | set(source.closure) | set(dir(builtins))
        self.taken |= {a.id for a in fn.args.args}
        self.claimed = set()    # comprehension variables kept under their own names
        self.params = {a.id for a in fn.args.args}

    def function(self, fn):
        fn.body = self.block(fn.body)

    def block(self, stmts):
        out = []
        for stmt in stmts:
            out += self.statement(stmt)
        return out

    def statement(self, stmt):
        """The statement, preceded by the loops building the comprehensions it evaluates first."""
        pre = []
        if isinstance(stmt, gast.Assign):
            direct = self._direct_target(stmt)
            if direct is not None:
                pre = self.lower(stmt.value, direct, stmt.lineno)
                return pre
            stmt.value = self.expression(stmt.value, pre, stmt.lineno)
        elif isinstance(stmt, (gast.AugAssign, gast.AnnAssign, gast.Return, gast.Expr)):
            if stmt.value is not None:
                stmt.value = self.expression(stmt.value, pre, stmt.lineno)
        elif isinstance(stmt, gast.If):
            stmt.test = self.expression(stmt.test, pre, stmt.lineno)
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
        elif isinstance(stmt, gast.For):
            stmt.iter = self.expression(stmt.iter, pre, stmt.lineno)
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
        elif isinstance(stmt, gast.While):       # its test is evaluated again after every step
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
        elif isinstance(stmt, gast.Assert):
            stmt.test = self.expression(stmt.test, pre, stmt.lineno)
        elif isinstance(stmt, gast.Raise) and stmt.exc is not None:
            stmt.exc = self.expression(stmt.exc, pre, stmt.lineno)
        elif isinstance(stmt, gast.FunctionDef):
            stmt.body = self.block(stmt.body)
        return pre + [stmt]

    def _direct_target(self, stmt):
        """`ys = [...]`: the list is built in `ys` itself when the comprehension does not read `ys`."""
        target, value = stmt.targets[0], stmt.value
        if len(stmt.targets) != 1 or not isinstance(target, gast.Name) or \
                not isinstance(value, gast.ListComp):
            return None
        if target.id in self.params or target.id in nodes.names_read(value) or target.id in self.claimed:
            return None
        if target.id in {n for g in nodes.walk(value, contexts=False) if isinstance(g, gast.comprehension)
                         for n in nodes.names_stored(g.target)}:
            return None
        return target.id

    # -- expressions -----------------------------------------------------------------------------
    def expression(self, node, pre, lineno):
        """`node` with the comprehensions it always evaluates replaced by the lists built in `pre`."""
        if isinstance(node, gast.ListComp):
            name = nodes.unique_name("items", self.taken)
            pre += self.lower(node, name, lineno)
            return nodes.name(name)
        if isinstance(node, (gast.DictComp, gast.SetComp, gast.GeneratorExp, gast.Lambda)):
            return node
        if isinstance(node, gast.IfExp):
            node.test = self.expression(node.test, pre, lineno)
            return node
        if isinstance(node, gast.BoolOp):
            node.values[0] = self.expression(node.values[0], pre, lineno)
            return node
        if isinstance(node, gast.Call):
            node.func = self.expression(node.func, pre, lineno)
            if node.args and isinstance(node.args[0], gast.GeneratorExp):
                consumer = self._consumer(node)
                if consumer is not None:
                    name = nodes.unique_name("terms" if consumer == "sum" else "items", self.taken)
                    pre += self.lower(node.args[0], name, lineno)
                    if consumer == "list":
                        return nodes.name(name)       # the fresh list itself
                    node.args[0] = nodes.name(name)
            node.args = [self.expression(a, pre, lineno) for a in node.args]
            for kw in node.keywords:
                kw.value = self.expression(kw.value, pre, lineno)
            return node
        for field, value in gast.iter_fields(node):
            if isinstance(value, gast.AST) and not isinstance(value, (gast.expr_context,)):
                setattr(node, field, self.expression(value, pre, lineno))
            elif isinstance(value, list):
                setattr(node, field, [self.expression(v, pre, lineno) if isinstance(v, gast.AST) else v
                                      for v in value])
        return node

    def _consumer(self, call):
        """The builtin consuming the generator `call.args[0]` whole, or None."""
        func = call.func
        if isinstance(func, gast.Name) and func.id in _CONSUMERS and self._is_builtin(func.id):
            if func.id == "sum" and len(call.args) <= 2 and not call.keywords:
                return "sum"
            if func.id != "sum" and (len(call.args) == 1 or func.id in ("min", "max")):
                return func.id
            return None
        return None

    def _is_builtin(self, name_):
        return name_ not in self.locals and name_ not in self.source.closure and name_ not in self.source.globals

    # -- one comprehension -----------------------------------------------------------------------
    def lower(self, comp, name_, lineno):
        """`name_ = []` and the loops filling it with the elements of `comp`."""
        mapping = {}
        claimed = set(self.claimed)
        generators = comp.generators
        if any(g.is_async for g in generators):
            raise self.source.error("s2s cannot transform an `async` comprehension", comp)
        heads = []          # (target, iter, ifs) with comprehension variables renamed
        for k, gen in enumerate(generators):
            iter_ = gen.iter if k == 0 else _renamed(gen.iter, mapping)   # the first runs outside
            for old in sorted(nodes.names_stored(gen.target)):
                mapping[old] = self._variable(old)
            target = _renamed(gen.target, mapping)
            heads.append((target, iter_, [_renamed(c, mapping) for c in gen.ifs]))
        body = [nodes.expr(nodes.call(nodes.attr(nodes.name(name_), "append"), [_renamed(comp.elt, mapping)]))]
        for target, iter_, ifs in reversed(heads):
            for cond in reversed(ifs):
                body = [nodes.if_(cond, body)]
            body = [nodes.for_(target, iter_, body)]
        out = [nodes.assign(name_, nodes.list_([]))] + body
        for stmt in out:
            for node in nodes.walk(stmt, contexts=False):
                if isinstance(node, gast.stmt):
                    node.lineno = lineno
        out = self.block(out)     # comprehensions inside the element, conditions and inner iterables
        self.claimed = claimed    # a later comprehension may use the same names again
        return out

    def _variable(self, old):
        """The loop variable for comprehension variable `old`: its own name when no other use
        of that name (outside comprehensions, or in an enclosing one) can see it."""
        if old not in self.outside and old not in self.claimed and not hasattr(builtins, old):
            self.claimed.add(old)
            return old
        self.claimed.add(old)
        return nodes.unique_name(old, self.taken)


def _names_outside_comprehensions(fn):
    """Names used anywhere except where a comprehension (or lambda) binds them."""
    return {n.id for n in nodes.free_names(fn)}


def _renamed(node, mapping):
    """A copy of `node` with the names in `mapping` replaced, respecting inner rebindings."""
    node = nodes.copy(node)
    for n in nodes.free_names(node) if mapping else ():
        n.id = mapping.get(n.id, n.id)
    return node
