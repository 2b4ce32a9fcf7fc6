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
    """Resolve `source.tree` in place; returns {lifted name: Through} for nested defs."""
    fn = source.tree
    locals_ = local_names(fn)
    # lambdas as written, before names are bound: one passed to a helper is lifted from this copy
    lambdas = {id(n): nodes.copy(n) for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Lambda)}
    lifted = {**source.prelifted, **_lift_nested(source, locals_)}
    if len(lifted) > len(source.prelifted):
        locals_ = local_names(fn)
    scope = Scope(source, locals_, lifted, lambdas, binder, function_sources)
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

    called = set()
    for node in nodes.walk(fn, contexts=False):
        if isinstance(node, gast.Call):
            node.s2s = _classify_call(node, scope)
            called.add(id(node.func))
        elif isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
            if _is_local_value(node.value, locals_):
                prim = primitives.attribute(node.attr)
                if prim is not None:
                    node.s2s = Callee("primitive", f".{node.attr}", primitive=prim, receiver=True)
    for node in nodes.free_names(fn):
        if node.id in lifted and isinstance(node.ctx, gast.Load) and id(node) not in called:
            raise source.error(f"the local function `{node.id}` is used as a value: s2s can call it, or "
                               f"pass it to a function of this program that calls it", node)
    return lifted


@dataclass
class Scope:
    """What a call in one function can see: its locals, its lifted functions, its lambdas as written."""

    source: object
    locals: set
    lifted: dict            # name -> Through
    lambdas: dict           # id(Lambda node) -> an unresolved copy
    binder: Binder
    function_sources: object


@dataclass
class Through:
    """A function called through a local name: a lifted def or lambda (the caller's locals it reads
    passed last), or a partial of a function (its bound arguments passed first and by keyword)."""

    function: object                                  # FunctionSource
    prefix: list = field(default_factory=list)        # argument nodes
    suffix: list = field(default_factory=list)
    keywords: dict = field(default_factory=dict)

    def passed(self):
        """(label, node) of every argument the function gets besides the caller's own."""
        return [(f"arg{k}", a) for k, a in enumerate(self.prefix)] + [("", a) for a in self.suffix] \
            + list(self.keywords.items())

    def copy(self):
        return Through(self.function, [nodes.copy(a) for a in self.prefix], [nodes.copy(a) for a in self.suffix],
                       {k: nodes.copy(v) for k, v in self.keywords.items()})

    def callee(self, label):
        t = self.copy()
        return Callee("user", label, function=t.function, prefix_args=t.prefix, suffix_args=t.suffix,
                      keywords=t.keywords)


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
    if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant) and \
            type(node.slice.value) is int:                     # self.layers[0], from static_loops
        base = _static_value(node.value)
        if isinstance(base, (list, tuple)) and -len(base) <= node.slice.value < len(base):
            return base[node.slice.value]
    raise KeyError(node)


def _classify_call(node, scope):
    func = node.func
    label = _label(func)
    if isinstance(func, gast.Name) and func.id in scope.lifted:
        through = scope.lifted[func.id]
        if through.function.python_function is None:
            return through.callee(label)
        _write_out(node, through, scope.binder)     # a module-level function: called by its own name
        func = node.func
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
    if isinstance(func, gast.Subscript):        # self.layers[0](p, x): the item by a name of its own
        node.func = nodes.name(scope.binder.bind(f"{_label(func.value).split('.')[-1]}_{func.slice.value}", value))
        node.func.s2s_value = value
    callee = classify_value(value, label, scope.binder, scope.function_sources)
    if callee.kind == "user" and isinstance(value, types.FunctionType) and not callee.prefix_args:
        _bind_function_arguments(node, callee, scope)
    return callee


def _write_out(node, through, binder):
    """`fn(x)` with `fn` bound to `functools.partial(h, a, b=c)`: `h(fn_arg0, x, b=fn_b)`."""
    value = through.function.python_function
    node.func = nodes.name(binder.bind(value.__name__, value))
    node.func.s2s_value = value
    given = {k.arg for k in node.keywords}
    node.args = [nodes.copy(a) for a in through.prefix] + node.args
    node.keywords = [gast.keyword(arg=k, value=nodes.copy(v)) for k, v in through.keywords.items()
                     if k not in given] + node.keywords


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


