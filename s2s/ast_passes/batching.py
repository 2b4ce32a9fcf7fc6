"""Batching (vmap): a normalized function rewritten to run on a whole batch of examples at once.

Batched values carry the batch axis first; unbatched values are the same for every example.
Three steps, each on per-example normalized code:

1. `Analysis`: which variables carry a batch axis (a flow-insensitive fixpoint, like activity
   analysis; a variable assigned under a condition that differs between examples is batched),
   which are containers, and bounds on the rank of one example (to skip needless alignment).
2. `Lowering`: control flow on batched values becomes straight-line code. An `if` on a
   batched condition runs both branches, writing to `<name>_then` / `<name>_else`, and
   `select`s per variable; a loop whose trip count differs between examples runs while any
   example is active, every step guarded by `if active:` (lowered the same way); `break` under a
   batched condition becomes a `running` flag. The result is again per-example code.
3. `Batcher`: every statement rewritten by its primitive's batching rule (the `batch=` slot of
   the rule table); user functions get their own `vmap_g`, per batched-argument mask.

What cannot be batched correctly (a list appended to under a batched condition, recursion
through a branch only some examples take) makes the whole function a loop over the examples.
"""
import inspect
import os

import gast

from ..runtime import primitives
from ..runtime.primitives import batching as rules
from . import nodes, operations, resolve, tidy
from .normalize import index_as_value
from .resolve import Callee

ARRAY, TREE, DICT = "array", "tree", "dict"     # what a value is: DICT is a TREE with keys
_COMPARE = {gast.Lt: "less", gast.LtE: "less_equal", gast.Gt: "greater", gast.GtE: "greater_equal",
            gast.Eq: "equal", gast.NotEq: "not_equal"}
_SHAPE_QUERIES = {"shape", "ndim", "size", "len"}
_SHAPE_ATTRIBUTES = {"shape", "ndim", "size"}
_STATIC_ATTRIBUTES = {"dtype", "itemsize", "nbytes", "flags"}
_SAME_FOR_EVERY_EXAMPLE = (type, callable, hasattr, id)    # builtins whose result does not depend on the example
_SCALAR_REDUCTIONS = {"sum", "mean", "prod", "max", "min", "any", "all", "argmax", "argmin",
                      "count_nonzero", "logsumexp", "vdot"}


class Fallback(Exception):
    """The function cannot be batched statement by statement; loop over the examples instead."""


class Unwind(Exception):
    """Recursion through a batched branch: the function at `frame` must loop over the examples."""

    def __init__(self, frame):
        super().__init__(frame)
        self.frame = frame


def _rule(prim):
    return prim.batch if prim.batch is not None else rules.per_example


# -- which names carry the batch axis -------------------------------------------------------------
_names = nodes.names_read


def _reads(value):
    """Names a right-hand side reads, including those a user call passes implicitly (closures)."""
    reads = _names(value)
    if isinstance(value, gast.Call):
        callee = getattr(value, "s2s", None)
        if callee is not None and callee.kind == "user":
            for arg in list(callee.prefix_args) + list(callee.suffix_args) + list(callee.keywords.values()):
                reads |= _names(arg)
    return reads


def _shape_only_reads(node, batched):
    """Batched names read inside `node` other than through a shape query (`np.shape(g)`, `g.ndim`)."""
    allowed = set()
    for n in nodes.walk(node, contexts=False):
        if isinstance(n, gast.Call):
            callee = getattr(n, "s2s", None)
            if callee is not None and callee.kind == "primitive" and callee.primitive.name in _SHAPE_QUERIES \
                    and len(n.args) == 1 and isinstance(n.args[0], gast.Name):
                allowed.add(id(n.args[0]))
        if isinstance(n, gast.Attribute) and n.attr in _SHAPE_ATTRIBUTES | _STATIC_ATTRIBUTES \
                and isinstance(n.value, gast.Name):
            allowed.add(id(n.value))
    return {n.id for n in nodes.walk(node, contexts=False) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
            and n.id in batched and id(n) not in allowed}


class Analysis:
    """Batched names (with control dependence), kinds (array / container) and example ranks."""

    def __init__(self, ctx, body, batched_params, kinds):
        self.ctx = ctx
        self._reads = {}
        self._operations = None
        self.body = body
        self.batched = set(batched_params)
        self.kinds = dict(kinds)
        self.run()

    # batched names ------------------------------------------------------------------------
    def run(self):
        self._operations = {}        # the tree does not change while the fixpoints run
        changed = True
        while changed:
            before = len(self.batched)
            self._visit(self.body, False)
            changed = len(self.batched) != before
        self._infer_kinds()
        self._infer_ranks()
        self._operations = None

    def operation(self, value):
        """`operations.operation(value)`, computed once per node while the analysis runs."""
        if self._operations is None:
            return operations.operation(value)
        found = self._operations.get(id(value))
        if found is None:
            found = self._operations[id(value)] = (value, operations.operation(value))
        return found[1]

    def _visit(self, stmts, control):
        for stmt in stmts:
            if isinstance(stmt, gast.Assign):
                targets = nodes.names_stored(stmt.targets[0])
                if control or self.value_batched(stmt.value):
                    self.batched |= targets
            elif isinstance(stmt, gast.Expr) and _list_method(stmt.value) == "append":
                if control or self.reads(stmt.value.args[0]) & self.batched:
                    self.batched.add(stmt.value.func.value.id)
            elif isinstance(stmt, gast.If):
                inner = control or self.test_batched(stmt.test)
                self._visit(stmt.body, inner)
                self._visit(stmt.orelse, inner)
            elif isinstance(stmt, gast.For):
                inner = control or self.iter_batched(stmt.iter) or self.batched_break(stmt)
                if control or self.iter_batched(stmt.iter):
                    self.batched |= nodes.names_stored(stmt.target)
                self._visit(stmt.body, inner)
            elif isinstance(stmt, gast.While):
                inner = control or self.test_batched(stmt.test) or self.batched_break(stmt)
                self._visit(stmt.body, inner)

    def test_batched(self, test):
        return bool(self.reads(test) & self.batched)

    def iter_batched(self, iterable):
        """Whether the trip count of `for ... in iterable` differs between examples."""
        if isinstance(iterable, gast.Call):
            return any(self.value_batched(a) if isinstance(a, gast.Call) else bool(_names(a) & self.batched)
                       for a in list(iterable.args) + [k.value for k in iterable.keywords])
        return bool(_names(iterable) & self.batched)

    def batched_break(self, loop):
        """Whether a `break` of `loop` sits under a condition that differs between examples."""
        def visit(stmts, under):
            for stmt in stmts:
                if isinstance(stmt, gast.Break) and under:
                    return True
                if isinstance(stmt, gast.If):
                    inner = under or self.test_batched(stmt.test)
                    if visit(stmt.body, inner) or visit(stmt.orelse, inner):
                        return True
            return False
        return visit(loop.body, False)

    def reads(self, node):
        key = id(node)
        if key not in self._reads:
            self._reads[key] = (node, _reads(node))
        return self._reads[key][1]

    def value_batched(self, value):
        reads = self.reads(value)
        if not reads & self.batched:
            return False
        op = self.operation(value)
        if op.kind == "primitive":
            return _rule(op.primitive).out_batched(RuleCall(self.ctx, op, self.batched, self.kinds))
        if op.kind == "user":
            return self.ctx.callee_batched(op, self.batched, self.kinds)
        if op.kind == "opaque":
            if isinstance(value, gast.Call) and any(_static_value(value.func) is f for f in _SAME_FOR_EVERY_EXAMPLE):
                return False
            if isinstance(value, gast.Compare):
                if isinstance(value.ops[0], (gast.Is, gast.IsNot)):
                    return False
                return True
            if isinstance(value, gast.Attribute) and value.attr in _SHAPE_ATTRIBUTES | _STATIC_ATTRIBUTES:
                return False
            return bool(_shape_only_reads(value, self.batched))
        return True

    # kinds -----------------------------------------------------------------------------------
    def _infer_kinds(self):
        assigned = {}
        for stmt in nodes.statements(self.body):
            if isinstance(stmt, gast.Assign):
                target = stmt.targets[0]
                if isinstance(target, gast.Name):
                    kind = self._kind_of(stmt.value)
                    if kind != "none":
                        assigned.setdefault(target.id, []).append(kind)
                else:
                    for name in nodes.names_stored(target):
                        assigned.setdefault(name, []).append(None)
            elif isinstance(stmt, gast.For):
                for name in nodes.names_stored(stmt.target):
                    assigned.setdefault(name, []).append(ARRAY)
        for _ in range(4):
            for name, kinds in assigned.items():
                if name in self.ctx.params:
                    continue
                resolved = {k if not isinstance(k, tuple) else self.kinds.get(k[1]) for k in kinds}
                self.kinds[name] = resolved.pop() if len(resolved) == 1 else None

    def _kind_of(self, value):
        if isinstance(value, gast.Constant):
            return "none" if value.value is None else ARRAY
        if isinstance(value, gast.Name):
            return ("copy", value.id)
        if isinstance(value, gast.Dict):
            return DICT
        if isinstance(value, (gast.Tuple, gast.List)):
            return TREE
        op = self.operation(value)
        if isinstance(value, gast.BinOp):
            if any(isinstance(v, gast.Name) and self.kinds.get(v.id) == TREE for v in (value.left, value.right)):
                return TREE
            return ARRAY
        if isinstance(value, (gast.UnaryOp, gast.Compare)):
            return ARRAY
        if op.kind == "primitive":
            if op.primitive.name == "getitem":
                base = op.slots["a"]
                return ARRAY if isinstance(base, gast.Name) and self.kinds.get(base.id) == ARRAY else None
            if op.primitive.name == "select":
                return ("copy", op.slots["x"].id) if isinstance(op.slots["x"], gast.Name) else None
            if op.primitive.result == "array":
                return ARRAY
            if op.primitive.name in ("list", "tuple", "split", "array_split", "sequence_of", "fill_zeros"):
                return TREE
        if op.kind == "user":
            return self.ctx.callee_kind(op, self.batched, self.kinds)
        return None

    # ranks of one example -------------------------------------------------------------------------
    def _infer_ranks(self):
        """Bounds on the rank of one example of each variable, as sets of symbols whose ranks' max
        bounds it: `lower` (the rank is at least) and `upper` (at most); a symbol per parameter and
        per value of unknown rank. Alignment is skipped when upper(other) <= lower(operand)."""
        defs = {}
        for stmt in nodes.statements(self.body):
            if isinstance(stmt, gast.Assign):
                for name in nodes.names_stored(stmt.targets[0]):
                    defs.setdefault(name, []).append(stmt.value if isinstance(stmt.targets[0], gast.Name) else None)
            elif isinstance(stmt, gast.For):
                for name in nodes.names_stored(stmt.target):
                    defs.setdefault(name, []).append(nodes.const(0))     # a range index
        lower = {p: frozenset([p]) for p in self.ctx.params}
        upper = {p: frozenset([p]) for p in self.ctx.params}
        for name in defs:
            lower.setdefault(name, None)          # None: not constrained yet (the top)
            upper.setdefault(name, frozenset())
        rank_rules = {name: [self._rank_rule(value, name) for value in values] for name, values in defs.items()}
        for _ in range(50):
            changed = False
            for name, values in rank_rules.items():
                low = frozenset([name]) if name in self.ctx.params else None
                up = upper[name]
                for value in values:
                    lo, hi = _rank_bounds(value, lower, upper)
                    if lo is not None:
                        low = lo if low is None else low & lo
                    up = up | hi
                if low != lower[name] or up != upper[name]:
                    lower[name], upper[name] = low, up
                    changed = True
            if not changed:
                break
        else:
            lower, upper = {}, {}
        self.lower = {k: (v if v is not None else frozenset()) for k, v in lower.items()}
        self.upper = upper

    def _rank_rule(self, value, name):
        """How the rank bounds of `value`, assigned to `name`, follow from those of other names:
        ("join", lo, hi, names) joins fixed bounds with the bounds of `names`; ("select", x, y)
        takes what both parts surely have. A part is ("name", id) or ("fixed", lo, hi)."""
        unknown = ("fixed", frozenset(), frozenset([("value", name)]))
        if value is None:
            return _join([unknown])

        def part(node):
            if isinstance(node, gast.Constant) or not isinstance(node, gast.AST):
                return ("fixed", frozenset(), frozenset())
            if isinstance(node, gast.Name):
                return ("name", node.id)
            return unknown

        if isinstance(value, (gast.Name, gast.Constant)):
            return _join([part(value)])
        if isinstance(value, gast.BinOp) and not isinstance(value.op, gast.MatMult):   # x @ x drops axes
            return _join([part(value.left), part(value.right)])
        if isinstance(value, gast.UnaryOp):
            return _join([part(value.operand)])
        if isinstance(value, gast.Compare):
            return _join([part(value.left), part(value.comparators[0])])
        op = self.operation(value)
        if op.kind != "primitive":
            return _join([unknown])
        prim = op.primitive.name
        if prim in _SCALAR_REDUCTIONS:
            axis = op.slots.get("axis")
            keep = op.slots.get("keepdims")
            if (axis is None or (isinstance(axis, gast.Constant) and axis.value is None)) and \
                    (keep in (None, False) or (isinstance(keep, gast.Constant) and not keep.value)):
                return _join([])
            return _join([unknown])
        if prim in ("scalar_seed", "float", "int", "bool", "len", "ndim", "size", "any_active"):
            return _join([])
        if prim == "select":
            return ("select", part(op.slots["x"]), part(op.slots["y"]))
        if _rule(op.primitive) is rules.elementwise:
            operands = rules._operands(_Slots(op))
            return _join([part(op.slots[s]) for s in operands]) if operands else _join([unknown])
        return _join([unknown])


