"""Forward mode and Jacobians: `jvp`, `jacfwd`, `jacrev`, `hessian`.

`jvp` runs `jvp_f`, the forward-mode function s2s generates for `f`. The Jacobian functions are
generated Python too (`jacfwd_f` pushes one basis tangent per input element through `jvp_f`,
`jacrev_f` one basis cotangent per output element through the reverse pair), so they compose
with every transformation by being read back, like any function s2s generated.
"""
from collections.abc import Callable

import gast
import numpy as np

from .errors import TransformError
from .api import ArgNums, Generated, _check_differentiable, _owned, _source_of, _wrap, checked
from .ast_passes import nodes
from .runtime import primitives
from .runtime.primitives import jacobian as _jacobian_rules
from .runtime.pytree import tree_flatten

# The Jacobian helpers are called by emitted code and named by rule templates.
primitives.TEMPLATE_NAMESPACE.update(_jacobian_rules.HELPERS)


# -- jvp ----------------------------------------------------------------------------------------
class _Jvp(Generated):
    """The module holding `jvp_f` for `fun` called with `n` primals; `parts` says how to call it."""

    def __init__(self, fun, n):
        self.fun, self.n = fun, n
        super().__init__(f"jvp of {getattr(fun, '__name__', 'fun')}", self._build_jvp, key=["jvp", n], root=fun)

    def _build_jvp(self, program):
        source, bound, kwargs = _source_of(self.fun)
        n_params = len(source.tree.args.args)
        if len(bound) + self.n > n_params:
            raise TypeError(f"jvp: {source.name} takes {n_params - len(bound)} argument(s), "
                            f"got {self.n} primals")
        mask = (False,) * len(bound) + (True,) * self.n + (False,) * (n_params - len(bound) - self.n)
        name, dots, _ = program.jvp_function(source, mask, callee=False)
        self.bound = (tuple(bound), dict(kwargs))
        self.meta = [list(dots), n_params]
        return name

    @property
    def parts(self):
        """(bound args, bound keywords, tangent parameter names, number of parameters)."""
        dots, n_params = self.meta
        return self.bound[0], self.bound[1], tuple(dots), n_params


_jvp_cache = {}


def _jvp_record(fun, n):
    key = (id(fun), n)
    cached = _jvp_cache.get(key)
    if cached is None or cached[0] is not fun:
        cached = _jvp_cache[key] = (fun, _Jvp(fun, n))
    return cached[1].ensure()


@checked
def jvp(fun: Callable, primals: tuple | list, tangents: tuple | list) -> tuple:
    """Forward mode: `(fun(*primals), tangent of the result along tangents)`."""
    tangents = _matching_tangents(primals, tangents)
    record = _jvp_record(fun, len(primals))
    bound, kwargs, dots, _ = record.parts
    out, out_dot = record.function(*bound, *primals, **kwargs, **dict(zip(dots, tangents)))
    return _owned(out), _owned(out_dot)


def _inline_jvp(call, static, bind):
    """`jvp(g, (x, y), (dx, dy))` inside transformed code -> `jvp_g(x, y, dx, dy)`."""
    if len(call.args) != 3 or call.keywords:
        raise TypeError("jvp inside a transformed function takes exactly (fun, primals, tangents)")
    fun = static(call.args[0])
    primals, tangents = call.args[1], call.args[2]
    if not (isinstance(primals, (gast.Tuple, gast.List)) and isinstance(tangents, (gast.Tuple, gast.List))):
        raise TypeError("jvp inside a transformed function needs primals and tangents written as "
                        "tuples, e.g. jvp(f, (x,), (v,))")
    if len(primals.elts) != len(tangents.elts):
        raise ValueError(f"jvp: {len(primals.elts)} primals but {len(tangents.elts)} tangents")
    record = _jvp_record(fun, len(primals.elts))
    bound, kwargs, dots, n_params = record.parts
    function = record.function
    args = [bind(v, "bound") for v in bound] + list(primals.elts)
    keywords = {k: bind(v, k) for k, v in kwargs.items()}
    if not keywords and len(bound) + len(primals.elts) == n_params:
        args += list(tangents.elts)
    else:
        keywords.update(zip(dots, tangents.elts))
    return nodes.call(bind(function, function.__name__), args, keywords)


jvp.__s2s_inline__ = _inline_jvp