def _bind_function_arguments(node, callee, scope):
    """`rk4_step(nn_dynamics, y, ...)`, `nn_predict(params, x)` with `nonlinearity=np.tanh` by
    default, `apply(lambda q: q * s, x)`, `apply(functools.partial(h, b=c), x)`: a parameter that
    receives a known function is bound to it in a copy of the callee (a closure name); one that
    receives a lambda, a local def or a partial is bound to that function, and what it needs from
    the caller (the locals a lambda reads, a partial's arguments) is passed as leading parameters
    of the copy. Calls through the parameter then resolve like calls of the function itself."""
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
    in_order = node.args + [k.value for k in node.keywords]     # the order Python evaluates them
    bound, through = {}, {}
    for k, p in enumerate(params):
        if p in stored or p in source.closure:
            continue
        if k < len(node.args):
            arg = node.args[k]
        elif p in keywords:
            arg = keywords[p].value
        elif p in defaults and p in default_values:
            value = default_values[p]
            if isinstance(value, types.FunctionType) or primitives.lookup(value):
                bound[p] = value
            continue
        else:
            return
        value = _known_function(arg)
        if value is not None:
            bound[p] = value
            continue
        function = _local_function(arg, scope)
        if function is None or not _only_called(source.tree, p):
            continue
        # a partial's arguments are passed first: only when nothing evaluated before them calls anything
        earlier = in_order[:next(i for i, a in enumerate(in_order) if a is arg)]
        if function.prefix or function.keywords:
            if any(_calls(a) for a in earlier):
                continue
        through[p] = function
    if not bound and not through:
        return
    # positional arguments precede the keyword and default ones: dropping the bound parameters
    # from both the call and the copy keeps every other argument at its parameter
    gone = set(bound) | set(through)
    node.args = [a for k, a in enumerate(node.args) if params[k] not in gone]
    node.keywords = [kw for kw in node.keywords if kw.arg not in gone]
    node.args = [a for p in through for _, a in through[p].passed()] + node.args
    key = (id(source), tuple(sorted((p, id(v)) for p, v in bound.items())),
           tuple(sorted((p, _shape_key(t)) for p, t in through.items())))
    known = scope.binder.bound_sources.get(key)     # the same binding again (recursion) is the same callee
    if known is None:
        known = _bound_copy(source, bound, through, params, gone)
        scope.binder.bound_sources[key] = known
    callee.function = known


def bind_first_parameter(source, obj):
    """A copy of `source` with its first parameter bound to `obj` (a closure name): a method of a
    known object, so `self.predict(...)` inside resolves like the method itself. None when the
    first parameter is assigned or the function takes *args."""
    args = source.tree.args
    params = [a.id for a in args.args]
    if not params or args.posonlyargs or args.vararg or args.kwarg or params[0] in source.closure or any(
            isinstance(n, gast.Name) and n.id == params[0] and isinstance(n.ctx, gast.Store)
            for n in nodes.walk(source.tree, contexts=False)):
        return None
    return _bound_copy(source, {params[0]: obj}, {}, params, {params[0]})


def _bind_self(callee, obj, binder):
    """`obj.method(...)` in transformed code: the method's function with `self` bound (memoized)."""
    key = (id(callee.function), (("self", id(obj)),), ())
    known = binder.bound_sources.get(key)
    if known is None:
        known = bind_first_parameter(callee.function, obj)
        if known is None:
            callee.prefix_args = [nodes.name(binder.bind("self", obj))]
            return
        binder.bound_sources[key] = known
    callee.function = known


def _shape_key(through):
    return (id(through.function), len(through.prefix), len(through.suffix), tuple(through.keywords))


def _bound_copy(source, bound, through, params, gone):
    """A copy of `source` without the parameters in `gone`: the known functions in `bound` become
    closure names, each Through's arguments leading parameters named after it."""
    tree = nodes.copy(source.tree)
    taken = local_names(tree) | nodes.names_read(tree) | set(source.closure) | set(dir(builtins))
    prelifted, leading = {}, []
    for p, t in through.items():
        names_ = []
        for label, arg in t.passed():
            base = f"{p}_{arg.id}" if not label and isinstance(arg, gast.Name) else f"{p}_{label}"
            names_.append(nodes.unique_name(base, taken))
            leading.append(nodes.param(names_[-1]))
        it = iter(names_)
        prelifted[p] = Through(t.function, prefix=[nodes.name(next(it)) for _ in t.prefix],
                               suffix=[nodes.name(next(it)) for _ in t.suffix],
                               keywords={k: nodes.name(next(it)) for k in t.keywords})
    tree.args.args = leading + [a for a in tree.args.args if a.id not in gone]
    first_default = len(params) - len(source.tree.args.defaults)
    tree.args.defaults = [d for k, d in enumerate(tree.args.defaults, first_default) if params[k] not in gone]
    return parse.FunctionSource(
        tree=tree, filename=source.filename, globals=source.globals, closure={**source.closure, **bound},
        qualname=source.qualname, prelifted={**source.prelifted, **prelifted})


def _calls(node):
    return any(isinstance(n, gast.Call) for n in nodes.walk(node, contexts=False))


def _only_called(tree, param):
    """True when every read of `param` in `tree` calls it or passes it on as an argument."""
    calls = [n for n in nodes.walk(tree, contexts=False) if isinstance(n, gast.Call)]
    uses = {id(n.func) for n in calls} | {id(a) for n in calls for a in n.args}
    uses |= {id(k.value) for n in calls for k in n.keywords}
    return all(id(n) in uses for n in nodes.free_names(tree) if n.id == param and isinstance(n.ctx, gast.Load))