def _join(parts):
    """The rank rule joining `parts`: at least the largest lower bound, at most the largest upper."""
    high = frozenset().union(*[p[2] for p in parts if p[0] == "fixed"])
    return ("join", frozenset(), high, tuple(p[1] for p in parts if p[0] == "name"))


def _rank_bounds(rule, lower, upper):
    """(lower, upper) bounds of a value by its rank rule, given those of the names; lower None: no bound yet."""
    if rule[0] == "join":
        _, lo, hi, names = rule
        for n in names:
            part = lower.get(n, _NO_AXES)
            lo = None if lo is None or part is None else lo | part
            hi = hi | upper.get(n, frozenset([("value", n)]))
        return lo, hi
    (lo_x, hi_x), (lo_y, hi_y) = _part_bounds(rule[1], lower, upper), _part_bounds(rule[2], lower, upper)
    lo = lo_y if lo_x is None else lo_x if lo_y is None else lo_x & lo_y
    return lo, hi_x | hi_y


def _part_bounds(part, lower, upper):
    if part[0] == "fixed":
        return part[1], part[2]
    return lower.get(part[1], _NO_AXES), upper.get(part[1], frozenset([("value", part[1])]))


_NO_AXES = frozenset()

class _Slots:
    def __init__(self, op):
        self.slots = op.slots

    def is_none(self, slot):
        value = self.slots[slot]
        return value is None or (isinstance(value, gast.Constant) and value.value is None)


def _list_method(value):
    if isinstance(value, gast.Call):
        callee = getattr(value, "s2s", None)
        if callee is not None and callee.kind in ("append", "pop") and isinstance(value.func.value, gast.Name):
            return callee.kind
    return None


