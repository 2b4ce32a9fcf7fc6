"""The public transformations. Each returns a plain Python function carrying `__s2s__`,
the record of the generated module it runs, so transformations compose by reading it."""
import contextlib
import functools
import gc
import inspect
import threading
import types
from collections.abc import Callable

import numpy as np
from beartype import BeartypeConf, beartype

from .ast_passes import parse, reads, resolve
from .ast_passes.pipeline import Program
from .codegen import emit, module as modules, program_cache
from .runtime import primitives
from .runtime.primitives.adjoints import zeros_like_tree

_CONF = BeartypeConf(violation_param_type=TypeError, violation_return_type=TypeError)
checked = beartype(conf=_CONF)
ArgNums = int | tuple[int, ...]


@contextlib.contextmanager
def paused_gc():
    """No cyclic garbage collection inside the block: a transformation allocates many short-lived
    tree nodes, which makes Python run full collections of a heap that Numba and SciPy make large
    (0.08-0.1 s each); the nodes are freed by reference counting anyway."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Generated:
    """A generated module, built on first use: its source and its entry function.

    `key` names the transformation (JSON-able options) and `root`, the function it is applied to;
    with both, a later process loads the module from the program cache instead of running the
    passes (`codegen/program_cache.py`). `bound` holds the (args, kwargs) a `functools.partial`
    or a method passes in front of the caller's; `meta` what a build reports besides its entry."""

    def __init__(self, title, build, key=None, root=None):
        self.title = title
        self._build = build          # Program -> entry function name
        self._lock = threading.Lock()
        self.key, self.root = key, root
        self.module = None
        self.source = None
        self.entry = None
        self.meta = None
        self.bound = ((), {})

    def ensure(self):
        if self.module is None:
            with self._lock:
                if self.module is None:
                    self._load_or_build()
        return self

    def _load_or_build(self):
        key = program_cache.key_of(self.key, self.root) if self.key is not None else None
        found = program_cache.lookup(key, self.root) if key is not None else None
        if found is not None:
            self.module, self.source, self.entry, self.meta = found
            return
        with reads.recording() as read, paused_gc():
            program = Program()
            entry = self._build(program)
        text = emit.module_source(program.functions, self.title)
        namespace = {k: v for k, v in program.binder.values.items() if type(v) is not object}
        first = entry if isinstance(entry, str) else entry[0]
        label = first.split("_")[0]
        module = modules.load(text, namespace, label)
        if key is not None and not any(self.bound):
            program_cache.store(key, self.root, read, module, text, namespace, entry, label, self.meta)
        self.module, self.source, self.entry = module, text, entry

    @property
    def function(self):
        self.ensure()
        return getattr(self.module, self.entry)


def _source_of(fun):
    """(FunctionSource, positional args bound in front, keywords bound) for any callable."""
    if hasattr(fun, "__s2s__"):
        return parse.function(fun.__s2s__.function), (), {}
    if isinstance(fun, functools.partial):
        inner, args, kwargs = _source_of(fun.func)
        return inner, args + tuple(fun.args), {**kwargs, **fun.keywords}
    if isinstance(fun, types.MethodType):
        inner, args, kwargs = _source_of(fun.__func__)
        if not args and not kwargs and isinstance(fun.__func__, types.FunctionType):
            bound = resolve.bind_first_parameter(inner, fun.__self__)
            if bound is not None:       # `self` a known object: self.predict(...) resolves inside
                return bound, (), {}
        return inner, (fun.__self__,) + args, kwargs
    if isinstance(fun, types.FunctionType):
        return parse.function(fun), (), {}
    prim = primitives.lookup(fun)
    if prim is not None:
        return parse.function(_primitive_function(prim, fun)), (), {}
    raise TypeError(f"s2s can transform Python functions and NumPy functions it knows; got {fun!r}")


