"""Make every name explicit: globals and closure cells bound, nested functions lifted, and
each call classified as a primitive, a user function or an opaque (non-differentiable) call.

The classification is stored on the node as `node.s2s`, a `Callee`.
"""
import builtins
import functools
import types
from dataclasses import dataclass, field

import gast
import numpy as np

from ..runtime import primitives
from . import nodes, parse, reads

# Modules whose functions are library code: never read as user source.
_LIBRARY_PREFIXES = ("numpy", "scipy", "math", "builtins", "functools", "operator", "numba",
                     "s2s.runtime.primitives.core", "s2s.runtime.primitives.structural")
_ADJOINT_MODULE = "s2s.runtime.primitives.adjoints"
_VALUE_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "flags"}
LIST_METHODS = {"append", "pop"}


@dataclass
class Callee:
    """What a call (or attribute read) resolves to."""

    kind: str                      # "primitive", "user", "opaque", "append", "pop"
    label: str = ""                # how the user wrote it, for messages
    primitive: object = None
    signature: object = None       # for ndarray methods: the method's signature
    receiver: bool = False         # method call: `func.value` is the first argument
    function: object = None        # FunctionSource for user calls
    prefix_args: list = field(default_factory=list)   # names bound by partial / lifting
    suffix_args: list = field(default_factory=list)
    keywords: dict = field(default_factory=dict)


class Binder:
    """Module-level names of one emitted module: each value gets one readable name."""

    def __init__(self, reserved):
        self.values = dict(reserved)           # name -> value
        self.bound_sources = {}                # callees with function parameters bound (resolve)
        self._ids = {id(v): k for k, v in reserved.items()}

    def bind(self, preferred, value):
        known = self._ids.get(id(value))
        if known is not None and self.values.get(known) is value:
            return known
        candidate, k = preferred, 0
        while candidate in self.values:
            k += 1
            candidate = f"{preferred}_{k}"
        self.values[candidate] = value
        self._ids[id(value)] = candidate
        return candidate


def local_names(fn_tree):
    """Parameters, assigned names and nested functions of a function."""
    names = {a.id for a in fn_tree.args.args}
    for node in nodes.walk(fn_tree, contexts=False):
        kind = type(node)
        if kind is gast.Name:
            if isinstance(node.ctx, gast.Store):
                names.add(node.id)
        elif kind is gast.FunctionDef and node is not fn_tree:
            names.add(node.name)
    return names


def names(source, binder, function_sources):
    """Resolve `source.tree` in place; returns {lifted name: FunctionSource} for nested defs."""
    fn = source.tree
    locals_ = local_names(fn)
    lifted = _lift_nested(source, locals_)
    if lifted:
        locals_ = local_names(fn)
    renames = {}

    def lookup(name_):
        if name_ in source.closure:
            value, where = source.closure[name_], "closure"
        elif name_ in source.globals:
            value, where = source.globals[name_], source.globals
        elif hasattr(builtins, name_):
            value, where = getattr(builtins, name_), "builtins"
        else:
            raise KeyError(name_)
        reads.note_name(where, name_, value)
        return value

    for node in nodes.free_names(fn):       # not those a comprehension or lambda binds
        if isinstance(node.ctx, gast.Load):
            if node.id in locals_ or node.id in lifted:
                continue
            try:
                value = lookup(node.id)
            except KeyError:
                raise source.error(f"name `{node.id}` is not defined", node) from None
            if node.id not in renames:
                renames[node.id] = binder.bind(node.id, value)
            node.s2s_value = value
            node.id = renames[node.id]

    for node in nodes.walk(fn, contexts=False):
        if isinstance(node, gast.Call):
            node.s2s = _classify_call(node, source, binder, locals_, lifted, function_sources)
        elif isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
            if _is_local_value(node.value, locals_):
                prim = primitives.attribute(node.attr)
                if prim is not None:
                    node.s2s = Callee("primitive", f".{node.attr}", primitive=prim, receiver=True)
    return lifted