# -- the call a batching rule sees -----------------------------------------------------------------
class RuleCall:
    """One primitive operation, as a batching rule sees it (see `s2s.runtime.primitives.batching`)."""

    def __init__(self, ctx, op, batched, kinds, ranks=None):
        self.ctx = ctx
        self.op = op
        self.prim = op.primitive
        self.slots = dict(op.slots)
        variadic = op.primitive.variadic if op.primitive is not None else None
        if variadic is not None and isinstance(self.slots.get(variadic), (gast.Tuple, gast.List)):
            self.slots[variadic] = tuple(self.slots[variadic].elts)     # *args: a tuple of nodes
        self.node = op.node
        self._batched = batched
        self._kinds = kinds
        self._lower, self._upper = ranks if ranks is not None else ({}, {})

    # questions ------------------------------------------------------------------------------
    def batched_node(self, value):
        if isinstance(value, gast.AST):
            return bool(_names(value) & self._batched)
        if isinstance(value, (tuple, list)):
            return any(self.batched_node(v) for v in value)
        if isinstance(value, dict):
            return any(self.batched_node(v) for v in value.values())
        return False

    def batched(self, slot):
        return slot in self.slots and self.batched_node(self.slots[slot])

    def any_batched(self):
        return any(self.batched(s) for s in self.slots)

    def given(self, slot):
        value = self.slots.get(slot)
        return isinstance(value, gast.AST) or (isinstance(value, tuple) and len(value) > 0
                                               and all(isinstance(v, gast.AST) for v in value))

    def const(self, slot):
        return _constant_value(self.slots.get(slot))

    def given_not_none(self, slot):
        return self.given(slot) and self.const(slot) != (True, None)

    def is_none(self, slot):
        return self.const(slot) == (True, None)

    def is_constant(self, slot):
        return self.const(slot)[0]

    def is_int_constant(self, node):
        ok, value = _constant_value(node)
        return ok and isinstance(value, int)

    def is_method(self):
        callee = getattr(self.node, "s2s", None)
        return isinstance(self.node, gast.Call) and callee is not None and callee.receiver

    def is_sequence_literal(self, slot):
        return isinstance(self.slots.get(slot), (gast.Tuple, gast.List))

    def is_tuple_index(self, index):
        return isinstance(index, gast.Tuple)

    def kind(self, node):
        """"array", "tree" (a tuple, list or dict) or None (not known until run time)."""
        if isinstance(node, gast.Name):
            kind = self._kinds.get(node.id)
            return TREE if kind == DICT else kind
        if isinstance(node, (gast.Tuple, gast.List, gast.Dict)):
            return TREE
        return ARRAY

    def is_dict(self, node):
        return isinstance(node, gast.Dict) or (isinstance(node, gast.Name) and self._kinds.get(node.id) == DICT)

    def numpy_form(self):
        """Whether the user's spelling works on arrays (not `math.exp`, `max`, `round`)."""
        node = self.node
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
            return False
        if not isinstance(node, gast.Call):
            return True
        callee = getattr(node, "s2s", None)
        if callee is not None and callee.receiver:
            return True
        value = _static_value(node.func)
        return getattr(value, "__module__", None) not in ("math", "builtins")

    def index_keeps_order(self, index):
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        points = [k for k, p in enumerate(parts) if _is_point(p)]
        if not any(isinstance(parts[k], gast.Name) for k in points):
            return True
        return not points or points[-1] - points[0] + 1 == len(points)

    def index_all_points(self, index):
        return all(_is_point(p) for p in index.elts)

    # builders --------------------------------------------------------------------------------
    def size(self):
        return self.ctx.size_node()

    def helper(self, name):
        return self.ctx.helper(name)

    def constant(self, value):
        return _as_node(value)

    def tuple_(self, elts):
        return nodes.tuple_([_as_node(e) for e in elts])

    def list_(self, elts):
        return nodes.list_([_as_node(e) for e in elts])

    def call(self, func, args, keywords=None):
        return nodes.call(func, [_as_node(a) for a in args],
                          {k: _as_node(v) for k, v in (keywords or {}).items()})

    def expr(self, template, **values):
        tree = nodes.parse_expression(template)
        return _substitute(tree, values)

    def shared(self, node):
        """An unbatched operand with a length-1 batch axis, for helpers that take both kinds."""
        if isinstance(node, gast.Name):
            return nodes.subscript(nodes.copy(node), nodes.const(None))
        return self.expr("np.expand_dims(x, 0)", x=node)

    def broadcast(self, node):
        """`node` with the batch axis: repeated B times if it is unbatched."""
        if not isinstance(node, gast.AST) or self.batched_node(node):
            return _as_node(node)
        if isinstance(node, gast.Constant) and node.value is None:
            return node
        return nodes.call(self.helper("broadcast_batch"), [nodes.copy(node), self.size()])

    def align(self, node, others):
        """Batched `node` with length-1 axes after its batch axis, so one example broadcasts
        against one example of each of `others`."""
        targets = []
        for other in others:
            if self._at_most(other, node):
                continue
            if self.batched_node(other):
                targets.append(self.expr("np.ndim(o)", o=other))
            else:
                targets.append(self.expr("np.ndim(o) + 1", o=other))
        if not targets:
            return nodes.copy(node)
        target = targets[0] if len(targets) == 1 else nodes.call(nodes.name("max"), targets)
        return nodes.call(self.helper("match_rank"), [nodes.copy(node), target])

    def example_scalar(self, node):
        """Whether `node` is surely one number per example (or the same number for all)."""
        if not isinstance(node, gast.AST) or isinstance(node, gast.Constant):
            return not isinstance(node, gast.Constant) or isinstance(node.value, (int, float, bool))
        return isinstance(node, gast.Name) and self._upper.get(node.id) == frozenset()

    def _at_most(self, other, node):
        """Whether one example of `other` surely has no more axes than one example of `node`."""
        if not isinstance(other, gast.AST) or isinstance(other, gast.Constant):
            return True
        if not isinstance(other, gast.Name):
            return False
        if isinstance(node, gast.Name) and other.id == node.id:
            return True
        high = self._upper.get(other.id, frozenset([("value", other.id)]))
        low = self._lower.get(node.id, frozenset()) if isinstance(node, gast.Name) else frozenset()
        return high <= low

    def example_len(self, x):
        if not self.batched_node(x) or self.kind(x) == TREE:
            return self.expr("len(x)", x=x)
        if self.kind(x) == ARRAY:
            return self.expr("np.shape(x)[1]", x=x)
        return self.expr("example_len(x)", x=x, example_len=self.helper("example_len"))

    def example_shape(self, x):
        if not self.batched_node(x):
            return self.expr("np.shape(x)", x=x)
        if self.kind(x) == ARRAY:
            return self.expr("np.shape(x)[1:]", x=x)
        return self.expr("example_shape(x)", x=x, example_shape=self.helper("example_shape"))

    def example_sequence(self, seq):
        if self.kind(seq) == TREE:
            return nodes.copy(seq)
        if self.kind(seq) == ARRAY:
            return self.expr("np.moveaxis(x, 1, 0)", x=seq)
        return self.expr("example_items(x)", x=seq, example_items=self.helper("example_items"))

    def batch_axis(self, value, array):
        ok, axis = _constant_value(value)
        if ok and axis is None:
            if array is None:
                raise Fallback("axis=None here")
            return self.expr("example_axes(a)", a=array, example_axes=self.helper("example_axes"))
        if ok and _is_axes(axis):
            return _as_node(_shift_axes(axis))
        return self.expr("batch_axis(axis, a)", axis=value, a=array if array is not None else nodes.const(None),
                         batch_axis=self.helper("batch_axis"))

    def batch_permutation(self, axes):
        ok, value = _constant_value(axes)
        if ok and isinstance(value, (tuple, list)) and all(isinstance(k, int) for k in value):
            return _as_node((0,) + tuple(k if k < 0 else k + 1 for k in value))
        return self.expr("batch_permutation(axes)", axes=axes, batch_permutation=self.helper("batch_permutation"))

    def prepend_size(self, shape):
        if isinstance(shape, gast.Tuple):
            return nodes.tuple_([self.size()] + [nodes.copy(e) for e in shape.elts])
        ok, value = _constant_value(shape)
        if ok and isinstance(value, int):
            return nodes.tuple_([self.size(), nodes.const(value)])
        return self.expr("batch_shape(size, shape)", size=self.size(), shape=shape,
                         batch_shape=self.helper("batch_shape"))

    def prefix_index(self, a, index):
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        whole = gast.Slice(lower=None, upper=None, step=None)
        return nodes.subscript(nodes.copy(a), nodes.tuple_([whole] + [nodes.copy(p) for p in parts]))

    def index_value(self, index):
        return index_as_value(nodes.copy(index))

    def rewrite(self, **new):
        """A copy of the user's operation with some slots replaced (the user's spelling kept)."""
        node = nodes.copy(self.node)
        new = {k: _as_node(v) for k, v in new.items()}
        if isinstance(node, gast.BinOp):
            node.left = new.get("x", node.left)
            node.right = new.get("y", node.right)
            return node
        if isinstance(node, gast.UnaryOp):
            node.operand = new.get("x", node.operand)
            return node
        if isinstance(node, gast.Compare):
            node.left = new.get("x", node.left)
            node.comparators = [new.get("y", node.comparators[0])]
            return node
        if isinstance(node, gast.Subscript):
            node.value = new.get("a", node.value)
            node.slice = new.get("index", node.slice)
            return node
        if isinstance(node, gast.Attribute):
            node.value = new.get("a", node.value)
            return node
        return self._rewrite_call(node, new)

    def rewrite_as(self, func_text, **new):
        """The operation as a call of `func_text` (its NumPy twin), slots as arguments."""
        args, keywords = [], {}
        for param in self.prim.signature.parameters.values():
            name = param.name
            if name not in self.slots:
                continue
            value = new.get(name, self.slots[name])
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                args.extend(value)
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                keywords.update(value)
            elif param.default is inspect.Parameter.empty:
                args.append(value)
            elif self.given(name) or name in new:
                keywords[name] = value
        return self.call(nodes.dotted(func_text), args, keywords)

    def rewrite_args(self, args):
        """A method call with its positional arguments (after the receiver) replaced."""
        node = nodes.copy(self.node)
        node.args = [_as_node(a) for a in args]
        return node

    def _rewrite_call(self, node, new):
        callee = getattr(node, "s2s", None)
        positional = list(node.args)
        if callee is not None and callee.receiver:
            positional = [node.func.value] + positional
        keywords = {kw.arg: kw.value for kw in node.keywords}
        layout = _layout(self.op, len(positional), list(keywords))
        for slot, value in new.items():
            place = layout.get(slot)
            if place is None:
                keywords[slot] = value
            elif place[0] == "pos":
                positional[place[1]] = value
            elif place[0] == "kw":
                keywords[place[1]] = value
            else:
                raise Fallback(f"cannot rewrite the `*{slot}` arguments")
        if callee is not None and callee.receiver:
            node.func.value = positional[0]
            positional = positional[1:]
        node.args = positional
        node.keywords = [gast.keyword(arg=k, value=v) for k, v in keywords.items()]
        return node