def _local_function(arg, scope):
    """The Through for a call argument that is a local def, a lambda or a functools.partial."""
    if isinstance(arg, gast.Name) and arg.id in scope.lifted:
        return scope.lifted[arg.id].copy()
    if isinstance(arg, gast.Call):
        return _partial(arg, scope)
    if not isinstance(arg, gast.Lambda) or id(arg) not in scope.lambdas:
        return None
    lam = scope.lambdas[id(arg)]
    a = lam.args
    if a.vararg or a.kwarg or a.posonlyargs or a.kwonlyargs or a.defaults:
        return None
    return _lifted(_lambda_def("lambda_", lam, getattr(arg, "lineno", None)), scope.source, scope.locals,
                   scope.lifted)


def _lambda_def(name, lam, lineno):
    """`def name(args): return body` of a lambda."""
    body = nodes.return_(lam.body)
    body.lineno = lineno
    inner = gast.FunctionDef(name=name, args=lam.args, body=[body], decorator_list=[], returns=None,
                             type_comment=None, type_params=[])
    inner.lineno = lineno
    return inner


def _partial(call, scope):
    """`functools.partial(f, a, b=c)` with `f` a function of this program: its Through."""
    try:
        if _static_value(call.func) is not functools.partial:
            return None
    except KeyError:
        return None
    if not call.args or any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    inner = _local_function(call.args[0], scope)
    if inner is None:
        value = _known_function(call.args[0])
        if not isinstance(value, types.FunctionType):
            return None
        callee = classify_value(value, _label(call.args[0]), scope.binder, scope.function_sources)
        if callee.kind != "user":
            return None
        inner = Through(callee.function, list(callee.prefix_args), [], dict(callee.keywords))
    return Through(inner.function, inner.prefix + call.args[1:], inner.suffix,
                   {**inner.keywords, **{k.arg: k.value for k in call.keywords}})


def _lifted(inner, source, outer_locals, outer_lifted):
    """`inner` (a def nested in `source`) as a function of its own: the outer locals it reads become
    extra parameters, the outer lifted functions it calls stay bound (what they need, outer names,
    passed on). Returns its Through."""
    own = local_names(inner)
    read = nodes.names_read(inner) - own
    inherited = {n: outer_lifted[n] for n in sorted(read) if n in outer_lifted and n != inner.name
                 and not any(a.id in own for _, a in outer_lifted[n].passed())}
    free = sorted((read & outer_locals) - {inner.name} - set(inherited))
    free += [a.id for t in inherited.values() for _, a in t.passed() if a.id not in free]
    for extra in free:
        inner.args.args.append(nodes.param(extra))
    inner.decorator_list = []
    lifted_source = parse.FunctionSource(
        tree=inner, filename=source.filename, globals=source.globals, closure=source.closure,
        qualname=f"{source.qualname}.<locals>.{inner.name}", prelifted=inherited)
    return Through(lifted_source, suffix=[nodes.name(v) for v in free])


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
        if inner.kind == "user" and not inner.prefix_args:
            _bind_self(inner, value.__self__, binder)
        elif inner.kind == "user":
            inner.prefix_args = [nodes.name(binder.bind("self", value.__self__))] + inner.prefix_args
        return inner
    if isinstance(value, types.FunctionType):
        module = getattr(value, "__module__", "") or ""
        if module == _ADJOINT_MODULE or not module.startswith(_LIBRARY_PREFIXES):
            return Callee("user", label, function=function_sources(value))
    call = getattr(type(value), "__call__", None)
    if isinstance(call, types.FunctionType) and not isinstance(value, type):
        return classify_value(value.__call__, label, binder, function_sources)     # layer(p, x)
    return Callee("opaque", label)


def _label(func):
    """`np.linalg.inv`, `x.sum`: how the user wrote the called name (for messages)."""
    if isinstance(func, gast.Name):
        return func.id
    if isinstance(func, gast.Attribute):
        return f"{_label(func.value)}.{func.attr}"
    if isinstance(func, gast.Call):
        return f"{_label(func.func)}(...)"
    if isinstance(func, gast.Subscript):
        return f"{_label(func.value)}[{nodes.to_source(func.slice)}]"
    return "<expression>"


def _lift_nested(source, outer_locals):
    """Move nested `def`s and named lambdas out of the function (whose locals are `outer_locals`);
    their free locals become extra parameters passed at each call.
    Returns {name: Through}."""
    fn = source.tree
    lifted = {}
    new_body = []
    for stmt in fn.body:
        inner = None
        if isinstance(stmt, gast.FunctionDef):
            inner = stmt
        elif (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
              and isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Lambda)):
            inner = _lambda_def(stmt.targets[0].id, stmt.value, stmt.lineno)
        if inner is None:
            new_body.append(stmt)
            continue
        lifted[inner.name] = _lifted(inner, source, outer_locals, {**source.prelifted, **lifted})
    fn.body = new_body
    return lifted