def _is_local_value(node, locals_):
    """True unless `node` is a chain of attributes on a module-level name."""
    root = node
    while isinstance(root, gast.Attribute):
        root = root.value
    return not (isinstance(root, gast.Name) and hasattr(root, "s2s_value"))


def _static_value(node):
    """The transform-time value of `np`, `np.linalg.inv`, ... or raise KeyError."""
    if isinstance(node, gast.Name) and hasattr(node, "s2s_value"):
        return node.s2s_value
    if isinstance(node, gast.Attribute):
        base = _static_value(node.value)
        try:
            return getattr(base, node.attr)
        except AttributeError:
            raise KeyError(node.attr) from None
    raise KeyError(node)


def _classify_call(node, source, binder, locals_, lifted, function_sources):
    func = node.func
    label = _label(func)
    if isinstance(func, gast.Name) and func.id in lifted:
        lifted_source, extra = lifted[func.id]
        return Callee("user", label, function=lifted_source, suffix_args=list(extra))
    try:
        value = _static_value(func)
    except KeyError:
        value = None
        if isinstance(func, gast.Attribute):
            if func.attr in LIST_METHODS:
                return Callee(func.attr, label, receiver=True)
            found = primitives.method(func.attr)
            if found is not None:
                prim, signature = found
                return Callee("primitive", label, primitive=prim, signature=signature, receiver=True)
            return Callee("opaque", label, receiver=True)
        return Callee("opaque", label)
    callee = classify_value(value, label, binder, function_sources)
    if callee.kind == "user" and isinstance(value, types.FunctionType) and not callee.prefix_args:
        _bind_function_arguments(node, callee, binder)
    return callee


def _known_function(node):
    """The function a call argument names at transform time (a module-level function or a NumPy
    function with rules), or None for anything else (a local, an array, a lambda)."""
    try:
        value = _static_value(node)
    except KeyError:
        return None
    if isinstance(value, types.FunctionType) or primitives.lookup(value) is not None:
        return value
    return None