def _layout(op, n_positional, keyword_names):
    """{slot: ("pos", i) | ("kw", name) | ("var", [i...])} for a call's arguments."""
    signature = op.callee.signature or op.primitive.signature if op.callee is not None else op.primitive.signature
    try:
        bound = signature.bind(*range(n_positional), **{k: k for k in keyword_names})
    except TypeError:
        return {}
    out = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = ("var", list(value))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            out[name] = ("var", list(value))
        elif isinstance(value, str):
            out[name] = ("kw", value)
        else:
            out[name] = ("pos", value)
    return out


def _is_point(part):
    """An index part NumPy may treat as an advanced index (a name or an integer)."""
    if isinstance(part, gast.Name):
        return True
    return isinstance(part, gast.Constant) and isinstance(part.value, int) and not isinstance(part.value, bool)




def _is_axes(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, (tuple, list)) and all(isinstance(k, int) and not isinstance(k, bool) for k in value)


def _shift_axes(axis):
    if isinstance(axis, (tuple, list)):
        return tuple(_shift_axes(k) for k in axis)
    return axis if axis < 0 else axis + 1


def _constant_value(value):
    """(True, value) for a constant (a default, a literal, a tuple of literals), else (False, None)."""
    if isinstance(value, gast.Constant):
        return True, value.value
    if isinstance(value, (gast.Tuple, gast.List)):
        parts = [_constant_value(e) for e in value.elts]
        if all(ok for ok, _ in parts):
            return True, tuple(v for _, v in parts)
        return False, None
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
        ok, inner = _constant_value(value.operand)
        return (True, -inner) if ok and isinstance(inner, (int, float)) else (False, None)
    if isinstance(value, gast.AST):
        return False, None
    if isinstance(value, tuple) and any(isinstance(v, gast.AST) for v in value):
        return False, None
    return True, value


def _as_node(value):
    if isinstance(value, gast.AST):
        return value
    if isinstance(value, dict):
        return gast.Dict(keys=[nodes.const(k) for k in value], values=[_as_node(v) for v in value.values()])
    if isinstance(value, tuple):
        return nodes.tuple_([_as_node(v) for v in value])
    if isinstance(value, list):
        return nodes.list_([_as_node(v) for v in value])
    return nodes.const(value)


def _static_value(node):
    if isinstance(node, gast.Name):
        return getattr(node, "s2s_value", None)
    if isinstance(node, gast.Attribute):
        base = _static_value(node.value)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _substitute(tree, values):
    """`tree` with each name loaded from `values` replaced by a copy of its value (not looked into)."""
    def replaced(node):
        if type(node) is gast.Name and node.id in values and isinstance(node.ctx, gast.Load):
            return nodes.copy(_as_node(values[node.id]))
        return None

    return nodes.replace(tree, replaced)


# -- step 2: control flow on batched values becomes straight-line code ----------------------------------
class Lowering:
    def __init__(self, ctx, analysis):
        self.ctx = ctx
        self.batched = analysis.batched
        self.introduced = set()
        self.maybe_undefined = set()
        self.rewrote = False         # whether any control flow became straight-line code
        self.totals = {}          # uses of each name before lowering; only control flow is lowered
        if any(isinstance(s, (gast.If, gast.For, gast.While)) for s in ctx.fn.body):
            self.totals = _name_counts(ctx.fn.body)
        self.analysis = analysis

    def fresh(self, base, batched=True):
        name = self.ctx.namer.fresh(base)
        self.introduced.add(name)
        if batched:
            self.batched.add(name)
        return name

    def block(self, stmts):
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt):
        if isinstance(stmt, gast.If):
            if self.test_batched(stmt.test):
                self.rewrote = True
                return self.if_uniform_or_select(stmt)
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, gast.While):
            if self.test_batched(stmt.test) or self.analysis.batched_break(stmt):
                self.rewrote = True
                return self.block(self.mask_while(stmt))
            stmt.body = self.block(stmt.body)
            return [stmt]
        if isinstance(stmt, gast.For):
            if self.analysis.iter_batched(stmt.iter):
                self.rewrote = True
                return self.block(self.for_to_while(stmt))
            if self.analysis.batched_break(stmt):
                self.rewrote = True
                return self.block(self.mask_for(stmt))
            stmt.body = self.block(stmt.body)
            return [stmt]
        return [stmt]

    def test_batched(self, test):
        return bool(_names(test) & self.batched)

    # if ------------------------------------------------------------------------------------------
    def local(self, name, block, counts=None):
        """Whether every use of `name` is inside `block` (a temporary of that branch)."""
        if name in self.introduced or name in self.ctx.params:
            return False
        counts = counts if counts is not None else _name_counts(block)
        return counts.get(name, 0) == self.totals.get(name, 0)

    def check_effects(self, block):
        """Fallback for effects that would run for examples that do not take this branch."""
        counts = _name_counts(block)
        for stmt in nodes.statements(block):
            value = stmt.value if isinstance(stmt, (gast.Expr, gast.Assign)) else None
            if value is not None and _list_method(value):
                lst = value.func.value.id
                if not self.local(lst, block, counts):
                    raise Fallback(f"`{lst}.{_list_method(value)}(...)` runs under a condition that differs "
                                   "between examples")

        if _has_break(block):          # a break of a loop around the branch (the loop's own are fine)
            raise Fallback("`break` under a condition that differs between examples")
        if any(isinstance(s, gast.Raise) for s in nodes.statements(block)):
            raise Fallback("`raise` under a condition that differs between examples")
        for n in nodes.walk_body(block, contexts=False):
            if isinstance(n, gast.Call):
                callee = getattr(n, "s2s", None)
                if callee is not None and callee.kind == "user":
                    n.s2s_in_branch = True

    def if_uniform_or_select(self, stmt):
        """`if c:` on a batched c. When every example takes the same branch (a flag saved for the
        backward sweep, broadcast to the batch), only that branch runs, as written: the other may
        read values its examples never made (None). Otherwise both run and each example selects."""
        test = nodes.copy(stmt.test)
        body, orelse = nodes.copy(stmt.body), nodes.copy(stmt.orelse)
        selected = self.block(self.if_to_select(stmt))
        same, taken = self.fresh("same_branch", batched=False), self.fresh("taken", batched=False)
        checks = [nodes.assign(same, self.ctx.primitive_call("same_for_all", [nodes.copy(test)])),
                  nodes.assign(taken, self.ctx.primitive_call("any_active", [test]))]
        uniform = nodes.if_(nodes.name(taken), self.block(body), self.block(orelse))
        dispatch = nodes.if_(nodes.name(same), [uniform], selected)
        _stamp([uniform], stmt.lineno)
        return _stamp(checks + [dispatch], stmt.lineno)

    def if_to_select(self, stmt):
        test = stmt.test
        out = []
        renames = {}
        for label, block in (("then", stmt.body), ("else", stmt.orelse)):
            self.check_effects(block)
            assigned = set()
            for s in nodes.statements(block):
                if isinstance(s, gast.Assign):
                    assigned |= nodes.names_stored(s.targets[0])
                elif isinstance(s, gast.For):
                    assigned |= nodes.names_stored(s.target)
            mapping = {}
            counts = _name_counts(block)
            for name in sorted(assigned):
                if not self.local(name, block, counts):
                    mapping[name] = self.fresh(f"{_base(name)}_{label}", batched=name in self.batched)
            free = _read_before_written(block) if mapping else set()
            for name in sorted(mapping):
                if _rename_from_first_write(block, name, mapping[name]):
                    continue
                if name in free:
                    copy = nodes.assign(mapping[name], nodes.name(name))
                    copy.lineno = getattr(stmt, "lineno", None)
                    out.append(copy)
                _rename(block, {name: mapping[name]})
            out.extend(block)
            renames[label] = mapping
        merged = sorted(set(renames["then"]) | set(renames["else"]), key=lambda n: (n in _names(test), n))
        for name in merged:   # the condition itself last: every select reads its value from before
            then = renames["then"].get(name, name)
            orelse = renames["else"].get(name, name)
            if name not in renames["then"] or name not in renames["else"]:
                self.maybe_undefined.add(name)
            select = self.ctx.primitive_call("select", [nodes.copy(test), nodes.name(then), nodes.name(orelse)])
            merge = nodes.assign(name, select)
            merge.lineno = getattr(stmt, "lineno", None)
            out.append(merge)
        return out

    # loops ------------------------------------------------------------------------------------------
    def _loop_flags(self, loop):
        """(setup, running name) for a loop whose breaks become `running = False`."""
        if not _has_break(loop.body):
            return [], None
        running = self.fresh("running")
        loop.body = _replace_breaks(loop.body, running)
        return [nodes.assign(running, nodes.const(True))], running

    def _activity(self, condition, running):
        """`active = ...` and `going = any_active(active)` statements."""
        active = self.fresh("active")
        if running is None:
            first = nodes.assign(active, condition)
        else:
            first = nodes.assign(active, self.ctx.primitive_call("logical_and", [condition, nodes.name(running)],
                                                                 func="np.logical_and"))
        return active, [first]

    def mask_while(self, stmt):
        """`while c: body` -> run while any example is active, each step guarded by `if active:`."""
        setup, running = self._loop_flags(stmt)
        active, compute = self._activity(nodes.copy(stmt.test), running)
        going = self.fresh("going", batched=False)
        check = [nodes.assign(going, self.ctx.primitive_call("any_active", [nodes.name(active)]))]
        guarded = nodes.if_(nodes.name(active), stmt.body)
        guarded.lineno = stmt.lineno
        loop = nodes.while_(nodes.name(going), [guarded] + nodes.copy(compute) + nodes.copy(check))
        loop.lineno = stmt.lineno
        return _stamp(setup + compute + check, stmt.lineno) + [loop]

    def mask_for(self, stmt):
        """A `for` over the same range for every example, with a `break` only some examples take."""
        setup, running = self._loop_flags(stmt)
        guarded = nodes.if_(nodes.name(running), stmt.body)
        guarded.lineno = stmt.lineno
        stmt.body = [guarded]
        return _stamp(setup, stmt.lineno) + [stmt]

    def for_to_while(self, stmt):
        """`for i in range(a, b, s)` with bounds that differ between examples, as a masked while."""
        args = list(stmt.iter.args)
        if not (isinstance(stmt.iter, gast.Call) and getattr(stmt.iter, "s2s", None) is not None
                and stmt.iter.s2s.kind == "primitive" and stmt.iter.s2s.primitive.name == "range") \
                or stmt.iter.keywords or not 1 <= len(args) <= 3:
            raise Fallback("a loop over values that differ between examples")
        start, stop, step = (nodes.const(0), args[0], nodes.const(1)) if len(args) == 1 else \
            (args[0], args[1], args[2] if len(args) == 3 else nodes.const(1))
        target = stmt.target.id
        counter = self.fresh(f"{target}_next")
        setup, running = self._loop_flags(stmt)
        ok, step_value = _constant_value(step)
        if ok and isinstance(step_value, (int, float)):
            op = gast.Lt() if step_value > 0 else gast.Gt()
            condition_stmts, condition = [], gast.Compare(left=nodes.name(counter), ops=[op], comparators=[stop])
        else:
            left = self.fresh("steps_left")
            ahead = self.fresh("ahead")
            condition_stmts = [nodes.assign(left, nodes.binop(nodes.copy(stop), gast.Sub(), nodes.name(counter))),
                               nodes.assign(ahead, nodes.binop(nodes.name(left), gast.Mult(), nodes.copy(step)))]
            condition = gast.Compare(left=nodes.name(ahead), ops=[gast.Gt()], comparators=[nodes.const(0)])
        active, compute = self._activity(condition, running)
        compute = condition_stmts + compute
        going = self.fresh("going", batched=False)
        check = [nodes.assign(going, self.ctx.primitive_call("any_active", [nodes.name(active)]))]
        body = [nodes.assign(target, nodes.name(counter))] + stmt.body + \
            [nodes.assign(counter, nodes.binop(nodes.name(counter), gast.Add(), nodes.copy(step)))]
        guarded = nodes.if_(nodes.name(active), _stamp(body, stmt.lineno))
        guarded.lineno = stmt.lineno
        loop = nodes.while_(nodes.name(going), [guarded] + nodes.copy(compute) + nodes.copy(check))
        loop.lineno = stmt.lineno
        first = nodes.assign(counter, nodes.copy(start))
        return _stamp([first] + setup + compute + check, stmt.lineno) + [loop]


