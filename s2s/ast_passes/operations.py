"""What one normalized right-hand side does: the primitive and how its slots are bound.

Every transformation pass reads statements through `operation(value)`, so the mapping
from Python syntax (operators, methods, attributes, indexing) to rule-table rows lives here.
"""
import inspect
from dataclasses import dataclass, field

import gast

from ..errors import TransformError
from ..runtime import primitives
from . import nodes
from .normalize import index_as_value

_BINOPS = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply", gast.Div: "divide",
           gast.Pow: "power", gast.Mod: "mod", gast.FloorDiv: "floor_divide",
           gast.MatMult: "matmul", gast.BitAnd: "bitwise_and", gast.BitOr: "bitwise_or",
           gast.BitXor: "bitwise_xor"}
_UNARY = {gast.USub: "negative", gast.UAdd: "positive", gast.Not: "logical_not",
          gast.Invert: "invert"}


@dataclass
class Operation:
    kind: str            # primitive | user | copy | constant | container | pop | opaque
    node: object
    primitive: object = None
    slots: dict = field(default_factory=dict)
    callee: object = None
    args: list = field(default_factory=list)     # user calls: the positional arguments
    keywords: dict = field(default_factory=dict)
    label: str = ""

    def by_parameter(self):
        """User calls: the argument node of each callee parameter (None: its default)."""
        params = [a.id for a in self.callee.function.tree.args.args]
        return [self.args[i] if i < len(self.args) else self.keywords.get(p) for i, p in enumerate(params)]

    @property
    def differentiable_slots(self):
        if self.kind != "primitive" or not self.primitive.differentiable:
            return []
        return [s for s in self.primitive.vjp if s in self.slots]


def operation(value):
    """Describe a normalized right-hand side."""
    if isinstance(value, gast.Name):
        return Operation("copy", value, args=[value])
    if isinstance(value, gast.Constant):
        return Operation("constant", value)
    if isinstance(value, gast.BinOp):
        prim = primitives.by_name(_BINOPS[type(value.op)])
        return Operation("primitive", value, prim, {"x": value.left, "y": value.right})
    if isinstance(value, gast.UnaryOp):
        prim = primitives.by_name(_UNARY[type(value.op)])
        return Operation("primitive", value, prim, {"x": value.operand})
    if isinstance(value, (gast.Compare, gast.BoolOp)):
        return Operation("opaque", value, label="comparison")
    if isinstance(value, gast.Subscript):
        return Operation("primitive", value, primitives.by_name("getitem"),
                         {"a": value.value, "index": value.slice})
    if isinstance(value, gast.Attribute):
        callee = getattr(value, "s2s", None)
        if callee is not None and callee.kind == "primitive":
            slots = callee.primitive.bind([value.value], {})
            return Operation("primitive", value, callee.primitive, slots, callee=callee)
        return Operation("opaque", value)
    if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
        return Operation("container", value)
    if isinstance(value, gast.Call):
        return _call(value)
    return Operation("opaque", value, label=type(value).__name__)


def _call(value):
    callee = getattr(value, "s2s", None)
    label = callee.label if callee is not None else ""
    if callee is None:
        return Operation("opaque", value, label=label)
    args = list(value.args)
    if callee.receiver:
        args = [value.func.value] + args
    keywords = {kw.arg: kw.value for kw in value.keywords}
    if callee.kind == "primitive":
        prim = callee.primitive
        if any(isinstance(a, gast.Starred) for a in args) or None in keywords:
            return Operation("opaque", value, label=label, callee=callee)
        slots = _bind(callee.signature or prim.signature, args, keywords)
        if slots is None:
            return Operation("opaque", value, label=label, callee=callee)
        variadic = prim.variadic if callee.signature is None else None
        if variadic is not None and isinstance(slots.get(variadic), tuple):
            slots[variadic] = nodes.tuple_(list(slots[variadic]))   # *operands: one sequence slot
        return Operation("primitive", value, prim, slots, callee=callee, label=label)
    if callee.kind == "user":
        keywords = {**callee.keywords, **keywords}
        full = list(callee.prefix_args) + args
        params = [a.id for a in callee.function.tree.args.args]
        n_suffix = len(callee.suffix_args)
        user_params = params[:len(params) - n_suffix] if n_suffix else params
        # keyword arguments move to their positions while every earlier position is filled
        while len(full) < len(user_params) and user_params[len(full)] in keywords:
            full.append(keywords.pop(user_params[len(full)]))
        if not keywords:
            full += list(callee.suffix_args)
        else:
            keywords.update(zip(params[len(params) - n_suffix:], callee.suffix_args))
        return Operation("user", value, callee=callee, args=full, keywords=keywords, label=label)
    if callee.kind == "pop":
        return Operation("pop", value, callee=callee, args=[value.func.value], label=label)
    return Operation("opaque", value, callee=callee, label=label)


def _bind(signature, args, keywords):
    """`signature.bind(*args, **keywords)` with its defaults applied, as a dict (None if the call does
    not bind). Where each argument goes depends only on how many there are and the keyword names,
    so that is worked out once per signature and shape of call."""
    plans = _PLANS.get(id(signature))
    if plans is None:
        plans = _PLANS[id(signature)] = (signature, {})    # the signature kept: its id stays its own
    shape = (len(args), tuple(keywords))
    if shape not in plans[1]:
        plans[1][shape] = _plan(signature, *shape)
    plan = plans[1][shape]
    if plan is None:
        return None
    slots = {}
    for name, how, where in plan:
        if how == "positional":
            slots[name] = args[where]
        elif how == "keyword":
            slots[name] = keywords[where]
        elif how == "*args":
            slots[name] = tuple(args[k] for k in where)
        elif how == "**kwargs":
            slots[name] = {k: keywords[k] for k in where}
        else:
            slots[name] = where          # the parameter's default
    return slots


