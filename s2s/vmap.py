"""`vmap`: the vectorizing map, by rewriting a function's source to run on a whole batch."""
import inspect
from collections.abc import Callable

import numpy as np

from .api import Generated, _owned, _source_of, _wrap, checked


@checked
def vmap(fun: Callable, in_axes: object = 0, out_axes: object = 0) -> Callable:
    """Map `fun` over an axis of its arguments: `in_axes` (int, None, or a tuple/pytree of them,
    one entry per argument) picks the axis of each argument, `out_axes` that of each result."""
    _check_axes_type(in_axes, "in_axes")
    _check_axes_type(out_axes, "out_axes")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if isinstance(in_axes, dict):
        raise ValueError("vmap in_axes must be an int, None, or a tuple with one entry per argument; "
                         "wrap a dict of axes in a tuple: in_axes=({...},)")
    name = getattr(fun, "__name__", "fun")
    variants = {}

    def variant(n_args, axes, kinds):
        key = (n_args, _freeze(axes), kinds)
        if key not in variants and n_args is not None and default.module is not None \
                and default.meta == repr(key):
            variants[key] = default         # what the default variant resolved to (jit builds it first)
        if key not in variants:
            generated = Generated(f"vmap of {name}", lambda program: build(generated, program, n_args, axes, kinds),
                                  key=["vmap", n_args, repr(in_axes), repr(axes), repr(kinds), repr(out_axes)],
                                  root=fun)
            variants[key] = generated
        return variants[key]

    def build(generated, program, n_args, axes, kinds):
        source, bound, kwargs = _source_of(fun)
        generated.bound = (bound, kwargs)
        params = [a.id for a in source.tree.args.args]
        free = len(params) - len(bound)
        if n_args is None:         # the default variant: every parameter given, array arguments
            n_args = free
            axes = _per_argument(in_axes, n_args)
            kinds = tuple(None if a is None else "dict" if isinstance(a, dict) else
                          "tree" if isinstance(a, (tuple, list)) else "array" for a in axes)
            generated.meta = repr((n_args, _freeze(axes), kinds))
        if n_args > free:
            raise TypeError(f"vmap of {name}: {free} positional argument(s) expected, got {n_args}")
        param_axes = [None] * len(bound) + list(axes) + [None] * (free - n_args)
        param_kinds = [None] * len(bound) + list(kinds) + [None] * (free - n_args)
        if all(a is None for a in param_axes):
            raise ValueError("vmap needs at least one argument to map over: in_axes is None for all of them")
        return program.vmap_function(source, param_axes, out_axes, param_kinds)

    default = variant(None, None, None)

    def variant_for(args):
        """The generated variant that runs these arguments (jit specializes it)."""
        axes = _per_argument(in_axes, len(args))
        _check_sizes(args, axes, fun)
        kinds = tuple(None if a is None else "dict" if isinstance(x, dict) else
                      "tree" if isinstance(x, (tuple, list)) or isinstance(a, (tuple, list, dict)) else "array"
                      for x, a in zip(args, axes))
        return variant(len(args), axes, kinds)

    def call(*args, **kwargs):
        if kwargs:
            raise TypeError(f"vmap of {name}: pass the mapped arguments positionally "
                            f"(got keyword arguments {', '.join(sorted(kwargs))})")
        generated = variant_for(args)
        fn = generated.function
        bound, bound_kwargs = generated.bound
        result = fn(*bound, *args, **bound_kwargs)
        return _owned(result)

    call = _wrap(default, call, name, "vmap")
    call.__s2s_variant__ = variant_for
    return call


def _check_axes_type(axes, what):
    if axes is None or (isinstance(axes, int) and not isinstance(axes, bool)):
        return
    if isinstance(axes, (tuple, list)):
        for a in axes:
            _check_axes_type(a, what)
        return
    if isinstance(axes, dict):
        for a in axes.values():
            _check_axes_type(a, what)
        return
    raise TypeError(f"vmap {what} must be an int, None, or a tuple/list/dict of them; got {axes!r}")


def _per_argument(in_axes, n_args):
    """One axis spec per positional argument."""
    if not isinstance(in_axes, tuple):
        return (in_axes,) * n_args
    if len(in_axes) != n_args:
        raise ValueError(f"vmap in_axes has {len(in_axes)} entries but the function was called with "
                         f"{n_args} positional argument(s); give one entry per argument")
    return in_axes


def _argument_names(fun, n):
    try:
        params = [p.name for p in inspect.signature(fun).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [f"argument {k} ({params[k]})" if k < len(params) else f"argument {k}" for k in range(n)]


def _leaves_with_axes(value, axes, where):
    """(path, leaf, axis) for every leaf of `value`, `axes` being a prefix tree of it."""
    if axes is None or isinstance(axes, int):
        if isinstance(value, (tuple, list)):
            out = []
            for k, item in enumerate(value):
                out += _leaves_with_axes(item, axes, f"{where}[{k}]")
            return out
        if isinstance(value, dict):
            out = []
            for key in sorted(value):
                out += _leaves_with_axes(value[key], axes, f"{where}[{key!r}]")
            return out
        if value is None:
            return []
        return [(where, value, axes)]
    if isinstance(axes, dict):
        if not isinstance(value, dict) or set(value) != set(axes):
            raise ValueError(f"vmap in_axes for {where} is a dict with keys {sorted(axes)}, but the argument "
                             f"is {_describe(value)}")
        out = []
        for key in sorted(value):
            out += _leaves_with_axes(value[key], axes[key], f"{where}[{key!r}]")
        return out
    if not isinstance(value, (tuple, list)) or len(value) != len(axes):
        raise ValueError(f"vmap in_axes for {where} is a {type(axes).__name__} of {len(axes)} entries, but "
                         f"the argument is {_describe(value)}")
    out = []
    for k, (item, sub) in enumerate(zip(value, axes)):
        out += _leaves_with_axes(item, sub, f"{where}[{k}]")
    return out


def _describe(value):
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"an array of shape {np.shape(value)}"


def _check_sizes(args, axes, fun):
    """ValueError for axes out of range and batch sizes that differ (naming the arguments)."""
    sizes = []
    for k, (arg, spec) in enumerate(zip(args, axes)):
        if spec is None:
            continue
        if isinstance(spec, int) and not isinstance(arg, (tuple, list, dict)):
            ndim = np.ndim(arg)
            if -ndim <= spec < ndim:
                sizes.append((k, np.shape(arg)[spec], spec))
                continue
        where = _argument_names(fun, len(args))[k]
        for path, leaf, axis in _leaves_with_axes(arg, spec, where):
            if axis is None:
                continue
            ndim = np.ndim(leaf)
            if not -ndim <= axis < ndim:
                raise ValueError(f"vmap in_axes={axis} is out of range for {path} of shape {np.shape(leaf)} "
                                 f"(rank {ndim})")
            sizes.append((path, np.shape(leaf)[axis], axis))
    if not sizes:
        raise ValueError("vmap needs at least one argument to map over: in_axes is None for all of them")
    if len({s for _, s, _ in sizes}) > 1:
        names = _argument_names(fun, len(args))
        listed = ", ".join(f"{names[path] if isinstance(path, int) else path} has size {size} along axis {axis}"
                           for path, size, axis in sizes)
        raise ValueError(f"vmap got inconsistent batch sizes: {listed}")


def _freeze(axes):
    if isinstance(axes, (tuple, list)):
        return tuple(_freeze(a) for a in axes)
    if isinstance(axes, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in axes.items()))
    return axes


# inside transformed code, `vmap(f)(x)` is made when transforming (ast_passes/inline.py)
vmap.__s2s_curried__ = True