def _base(name):
    for suffix in ("_then", "_else"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    head, _, tail = name.rpartition("_")
    if tail.isdigit() and (head.endswith("_then") or head.endswith("_else")):
        return head[:-5]
    return name


def _read_before_written(block, written=None):
    """Names `block` may read before it assigns them."""
    written = set() if written is None else written
    free = set()
    for stmt in block:
        if isinstance(stmt, gast.If):
            free |= _names(stmt.test) - written
            then, orelse = set(written), set(written)
            free |= _read_before_written(stmt.body, then) | _read_before_written(stmt.orelse, orelse)
            free |= (then ^ orelse) - written          # assigned on one path only: the old value flows on
            written |= then & orelse
        elif isinstance(stmt, (gast.For, gast.While)):
            header = stmt.iter if isinstance(stmt, gast.For) else stmt.test
            free |= _names(header) - written
            inner = set(written) | (nodes.names_stored(stmt.target) if isinstance(stmt, gast.For) else set())
            free |= _read_before_written(stmt.body, inner)
            free |= nodes.names_stored(stmt.body) - written   # maybe no step
        elif isinstance(stmt, gast.Assign):
            free |= _reads(stmt.value) - written
            written |= nodes.names_stored(stmt.targets[0])
        else:
            free |= {n.id for n in _with_hidden_arguments([stmt]) if isinstance(n, gast.Name)
                     and isinstance(n.ctx, gast.Load)} - written
    return free


def _with_hidden_arguments(block):
    """Every node of `block`, and the arguments a user call passes without writing them (a lifted
    function's free locals, a partial's arguments: `Callee.prefix_args` / `suffix_args`)."""
    for n in nodes.walk_body(block, contexts=False):
        yield n
        callee = getattr(n, "s2s", None) if isinstance(n, gast.Call) else None
        if callee is not None and callee.kind == "user":
            for arg in list(callee.prefix_args) + list(callee.suffix_args) + list(callee.keywords.values()):
                yield from nodes.walk(arg, contexts=False)


def _name_counts(block):
    counts = {}
    for n in _with_hidden_arguments(block):
        if isinstance(n, gast.Name):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def _rename_from_first_write(block, name, new):
    """Rename `name` to `new` from its first assignment on, if it is only assigned by top-level
    statements of `block` (reads before that still see the value from before the branch)."""
    for stmt in block:
        if isinstance(stmt, (gast.If, gast.For, gast.While)) and name in nodes.names_stored(stmt):
            return False
    seen = False
    for stmt in block:
        if not seen and isinstance(stmt, gast.Assign) and name in nodes.names_stored(stmt.targets[0]):
            seen = True
            _rename([stmt.targets[0]], {name: new})
            continue
        if seen:
            _rename([stmt], {name: new})
    return True


def _rename(block, mapping):
    if not mapping:
        return
    for n in list(_with_hidden_arguments(block)):
        if isinstance(n, gast.Name) and n.id in mapping:
            n.id = mapping[n.id]


def _has_break(stmts):
    for stmt in stmts:
        if isinstance(stmt, gast.Break):
            return True
        if isinstance(stmt, gast.If) and (_has_break(stmt.body) or _has_break(stmt.orelse)):
            return True
    return False


def _replace_breaks(stmts, running):
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.Break):
            stop = nodes.assign(running, nodes.const(False))
            stop.lineno = getattr(stmt, "lineno", None)
            out.append(stop)
            continue
        if isinstance(stmt, gast.If):
            stmt.body = _replace_breaks(stmt.body, running) or [gast.Pass()]
            stmt.orelse = _replace_breaks(stmt.orelse, running)
        out.append(stmt)
    return out


def _stamp(stmts, lineno):
    for s in stmts:
        if getattr(s, "lineno", None) is None:
            s.lineno = lineno
    return stmts