def _matching_tangents(primals, tangents):
    """`tangents`, checked against `primals` (integer primals get zero tangents)."""
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primal(s) but {len(tangents)} tangent(s); "
                         "give one tangent per primal")
    out = []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        p_leaves, p_def = tree_flatten(p)
        t_leaves, t_def = tree_flatten(t)
        if p_def != t_def:
            raise ValueError(f"jvp: tangent {i} has structure {t_def} but primal {i} has {p_def}; "
                             "tangents must have the primals' structure")
        for leaf, tangent in zip(p_leaves, t_leaves):
            if np.shape(leaf) != np.shape(tangent):
                raise ValueError(f"jvp: a tangent of shape {np.shape(tangent)} was given for a primal of "
                                 f"shape {np.shape(leaf)} (argument {i}); shapes must match")
            p_dtype, t_dtype = np.result_type(leaf), np.result_type(tangent)
            if np.issubdtype(p_dtype, np.inexact):
                if p_dtype != t_dtype:
                    raise TypeError(f"jvp: a tangent of dtype {t_dtype} was given for a primal of dtype "
                                    f"{p_dtype} (argument {i}); dtypes must match")
            elif np.any(np.asarray(tangent) != 0):
                raise TypeError(f"jvp: argument {i} has integer dtype {p_dtype}, so its tangent must be "
                                "zero; pass a float primal to differentiate along it")
        out.append(t if all(np.issubdtype(np.result_type(x), np.inexact) for x in p_leaves)
                   else _zero_integer_tangents(p, t))
    return out


def _zero_integer_tangents(primal, tangent):
    if isinstance(primal, (list, tuple)):
        return type(primal)(_zero_integer_tangents(p, t) for p, t in zip(primal, tangent))
    if isinstance(primal, dict):
        return {k: _zero_integer_tangents(primal[k], tangent[k]) for k in primal}
    if primal is None or np.issubdtype(np.result_type(primal), np.inexact):
        return tangent
    return np.zeros(np.shape(primal)) if np.ndim(primal) else 0.0


# -- Jacobians ----------------------------------------------------------------------------------
@checked
def jacfwd(fun: Callable, argnums: ArgNums = 0) -> Callable:
    """Jacobian by forward mode (one jvp per input element), shape `out.shape + in.shape`."""
    return _jacobian(fun, argnums, "fwd", "jacfwd")


@checked
def jacrev(fun: Callable, argnums: ArgNums = 0) -> Callable:
    """Jacobian by reverse mode (one vjp per output element), shape `out.shape + in.shape`."""
    return _jacobian(fun, argnums, "rev", "jacrev")


@checked
def hessian(fun: Callable, argnums: ArgNums = 0) -> Callable:
    """`jacfwd(jacrev(fun, argnums), argnums)`: forward over reverse."""
    from .api import grad
    # for a scalar `fun` (the usual case) jacfwd of grad is the same Hessian, batched in one vmap
    fast_inner = grad(fun, argnums) if isinstance(argnums, int) else None
    return _jacobian(jacrev(fun, argnums), argnums, "fwd", "hessian", name=getattr(fun, "__name__", "fun"),
                     fast_inner=fast_inner)


def _jacobian(fun, argnums, mode, kind, name=None, fast_inner=None):
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not positions:
        raise ValueError("argnums must name at least one argument")
    if len(set(positions)) != len(positions):
        raise ValueError(f"argnums {argnums} names an argument twice")
    name = name or getattr(fun, "__name__", "fun")

    def build(program):
        source, bound, kwargs = _source_of(fun)
        return program.jacobian_function(source, argnums, mode, bound=bound, keywords=kwargs,
                                         kind=None if kind in ("jacfwd", "jacrev") else f"{kind}_{name}")

    generated = Generated(f"{kind} of {name}", build, key=["jacobian", repr(argnums), mode, kind, name], root=fun)
    batched = None
    if isinstance(argnums, int):
        batched = (_BatchedJacfwd(fast_inner or fun, argnums, name, kind) if mode == "fwd"
                   else _BatchedJacrev(fun, argnums, name, kind))

    def check(args):
        for p in positions:
            if p >= len(args):
                raise TypeError(f"{kind} of {name}: argnums={argnums} but only {len(args)} positional "
                                "argument(s) were given")
            _check_differentiable(args[p], p, kind)

    def call(*args, **kwargs):
        check(args)
        if batched is not None and not kwargs and batched.applies(args):
            result = batched(*args)
            if result is not None:
                return _owned(result)
        return _owned(generated.function(*args, **kwargs))

    def generated_only(*args, **kwargs):
        check(args)
        return _owned(generated.function(*args, **kwargs))

    call = _wrap(generated, call, name, kind)
    call.__s2s_batched__ = batched
    # the generated code alone (what jit compiles): jit answers with it while compiling, rather
    # than also generating the batched version for a few NumPy calls
    call.__s2s_unbatched__ = generated_only
    return call