@functools.lru_cache(maxsize=None)
def _primitive_function(prim, impl):
    """A one-line Python function calling a primitive, so it can be transformed like user code."""
    params = [p.name for p in prim.signature.parameters.values()
              if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    name = getattr(impl, "__name__", prim.name)
    text = f"def {name}({', '.join(params)}):\n    return {prim.name}_impl({', '.join(params)})\n"
    module = modules.load(text, {f"{prim.name}_impl": impl}, "primitive")
    return getattr(module, name)


def _normalize_argnums(argnums):
    if isinstance(argnums, int):
        return (argnums,), False
    if not argnums:
        raise ValueError("argnums must name at least one argument")
    return tuple(argnums), True


def _wrap(generated, call, name, kind):
    """Attach the generated module record to the user-facing function."""
    call.__s2s__ = generated
    call.__name__ = f"{kind}_{name}"
    call.__qualname__ = call.__name__
    call.__doc__ = f"{kind} of {name}, generated by s2s; s2s.source(...) shows the code."
    return call


class _ArgNums(tuple):
    as_tuple = True


@checked
def grad(fun: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """Reverse-mode gradient of a scalar-valued function."""
    return _gradient(fun, argnums, has_aux, with_value=False)


@checked
def value_and_grad(fun: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """Like grad, but returns (value, gradient)."""
    return _gradient(fun, argnums, has_aux, with_value=True)


def _gradient(fun, argnums, has_aux, with_value):
    positions, as_tuple = _normalize_argnums(argnums)
    name = getattr(fun, "__name__", "fun")
    state = {}
    kind = "value_and_grad" if with_value else "grad"

    def make(n_args):
        """The generated module; for a `*args` function, one per number of positional arguments."""
        def build(program):
            source, bound, kwargs = _source_of(fun)
            record.bound = (bound, kwargs)
            if n_args is not None:
                source = parse.with_positional(source, len(bound) + n_args - len(source.tree.args.args))
            shifted = tuple(p + len(bound) for p in positions)
            if as_tuple:
                shifted = _ArgNums(shifted)
            return program.grad_function(source, shifted, has_aux=has_aux, with_value=with_value)

        key = [kind, list(positions), as_tuple, has_aux] + ([n_args] if n_args is not None else [])
        record = Generated(f"{kind} of {name}", build, key=key, root=fun)
        return record

    generated = make(None)
    by_arity = {}

    def call(*args, **kwargs):
        record = generated
        if state.setdefault("varargs", _takes_varargs(fun)):
            if len(args) not in by_arity:
                by_arity[len(args)] = (make(len(args)), {})
            record, cache = by_arity[len(args)]
            call.__s2s__ = record                   # source() shows the last one called
        else:
            cache = state
        fn = cache.get("function") or cache.setdefault("function", record.function)
        for p in positions:
            if p >= len(args):
                raise TypeError(f"{kind} of {name}: argnums={argnums} but only {len(args)} positional "
                                "argument(s) were given")
            _check_differentiable(args[p], p, kind)
        bound, bound_kwargs = record.bound
        if bound or bound_kwargs:
            result = fn(*bound, *args, **bound_kwargs, **kwargs)
        else:
            result = fn(*args, **kwargs)
        return _owned(result)

    return _wrap(generated, call, name, kind)


def _takes_varargs(fun):
    """Whether `fun` (as s2s reads it) has a `*args` parameter."""
    try:
        source = _source_of(fun)[0]
    except Exception:          # not readable here: the transformation itself reports it
        return False
    return source.tree.args.vararg is not None and source.tree.args.kwarg is None


def _check_differentiable(value, position, kind):
    """TypeError for integer (or other non-float) inputs that are differentiated."""
    if type(value) is float:
        return
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        if value.dtype.kind in "fc":
            return
        raise TypeError(f"{kind} requires real or complex floating-point inputs; argument {position} "
                        f"has dtype {value.dtype}. Convert it, e.g. x.astype(np.float64)")
    if isinstance(value, (bool, int)):
        raise TypeError(f"{kind} requires floating-point inputs; argument {position} is the integer "
                        f"{value!r}. Pass a float instead, e.g. {float(value)!r}")
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_differentiable(item, position, kind)
    elif isinstance(value, dict):
        for item in value.values():
            _check_differentiable(item, position, kind)


def _owned(result):
    """Results the caller may write to: read-only views (from broadcasting) are copied."""
    if type(result) is np.ndarray:
        return result if result.flags.writeable else result.copy()
    if type(result) is tuple:
        return tuple(_owned(r) for r in result)
    if type(result) is list:
        return [_owned(r) for r in result]
    if type(result) is dict:
        return {k: _owned(v) for k, v in result.items()}
    return result


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """(out, vjp_fun[, aux]): vjp_fun(cotangent) returns one cotangent per primal."""
    if not callable(fun):
        raise TypeError(f"vjp needs a callable as its first argument, got {fun!r}")
    if not isinstance(has_aux, bool):
        raise TypeError("has_aux must be True or False")
    generated = _pair(fun, len(primals))
    module = generated.ensure().module
    forward = getattr(module, generated.entry[0])
    backward = getattr(module, generated.entry[1])
    bound, kwargs = generated.bound
    out, saved = forward(*bound, *primals, **kwargs)
    aux = None
    if has_aux:
        out, aux = out

    def vjp_fun(cotangent):
        if has_aux:
            cotangent = (cotangent, zeros_like_tree(aux))
        bars = backward(saved, cotangent)
        bars = bars if len(bound) + len(primals) > 1 else (bars,)
        return _owned(tuple(bars[len(bound):]))

    vjp_fun.__s2s__ = generated
    return (out, vjp_fun, aux) if has_aux else (out, vjp_fun)


class _Pair(Generated):
    @property
    def function(self):
        self.ensure()
        return getattr(self.module, self.entry[0])


def _pair(fun, n_primals):
    cache = _pair_cache.setdefault(id(fun), {})
    if n_primals in cache and cache[n_primals][0] is fun:
        return cache[n_primals][1]

    def build(program):
        source, bound, kwargs = _source_of(fun)
        generated.bound = (bound, kwargs)
        source = parse.with_positional(source, len(bound) + n_primals - len(source.tree.args.args))   # *args
        n_params = len(source.tree.args.args)
        if len(bound) + n_primals > n_params:
            raise TypeError(f"vjp: {source.qualname or source.name} takes {n_params} argument(s), "
                            f"got {len(bound) + n_primals}")
        # parameters after the primals keep their defaults (or the partial's keywords): not differentiated
        mask = tuple([False] * len(bound) + [True] * n_primals + [False] * (n_params - len(bound) - n_primals))
        return program.reverse_pair(source, mask)

    generated = _Pair(f"vjp of {getattr(fun, '__name__', 'fun')}", build, key=["vjp", n_primals], root=fun)
    cache[n_primals] = (fun, generated)
    return generated


_pair_cache = {}


def source(transformed) -> str:
    """The generated Python source that a transformed function runs."""
    record = getattr(transformed, "__s2s__", None)
    if record is None:
        raise TypeError(f"source() takes a function returned by an s2s transformation, got {transformed!r}")
    record.ensure()
    return record.source


# inside transformed code, `grad/value_and_grad(f)(x)` is made when transforming (ast_passes/inline.py)
grad.__s2s_curried__ = True
value_and_grad.__s2s_curried__ = True