# -- step 3: every statement by its batching rule ---------------------------------------------------
class Batcher:
    def __init__(self, ctx, analysis):
        self.ctx = ctx
        self.analysis = analysis
        self.batched = analysis.batched
        self.kinds = analysis.kinds
        self.ranks = (analysis.lower, analysis.upper)

    def is_batched(self, node):
        return bool(_names(node) & self.batched)

    def block(self, stmts):
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt):
        lineno = getattr(stmt, "lineno", None)
        if isinstance(stmt, gast.Assign):
            out = self.assign(stmt)
        elif isinstance(stmt, gast.Expr):
            out = self.expression_statement(stmt)
        elif isinstance(stmt, gast.If):
            if self.is_batched(stmt.test):
                raise Fallback("a condition that differs between examples")
            stmt.body = self.block(stmt.body) or [gast.Pass()]
            stmt.orelse = self.block(stmt.orelse)
            out = [stmt]
        elif isinstance(stmt, gast.For):
            if self.analysis.iter_batched(stmt.iter):
                raise Fallback("a loop whose length differs between examples")
            if isinstance(stmt.iter, gast.Call):
                stmt.iter.args = [self.value(a, None) if isinstance(a, gast.Call) and self.is_batched(a) else a
                                  for a in stmt.iter.args]
            stmt.body = self.block(stmt.body) or [gast.Pass()]
            out = [stmt]
        elif isinstance(stmt, gast.While):
            if self.is_batched(stmt.test):
                raise Fallback("a loop whose length differs between examples")
            stmt.body = self.block(stmt.body) or [gast.Pass()]
            out = [stmt]
        elif isinstance(stmt, gast.Assert):
            if self.is_batched(stmt.test):
                stmt.test = nodes.call("np.all", [stmt.test])
            out = [stmt]
        else:
            out = [stmt]
        return _stamp(out, lineno)

    # assignments ------------------------------------------------------------------------------
    def assign(self, stmt):
        target = stmt.targets[0]
        value = stmt.value
        if not isinstance(target, gast.Name):
            return self.unpack(stmt)
        name = target.id
        if not _reads(value) & self.batched and not self._always_batch(value):
            out = [stmt]
            empty = isinstance(value, (gast.List, gast.Tuple)) and not value.elts
            if name in self.batched and not _is_none(value) and not empty:
                if isinstance(value, gast.Constant):
                    stmt.value = self.broadcast(value, like=isinstance(value.value, float))
                else:
                    out.append(nodes.assign(name, self.broadcast(nodes.name(name))))
            return out
        value_batched = self.analysis.value_batched(value)
        new = self.value(value, name)
        out = new if isinstance(new, list) else [nodes.assign(name, new)]
        if not isinstance(new, list):
            out[0].lineno = getattr(stmt, "lineno", None)
        if name in self.batched and not value_batched:
            out.append(nodes.assign(name, self.broadcast(nodes.name(name))))
        return out

    def _always_batch(self, value):
        op = operations.operation(value)
        return op.kind == "user" and op.callee.function.python_function is None

    def broadcast(self, node, like=False):
        args = [node, self.ctx.size_node()]
        reference = self.ctx.float_reference()
        if like and reference is not None:
            args.append(nodes.name(reference))
        return nodes.call(self.ctx.helper("broadcast_batch"), args)

    def unpack(self, stmt):
        target = stmt.targets[0]
        names = [e.id for e in target.elts]
        source = stmt.value
        out = [stmt]
        if self.is_batched(source):
            kind = self.kinds.get(source.id) if isinstance(source, gast.Name) else TREE
            if kind == DICT:
                raise Fallback("unpacking a dict")
            if kind == ARRAY:
                stmt.value = nodes.call("np.moveaxis", [source, nodes.const(1), nodes.const(0)])
            elif kind not in (TREE, DICT):
                stmt.value = nodes.call(self.ctx.helper("example_items"), [source])
        else:
            for n in names:
                if n in self.batched:
                    out.append(nodes.assign(n, self.broadcast(nodes.name(n))))
        return out

    def expression_statement(self, stmt):
        value = stmt.value
        kind = _list_method(value)
        if kind == "append":
            lst = value.func.value.id
            item = value.args[0]
            if lst in self.batched and not self.is_batched(item) and not _is_none(item):
                value.args = [self.broadcast(item)]
            return [stmt]
        if kind == "pop" or not _reads(value) & self.batched:
            return [stmt]
        op = operations.operation(value)
        if op.kind == "primitive":
            new = _rule(op.primitive).apply(self.rule_call(op))
            if new is not rules.PER_EXAMPLE:
                stmt.value = new
                return [stmt]
        elif op.kind == "user":
            stmt.value = self.user_call(op)
            return [stmt]
        return self.per_example(None, value)

    # one right-hand side ------------------------------------------------------------------------
    def rule_call(self, op):
        return RuleCall(self.ctx, op, self.batched, self.kinds, self.ranks)

    def value(self, value, target):
        op = operations.operation(value)
        if op.kind in ("copy", "constant", "pop"):
            return value
        if op.kind == "container":
            if target in self.batched:
                return self.container(value)
            return value
        if op.kind == "user":
            return self.user_call(op)
        if op.kind == "primitive":
            new = _rule(op.primitive).apply(self.rule_call(op))
            if new is rules.PER_EXAMPLE:
                return self.per_example(target, value)
            return new
        return self.opaque(value, target)

    def container(self, value):
        def lift(elt):
            if isinstance(elt, gast.Starred):
                elt.value = lift(elt.value)
                return elt
            if self.is_batched(elt) or _is_none(elt):
                return elt
            return self.broadcast(elt)
        if isinstance(value, gast.Dict):
            value.values = [lift(v) for v in value.values]
        else:
            value.elts = [lift(e) for e in value.elts]
        return value

    def opaque(self, value, target):
        if isinstance(value, gast.Call) and any(_static_value(value.func) is f for f in _SAME_FOR_EVERY_EXAMPLE):
            return value
        if isinstance(value, gast.Compare):
            op = value.ops[0]
            if isinstance(op, (gast.Is, gast.IsNot)):
                return value
            if type(op) in _COMPARE:
                prim = primitives.by_name(_COMPARE[type(op)])
                fake = operations.Operation("primitive", value, prim, {"x": value.left, "y": value.comparators[0]})
                return _rule(prim).apply(self.rule_call(fake))
            return self.per_example(target, value)
        if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name):
            call = RuleCall(self.ctx, operations.Operation("opaque", value), self.batched, self.kinds)
            if value.attr == "shape":
                return call.example_shape(value.value)
            if value.attr == "ndim":
                return call.expr("np.ndim(x) - 1", x=value.value)
            if value.attr == "size":
                return call.expr("example_size(x)", x=value.value, example_size=self.ctx.helper("example_size"))
            if value.attr in _STATIC_ATTRIBUTES:
                return value
        if not _shape_only_reads(value, self.batched):
            return self.shape_reads(value)
        return self.per_example(target, value)

    def shape_reads(self, value):
        """An expression reading batched values only through their shapes: per-example shapes."""
        batcher = self

        class Rewrite(gast.NodeTransformer):
            def visit_Call(self, node):
                self.generic_visit(node)
                callee = getattr(node, "s2s", None)
                if callee is not None and callee.kind == "primitive" and callee.primitive.name in _SHAPE_QUERIES \
                        and len(node.args) == 1 and isinstance(node.args[0], gast.Name) \
                        and node.args[0].id in batcher.batched:
                    op = operations.Operation("primitive", node, callee.primitive, {"args": (node.args[0],), "kwargs": {}})
                    return rules.shape_query.apply(batcher.rule_call(op))
                return node

            def visit_Attribute(self, node):
                self.generic_visit(node)
                if isinstance(node.value, gast.Name) and node.value.id in batcher.batched \
                        and node.attr in _SHAPE_ATTRIBUTES:
                    return batcher.opaque(node, None)
                return node

        return Rewrite().visit(value)

    def user_call(self, op):
        name, _ = self.ctx.callee(op, self.batched, self.kinds)
        call = nodes.call(nodes.name(name), [nodes.copy(a) for a in op.args],
                          {k: nodes.copy(v) for k, v in op.keywords.items()})
        return call

    def per_example(self, target, value):
        """`target = value` by a loop over the examples, results stacked."""
        example = self.ctx.namer.fresh("example")
        per = nodes.copy(value)
        kinds = self.kinds
        helper = self.ctx.helper

        class Take(gast.NodeTransformer):
            """Batched names read as their example; a lambda made here keeps the example it was
            made for (`lambda q, example=example: ...`, not the loop's last one)."""

            def __init__(self, names):
                self.names = names
                self.took = False

            def visit_Name(self, node):
                if isinstance(node.ctx, gast.Load) and node.id in self.names:
                    self.took = True
                    if kinds.get(node.id) == ARRAY:
                        return nodes.subscript(node, nodes.name(example))
                    return nodes.call(helper("take_example"), [node, nodes.name(example)])
                return node

            def visit_Lambda(self, node):
                inner = Take(self.names - nodes.names_stored(node.args))
                node.body = inner.visit(node.body)
                if inner.took:
                    node.args.args.append(nodes.param(example))
                    node.args.defaults.append(nodes.name(example))
                    self.took = True
                return node

        per = Take(set(self.batched)).visit(per)
        loop_range = nodes.call("range", [self.ctx.size_node()])
        if target is None:
            return [nodes.for_(example, loop_range, [nodes.expr(per)])]
        items = self.ctx.namer.fresh(f"{target}_examples")
        append = nodes.expr(nodes.call(nodes.attr(nodes.name(items), "append"), [per]))
        return [nodes.comment(f"no batched form of `{_label(value)}`: one example at a time"),
                nodes.assign(items, nodes.list_([])),
                nodes.for_(example, loop_range, [append]),
                nodes.assign(target, nodes.call(self.ctx.helper("stack_examples"), [nodes.name(items)]))]


def _label(value):
    try:
        return nodes.to_source(value)
    except Exception:   # pragma: no cover
        return type(value).__name__


def _is_none(node):
    return isinstance(node, gast.Constant) and node.value is None