def _bind_function_arguments(node, callee, binder):
    """`rk4_step(nn_dynamics, y, ...)`, `nn_predict(params, x)` with `nonlinearity=np.tanh` by
    default: a parameter that receives a known function is bound to it in a copy of the callee
    (a closure name), so calls through it resolve like calls of the function itself."""
    source = callee.function
    args = source.tree.args
    if args.vararg is not None or args.kwarg is not None or args.posonlyargs or args.kwonlyargs:
        return
    if any(isinstance(a, gast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return
    params = [a.id for a in args.args]
    defaults = dict(zip(params[len(params) - len(args.defaults):], args.defaults))
    stored = {n.id for n in nodes.walk(source.tree, contexts=False)
              if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    python_defaults = getattr(source.python_function, "__defaults__", None) or ()
    default_values = dict(zip(params[len(params) - len(python_defaults):], python_defaults))
    keywords = {k.arg: k for k in node.keywords}
    bound = {}
    for k, p in enumerate(params):
        if p in stored or p in source.closure:
            continue
        if k < len(node.args):
            value = _known_function(node.args[k])
        elif p in keywords:
            value = _known_function(keywords[p].value)
        elif p in defaults and p in default_values:
            value = default_values[p]
            value = value if isinstance(value, types.FunctionType) or primitives.lookup(value) else None
        else:
            return
        if value is not None:
            bound[p] = value
    if not bound:
        return
    # positional arguments precede the keyword and default ones: dropping the bound parameters
    # from both the call and the copy keeps every other argument at its parameter
    node.args = [a for k, a in enumerate(node.args) if params[k] not in bound]
    node.keywords = [kw for kw in node.keywords if kw.arg not in bound]
    base = getattr(source, "bound_from", None) or (source, {})
    key = (id(base[0]), tuple(sorted((p, id(v)) for p, v in {**base[1], **bound}.items())))
    known = binder.bound_sources.get(key)       # the same binding again (recursion) is the same callee
    if known is None:
        tree = nodes.copy(source.tree)
        tree.args.args = [a for a in tree.args.args if a.id not in bound]
        first_default = len(params) - len(args.defaults)
        tree.args.defaults = [d for k, d in enumerate(tree.args.defaults, first_default) if params[k] not in bound]
        known = parse.FunctionSource(
            tree=tree, filename=source.filename, globals=source.globals, closure={**source.closure, **bound},
            qualname=source.qualname)
        known.bound_from = (base[0], {**base[1], **bound})
        binder.bound_sources[key] = known
    callee.function = known


def classify_value(value, label, binder, function_sources):
    """Classify a callable known at transform time."""
    prim = primitives.lookup(value)
    if prim is not None:
        return Callee("primitive", label, primitive=prim)
    if isinstance(value, types.BuiltinMethodType) and isinstance(getattr(value, "__self__", None), np.ndarray):
        found = primitives.method(value.__name__)
        if found is not None:
            return Callee("primitive", label, primitive=found[0], signature=found[1], receiver=True)
    if hasattr(value, "__s2s__"):
        value = value.__s2s__.function
    if isinstance(value, functools.partial):
        inner = classify_value(value.func, label, binder, function_sources)
        if inner.kind != "user":
            return Callee("opaque", label)
        inner.prefix_args = [nodes.name(binder.bind("bound", a)) for a in value.args] + inner.prefix_args
        inner.keywords = {k: nodes.name(binder.bind(k, v)) for k, v in value.keywords.items()}
        return inner
    if isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType):
        inner = classify_value(value.__func__, label, binder, function_sources)
        if inner.kind == "user":
            inner.prefix_args = [nodes.name(binder.bind("self", value.__self__))]
        return inner
    if isinstance(value, types.FunctionType):
        module = getattr(value, "__module__", "") or ""
        if module == _ADJOINT_MODULE or not module.startswith(_LIBRARY_PREFIXES):
            return Callee("user", label, function=function_sources(value))
    return Callee("opaque", label)


def _label(func):
    """`np.linalg.inv`, `x.sum`: how the user wrote the called name (for messages)."""
    if isinstance(func, gast.Name):
        return func.id
    if isinstance(func, gast.Attribute):
        return f"{_label(func.value)}.{func.attr}"
    if isinstance(func, gast.Call):
        return f"{_label(func.func)}(...)"
    return "<expression>"


def _lift_nested(source, outer_locals):
    """Move nested `def`s and named lambdas out of the function (whose locals are `outer_locals`);
    their free locals become extra parameters passed at each call.
    Returns {name: (FunctionSource, extra arg nodes)}."""
    fn = source.tree
    lifted = {}
    new_body = []
    for stmt in fn.body:
        inner = None
        if isinstance(stmt, gast.FunctionDef):
            inner = stmt
        elif (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
              and isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Lambda)):
            lam = stmt.value
            body = nodes.return_(lam.body)
            body.lineno = stmt.lineno
            inner = gast.FunctionDef(name=stmt.targets[0].id, args=lam.args, body=[body],
                                     decorator_list=[], returns=None, type_comment=None,
                                     type_params=[])
            inner.lineno = stmt.lineno
        if inner is None:
            new_body.append(stmt)
            continue
        own = local_names(inner)
        free = sorted((nodes.names_read(inner) - own) & (outer_locals - {inner.name}))
        for extra in free:
            param = nodes.store(extra)
            param.ctx = gast.Param()
            inner.args.args.append(param)
        inner.decorator_list = []
        lifted_source = parse.FunctionSource(
            tree=inner, filename=source.filename, globals=source.globals, closure=source.closure,
            qualname=f"{source.qualname}.<locals>.{inner.name}")
        lifted[inner.name] = (lifted_source, [nodes.name(v) for v in free])
    fn.body = new_body
    return lifted