class _Argument:
    def __init__(self, where):
        self.where = where


def _plan(signature, n_args, keyword_names):
    """[(parameter, how, where)] binding a call with `n_args` positional arguments and these keywords."""
    try:
        bound = signature.bind(*[_Argument(k) for k in range(n_args)],
                               **{k: _Argument(k) for k in keyword_names})
    except TypeError:
        return None
    bound.apply_defaults()
    plan = []
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            plan.append((name, "*args", [a.where for a in value]))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            plan.append((name, "**kwargs", list(value)))
        elif isinstance(value, _Argument):
            plan.append((name, "positional" if isinstance(value.where, int) else "keyword", value.where))
        else:
            plan.append((name, "default", value))
    return plan


_PLANS = {}     # id(signature) -> (signature, {(n_args, keyword names): plan})


def slot_names(node):
    """Variable names inside one bound slot (an atom or a literal sequence of atoms)."""
    if isinstance(node, gast.Name):
        return {node.id}
    if isinstance(node, (gast.Tuple, gast.List)):
        out = set()
        for elt in node.elts:
            out |= slot_names(elt.value if isinstance(elt, gast.Starred) else elt)
        return out
    return set()


def differentiable_inputs(value):
    """Names whose derivatives flow into the value of this right-hand side."""
    op = operation(value)
    if op.kind == "primitive":
        out = set()
        for slot in op.differentiable_slots:
            out |= slot_names(op.slots[slot])
        return out
    if op.kind in ("copy", "pop"):
        return slot_names(op.args[0])
    if op.kind == "user":
        out = set()
        for arg in op.args:
            out |= slot_names(arg)
        return out
    if op.kind == "container":
        return nodes.names_read(value)
    return set()


def all_inputs(value):
    return nodes.names_read(value)


# -- rule templates ---------------------------------------------------------------------------
def instantiate(template, slots, drop_default_keywords=False):
    """A copy of a rule template with its slots replaced by this call's values, and the literal
    arithmetic that leaves behind folded (`2 - 1`, `x ** 1`). A slot used as an index stays an
    index (`x_dot[1:3]`); slots left at their defaults become constants. With
    `drop_default_keywords`, a keyword passing such a slot under its own name is left out
    (`np.sum(a_dot)`, not `np.sum(a_dot, axis=None, keepdims=False)`)."""
    defaults = {k for k, v in slots.items() if not isinstance(v, gast.AST)} if drop_default_keywords else set()
    return _Fold().visit(_Substitute(slots, defaults).visit(nodes.copy(template)))


class _Substitute(gast.NodeTransformer):
    def __init__(self, slots, dropped_keywords):
        self.slots = slots
        self.dropped_keywords = dropped_keywords

    def visit_Call(self, node):
        node.keywords = [kw for kw in node.keywords
                         if not (isinstance(kw.value, gast.Name) and kw.value.id == kw.arg
                                 and kw.arg in self.dropped_keywords)]
        self.generic_visit(node)
        return node

    def visit_Subscript(self, node):
        index = node.slice
        if isinstance(index, gast.Name) and isinstance(self.slots.get(index.id), gast.AST):
            node.value = self.visit(node.value)
            node.slice = nodes.copy(self.slots[index.id])
            return node
        self.generic_visit(node)
        return node

    def visit_Name(self, node):
        if node.id in self.slots and isinstance(node.ctx, gast.Load):
            value = self.slots[node.id]
            if isinstance(value, gast.AST):
                return index_as_value(nodes.copy(value))
            if isinstance(value, dict):      # a `**kwargs` slot: the keywords as a dict display
                return gast.Dict(keys=[nodes.const(k) for k in value],
                                 values=[index_as_value(nodes.copy(v)) for v in value.values()])
            return _constant(value)
        return node


class _Fold(gast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        func, args = node.func, node.args
        if isinstance(func, gast.Name) and func.id == "power_dx" and len(args) == 2 and _number(args[1]) \
                and args[1].value != 0:       # a constant exponent: the textbook form, folded
            y = args[1]
            return self.visit(nodes.binop(nodes.copy(y), gast.Mult(),
                                          nodes.binop(args[0], gast.Pow(), nodes.const(y.value - 1))))
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        index = node.slice
        if isinstance(node.value, gast.Tuple) and isinstance(index, gast.Constant) and type(index.value) is int \
                and -len(node.value.elts) <= index.value < len(node.value.elts) and isinstance(node.ctx, gast.Load):
            return node.value.elts[index.value]       # (x_dot, None)[0] -> x_dot
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if _number(left) and _number(right) and isinstance(node.op, (gast.Add, gast.Sub, gast.Mult)):
            ops = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b, gast.Mult: lambda a, b: a * b}
            return nodes.const(ops[type(node.op)](left.value, right.value))
        if isinstance(node.op, gast.Pow) and _number(right) and right.value == 1:
            return left
        return node


def _number(node):
    return isinstance(node, gast.Constant) and type(node.value) in (int, float)


def _constant(value):
    if isinstance(value, tuple):
        return nodes.tuple_([_constant(v) for v in value])
    if value is None or isinstance(value, (bool, int, float, str)):
        return nodes.const(value)
    raise TransformError(f"cannot write the default value {value!r} into generated code")