# -- one function ---------------------------------------------------------------------------------------
class Context:
    """What the passes over one function share: names, helpers, callees."""

    def __init__(self, batching, source, fn, batched_params, kinds, frame, namer=None, rewrites=True):
        self.batching = batching
        self.source = source
        self.fn = fn
        self.namer = namer or fn.s2s_namer
        self.params = [a.id for a in fn.args.args]
        self.batched_params = set(batched_params)
        self.param_kinds = dict(kinds)
        self.frame = frame
        self.size_name = None
        # the user's locals, before any rewrite adds names (only analyzing: found when asked)
        self._locals = resolve.local_names(fn) if rewrites else None

    @property
    def locals(self):
        if self._locals is None:
            self._locals = resolve.local_names(self.fn)
        return self._locals

    def float_reference(self):
        """A batched array parameter, whose dtype float constants follow (float32 stays float32)."""
        for p in self.params:
            if p in self.batched_params and self.param_kinds.get(p) == ARRAY:
                return p
        return None

    def size_node(self):
        if self.size_name is None:
            self.size_name = self.namer.fresh("batch_size")
        return nodes.name(self.size_name)

    def helper(self, name):
        return nodes.name(self.batching.bind(name, avoid=self.locals))

    def primitive_call(self, prim_name, args, func=None):
        prim = primitives.by_name(prim_name)
        node = nodes.call(nodes.dotted(func) if func else self.helper(prim_name), args)
        node.s2s = Callee("primitive", prim_name, primitive=prim)
        return node

    def _mask(self, op, batched, kinds):
        fs = op.callee.function
        params = [a.id for a in fs.tree.args.args]
        mask = [False] * len(params)
        arg_kinds = [None] * len(params)
        for k, arg in enumerate(op.args):
            if k < len(params):
                mask[k] = bool(_names(arg) & batched)
                arg_kinds[k] = _kind_of_node(arg, kinds)
        for key, value in op.keywords.items():
            if key in params:
                k = params.index(key)
                mask[k] = bool(_names(value) & batched)
                arg_kinds[k] = _kind_of_node(value, kinds)
        kinds_key = tuple(kd if m else None for kd, m in zip(arg_kinds, mask))
        return fs, tuple(mask), kinds_key

    def callee_batched(self, op, batched, kinds):
        fs, mask, kinds_key = self._mask(op, batched, kinds)
        if not any(mask):
            return False
        return self.batching.out_batched(fs, mask, kinds_key)

    def callee_kind(self, op, batched, kinds):
        fs, mask, kinds_key = self._mask(op, batched, kinds)
        if not any(mask):
            return None
        self.batching.out_batched(fs, mask, kinds_key)
        return self.batching.out_kinds.get(self.batching.key(fs, mask, kinds_key))

    def callee(self, op, batched, kinds):
        fs, mask, kinds_key = self._mask(op, batched, kinds)
        if not any(mask) and fs.python_function is not None:
            return nodes.to_source(op.node.func), False
        in_branch = getattr(op.node, "s2s_in_branch", False)
        return self.batching.callee(fs, mask, kinds_key, in_branch), any(mask) and \
            self.batching.out_batched(fs, mask, kinds_key)


def _kind_of_node(node, kinds):
    if isinstance(node, gast.Name):
        return kinds.get(node.id)
    if isinstance(node, (gast.Tuple, gast.List, gast.Dict)):
        return TREE
    return ARRAY


def analyze(ctx):
    """Phase-1 analysis of a prepared function (batched names including control dependence)."""
    return Analysis(ctx, ctx.fn.body, ctx.batched_params, ctx.param_kinds)


def batch_body(ctx, first=None):
    """(statements, out atom, out batched): the body of `ctx.fn` run on a batch, before its return.
    `first`: the analysis of the unchanged `ctx.fn` for the same batched parameters, if made already."""
    first = first or analyze(ctx)
    lowering = Lowering(ctx, first)
    body = lowering.block(list(ctx.fn.body))
    undefined = [nodes.assign(n, nodes.const(None)) for n in sorted(lowering.maybe_undefined)
                 if n not in ctx.params]
    body = _stamp(undefined, getattr(ctx.fn, "lineno", None)) + body
    # the same statements analyzed again give the same answers: analyze only what lowering rewrote
    second = Analysis(ctx, body, ctx.batched_params, ctx.param_kinds) if lowering.rewrote else first
    ret = body[-1]
    batcher = Batcher(ctx, second)
    out_stmts = batcher.block(body[:-1])
    # an array parameter given unbatched that later holds batched values: batched from the start
    entering = [p for p in ctx.params if p not in ctx.batched_params and p in second.batched
                and second.kinds.get(p) != TREE]
    out_stmts = _stamp([nodes.assign(p, batcher.broadcast(nodes.name(p))) for p in entering],
                       getattr(ctx.fn, "lineno", None)) + out_stmts
    out = ret.value
    if isinstance(out, gast.Tuple):
        flags = [batcher.is_batched(e) for e in out.elts]
        out_batched = any(flags)
    else:
        out_batched = batcher.is_batched(out)
    return out_stmts, out, out_batched, batcher