class _BatchedJacfwd:
    """jacfwd pushing the whole basis through one `vmap`ped jvp, for an array input and an
    array output (the common case; other pytrees use the per-basis-vector code)."""

    def __init__(self, fun, argnum, name, kind):
        self.fun, self.argnum, self.name, self.kind = fun, argnum, name, kind
        self.entry = None
        self.failed = False

    def applies(self, args):
        x = args[self.argnum]
        return not self.failed and (type(x) is float or type(x) is np.ndarray)

    def __call__(self, *args):
        try:
            if self.entry is None:
                self.entry = self._build(len(args))
            return self.entry(*args)
        except (TransformError, TypeError, ValueError):
            # vmap cannot batch this function (or, for hessian, it is not scalar-valued):
            # the per-basis-vector code gives the answer or the user's error
            self.failed = True
            return None

    def _build(self, n_args):
        from .vmap import vmap
        source, bound, kwargs = _source_of(self.fun)
        if bound or kwargs:
            raise TypeError("partial functions use the basis loop")
        params = [a.id for a in source.tree.args.args]
        if n_args != len(params):
            raise TypeError("defaults use the basis loop")
        mask = tuple(i == self.argnum for i in range(len(params)))
        record = _JvpAlong(self.fun, mask).ensure()
        jvp_fn = record.function
        in_axes = (None,) * len(params) + (0,)
        batched_jvp = vmap(jvp_fn, in_axes=in_axes, out_axes=0)
        from .runtime.primitives.adjoints import jacobian_from_batched_columns, unit_basis
        x_index = self.argnum

        def entry(*args):
            outs, columns = batched_jvp(*args, unit_basis(args[x_index]))
            if type(outs) is not np.ndarray or type(columns) is not np.ndarray:
                self.failed = True      # a pytree result: the basis loop handles it
                return None
            return jacobian_from_batched_columns(columns, outs[0], args[x_index])

        return entry


class _BatchedJacrev(_BatchedJacfwd):
    """jacrev pulling every unit cotangent of the output back through one `vmap`ped
    backward sweep, for an array input and an array output."""

    def _build(self, n_args):
        from .api import _pair
        from .vmap import vmap
        from .runtime.primitives.adjoints import unit_basis
        record = _pair(self.fun, n_args).ensure()
        bound, kwargs = record.bound
        if bound or kwargs:
            raise TypeError("partial functions use the basis loop")
        forward = getattr(record.module, record.entry[0])
        backward = getattr(record.module, record.entry[1])
        pullback = vmap(backward, in_axes=(None, 0))
        x_index = self.argnum

        def entry(*args):
            out, saved = forward(*args)
            if type(out) is not np.ndarray and type(out) not in (float, np.float64, np.float32):
                self.failed = True      # a pytree result: the basis loop handles it
                return None
            rows = pullback(saved, unit_basis(out))
            rows = rows[x_index] if n_args > 1 else rows
            if type(rows) is not np.ndarray:
                self.failed = True
                return None
            x = args[x_index]
            return np.reshape(rows, np.shape(out) + np.shape(x))

        return entry


class _JvpAlong(Generated):
    """`jvp_f(params..., tangent)` with tangents for the parameters in `mask` only."""

    def __init__(self, fun, mask):
        self.fun, self.mask = fun, mask
        super().__init__(f"jvp of {getattr(fun, '__name__', 'fun')}", self._build_jvp,
                         key=["jvp along", list(mask)], root=fun)

    def _build_jvp(self, program):
        source, _, _ = _source_of(self.fun)
        name, _, _ = program.jvp_function(source, self.mask, callee=False)
        return name


# inside transformed code, `jacfwd/jacrev/hessian(f)(x)` is made when transforming (ast_passes/inline.py)
jacfwd.__s2s_curried__ = True
jacrev.__s2s_curried__ = True
hessian.__s2s_curried__ = True