class Batching:
    """The vmap functions of one Program, generated on demand, cached per (function, batched mask)."""

    def __init__(self, program, prepare):
        self.program = program
        self.prepare = prepare
        self.names = {}          # key -> generated function name
        self.outs = {}           # key -> whether its result is batched
        self.out_kinds = {}      # key -> "array" / "tree" / None: what its result is
        self.prepared = {}       # function id -> a prepared (normalized) tree not yet lowered
        self.analyzing = set()
        self.assumed = set()
        self.frames = []         # (function id, entered from a batched branch)
        self.bound = {}
        self.analyses = {}       # key -> the Analysis `out_batched` made of the prepared tree
        self.guesses = 0         # how often `out_batched` assumed a result (recursion)

    def bind(self, name, avoid=()):
        """The module-level name of helper `name`, never one of the names in `avoid` (locals)."""
        if name not in self.bound:
            self.bound[name] = self.program.binder.bind(name, getattr(rules, name))
        bound = self.bound[name]
        if bound in avoid:
            alias, k = f"{name}_helper", 0
            while alias in avoid or (alias in self.program.binder.values
                                     and self.program.binder.values[alias] is not getattr(rules, name)):
                k += 1
                alias = f"{name}_helper_{k}"
            self.program.binder.values[alias] = getattr(rules, name)
            return alias
        return bound

    @staticmethod
    def function_id(source):
        return id(source.python_function) if source.python_function is not None else id(source.tree)

    def key(self, source, mask, kinds):
        return (self.function_id(source), tuple(mask), tuple(kinds))

    # signatures -----------------------------------------------------------------------------------
    def out_batched(self, source, mask, kinds):
        key = self.key(source, mask, kinds)
        if key in self.outs:
            return self.outs[key]
        if key in self.analyzing:
            self.assumed.add(key)
            self.guesses += 1
            return True
        self.analyzing.add(key)
        try:
            prepared = self.prepared.get(self.function_id(source)) or self.prepare(source, self.program)
            self.prepared[self.function_id(source)] = prepared
            _, fn = prepared
            params = [a.id for a in fn.args.args]
            ctx = Context(self, source, fn, [p for p, m in zip(params, mask) if m],
                          {p: k for p, k in zip(params, kinds)}, None, rewrites=False)
            guesses = self.guesses
            analysis = analyze(ctx)
            if self.guesses == guesses:     # no answer was assumed: `function` may use this analysis
                self.analyses[key] = analysis
            out = fn.body[-1].value
            result = bool(_names(out) & analysis.batched)
            self.out_kinds[key] = DICT if isinstance(out, gast.Dict) else \
                TREE if isinstance(out, (gast.Tuple, gast.List)) else \
                analysis.kinds.get(out.id) if isinstance(out, gast.Name) else ARRAY
        finally:
            self.analyzing.discard(key)
        if key in self.assumed:
            result = True
        self.outs[key] = result
        return result

    # callees ------------------------------------------------------------------------------------------
    def callee(self, source, mask, kinds, in_branch):
        fid = self.function_id(source)
        found = [k for k, frame in enumerate(self.frames) if frame[0] == fid]
        if found and any(mask):
            j = found[-1]
            if in_branch:
                raise Fallback(f"recursion into {source.name} under a condition that differs between examples")
            owners = [k - 1 for k in range(j + 1, len(self.frames)) if self.frames[k][1]]
            if owners:
                raise Unwind(owners[-1])
        key = self.key(source, mask, kinds)
        if key in self.names:
            return self.names[key]
        name = self.program.function_name(f"vmap_{source.name}" if any(mask) else source.name)
        self.names[key] = name
        out_batched = self.out_batched(source, mask, kinds) if any(mask) else False
        self.build(name, source, mask, kinds, out_batched, in_branch, entry=None)
        return name

    def build(self, name, source, mask, kinds, out_batched, in_branch, entry):
        """Generate `name`; on Fallback (or an Unwind aimed here), a loop over the examples."""
        frame = len(self.frames)
        self.frames.append((self.function_id(source), in_branch))
        functions = len(self.program.functions)
        names = dict(self.names)
        try:
            try:
                fn_node, doc = self.function(name, source, mask, kinds, out_batched, entry)
            except Fallback as reason:
                fn_node, doc = self.loop_function(name, source, mask, kinds, entry, str(reason))
            except Unwind as unwind:
                if unwind.frame != frame:
                    raise
                del self.program.functions[functions:]
                self.names = names
                fn_node, doc = self.loop_function(name, source, mask, kinds, entry,
                                                  "recursion under a condition that differs between examples")
        except Unwind:
            del self.program.functions[functions:]
            self.names = names
            self.names.pop(self.key(source, mask, kinds), None)
            raise
        finally:
            self.frames.pop()
        self.program.functions.append((fn_node, doc))

    def function(self, name, source, mask, kinds, out_batched, entry):
        key = self.key(source, mask, kinds)
        prepared = self.prepared.pop(self.function_id(source), None)     # analyzed, not changed: use it once
        source, fn = prepared or self.prepare(source, self.program)
        params = [a.id for a in fn.args.args]
        if len(mask) != len(params):
            raise source.error(f"{source.name} takes {len(params)} argument(s), called with {len(mask)}", fn)
        batched = [p for p, m in zip(params, mask) if m]
        ctx = Context(self, source, fn, batched, {p: k for p, k in zip(params, kinds)}, len(self.frames) - 1)
        analysis = self.analyses.pop(key, None)
        if analysis is not None and analysis.ctx.fn is fn:      # made of this very tree, unchanged since
            analysis.ctx = ctx
        else:
            analysis = None
        stmts, out, batched_out, batcher = batch_body(ctx, analysis)
        prologue = []
        if any(mask):
            prologue += self.size_statement(ctx, batched, kinds, entry)
        if entry is not None:
            prologue += entry.prologue(ctx)
        exit_stmts, result = self.exit(ctx, out, batched_out, out_batched, entry, batcher)
        body = prologue + stmts + exit_stmts + [nodes.return_(result)]
        body = tidy.remove_dead_code(body)
        where = _where(source, fn)
        doc = f"{where} on a batch" + (f" (batched: {', '.join(batched)})" if batched else " (nothing batched)")
        return nodes.function(name, params, body, defaults=fn.args.defaults), doc

    def size_statement(self, ctx, batched, kinds, entry):
        first = batched[0]
        if entry is not None:
            return [nodes.assign(ctx.size_node().id, entry.size_expression(ctx))]
        kind = kinds[ctx.params.index(first)] if ctx.params.index(first) < len(kinds) else None
        if kind == ARRAY:
            value = nodes.subscript(nodes.call("np.shape", [nodes.name(first)]), nodes.const(0))
        else:
            value = nodes.call(ctx.helper("batch_size_of"), [nodes.name(first)])
        return [nodes.assign(ctx.size_node().id, value)]

    def exit(self, ctx, out, batched_out, out_batched, entry, batcher):
        """Statements before the return, and the returned expression."""
        result = nodes.copy(out)
        if entry is not None:
            return entry.epilogue(ctx, result, batched_out, batcher)
        if out_batched:
            if isinstance(result, gast.Tuple):
                result.elts = [e if batcher.is_batched(e) or _is_none(e) else batcher.broadcast(e)
                               for e in result.elts]
            elif not batched_out and not _is_none(result):
                result = batcher.broadcast(result)
        return [], result

    def loop_function(self, name, source, mask, kinds, entry, reason):
        """`name` as a loop over the examples calling the per-example function."""
        fn = source.tree
        params = [a.id for a in fn.args.args]
        if source.python_function is None:
            raise source.error(f"vmap cannot batch {source.name}: {reason}, and it has no Python function "
                               "to call one example at a time", fn)
        namer_taken = set(params)
        from .normalize import Namer
        namer = Namer(namer_taken | set(self.program.binder.values))
        per_example = self.program.binder.bind(f"{source.name}_one_example", source.python_function)
        ctx = Context(self, source, fn, [p for p, m in zip(params, mask) if m],
                      {p: k for p, k in zip(params, kinds)}, None, namer=namer)
        body = self.size_statement(ctx, [p for p, m in zip(params, mask) if m], kinds, entry)
        if entry is not None:
            body += entry.prologue(ctx)
        example = namer.fresh("example")
        outs = namer.fresh("outs")
        args = []
        for p, m, k in zip(params, mask, list(kinds) + [None] * len(params)):
            if not m:
                args.append(nodes.name(p))
            elif k == ARRAY:
                args.append(nodes.subscript(nodes.name(p), nodes.name(example)))
            else:
                args.append(nodes.call(ctx.helper("take_example"), [nodes.name(p), nodes.name(example)]))
        call = nodes.call(nodes.name(per_example), args)
        body += [nodes.comment(f"one example at a time: {reason}"),
                 nodes.assign(outs, nodes.list_([])),
                 nodes.for_(example, nodes.call("range", [ctx.size_node()]),
                            [nodes.expr(nodes.call(nodes.attr(nodes.name(outs), "append"), [call]))])]
        out = namer.fresh("out")
        body.append(nodes.assign(out, nodes.call(ctx.helper("stack_examples"), [nodes.name(outs)])))
        if entry is not None:
            exit_stmts, result = entry.epilogue(ctx, nodes.name(out), True, None)
            body += exit_stmts
        else:
            result = nodes.name(out)
        body.append(nodes.return_(result))
        doc = f"{_where(source, fn)} on a batch, one example at a time"
        return nodes.function(name, params, body, defaults=fn.args.defaults), doc

    # the entry function -----------------------------------------------------------------------------
    def entry(self, source, in_axes, out_axes, kinds):
        """The public `vmap_f`: batch axes moved to the front at entry and to `out_axes` at exit."""
        params = [a.id for a in source.tree.args.args]
        mask = tuple(a is not None for a in in_axes)
        entry = Entry(params, in_axes, out_axes, kinds)
        name = self.program.function_name(f"vmap_{source.name}")
        key = self.key(source, mask, kinds)
        plain = out_axes == 0 and all(a is None or a == 0 for a in in_axes)
        if plain and self.out_batched(source, mask, kinds) and key not in self.names:
            self.names[key] = name          # recursive calls reuse the entry itself
        self.build(name, source, mask, tuple(kinds), True, False, entry)
        return name


class Entry:
    """Moving batch axes in and out of the public function."""

    def __init__(self, params, in_axes, out_axes, kinds):
        self.params = params
        self.in_axes = in_axes
        self.out_axes = out_axes
        self.kinds = kinds

    def prologue(self, ctx):
        out = []
        for p, axes, kind in zip(self.params, self.in_axes, self.kinds):
            if axes is None or axes == 0:
                continue
            if isinstance(axes, int) and kind == ARRAY:
                out.append(nodes.assign(p, nodes.call("np.moveaxis", [nodes.name(p), nodes.const(axes), nodes.const(0)])))
            else:
                out.append(nodes.assign(p, nodes.call(ctx.helper("move_batch_axes"),
                                                      [nodes.name(p), _as_node(_freeze(axes)), ctx.size_node()])))
        return out

    def size_expression(self, ctx):
        for p, axes, kind in zip(self.params, self.in_axes, self.kinds):
            if isinstance(axes, int) and kind == ARRAY:
                return nodes.subscript(nodes.call("np.shape", [nodes.name(p)]), nodes.const(axes))
        for p, axes in zip(self.params, self.in_axes):
            if axes is not None:
                return nodes.call(ctx.helper("batch_size_of"), [nodes.name(p)])
        raise ValueError("vmap needs at least one batched argument")

    def epilogue(self, ctx, result, batched_out, batcher):
        axes = self.out_axes
        size = ctx.size_node()
        stmts = []
        if isinstance(result, gast.Tuple) and isinstance(axes, (tuple, list)) and len(axes) == len(result.elts):
            elts = []
            for elt, axis in zip(result.elts, axes):
                elt_batched = batcher.is_batched(elt) if batcher is not None else True
                elts.append(self._out(ctx, elt, elt_batched, axis, size))
            result.elts = elts
            return stmts, result
        if isinstance(result, gast.Tuple) and batcher is not None and not isinstance(axes, (tuple, list, dict)):
            result.elts = [self._out(ctx, e, batcher.is_batched(e), axes, size) for e in result.elts]
            return stmts, result
        return stmts, self._out(ctx, result, batched_out, axes, size)

    def _out(self, ctx, node, batched, axes, size):
        if _is_none(node):
            return node
        if not batched:
            if _all_none(axes):
                return node
            node = nodes.call(ctx.helper("broadcast_batch"), [node, size])
        elif _has_none(axes):
            raise ValueError("vmap out_axes=None for a result that differs between examples; give it an "
                             "axis, or return only values that do not depend on the batched arguments")
        if axes == 0:
            return node
        return nodes.call(ctx.helper("move_out_axes"), [node, _as_node(_freeze(axes)), size])


def _freeze(axes):
    if isinstance(axes, list):
        return tuple(_freeze(a) for a in axes)
    return axes


def _axis_leaves(axes):
    """The ints and Nones of an out_axes tree."""
    if isinstance(axes, (tuple, list)):
        for a in axes:
            yield from _axis_leaves(a)
    elif isinstance(axes, dict):
        for a in axes.values():
            yield from _axis_leaves(a)
    else:
        yield axes


def _all_none(axes):
    return all(a is None for a in _axis_leaves(axes))


def _has_none(axes):
    return any(a is None for a in _axis_leaves(axes))


def _where(source, fn):
    return f"{source.qualname or source.name} ({os.path.basename(source.filename)}:{getattr(source.tree, 'lineno', '?')})"
