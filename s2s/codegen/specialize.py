"""Specialize a function for one set of argument types: partial evaluation of its normalized
source, leaving residual code (`residual.py`) that Numba (or a CUDA driver) compiles.

Shapes, dtypes and pytree structures are known, so everything that depends only on them is
computed here: `np.shape`, `isinstance`, the branches of `unbroadcast`, loops over the layers
of a params list, tapes of values that are `None` in the first iteration. What depends on
values stays: arithmetic, and Python `if`/`for`/`while` on values, which remain branches and
loops (a loop is unrolled only when its body needs its index to be known, e.g. to pick a
layer out of a list of differently shaped arrays).

User functions, generated callees and the rule helpers of `adjoints.py` are inlined; the
primitives of the rule table are lowered to residual operations. What has no lowering raises
`TransformError` at the user's line.
"""
import ast
import builtins
import functools
import inspect
import linecache
import operator
import os
import textwrap
import types
import warnings

import gast
import numpy as np
import scipy.special

from ..ast_passes import normalize, parse
from ..ast_passes.pipeline import Program, prepare
from ..errors import TransformError
from ..runtime import primitives
from ..runtime.primitives import adjoints, jacobian
from .residual import (Append, Assign, Break, Const, Dyn, DynSlice, E, For, If, Return, SetItem, Ty,
                       While, prune, ty_of)

UNROLL_LIMIT = 4096          # statically known trip counts up to this may be unrolled
INLINE_DEPTH = 64            # deeper inlining means recursion on a run-time value
STATIC_ARRAY_LIMIT = 1024    # bigger arrays built from constants are created at run time


# -- abstract values besides Dyn -----------------------------------------------------------------
class SList(list):
    """A Python list whose structure is known; `depth` is the loop-mode depth it was made at."""

    def __init__(self, items=(), depth=0, tag=None):
        super().__init__(items)
        self.depth = depth
        self.tag = tag if tag is not None else object()


class DynList:
    """A residual list (a tape kept by a compiled loop): elements share one template."""

    def __init__(self, name, tag, length):
        self.name = name
        self.tag = tag
        self.length = length        # int when known, else None

    def __repr__(self):
        return f"<list {self.name} len={self.length}>"


class DynRange:
    """range(start, stop, step) with run-time bounds (atoms: Dyn or int)."""

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step


class _Missing:
    def __repr__(self):
        return "<no items yet>"


NO_ITEMS = _Missing()


class _Undefined:
    def __repr__(self):
        return "<undefined>"


UNDEFINED = _Undefined()


class MethodRef:
    """`x.sum` on a run-time value: called later with the arguments."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name


# -- internal control signals --------------------------------------------------------------------
class NeedUnroll(Exception):
    """A loop body needs its index (or its carried values) known: unroll it if possible."""


class NeedDynList(Exception):
    """A list made outside a compiled loop is appended to or popped inside it."""

    def __init__(self, lst):
        super().__init__("list mutated in a loop")
        self.lst = lst


class JoinError(Exception):
    """Two values that meet after a branch or a loop iteration cannot share one type."""


class _Return(Exception):
    def __init__(self, value):
        self.value = value


# -- helpers on abstract values ------------------------------------------------------------------
_PLAIN = frozenset({int, float, bool, complex, str, type(None)})     # neither run-time nor containers
_RUN_TIME = frozenset({Dyn, DynList, DynRange, DynSlice, Ty, MethodRef})


def has_dyn(value):
    kind = type(value)
    if kind in _PLAIN:
        return False
    if kind in _RUN_TIME:
        return True
    if kind is tuple or kind is list or kind is SList:
        for v in value:
            if has_dyn(v):
                return True
        return False
    if isinstance(value, (Dyn, DynList, DynRange, DynSlice, Ty, MethodRef)):
        return True
    if isinstance(value, (tuple, list)):
        return any(has_dyn(v) for v in value)
    if isinstance(value, dict):
        return any(has_dyn(v) for v in value.values())
    if isinstance(value, slice):
        return has_dyn(value.start) or has_dyn(value.stop) or has_dyn(value.step)
    return False


def copy_value(value, memo):
    """Copy the mutable structure of an abstract value (lists, dicts), sharing leaves."""
    if type(value) in _PLAIN or type(value) is Dyn:
        return value
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, SList):
        out = SList((), value.depth, value.tag)
        memo[key] = out
        out.extend(copy_value(v, memo) for v in value)
        return out
    if isinstance(value, DynList):
        out = DynList(value.name, value.tag, value.length)
        out.delta = getattr(value, "delta", None)
        memo[key] = out
        return out
    if isinstance(value, list):
        out = []
        memo[key] = out
        out.extend(copy_value(v, memo) for v in value)
        return out
    if isinstance(value, dict):
        out = {}
        memo[key] = out
        for k, v in value.items():
            out[k] = copy_value(v, memo)
        return out
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(copy_value(v, memo) for v in value)
    return value


def copy_env(env, memo=None):
    memo = {} if memo is None else memo
    return {k: copy_value(v, memo) for k, v in env.items()}


def static_equal(a, b):
    if a is b:
        return True
    if isinstance(a, Dyn) or isinstance(b, Dyn):
        return isinstance(a, Dyn) and isinstance(b, Dyn) and a.name == b.name and a.ty == b.ty
    if isinstance(a, DynList) or isinstance(b, DynList):
        return isinstance(a, DynList) and isinstance(b, DynList) and a.tag is b.tag and a.length == b.length
    if isinstance(a, Ty) or isinstance(b, Ty):
        return isinstance(a, Ty) and isinstance(b, Ty) and a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, SList) and a.tag is not b.tag:
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(static_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(static_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


def _number(value):
    return isinstance(value, (bool, int, float, complex, np.number, np.bool_)) and not isinstance(value, np.ndarray)


def join_ty(a, b):
    """One type for two run-time values that meet (a variable assigned in both branches)."""
    if a == b:
        return a
    if a.is_array != b.is_array and (a.shape == () or b.shape == ()):
        scalar = b if a.is_array else a
        return join_ty(Ty(a.dtype, None, scalar.pytype), Ty(b.dtype, None, scalar.pytype))
    if a.is_array != b.is_array:
        array, scalar = (a, b) if a.is_array else (b, a)
        raise JoinError(f"an array of shape {array.shape} on one path and a {scalar.pytype.__name__} on "
                        "the other")
    dtype = np.promote_types(a.dtype, b.dtype)
    if not a.is_array:
        if a.pytype in (bool, int, float, complex) and b.pytype in (bool, int, float, complex):
            pytype = {"b": bool, "i": int, "u": int, "f": float, "c": complex}[dtype.kind]
        else:
            pytype = dtype.type
        return Ty(dtype, None, pytype)
    if a.ndim != b.ndim:
        raise JoinError(f"an array of {a.ndim} dimensions on one path and of {b.ndim} on the other")
    shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
    layout = a.layout if a.layout == b.layout else "A"
    return Ty(dtype, shape, np.ndarray, layout)


def ty_of_static(value):
    if isinstance(value, np.ndarray):
        return Ty(value.dtype, value.shape, np.ndarray, "C")
    return ty_of(value)


def template(value):
    """`value` with every run-time leaf replaced by its type."""
    if isinstance(value, Dyn):
        return value.ty
    if isinstance(value, SList):
        return SList([template(v) for v in value], value.depth, value.tag)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(template(v) for v in value)
    return value


def join(a, b):
    """Template (Ty leaves) of the value a variable holds after paths giving `a` or `b` meet."""
    if a is UNDEFINED:
        return template(b)
    if b is UNDEFINED:
        return template(a)
    if isinstance(a, (Dyn, Ty)) or isinstance(b, (Dyn, Ty)):
        ta = a.ty if isinstance(a, Dyn) else a
        tb = b.ty if isinstance(b, Dyn) else b
        if ta is None:                # None placeholder meets a run-time value
            return tb if isinstance(tb, Ty) else _static_ty(tb, a, b)
        if tb is None:
            return ta if isinstance(ta, Ty) else _static_ty(ta, a, b)
        return join_ty(_static_ty(ta, a, b), _static_ty(tb, a, b))
    if static_equal(a, b):
        return a
    if _number(a) and _number(b):
        return join_ty(ty_of_static(a), ty_of_static(b))
    if isinstance(a, SList) and isinstance(b, SList) and a.tag is b.tag and len(a) == len(b):
        return SList([join(x, y) for x, y in zip(a, b)], a.depth, a.tag)
    if isinstance(a, tuple) and isinstance(b, tuple) and not hasattr(a, "_fields") and len(a) == len(b):
        return tuple(join(x, y) for x, y in zip(a, b))
    if isinstance(a, DynList) and isinstance(b, DynList) and a.tag is b.tag:
        out = DynList(a.name, a.tag, a.length if a.length == b.length else None)
        da, db = getattr(a, "delta", None), getattr(b, "delta", None)
        out.delta = da if da == db else None
        return out
    if a is None and (isinstance(b, np.ndarray) or _number(b)) or \
            b is None and (isinstance(a, np.ndarray) or _number(a)):
        return ty_of_static(a if b is None else b)      # None is a placeholder never read
    raise JoinError(f"{_describe(a)} and {_describe(b)}")


def _static_ty(t, a, b):
    if isinstance(t, Ty):
        return t
    if _number(t) or isinstance(t, np.ndarray):
        return ty_of_static(t)
    raise JoinError(f"{_describe(a)} and {_describe(b)}")


def _describe(value):
    if isinstance(value, Dyn):
        t = value.ty
        return f"an array of shape {t.shape}" if t.is_array else f"a {t.pytype.__name__}"
    if isinstance(value, Ty):
        return f"an array of shape {value.shape}" if value.is_array else f"a {value.pytype.__name__}"
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return repr(value)[:40]


def leaves_of(value, out):
    """Run-time leaves of an abstract value, in order."""
    if isinstance(value, Dyn):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            leaves_of(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            leaves_of(v, out)
    return out


# -- lowering rules (filled by `lowering.py`): primitive name -> rule(spec, slots, impl, hint) -------
RULES = {}
SPECIAL = {}          # id(python function) -> rule(spec, args, kwargs), used instead of inlining it


# -- NumPy functions by primitive name, for type rules ------------------------------------------
UNARY = {"exp", "log", "log1p", "expm1", "sqrt", "square", "sin", "cos", "tan", "tanh", "sinh", "cosh",
         "arctan", "arcsin", "arccos", "absolute", "expit", "sign", "floor", "ceil", "rint", "trunc",
         "isnan", "isinf", "isfinite", "negative", "positive", "logical_not", "invert", "round"}
BINARY = {"add", "subtract", "multiply", "divide", "power", "mod", "floor_divide", "less", "less_equal",
          "greater", "greater_equal", "equal", "not_equal", "logical_and", "logical_or", "bitwise_and",
          "bitwise_or", "bitwise_xor", "maximum", "minimum", "arctan2", "builtin_max", "builtin_min",
          "logaddexp"}
UFUNC = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide,
         "power": np.power, "mod": np.mod, "floor_divide": np.floor_divide, "less": np.less,
         "less_equal": np.less_equal, "greater": np.greater, "greater_equal": np.greater_equal,
         "equal": np.equal, "not_equal": np.not_equal, "logical_and": np.logical_and,
         "logical_or": np.logical_or, "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
         "bitwise_xor": np.bitwise_xor, "maximum": np.maximum, "minimum": np.minimum,
         "arctan2": np.arctan2, "builtin_max": np.maximum, "builtin_min": np.minimum, "logaddexp": np.logaddexp,
         "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
         "square": np.square, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
         "sinh": np.sinh, "cosh": np.cosh, "arctan": np.arctan, "arcsin": np.arcsin, "arccos": np.arccos,
         "absolute": np.absolute, "expit": scipy.special.expit, "sign": np.sign, "floor": np.floor,
         "ceil": np.ceil, "rint": np.rint, "trunc": np.trunc, "isnan": np.isnan, "isinf": np.isinf,
         "isfinite": np.isfinite, "negative": np.negative, "positive": np.positive,
         "logical_not": np.logical_not, "invert": np.invert, "round": np.round, "where": np.where}
REDUCTIONS = {"sum", "mean", "prod", "max", "min", "any", "all", "argmax", "argmin", "count_nonzero"}
_BINOP_PRIM = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply", gast.Div: "divide",
               gast.Pow: "power", gast.Mod: "mod", gast.FloorDiv: "floor_divide", gast.MatMult: "matmul",
               gast.BitAnd: "bitwise_and", gast.BitOr: "bitwise_or", gast.BitXor: "bitwise_xor"}
_BINOP_FN = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
             gast.Div: operator.truediv, gast.Pow: operator.pow, gast.Mod: operator.mod,
             gast.FloorDiv: operator.floordiv, gast.MatMult: operator.matmul, gast.BitAnd: operator.and_,
             gast.BitOr: operator.or_, gast.BitXor: operator.xor, gast.LShift: operator.lshift,
             gast.RShift: operator.rshift}
_CMP_PRIM = {gast.Lt: "less", gast.LtE: "less_equal", gast.Gt: "greater", gast.GtE: "greater_equal",
             gast.Eq: "equal", gast.NotEq: "not_equal"}
_CMP_FN = {gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
           gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Is: operator.is_, gast.IsNot: operator.is_not,
           gast.In: lambda a, b: a in b, gast.NotIn: lambda a, b: a not in b}
# Rule helpers and emitted code are specialized from `ast` trees as parsed (converting them to gast costs
# more than parsing), normalized user code from gast trees: the specializer reads both. Node classes have
# the same names and fields, except parameters (ast `arg.arg`, gast `Name.id`); operators are mapped to
# gast's classes where they are read.
_NAME = (gast.Name, ast.Name)
_CONSTANT = (gast.Constant, ast.Constant)
_TUPLE = (gast.Tuple, ast.Tuple)
_SEQUENCE = (gast.Tuple, gast.List, ast.Tuple, ast.List)
_SUBSCRIPT = (gast.Subscript, ast.Subscript)
_STARRED = (gast.Starred, ast.Starred)
_SLICE = (gast.Slice, ast.Slice)
_STORE = (gast.Store, ast.Store)
_GAST_OP = {}
for _base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop):
    for _op in _base.__subclasses__():
        if hasattr(gast, _op.__name__):
            _GAST_OP[_op] = _GAST_OP[getattr(gast, _op.__name__)] = getattr(gast, _op.__name__)
# Builtins that only look at the structure of containers, never at run-time leaves.
_STRUCTURAL = {zip, enumerate, tuple, list, dict, len, reversed, iter, next, range, sorted, set, frozenset,
               getattr, hasattr, id, repr, str, print, functools.partial}     # a partial only holds values
_STRUCTURAL_IDS = set()       # filled below with the pytree functions
_CONTAINER_METHODS = {"append", "pop", "extend", "insert", "copy", "get", "keys", "values", "items", "index",
                      "count", "update", "setdefault"}
_SIZE_OF_STATIC_CREATION = {"zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
                            "full_like", "arange", "linspace", "eye", "identity"}


def _int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


# -- the source of every function we inline, normalized once ---------------------------------------
_PROGRAM = None
_TREES = {}


def _program():
    global _PROGRAM
    if _PROGRAM is None:
        _PROGRAM = Program()
        _PROGRAM.lowers_comprehensions = False     # comprehensions over static iterables unroll here
    return _PROGRAM


def normalized(source):
    """(FunctionSource, normalized gast FunctionDef) of a function, cached.

    Code s2s emitted is normalized already and rule helpers do not need it (they branch on types
    and shapes, which are static here): both are used as written, which is much faster."""
    key = id(source.python_function) if source.python_function is not None else id(source)
    hit = _TREES.get(key)
    if hit is not None and hit[0] is (source.python_function or source):
        return hit[1], hit[2]
    if source.python_function is not None and _as_written(source.python_function):
        raw = raw_source(source.python_function)
        _TREES[key] = (source.python_function, raw, raw.tree)
        return raw, raw.tree
    try:
        checked, fn = prepare(source, _program())
    except TransformError:
        # a helper s2s cannot differentiate (it raises, writes in place...) still specializes:
        # its own tree, names looked up in its own globals
        checked = parse.FunctionSource(tree=source.tree, filename=source.filename, globals=source.globals,
                                       closure=source.closure, qualname=source.qualname,
                                       python_function=source.python_function)
        checked.raw = True
        fn = source.tree
    _TREES[key] = (source.python_function or source, checked, fn)
    return checked, fn


def function_source(fn):
    if _as_written(fn):
        return raw_source(fn)
    return _program().function_source(fn)


def _as_written(fn):
    """Emitted by s2s, or a rule helper of s2s: specialized without normalizing."""
    module = getattr(fn, "__module__", "") or ""
    if module.startswith("s2s.runtime."):
        return True
    filename = getattr(getattr(fn, "__code__", None), "co_filename", "")
    return _folder(filename) == _cache_folder()


@functools.lru_cache(maxsize=1024)
def _folder(filename):
    return os.path.dirname(os.path.abspath(filename))


def _cache_folder():
    from .module import cache_dir
    key = os.environ.get("S2S_CACHE_DIR")
    hit = _CACHE_FOLDER.get(key)
    if hit is None:
        hit = _CACHE_FOLDER[key] = os.path.abspath(cache_dir())
    return hit


_CACHE_FOLDER = {}
_RAW = {}


def raw_source(fn):
    """FunctionSource of `fn` from its own lines only (cheaper than parsing its whole file)."""
    hit = _RAW.get(id(fn))
    if hit is not None and hit[0] is fn:
        return hit[1]
    node = _quick_tree(fn)
    if node is None:
        node = _inspected_tree(fn)
        if node is None:
            return parse.function(fn)
    closure = {}
    if fn.__closure__:
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                closure[var] = cell.cell_contents
            except ValueError:
                pass
    source = parse.FunctionSource(tree=node, filename=fn.__code__.co_filename, globals=fn.__globals__,
                                  closure=closure, qualname=fn.__qualname__, python_function=fn)
    source.raw = True
    _RAW[id(fn)] = (fn, source)
    return source


def _inspected_tree(fn):
    """The `ast` FunctionDef of `fn` from `inspect` (tokenizes its lines: the slow, general way)."""
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    return _function_def("".join(lines), first, fn.__code__.co_name)


def _quick_tree(fn):
    """The `ast` FunctionDef of `fn`, found without tokenizing: its lines run from the code object's
    first line through its last one and every more indented line after it (None when anything
    looks unusual)."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name == "<lambda>":
        return None
    filename = code.co_filename
    if filename not in _CHECKED:            # emitted files and s2s's own never change while it runs:
        linecache.checkcache(filename)      # one stat a file (each lets a compiling thread take the GIL)
        _CHECKED.add(filename)
    lines = linecache.getlines(filename, fn.__globals__)
    first = code.co_firstlineno
    if not lines or first < 1 or first > len(lines):
        return None
    head = lines[first - 1]
    indent = len(head) - len(head.lstrip())
    end = max(first, _last_line(code))
    while end < len(lines):
        line = lines[end]
        stripped = line.lstrip()
        if stripped and len(line) - len(stripped) <= indent:
            break
        end += 1
    return _function_def("".join(lines[first - 1:end]), first, code.co_name)


_CHECKED = set()


def _function_def(text, first, name):
    """The FunctionDef `name` that `text` (lines from line `first` of a file) starts with, at its lines."""
    try:
        tree = ast.parse("\n" * (first - 1) + textwrap.dedent(text))
    except (SyntaxError, ValueError):
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef) or node.name != name:
        return None
    node.decorator_list = []
    return node


def _last_line(code):
    """The last source line of a code object and the code nested in it."""
    last = max((line for _, _, line in code.co_lines() if line is not None), default=code.co_firstlineno)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _last_line(const))
    return last


# -- small fast paths ------------------------------------------------------------------------------
class Namer(normalize.Namer):
    """`normalize.Namer`, giving the same names faster: cleaned bases and the last suffix given for
    each are remembered (names are only ever added to `taken`, so the ones skipped stay taken)."""

    def __init__(self, taken):
        super().__init__(taken)
        self.last = {}              # cleaned base -> the suffix of the last name given for it

    def fresh(self, base):
        clean = _CLEAN.get(base)
        if clean is None:
            clean = normalize.clean(base) or "tmp"
            if clean[0].isdigit():
                clean = "v" + clean
            _CLEAN[base] = clean
        k = self.last.get(clean, 0)
        candidate = clean if k == 0 else f"{clean}_{k}"
        while candidate in self.taken or normalize.shadows(candidate):     # never `not = (not a)`
            k += 1
            candidate = f"{clean}_{k}"
        self.taken.add(candidate)
        self.last[clean] = k
        return candidate


_CLEAN = {}
_BINDERS = {}
_EMPTY = inspect.Parameter.empty


def bind(signature, args, kwargs):
    """Slots of a call: `signature.bind(*args, **kwargs)` with defaults applied, as a dict. Plain
    signatures are bound here; anything else, and every call that does not bind, goes to inspect."""
    params = _BINDERS.get(id(signature))
    if params is None:
        params = _BINDERS[id(signature)] = (signature, _plain_parameters(signature))
    slots = _bind_plain(params[1], args, kwargs) if params[1] is not None else None
    if slots is None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        slots = dict(bound.arguments)
    return slots


def _plain_parameters(signature):
    """((name, kind, default), ...) when no parameter is positional-only; else None."""
    params = tuple((p.name, p.kind, p.default) for p in signature.parameters.values())
    return None if any(kind is inspect.Parameter.POSITIONAL_ONLY for _, kind, _ in params) else params


def _bind_plain(params, args, kwargs):
    slots = {}
    n, k, used = len(args), 0, set()
    for name, kind, default in params:
        if kind is inspect.Parameter.VAR_POSITIONAL:
            slots[name] = tuple(args[k:])
            k = n
        elif kind is inspect.Parameter.VAR_KEYWORD:
            slots[name] = {key: v for key, v in kwargs.items() if key not in used}
            used = set(kwargs)
        elif k < n and kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            if name in kwargs:
                return None
            slots[name] = args[k]
            k += 1
        elif name in kwargs:
            slots[name] = kwargs[name]
            used.add(name)
        elif default is not _EMPTY:
            slots[name] = default
        else:
            return None
    if k < n or len(used) != len(kwargs):
        return None
    return slots


# -- the specializer --------------------------------------------------------------------------------
class Frame:
    __slots__ = ("source", "env", "stmt", "defs")

    def __init__(self, source, env):
        self.source, self.env, self.stmt = source, env, None
        self.defs = {}          # name -> the statement that last assigned it (to place errors)


class LoopContext:
    def __init__(self, mode, depth, phis=None):
        self.mode = mode            # "loop" or "unroll"
        self.depth = depth
        self.phis = phis or {}      # var -> instantiated phi value (loop mode)
        self.breaks = []            # envs at residual `break`s
        self.frame = None


class Specialized:
    """The result: parameter names, residual body, output template, readable name."""

    def __init__(self, name, params, body, output, namer):
        self.name = name
        self.params = params
        self.body = body
        self.output = output        # abstract value of the result
        self.namer = namer


class Specializer:
    def __init__(self, reserved=()):
        self.namer = Namer(set(reserved) | {"np", "numba", "prange", "math"})
        self.handlers = {}          # node class -> bound stmt_* / eval_* method
        self.block = []
        self.frames = []
        self.loops = []
        self.depth = 0
        self.unroll_nodes = set()   # loops that needed unrolling once: don't try loop mode again
        self.list_elems = {}        # DynList tag -> element template
        self.defs = {}              # residual name -> the operation that made it

    # -- entry -------------------------------------------------------------------------------------
    def specialize(self, python_function, args, param_names=None, kwargs=None):
        """Residual code of `python_function` called with abstract `args` (Dyn leaves)."""
        source = raw_source(python_function) if _as_written(python_function) else parse.function(python_function)
        checked, fn = normalized(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                result = self.call_source(checked, fn, list(args), dict(kwargs or {}))
        leaves = leaves_of(result, [])
        self.block.append(Return(leaves))
        prune(self.block)
        return Specialized(fn.name, param_names, self.block, result, self.namer)

    def fresh(self, base):
        return self.namer.fresh(base or "tmp")

    # -- errors --------------------------------------------------------------------------------------
    def where(self):
        """(FunctionSource, statement) of every active frame, innermost last."""
        return tuple([(f.source, f.stmt) for f in self.frames])

    def error(self, message, suggestion=None):
        return located_error(self.where(), message, suggestion)

    # -- emitting ---------------------------------------------------------------------------------
    def emit(self, stmt):
        if getattr(stmt, "where", None) is None:
            stmt.where = self.where()
        self.block.append(stmt)

    def op(self, op, args, ty, hint="tmp", **params):
        name = self.fresh(hint)
        expr = E(op, list(args), params)
        self.emit(Assign(name, expr, ty))
        self.defs[name] = expr
        return Dyn(name, ty)

    def broadcast_source(self, x):
        """(source array, added leading axes) when `x` is only a broadcast copy of another array."""
        expr = self.defs.get(x.name) if isinstance(x, Dyn) else None
        if expr is not None and expr.op == "ew" and expr.params.get("fn") == "positive" and \
                isinstance(expr.args[0], Dyn) and expr.args[0].ty.is_array:
            src = expr.args[0]
            return src, x.ty.ndim - src.ty.ndim
        return x, 0

    def atom(self, value, dtype=None):
        """A residual atom for an abstract value (Dyn, or a constant)."""
        if isinstance(value, Dyn):
            return value
        if isinstance(value, Ty):
            raise AssertionError("type template used as a value")
        if isinstance(value, (DynList, DynRange, MethodRef)):
            raise self.error(f"jit cannot use {value!r} as a value here")
        if isinstance(value, np.ndarray) or _number(value) or value is None or isinstance(value, (str, np.dtype)):
            return Const(value, dtype)
        if isinstance(value, (tuple, list)) and not has_dyn(value):
            return Const(tuple(value), dtype)
        if isinstance(value, type) and issubclass(value, np.generic):
            return Const(value)
        raise self.error(f"jit cannot use {_describe(value)} as a run-time value")

    # -- calls -------------------------------------------------------------------------------------
    def call_source(self, source, fn, args, kwargs):
        if len(self.frames) > INLINE_DEPTH:
            raise self.error(f"calls nest more than {INLINE_DEPTH} deep in {source.name}: recursion on a run-time "
                             "value cannot be compiled", "Make the argument that ends the recursion static: "
                                                         "s2s.jit(f, static_argnums=...)")
        params = [a.arg if type(a) is ast.arg else a.id for a in fn.args.args]
        defaults = fn.args.defaults
        env = {}
        if len(args) > len(params):
            raise self.error(f"{source.name} takes {len(params)} argument(s), {len(args)} given")
        for p, v in zip(params, args):
            env[p] = v
        for k, v in kwargs.items():
            if k not in params:
                raise self.error(f"{source.name} has no parameter {k!r}")
            env[k] = v
        frame = Frame(source, env)
        self.frames.append(frame)
        try:
            for i, p in enumerate(params):
                if p not in env:
                    j = i - (len(params) - len(defaults))
                    if j < 0:
                        raise self.error(f"{source.name} is missing the argument {p!r}")
                    env[p] = self.eval(defaults[j], frame)
            for k in list(env):
                env[k] = self.own(env[k])
            try:
                self.exec_block(fn.body, frame)
            except _Return as ret:
                return ret.value
            return None
        finally:
            self.frames.pop()

    def own(self, value):
        """Lists reaching a frame become SLists made at the current depth (once)."""
        if isinstance(value, SList) or not isinstance(value, (list, tuple, dict)):
            return value
        if isinstance(value, list):
            return SList([self.own(v) for v in value], self.depth)
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(self.own(v) for v in value)
        if isinstance(value, dict):
            return {k: self.own(v) for k, v in value.items()}
        return value

    def call_value(self, fn, args, kwargs, hint=None):
        """Call anything: a primitive, a user function (inlined), a static builtin."""
        if isinstance(fn, MethodRef):
            return self.call_method(fn, args, kwargs, hint)
        if hasattr(fn, "__s2s__") and not isinstance(fn, types.FunctionType) or (
                isinstance(fn, types.FunctionType) and hasattr(fn, "__s2s__")):
            fn = getattr(fn.__s2s__, "numpy_function", None) or fn.__s2s__.function
        if isinstance(fn, functools.partial):
            return self.call_value(fn.func, list(fn.args) + list(args), {**fn.keywords, **kwargs}, hint)
        rule = SPECIAL.get(id(fn))
        if rule is not None:
            return rule(self, args, kwargs)
        prim = primitives.lookup(fn)
        if prim is not None and (prim.name in RULES or not _is_s2s_helper(fn)):
            return self.call_primitive(prim, fn, args, kwargs, hint)
        if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
            return self.call_value(fn.__func__, [fn.__self__] + list(args), kwargs, hint)
        if not isinstance(fn, (type, types.FunctionType)) and \
                isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
            return self.call_value(type(fn).__call__, [fn] + list(args), kwargs, hint)     # layer(p, x)
        if isinstance(fn, types.FunctionType) and (prim is not None or _is_user_function(fn)):
            source = function_source(fn)
            if source.tree.args.vararg is not None and not kwargs:     # def f(w, *args): one per value
                source = parse.with_positional(source, len(args) - len(source.tree.args.args))
            checked, tree = normalized(source)
            return self.call_source(checked, tree, list(args), kwargs)
        if not has_dyn(args) and not has_dyn(kwargs):
            return self.static_call(fn, args, kwargs)
        if fn in _STRUCTURAL or id(fn) in _STRUCTURAL_IDS:
            return self.static_call(fn, args, kwargs)
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, (list, dict)) and getattr(fn, "__name__", "") in _CONTAINER_METHODS:
            return self.static_call(fn, args, kwargs)     # list.append(x) and the like
        if isinstance(fn, type) and issubclass(fn, np.generic):
            (x,) = args
            return self.cast(x, np.dtype(fn), fn)
        label = getattr(fn, "__qualname__", None) or repr(fn)
        raise self.error(f"jit cannot compile a call of `{label}` on run-time values")

    def static_call(self, fn, args, kwargs):
        try:
            return self.own(fn(*args, **kwargs))
        except (TransformError, NeedUnroll, NeedDynList, JoinError):
            raise
        except Exception as err:
            raise self.error(f"{type(err).__name__}: {err}") from err

    def call_lifted(self, callee, args, kwargs):
        checked, tree = normalized(callee.function)
        return self.call_source(checked, tree, args, kwargs)

    def call_primitive(self, prim, impl, args, kwargs, hint=None):
        if not has_dyn(args) and not has_dyn(kwargs):
            value = self.static_call(impl, args, kwargs)
            if isinstance(value, np.ndarray) and value.size > STATIC_ARRAY_LIMIT and \
                    prim.name in _SIZE_OF_STATIC_CREATION:
                return self.create_array(prim.name, impl, args, kwargs, value)
            return value
        rule = RULES.get(prim.name)
        if rule is None:
            raise self.error(f"jit has no compiled version of `{prim.name}` yet")
        try:
            slots = bind(prim.signature, args, kwargs)
        except TypeError as err:
            raise self.error(f"{prim.name}: {err}") from None
        return rule(self, slots, impl, hint=hint)

    def call_method(self, ref, args, kwargs, hint=None):
        obj, name = ref.obj, ref.name
        if isinstance(obj, DynList):
            return self.list_method(obj, name, args, kwargs)
        found = primitives.method(name)
        if found is None:
            if name == "item" and isinstance(obj, Dyn):
                return self.item(obj)
            if name == "tolist" and isinstance(obj, Dyn):
                raise self.error("jit cannot compile `.tolist()`")
            raise self.error(f"jit cannot compile the method `.{name}()` of an array")
        prim, signature = found
        try:
            slots = bind(signature, [obj, *args], kwargs)
        except TypeError as err:
            raise self.error(f".{name}(): {err}") from None
        rule = RULES.get(prim.name)
        if rule is None:
            raise self.error(f"jit has no compiled version of `.{name}()` yet")
        impl = getattr(np.ndarray, name, None)
        return rule(self, slots, impl, hint=hint)

    def item(self, x):
        if not x.ty.is_array:
            return x
        if x.ty.size != 1:
            raise self.error("`.item()` of an array with more than one element")
        flat = self.reshape(x, (1,))
        return self.getitem(flat, (0,))

    # -- list methods --------------------------------------------------------------------------------
    def list_method(self, lst, name, args, kwargs):
        if name == "append":
            (value,) = args
            self.list_append(lst, value)
            return None
        if name == "pop":
            if args and not (len(args) == 1 and args[0] in (-1,)):
                raise self.error("jit compiles `list.pop()` only from the end")
            return self.list_pop(lst)
        if name == "copy":
            return self.list_copy(lst)
        raise self.error(f"jit cannot compile `list.{name}` on a list kept at run time")

    def list_append(self, lst, value):
        old = self.list_elems.get(lst.tag, NO_ITEMS)
        if old is NO_ITEMS:
            new = template(value)
        else:
            try:
                new = join(old, value)
            except JoinError as err:
                raise self.unstable(f"a list gets items of different types: {err}") from None
        if old is NO_ITEMS:
            self.list_elems[lst.tag] = new
        elif not static_equal(old, new):
            self.list_elems[lst.tag] = new
            if not self.loops or all(loop.mode != "loop" for loop in self.loops):
                raise self.error("jit cannot compile a list whose items change type")
            raise _Restart()
        self.emit(Append(lst.name, self.pack(value, new)))
        _grow(lst, 1)

    def pack(self, value, tmpl):
        """An atom holding the run-time leaves of `value`, cast to the types of `tmpl`."""
        leaves = []
        self._pack(value, tmpl, leaves)
        if len(leaves) == 1 and isinstance(tmpl, Ty):
            return leaves[0]
        ty = Ty(np.float64, None, tuple)
        return self.op("tuple", leaves, ty, "item")

    def _pack(self, value, tmpl, out):
        if isinstance(tmpl, Ty):
            out.append(self.coerce(value, tmpl))
        elif isinstance(tmpl, tuple):
            if not isinstance(value, tuple) or len(value) != len(tmpl):
                raise self.unstable("a list gets items of different structures")
            for v, t in zip(value, tmpl):
                self._pack(v, t, out)

    def list_pop(self, lst):
        tmpl = self.list_elems.get(lst.tag, NO_ITEMS)
        if tmpl is NO_ITEMS:
            raise self.error("jit cannot pop from a list that nothing is appended to")
        if lst.length == 0:
            raise self.error("pop from an empty list")
        _grow(lst, -1)
        if isinstance(tmpl, Ty):
            return self.op("pop", [Dyn(lst.name, None)], tmpl, lst.name.replace("_tape", "") or "item")
        packed = self.op("pop", [Dyn(lst.name, None)], Ty(np.float64, None, tuple), "item")
        counter = iter(range(10 ** 6))
        return self._unpack(packed, tmpl, counter)

    def _unpack(self, packed, tmpl, counter):
        if isinstance(tmpl, Ty):
            k = next(counter)
            return self.op("tuple_get", [packed], tmpl, "item", index=k)
        if isinstance(tmpl, tuple):
            return tuple(self._unpack(packed, t, counter) for t in tmpl)
        return tmpl

    def list_copy(self, lst):
        name = self.fresh(lst.name)
        self.emit(Assign(name, E("list_copy", [Dyn(lst.name, None)]), None))
        out = DynList(name, object(), lst.length)
        out.delta = None
        if lst.tag in self.list_elems:
            self.list_elems[out.tag] = self.list_elems[lst.tag]
        return out

    def unstable(self, message):
        if self.loops and self.loops[-1].mode == "loop":
            return NeedUnroll(message)
        return self.error(f"jit cannot compile this: {message}")

    # -- statements -----------------------------------------------------------------------------------
    def exec_block(self, stmts, frame):
        """Run statements; returns "break" if a static break left the block."""
        for stmt in stmts:
            frame.stmt = stmt
            status = self.exec_stmt(stmt, frame)
            if status == "break":
                return "break"
        return None

    def exec_stmt(self, stmt, frame):
        handler = self.handlers.get(type(stmt))
        if handler is None:
            kind = type(stmt).__name__
            handler = getattr(self, "stmt_" + kind, None)
            if handler is None:
                raise self.error(f"jit cannot compile a `{kind}` statement")
            self.handlers[type(stmt)] = handler
        return handler(stmt, frame)

    def stmt_Expr(self, stmt, frame):
        if isinstance(stmt.value, _CONSTANT):
            return None                 # docstring or comment marker
        self.eval(stmt.value, frame)
        return None

    def stmt_Pass(self, stmt, frame):
        return None

    def stmt_Assign(self, stmt, frame):
        target = stmt.targets[0]
        if isinstance(target, _NAME):
            frame.defs[target.id] = stmt
        hint = target.id if isinstance(target, _NAME) else None
        value = self.eval(stmt.value, frame, hint)
        for target in stmt.targets:
            self.assign(target, value, frame)
        return None

    def stmt_AnnAssign(self, stmt, frame):
        if stmt.value is not None:
            self.assign(stmt.target, self.eval(stmt.value, frame, getattr(stmt.target, "id", None)), frame)
        return None

    def stmt_AugAssign(self, stmt, frame):
        target = stmt.target
        load = nodes_load(target)
        value = self.binop(_GAST_OP[type(stmt.op)], self.eval(load, frame), self.eval(stmt.value, frame),
                           getattr(target, "id", None))
        self.assign(target, value, frame)
        return None

    def assign(self, target, value, frame):
        if isinstance(target, _NAME):
            frame.env[target.id] = value
        elif isinstance(target, _SEQUENCE):
            items = self.unpack(value, len(target.elts))
            for t, v in zip(target.elts, items):
                self.assign(t, v, frame)
        elif isinstance(target, _SUBSCRIPT):
            container = self.eval(target.value, frame)
            index = self.eval_index(target.slice, frame)
            if isinstance(container, Dyn):
                self.setitem(container, index, value, add=False)
            elif isinstance(container, (list, dict)) and not isinstance(container, DynList):
                if has_dyn(index):
                    raise self.unstable("a list or dict written at a run-time index")
                self.check_mutation(container)
                container[index] = value
            elif isinstance(container, np.ndarray) and isinstance(target.value, _NAME) and \
                    self._owned_by(container, target.value.id, frame):
                # out = np.zeros(3) folded to a constant, then written with run-time values: the
                # array is made at run time (from the constant) and written there, outside any
                # residual loop (made inside one, every trip would start from the constant again)
                if any(loop.mode == "loop" for loop in self.loops):
                    raise NeedUnroll("an array made from a constant is written with run-time values")
                fresh = self.op("copy_array", [self.as_dyn(container)],
                                Ty(container.dtype, container.shape, np.ndarray, "C"), target.value.id)
                frame.env[target.value.id] = fresh
                self.setitem(fresh, index, value, add=False)
            else:
                raise self.error(f"jit cannot assign into {_describe(container)}")
        elif isinstance(target, _STARRED):
            raise self.error("jit cannot compile starred assignment")
        else:
            raise self.error(f"jit cannot assign to `{type(target).__name__}`")

    def _owned_by(self, array, name, frame):
        """True when the static `array` is reachable only through the local `name` of `frame`: not
        a module or closure value, not held by another local or by a caller."""
        def count(value):
            if value is array:
                return 1
            if isinstance(value, (list, tuple)):
                return sum(count(v) for v in value)
            if isinstance(value, dict):
                return sum(count(v) for v in value.values())
            return 0
        source = frame.source
        if any(v is array for v in list(source.globals.values()) + list(source.closure.values())):
            return False
        return sum(count(v) for f in self.frames for v in f.env.values()) + \
            (0 if frame in self.frames else count(list(frame.env.values()))) == 1

    def unpack(self, value, n):
        if isinstance(value, Dyn):
            if value.ty.is_array and value.ty.shape and value.ty.shape[0] == n:
                return [self.getitem(value, (k,)) for k in range(n)]
            raise self.error(f"cannot unpack {_describe(value)} into {n} names")
        if isinstance(value, DynList):
            if value.length != n:
                raise self.error(f"cannot unpack a run-time list into {n} names")
            return [self.list_getitem(value, k) for k in range(n)]
        try:
            items = list(value)
        except TypeError:
            raise self.error(f"cannot unpack {_describe(value)}") from None
        if len(items) != n:
            raise self.error(f"cannot unpack {len(items)} values into {n} names")
        return items

    def stmt_Return(self, stmt, frame):
        value = None if stmt.value is None else self.eval(stmt.value, frame, "out")
        raise _Return(value)

    def stmt_Raise(self, stmt, frame):
        if getattr(self, "dynamic_branches", 0):
            raise self.error("jit cannot compile a `raise` under a condition on a run-time value",
                             "Check the inputs before calling the jitted function")
        exc = self.eval(stmt.exc, frame) if stmt.exc is not None else RuntimeError("raise")
        if has_dyn(exc):
            raise self.error("jit cannot compile `raise` with run-time values")
        raise exc

    def stmt_Assert(self, stmt, frame):
        test = self.eval(stmt.test, frame)
        if not has_dyn(test) and not test:
            raise AssertionError(self.eval(stmt.msg, frame) if stmt.msg is not None else "")
        return None

    def stmt_Break(self, stmt, frame):
        loop = self.loops[-1] if self.loops else None
        if loop is not None and loop.mode == "loop" and loop.frame is frame:
            loop.breaks.append(self.snapshot())
            for update in self._phi_updates(loop, frame.env):
                self.emit(update)
            self.emit(Break())
        return "break"

    def stmt_Continue(self, stmt, frame):
        raise self.error("jit cannot compile `continue` here")

    # -- state of every frame, for branches and loop passes ------------------------------------------
    def snapshot(self):
        memo = {}
        return [copy_env(f.env, memo) for f in self.frames]

    def restore(self, snap):
        memo = {}
        for f, env in zip(self.frames, snap):
            f.env = copy_env(env, memo)

    # -- if ------------------------------------------------------------------------------------------
    def stmt_If(self, stmt, frame):
        test = self.eval(stmt.test, frame)
        if not isinstance(test, Dyn):
            return self.exec_block(stmt.body if self.truth(test) else stmt.orelse, frame)
        cond = self.truth_dyn(test)
        if isinstance(stmt.test, _NAME) and stmt.test.id in frame.defs:
            frame.stmt = frame.defs[stmt.test.id]      # the line computing the test is the `if` line
        return self.dynamic_if(cond, stmt.body, stmt.orelse, frame)

    def dynamic_if(self, cond, body, orelse, frame):
        loop = self.loops[-1] if self.loops else None
        start = self.snapshot()
        at_if = frame.stmt
        blocks, states, statuses = [], [], []
        for branch in (body, orelse):
            self.restore(start)
            saved, self.block = self.block, []
            self.dynamic_branches = getattr(self, "dynamic_branches", 0) + 1
            try:
                status = self.exec_block(branch, frame)
            except _Return:
                raise self.error("jit cannot compile a `return` inside an `if` on a run-time value here",
                                 "Assign the result to a variable and return once at the end") from None
            finally:
                self.dynamic_branches -= 1
                blocks.append(self.block)
                self.block = saved
            states.append(self.snapshot())
            statuses.append(status)
        frame.stmt = at_if                 # errors below are about the `if` itself
        if "break" in statuses and not (loop and loop.mode == "loop" and loop.frame is frame):
            raise self.error("a `break` depends on a run-time value in a loop that must be unrolled",
                             "Use s2s.lax.while_loop, or give the loop values of one type in every iteration")
        self.emit(If(cond, blocks[0], blocks[1]))
        if statuses[0] == "break" and statuses[1] == "break":
            self.restore(states[0])
            return "break"
        if statuses[0] == "break" or statuses[1] == "break":
            self.restore(states[1] if statuses[0] == "break" else states[0])
            return None
        merged = [self.merge([a, b], blocks) for a, b in zip(states[0], states[1])]
        for f, env in zip(self.frames, merged):
            f.env = env
        return None

    def merge(self, envs, blocks):
        """One environment after branches: variables that differ get a join variable assigned
        at the end of each branch."""
        out = {}
        lists = {}
        names = list(envs[0]) + [k for k in envs[1] if k not in envs[0]]
        for var in names:
            values = [env.get(var, UNDEFINED) for env in envs]
            if static_equal(values[0], values[1]):
                out[var] = values[0]
                continue
            try:
                tmpl = join(values[0], values[1])
            except JoinError as err:
                raise self.error(
                    f"jit cannot compile this `if` on a run-time value: after it, `{var}` is {err}",
                    "Make both branches give the same type, use s2s.lax.cond(pred, true_fun, false_fun, "
                    "*operands), or make the value the branch tests static (jit(f, static_argnums=...))") from None
            if isinstance(tmpl, DynList):
                out[var] = tmpl
                continue
            if isinstance(tmpl, SList) and tmpl.tag in lists:
                out[var] = lists[tmpl.tag]
                continue
            if not has_ty(tmpl):
                out[var] = tmpl
                continue
            value = self.instantiate(tmpl, var)
            if isinstance(value, SList):
                lists[value.tag] = value
            for env, block in zip(envs, blocks):
                saved, self.block = self.block, block
                try:
                    self.assign_value(value, env.get(var, UNDEFINED))
                finally:
                    self.block = saved
            out[var] = value
        return out

    def instantiate(self, tmpl, base):
        if isinstance(tmpl, Ty):
            return Dyn(self.fresh(base), tmpl)
        if isinstance(tmpl, SList):
            return SList([self.instantiate(t, base) for t in tmpl], tmpl.depth, tmpl.tag)
        if isinstance(tmpl, tuple) and not hasattr(tmpl, "_fields"):
            return tuple(self.instantiate(t, base) for t in tmpl)
        return tmpl

    def assign_value(self, target, value):
        """Residual assignments making the Dyn leaves of `target` hold `value`."""
        if isinstance(target, Dyn):
            src = self.coerce(value, target.ty)
            self.emit(Assign(target.name, E("copy", [src]), target.ty))
        elif isinstance(target, (tuple, list)):
            if value is None or value is UNDEFINED:
                parts = [UNDEFINED] * len(target)
            else:
                parts = list(value)
            for t, v in zip(target, parts):
                self.assign_value(t, v)

    def coerce(self, value, ty):
        """An atom of type `ty` from an abstract value (casting, or a placeholder for None)."""
        if value is None or value is UNDEFINED:
            return self.placeholder(ty)
        if isinstance(value, Dyn):
            if value.ty.dtype != ty.dtype:
                return self.cast(value, ty.dtype, ty.pytype)
            if ty.is_array and not value.ty.is_array:
                raise self.error(f"jit cannot store a scalar where an array is expected")
            if not ty.is_array and value.ty.is_array:          # a 0-d array joins scalars
                return self.getitem(value, ())
            return value
        if _number(value):
            if ty.is_array:
                raise self.error(f"jit cannot store the number {value!r} where an array is expected")
            return Const(value, ty.dtype)
        if isinstance(value, np.ndarray):
            return Const(value.astype(ty.dtype, copy=False))
        raise self.error(f"jit cannot use {_describe(value)} where {ty} is expected")

    def placeholder(self, ty):
        """What a variable holds while it is None on some path. A None that meets an array is a
        zero cotangent or tangent (add_tree(None, g) is g), which a loop specialized for the joined
        type may read: zeros of the joined shape when it is known, not an empty array."""
        if ty.is_array:
            if ty.shape is not None and None not in ty.shape:
                return self.op("full", [], ty.with_(layout="C"), "placeholder", shape=tuple(ty.shape),
                               dtype=ty.dtype, fill=0)
            return self.op("empty", [], ty.with_(layout="C"), "placeholder", shape=(0,) * ty.ndim,
                           dtype=ty.dtype)
        return Const(0, ty.dtype)

    def truth(self, value):
        if isinstance(value, DynList):
            if value.length is None:
                raise self.error("jit cannot test a run-time list's emptiness")
            return value.length > 0
        return bool(value)

    def truth_dyn(self, value):
        ty = value.ty
        if ty.is_array:
            if ty.size == 1:
                return self.truth_dyn(self.item(value))
            raise self.error(
                "the truth value of an array with more than one element is ambiguous",
                "Use a.any() or a.all(), or s2s.lax.cond for a branch on an array")
        if ty.dtype != np.bool_:
            return self.ew("not_equal", operator.ne, [value, 0], "nonzero")
        return value

    # -- loops ---------------------------------------------------------------------------------------
    def stmt_For(self, stmt, frame):
        iterable = self.eval(stmt.iter, frame)
        rng = self.as_range(iterable)
        if rng is None:
            return self.unrolled_for(stmt, frame, self.static_items(iterable))
        trips = self.static_trips(rng)
        if trips is not None and (trips <= 1 or id(stmt) in self.unroll_nodes):
            if trips > UNROLL_LIMIT:
                raise self.error(f"this loop must be unrolled but runs {trips} times")
            return self.unrolled_for(stmt, frame, list(range(rng.start, rng.stop, rng.step)))
        try:
            return self.loop_mode(stmt, frame, rng, trips)
        except (NeedUnroll, TransformError) as why:
            if trips is None:
                if isinstance(why, TransformError):
                    raise
                raise self.error(f"jit cannot compile this loop: {why}",
                                 "Keep the values the loop carries one type in every iteration, or make "
                                 "its trip count static (jit(f, static_argnums=...)) so it can be unrolled") from None
            if trips > UNROLL_LIMIT:
                raise self.error(f"jit cannot compile this loop ({why}) and it runs {trips} times, "
                                 "too many to unroll") from None
            _debug("for loop unrolled:", why)
            self.unroll_nodes.add(id(stmt))
            return self.unrolled_for(stmt, frame, list(range(rng.start, rng.stop, rng.step)))

    def static_items(self, iterable):
        if isinstance(iterable, Dyn):
            if iterable.ty.is_array and iterable.ty.shape and iterable.ty.shape[0] is not None:
                return [self.getitem(iterable, (k,)) for k in range(iterable.ty.shape[0])]
            raise self.error("jit cannot iterate over this run-time value")
        if isinstance(iterable, DynList):
            if iterable.length is None:
                raise self.error("jit cannot iterate over a run-time list here")
            return [self.list_getitem(iterable, k) for k in range(iterable.length)]
        if isinstance(iterable, DynRange):
            raise self.error("jit cannot unroll a range with run-time bounds here")
        try:
            return list(iterable)
        except TypeError:
            raise self.error(f"jit cannot iterate over {_describe(iterable)}") from None

    def as_range(self, it):
        if isinstance(it, range):
            return DynRange(it.start, it.stop, it.step)
        if isinstance(it, DynRange):
            return it
        return None

    def static_trips(self, rng):
        if all(_int(v) for v in (rng.start, rng.stop, rng.step)):
            return len(range(rng.start, rng.stop, rng.step))
        return None

    def unrolled_for(self, stmt, frame, items):
        loop = LoopContext("unroll", self.depth)
        loop.frame = frame
        self.loops.append(loop)
        try:
            for item in items:
                self.assign(stmt.target, item, frame)
                if self.exec_block(stmt.body, frame) == "break":
                    return None
        finally:
            self.loops.pop()
        if stmt.orelse:
            self.exec_block(stmt.orelse, frame)
        return None

    def stmt_While(self, stmt, frame):
        test = self.eval(stmt.test, frame)
        if not isinstance(test, Dyn) and not self.truth(test):
            return self.exec_block(stmt.orelse, frame) if stmt.orelse else None
        reason = "it needs static values"
        if id(stmt) not in self.unroll_nodes:
            try:
                return self.loop_mode(stmt, frame, None, None)
            except (NeedUnroll, TransformError) as why:
                reason = str(why)
                _debug("while loop unrolled:", reason)
                self.unroll_nodes.add(id(stmt))
        loop = LoopContext("unroll", self.depth)
        loop.frame = frame
        self.loops.append(loop)
        try:
            for _ in range(UNROLL_LIMIT):
                test = self.eval(stmt.test, frame)
                if isinstance(test, Dyn):
                    raise self.error(f"jit cannot compile this `while` loop: {reason}")
                if not self.truth(test):
                    return None
                if self.exec_block(stmt.body, frame) == "break":
                    return None
        finally:
            self.loops.pop()
        raise self.error(f"this `while` loop must be unrolled ({reason}) and runs more than {UNROLL_LIMIT} times")

    def loop_mode(self, stmt, frame, rng, trips):
        """Compile a loop as a loop: carried variables become phi variables, assigned before the
        loop and at the end of the body, iterated until their types are stable."""
        start_state = self.snapshot()
        try:
            return self._loop_mode(stmt, frame, rng, trips)
        except BaseException:
            self.restore(start_state)          # a loop that must be unrolled starts from here again
            raise

    def _loop_mode(self, stmt, frame, rng, trips):
        is_for = rng is not None
        assigned = stored_names(stmt.body) | (stored_names([stmt.target]) if is_for else set())
        start_state = self.snapshot()
        frame_index = self.frames.index(frame)
        env0 = start_state[frame_index]
        phis = {}                  # var -> template
        convert = set()            # tags of SLists that become run-time lists
        outer = self.block
        for _attempt in range(16):
            self.restore(start_state)
            pre, body = [], []
            self.block = pre
            try:
                self.convert_lists(convert)
                lengths = self.open_lists()
                values = {v: self.instantiate(t, v) for v, t in phis.items()}
                for v, value in values.items():
                    self.assign_value(value, frame.env.get(v, UNDEFINED))
                    frame.env[v] = value
                if is_for:
                    bounds = [self.atom(rng.start), self.atom(rng.stop), self.atom(rng.step)]
                    index = Dyn(self.fresh(getattr(stmt.target, "id", "i")), Ty(np.int64, None, int))
                self.block = body
                loop = LoopContext("loop", self.depth + 1, values)
                loop.frame = frame
                self.loops.append(loop)
                self.depth += 1
                status = None
                try:
                    if is_for:
                        self.assign(stmt.target, index, frame)
                    else:
                        test = self.eval(stmt.test, frame)
                        if isinstance(test, Dyn):
                            cond = self.truth_dyn(test)
                            done = self.ew("logical_not", operator.not_, [cond], "done")
                            loop.breaks.append(self.snapshot())
                            self.emit(If(done, self._phi_updates(loop, frame.env) + [Break()], []))
                        elif not self.truth(test):
                            self.stmt_Break(None, frame)
                            status = "break"
                    if status is None:
                        status = self.exec_block(stmt.body, frame)
                except NeedDynList as need:
                    if need.lst.depth < self.depth - 1:
                        raise
                    convert.add(need.lst.tag)
                    continue
                except _Restart:
                    if self.depth > 1:
                        raise
                    continue
                finally:
                    self.depth -= 1
                    self.loops.pop()
                ends = [state[frame_index] for state in loop.breaks]
                if status != "break":
                    ends.append(frame.env)
                new, changed = dict(phis), False
                for var in sorted(assigned | set(phis)):
                    current = phis.get(var)
                    head = env0.get(var, UNDEFINED) if current is None else values[var]
                    if current is None and all(static_equal(head, end.get(var, UNDEFINED)) for end in ends):
                        continue
                    merged = template(head)
                    try:
                        for end in ends:
                            merged = join(merged, end.get(var, UNDEFINED))
                    except JoinError as err:
                        raise NeedUnroll(f"`{var}` is {err} in different iterations") from None
                    if current is None and not has_ty(merged):
                        if isinstance(merged, DynList) or head is UNDEFINED:
                            continue
                        raise NeedUnroll(f"`{var}` changes from one iteration to the next")
                    if current is None or not static_equal(current, merged):
                        new[var] = merged
                        changed = True
                if changed:
                    phis = new
                    continue
                if status != "break":
                    body.extend(self._phi_updates(loop, frame.env))
                self.close_lists(lengths, trips if is_for and not loop.breaks else None)
                self.block = outer
                for s in pre:
                    self.emit(s)
                if is_for:
                    self.emit(For(index.name, *bounds, body, self.where()))
                else:
                    self.emit(While(Const(True), body, self.where()))
                frame.env.update(values)
                return None
            finally:
                self.block = outer
        raise NeedUnroll("the types of the values it carries do not settle")

    def _phi_updates(self, loop, env):
        """Assignments making each phi variable hold its value in `env` (end of an iteration)."""
        saved, self.block = self.block, []
        try:
            for var, phi in loop.phis.items():
                value = env.get(var, UNDEFINED)
                if static_equal(phi, value):
                    continue
                self.assign_value(phi, value)
            return self.block
        finally:
            self.block = saved

    def all_values(self):
        """Every abstract value reachable from the frames (for list bookkeeping)."""
        seen = set()
        out = []

        def walk(v):
            if id(v) in seen:
                return
            seen.add(id(v))
            out.append(v)
            if isinstance(v, (list, tuple)):
                for x in v:
                    walk(x)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)

        for f in self.frames:
            for v in f.env.values():
                walk(v)
        return out

    def open_lists(self):
        """Entering a loop body: run-time list lengths become unknown; count appends instead."""
        lengths = {}
        for v in self.all_values():
            if isinstance(v, DynList):
                lengths.setdefault(v.tag, v.length)
                v.length, v.delta = None, 0
        return lengths

    def close_lists(self, lengths, trips):
        for v in self.all_values():
            if isinstance(v, DynList) and v.tag in lengths:
                start, delta = lengths[v.tag], getattr(v, "delta", None)
                v.length = start + trips * delta if None not in (start, delta, trips) else None
                v.delta = None

    def convert_lists(self, tags):
        """Replace the SLists with these tags, in every frame, by run-time lists created here."""
        if not tags:
            return
        made = {}

        def walk(value):
            if isinstance(value, SList) and value.tag in tags:
                if value.tag not in made:
                    made[value.tag] = self.new_dynlist(value)
                return made[value.tag]
            if isinstance(value, list):
                value[:] = [walk(v) for v in value]
                return value
            if isinstance(value, tuple) and not hasattr(value, "_fields"):
                return tuple(walk(v) for v in value)
            if isinstance(value, dict):
                for k in value:
                    value[k] = walk(value[k])
                return value
            return value

        for f in self.frames:
            for k in list(f.env):
                self._list_name = k
                f.env[k] = walk(f.env[k])

    def new_dynlist(self, items):
        name = self.fresh(getattr(self, "_list_name", None) or "items")
        tag = items.tag
        tmpl = self.list_elems.get(tag, NO_ITEMS)
        for item in items:
            try:
                tmpl = template(item) if tmpl is NO_ITEMS else join(tmpl, item)
            except JoinError as err:
                raise NeedUnroll(f"a list holds items of different types: {err}") from None
        if tmpl is not NO_ITEMS:
            self.list_elems[tag] = tmpl
        packed = [self.pack(item, tmpl) for item in items]
        self.emit(Assign(name, E("list", packed), None))
        out = DynList(name, tag, len(items))
        out.delta = None
        return out

    def check_mutation(self, lst):
        if isinstance(lst, SList) and lst.depth < self.depth:
            raise NeedDynList(lst)
        if isinstance(lst, dict) and self.depth > 0 and self.loops and self.loops[-1].mode == "loop":
            raise NeedUnroll("a dict is written in the loop")

    # -- expressions ---------------------------------------------------------------------------------
    def eval(self, node, frame, hint=None):
        method = self.handlers.get(type(node))
        if method is None:
            method = getattr(self, "eval_" + type(node).__name__, None)
            if method is None:
                raise self.error(f"jit cannot compile the expression `{type(node).__name__}`")
            self.handlers[type(node)] = method
        return method(node, frame, hint)

    def eval_Constant(self, node, frame, hint):
        return node.value

    def eval_Name(self, node, frame, hint):
        env = frame.env
        if node.id in env:
            value = env[node.id]
            if value is UNDEFINED:
                raise self.error(f"`{node.id}` is used before it is assigned")
            return value
        source = frame.source
        values = _program().binder.values
        if node.id in values and not getattr(source, "raw", False):
            return self.own(values[node.id]) if isinstance(values[node.id], list) else values[node.id]
        if node.id in source.closure:
            return source.closure[node.id]
        if node.id in source.globals:
            return source.globals[node.id]
        if hasattr(builtins, node.id):
            return getattr(builtins, node.id)
        raise self.error(f"name `{node.id}` is not defined")

    def eval_Tuple(self, node, frame, hint):
        return tuple(self.elements(node.elts, frame))

    def eval_List(self, node, frame, hint):
        return SList(self.elements(node.elts, frame), self.depth)

    def eval_Set(self, node, frame, hint):
        items = self.elements(node.elts, frame)
        if has_dyn(items):
            raise self.error("jit cannot put run-time values in a set")
        return set(items)

    def elements(self, elts, frame):
        out = []
        for e in elts:
            if isinstance(e, _STARRED):
                out.extend(self.static_items(self.eval(e.value, frame)))
            else:
                out.append(self.eval(e, frame))
        return out

    def eval_Dict(self, node, frame, hint):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                out.update(self.eval(v, frame))
            else:
                key = self.eval(k, frame)
                if has_dyn(key):
                    raise self.error("jit cannot use a run-time value as a dict key")
                out[key] = self.eval(v, frame)
        return out

    def eval_JoinedStr(self, node, frame, hint):
        parts = []
        for v in node.values:
            if isinstance(v, _CONSTANT):
                parts.append(str(v.value))
            else:
                value = self.eval(v.value, frame)
                if has_dyn(value):
                    parts.append(f"<{_describe(value)}>")
                else:
                    spec = self.eval(v.format_spec, frame) if v.format_spec is not None else ""
                    parts.append(format(value, spec))
        return "".join(parts)

    def eval_Attribute(self, node, frame, hint):
        base = self.eval(node.value, frame)
        return self.getattr(base, node.attr, hint)

    def getattr(self, base, attr, hint=None):
        if isinstance(base, Dyn):
            ty = base.ty
            if attr == "shape":
                return self.shape_of(base)
            if attr == "ndim":
                return ty.ndim
            if attr == "dtype":
                return ty.dtype
            if attr == "size":
                n = ty.size
                return n if n is not None else self.op("size", [base], Ty(np.int64, None, int), "size")
            if attr == "itemsize":
                return ty.dtype.itemsize
            if attr == "T":
                return self.transpose(base, None, hint)
            if attr in ("real",):
                if ty.dtype.kind != "c":
                    return base
                raise self.error("jit does not compile complex numbers yet")
            if attr == "imag" and ty.dtype.kind != "c":
                return self.zeros(ty.shape, ty.dtype) if ty.is_array else Const(0, ty.dtype).value
            return MethodRef(base, attr)
        if isinstance(base, DynList):
            return MethodRef(base, attr)
        if isinstance(base, SList) and attr in ("append", "pop", "extend", "insert", "remove", "clear"):
            self.check_mutation(base)
        try:
            return getattr(base, attr)
        except AttributeError as err:
            raise self.error(str(err)) from None

    def shape_of(self, x):
        dims = []
        for k, d in enumerate(x.ty.shape or ()):
            if d is None:
                dims.append(self.op("dim", [x], Ty(np.int64, None, int), "n", axis=k))
            else:
                dims.append(d)
        return tuple(dims)

    def eval_Subscript(self, node, frame, hint):
        base = self.eval(node.value, frame)
        index = self.eval_index(node.slice, frame)
        return self.subscript(base, index, hint)

    def eval_index(self, node, frame):
        if isinstance(node, _SLICE):
            parts = [None if p is None else self.eval(p, frame) for p in (node.lower, node.upper, node.step)]
            if any(isinstance(p, Dyn) for p in parts):
                return DynSlice(*parts)
            return slice(*parts)
        if isinstance(node, _TUPLE):
            return tuple(self.eval_index(e, frame) for e in node.elts)
        return self.eval(node, frame)

    def subscript(self, base, index, hint=None):
        if isinstance(base, Dyn):
            return self.getitem(base, index if isinstance(index, tuple) else (index,), hint)
        if isinstance(base, DynList):
            if isinstance(index, Dyn) or _int(index):
                return self.list_getitem(base, index)
            raise self.error("jit cannot slice a run-time list")
        if isinstance(base, DynRange):
            raise self.error("jit cannot index a run-time range")
        if has_dyn(index):
            if isinstance(index, Dyn) and isinstance(base, (tuple, list)) and not isinstance(base, DynList):
                return self.dynamic_pick(base, index)
            if isinstance(base, range) and isinstance(index, DynSlice):
                return self.slice_range(base, index)
            raise self.unstable("a container indexed by a run-time value")
        try:
            value = base[index]
        except Exception as err:
            raise self.error(f"{type(err).__name__}: {err}") from None
        if isinstance(base, range) and isinstance(value, range):
            return value
        return value

    def dynamic_pick(self, items, index):
        """`items[i]` with a run-time i: allowed when every item has the same type."""
        if not items:
            raise self.error("index into an empty sequence")
        tys = [template(v) for v in items]
        if not all(isinstance(t, Ty) and t == tys[0] for t in tys) and not all(
                _number(v) for v in items):
            raise self.unstable("a container of differently typed items indexed by a run-time value")
        ty = tys[0] if isinstance(tys[0], Ty) else ty_of_static(items[0])
        atoms = [self.coerce(v, ty) for v in items]
        packed = self.op("tuple", atoms, Ty(np.float64, None, tuple), "items")
        return self.op("tuple_get_dyn", [packed, index], ty, "item")

    def slice_range(self, rng, sl):
        """range(a, b, c)[:n] with a run-time bound: DynRange (steps of 1 only)."""
        if rng.step != 1 or sl.start is not None or sl.step is not None:
            raise self.error("jit compiles only `range(...)[:n]` slices of ranges")
        stop = self.call_value(min, [sl.stop, rng.stop], {}) if rng.stop is not None else sl.stop
        if rng.start != 0:
            stop = self.binop(gast.Add, stop, rng.start)
        return DynRange(rng.start, stop, 1)

    def list_getitem(self, lst, index):
        tmpl = self.list_elems.get(lst.tag, NO_ITEMS)
        if tmpl is NO_ITEMS:
            raise self.error("jit cannot read from a list that nothing is appended to")
        if _int(index) and index < 0:
            if lst.length is None:
                index = self.binop(gast.Add, self.op("len", [Dyn(lst.name, None)], Ty(np.int64, None, int), "n"),
                                   index)
            else:
                index = lst.length + index
        if isinstance(tmpl, Ty):
            return self.op("list_get", [Dyn(lst.name, None), self.atom(index)], tmpl, "item")
        packed = self.op("list_get", [Dyn(lst.name, None), self.atom(index)], Ty(np.float64, None, tuple), "item")
        return self._unpack(packed, tmpl, iter(range(10 ** 6)))

    def eval_Call(self, node, frame, hint):
        callee = getattr(node, "s2s", None)
        if callee is not None and callee.kind == "user" and callee.function is not None and \
                callee.function.python_function is None:
            from ..ast_passes import operations
            op = operations.operation(node)
            args = [self.eval(a, frame) for a in op.args]
            kwargs = {k: self.eval(v, frame) for k, v in op.keywords.items()}
            return self.call_lifted(callee, args, kwargs)
        fn = self.eval(node.func, frame)
        args = self.elements(node.args, frame)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                kwargs.update(self.eval(kw.value, frame))
            else:
                kwargs[kw.arg] = self.eval(kw.value, frame)
        return self.call_value(fn, args, kwargs, hint)

    def eval_BinOp(self, node, frame, hint):
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        return self.binop(_GAST_OP[type(node.op)], left, right, hint)

    def binop(self, op, left, right, hint=None):
        if not isinstance(left, Dyn) and not isinstance(right, Dyn):
            if isinstance(left, np.ndarray) and has_dyn(right) or isinstance(right, np.ndarray) and has_dyn(left):
                raise self.error("jit cannot combine an array with a container of run-time values")
            if not (has_dyn(left) or has_dyn(right)) or isinstance(left, (tuple, list, str)):
                try:
                    return self.own(_BINOP_FN[op](left, right))
                except (TransformError, NeedUnroll):
                    raise
                except Exception as err:
                    raise self.error(f"{type(err).__name__}: {err}") from None
        name = _BINOP_PRIM.get(op)
        if name is None:
            raise self.error(f"jit cannot compile the operator {op.__name__} on run-time values")
        prim = primitives.by_name(name)
        return RULES[name](self, {"x": left, "y": right}, _BINOP_FN[op], hint=hint)

    def eval_UnaryOp(self, node, frame, hint):
        value = self.eval(node.operand, frame)
        op = _GAST_OP[type(node.op)]
        if not isinstance(value, Dyn):
            if has_dyn(value):
                raise self.error("jit cannot apply an operator to a container of run-time values")
            return {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
                    gast.Invert: operator.invert}[op](value)
        if op is gast.Not:
            return self.ew("logical_not", operator.not_, [self.truth_dyn(value)], hint or "not")
        name = {gast.USub: "negative", gast.UAdd: "positive", gast.Invert: "invert"}[op]
        fn = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Invert: operator.invert}[op]
        return self.ew(name, fn, [value], hint or name)

    def eval_Compare(self, node, frame, hint):
        left = self.eval(node.left, frame)
        result = True
        for op, comp in zip(node.ops, node.comparators):
            right = self.eval(comp, frame)
            value = self.compare(_GAST_OP[type(op)], left, right, hint)
            result = value if result is True else self.logical_and(result, value)
            if result is False:
                return False
            left = right
        return result

    def compare(self, op, left, right, hint=None):
        if op in (gast.Is, gast.IsNot):
            same = self._is(left, right)
            return same if op is gast.Is else not same
        if op in (gast.In, gast.NotIn):
            if has_dyn(left) and not isinstance(right, (tuple, list, set, dict)):
                raise self.error("jit cannot test membership of a run-time value")
            if has_dyn(left) or has_dyn(right):
                raise self.error("jit cannot test membership with run-time values")
            return _CMP_FN[op](left, right)
        if isinstance(left, Dyn) or isinstance(right, Dyn):
            return self.ew(_CMP_PRIM[op], _CMP_FN[op], [left, right], hint or "test")
        if has_dyn(left) or has_dyn(right):
            if op in (gast.Eq, gast.NotEq) and isinstance(left, tuple) and isinstance(right, tuple):
                if len(left) != len(right):
                    return op is gast.NotEq
                result = True
                for a, b in zip(left, right):
                    same = self.compare(gast.Eq, a, b)
                    result = same if result is True else self.logical_and(result, same)
                    if result is False:
                        break
                if op is gast.NotEq:
                    return (not result) if not isinstance(result, Dyn) else self.ew(
                        "logical_not", operator.not_, [result], "test")
                return result
            raise self.error("jit cannot compare containers of run-time values")
        try:
            return _CMP_FN[op](left, right)
        except Exception as err:
            raise self.error(f"{type(err).__name__}: {err}") from None

    def _is(self, a, b):
        if isinstance(a, Dyn) or isinstance(b, Dyn):
            if isinstance(a, Dyn) and isinstance(b, Dyn):
                return a.name == b.name
            return False
        return a is b

    def logical_and(self, a, b):
        if not isinstance(a, Dyn):
            return b if self.truth(a) else a
        if not isinstance(b, Dyn):
            return a if self.truth(b) else b
        return self.ew("logical_and", np.logical_and, [self.truth_dyn(a), self.truth_dyn(b)], "both")

    def eval_BoolOp(self, node, frame, hint):
        is_and = isinstance(node.op, (gast.And, ast.And))
        result = self.eval(node.values[0], frame)
        for value_node in node.values[1:]:
            if not isinstance(result, Dyn):
                if bool(self.truth(result)) != is_and:
                    return result
                result = self.eval(value_node, frame)
                continue
            other = self.eval(value_node, frame)
            if not isinstance(other, Dyn) and not _number(other):
                raise self.error("jit compiles `and`/`or` on run-time values only between numbers")
            fn = np.logical_and if is_and else np.logical_or
            a = self.truth_dyn(result)
            b = self.truth_dyn(other) if isinstance(other, Dyn) else bool(other)
            result = self.ew("logical_and" if is_and else "logical_or", fn, [a, b], hint or "test")
        return result

    def eval_IfExp(self, node, frame, hint):
        test = self.eval(node.test, frame)
        if not isinstance(test, Dyn):
            return self.eval(node.body if self.truth(test) else node.orelse, frame, hint)
        cond = self.truth_dyn(test)
        values, blocks = [], []
        for branch in (node.body, node.orelse):
            saved, self.block = self.block, []
            try:
                values.append(self.eval(branch, frame, hint))
            finally:
                blocks.append(self.block)
                self.block = saved
        envs = [{"choice": v} for v in values]
        merged = self.merge(envs, blocks)
        self.emit(If(cond, blocks[0], blocks[1]))
        return merged["choice"]

    def eval_Lambda(self, node, frame, hint):
        raise self.error("jit cannot compile a lambda here")

    # comprehensions: run over static iterables
    def eval_ListComp(self, node, frame, hint):
        return SList(self.comprehension(node.generators, frame, lambda f: self.eval(node.elt, f)), self.depth)

    def eval_GeneratorExp(self, node, frame, hint):
        # a list, so that `has_dyn` sees run-time items (sum(...), tuple(...) take lists alike)
        return SList(self.comprehension(node.generators, frame, lambda f: self.eval(node.elt, f)), self.depth)

    def eval_SetComp(self, node, frame, hint):
        items = self.comprehension(node.generators, frame, lambda f: self.eval(node.elt, f))
        if has_dyn(items):
            raise self.error("jit cannot put run-time values in a set")
        return set(items)

    def eval_DictComp(self, node, frame, hint):
        pairs = self.comprehension(node.generators, frame,
                                   lambda f: (self.eval(node.key, f), self.eval(node.value, f)))
        return dict(pairs)

    def comprehension(self, generators, frame, element):
        inner = Frame(frame.source, dict(frame.env))
        inner.stmt = frame.stmt
        out = []

        def run(k):
            if k == len(generators):
                out.append(element(inner))
                return
            gen = generators[k]
            for item in self.static_items(self.eval(gen.iter, inner)):
                self.assign(gen.target, item, inner)
                ok = True
                for cond in gen.ifs:
                    test = self.eval(cond, inner)
                    if isinstance(test, Dyn):
                        raise self.error("jit cannot filter a comprehension on a run-time value")
                    if not self.truth(test):
                        ok = False
                        break
                if ok:
                    run(k + 1)

        self.frames.append(inner)
        try:
            run(0)
        finally:
            self.frames.pop()
        return out

    # -- operations on run-time values --------------------------------------------------------
    def unit(self, value):
        if isinstance(value, Dyn):
            return value.ty.unit()
        if isinstance(value, np.ndarray):
            return np.zeros((), value.dtype)
        return value

    def ew(self, name, impl, args, hint="tmp"):
        """An elementwise operation (ufunc, operator, math function) on run-time values."""
        for a in args:
            if not (isinstance(a, Dyn) or _number(a) or isinstance(a, np.ndarray)):
                raise self.error(f"jit cannot apply `{name}` to {_describe(a)}")
        fn = impl if impl is not None else UFUNC[name]
        rdtype, rtype, compute = self.ew_types(name, fn, args)
        shapes = [a.ty.shape if isinstance(a, Dyn) else a.shape for a in args
                  if (isinstance(a, Dyn) and a.ty.is_array) or isinstance(a, np.ndarray)]
        shape = broadcast_shapes(shapes, self) if shapes else ()
        if shape != ():
            ty = Ty(rdtype, shape, np.ndarray, "C")
        else:                  # NumPy gives a scalar when no operand has a dimension
            ty = Ty(rdtype, None, rtype)
        atoms = []
        for a in args:
            if isinstance(a, Dyn):
                if not a.ty.is_array and a.ty.dtype != compute and compute.kind in "fc" and name not in ("where",):
                    a = self.cast(a, compute, compute.type)
                atoms.append(a)
            elif isinstance(a, np.ndarray):
                atoms.append(self.as_dyn(a))
            else:
                atoms.append(Const(a, compute if name not in ("power",) or compute.kind in "fc" else None))
        return self.op("ew", atoms, ty, hint, fn=name)

    def ew_types(self, name, fn, args):
        """(result dtype, result Python type, dtype to compute in) of an elementwise operation, from
        NumPy applied to one-element values of the operands' types (remembered per operand types)."""
        return _remembered(_EW_TYPES, (name, fn, tuple(_unit_key(a) for a in args)),
                           lambda: self._ew_types(name, fn, args))

    def _ew_types(self, name, fn, args):
        units = [self.unit(a) for a in args]
        try:
            r = fn(*units)
        except Exception as err:
            raise self.error(f"{name}: {type(err).__name__}: {err}") from None
        if isinstance(r, np.ndarray) and r.ndim == 0:
            r = r[()]
        if name in ("divide",) and all(np.result_type(u).kind in "iub" for u in units):
            compute = np.dtype(np.float64)
        else:
            try:
                compute = np.result_type(*units)
            except TypeError:
                compute = np.result_type(r)
        return np.result_type(r), type(r), compute

    def as_dyn(self, v):
        """A Dyn for a value that may be a static array (bound as a module constant) or number."""
        if isinstance(v, Dyn):
            return v
        if isinstance(v, np.ndarray):
            return self.op("const", [Const(v)], Ty(v.dtype, v.shape, np.ndarray, "C"), "const")
        if _number(v):
            t = ty_of(v)
            return self.op("copy", [Const(v, t.dtype)], t, "const")
        raise self.error(f"jit cannot use {_describe(v)} as an array")

    def cast(self, x, dtype, pytype=None):
        dtype = np.dtype(dtype)
        if isinstance(x, Dyn):
            if x.ty.dtype == dtype and (pytype is None or x.ty.pytype is pytype or x.ty.is_array):
                return x
            if x.ty.is_array:
                return self.op("astype", [x], x.ty.with_(dtype=dtype, layout="C"), "cast", dtype=dtype)
            return self.op("cast", [x], Ty(dtype, None, pytype or dtype.type), "cast", dtype=dtype)
        if _number(x):
            return (pytype or dtype.type)(x)
        if isinstance(x, np.ndarray):
            return x.astype(dtype)
        raise self.error(f"jit cannot cast {_describe(x)}")

    def reduce(self, kind, a, axis=None, keepdims=False, dtype=None, hint="tmp"):
        if dtype is not None:
            a = self.cast(a, dtype)
        if not isinstance(a, Dyn):
            raise self.error(f"jit cannot reduce {_describe(a)}")
        ty = a.ty
        if not ty.is_array:
            arr = self.op("asarray0", [a], Ty(ty.dtype, (), np.ndarray, "C"), "a")
            a, ty = arr, arr.ty
        ndim = ty.ndim
        if axis is None:
            axes = tuple(range(ndim))
        else:
            axes = axis if isinstance(axis, tuple) else (axis,)
            if has_dyn(axes):
                raise self.error(f"jit needs the axis of `{kind}` known; it is a run-time value")
            try:
                axes = tuple(sorted(int(k) % ndim if ndim else 0 for k in axes))
            except TypeError:
                raise self.error(f"bad axis {axis!r}") from None
        rd, scalar_type = _reduce_types(kind, ndim, ty.dtype, axis, keepdims)
        if kind in ("argmax", "argmin") and axis is None:
            axes = tuple(range(ndim))
        shape = tuple(d for k, d in enumerate(ty.shape) if k not in axes) if not keepdims else tuple(
            1 if k in axes else d for k, d in enumerate(ty.shape))
        if not shape and not keepdims:
            out_ty = Ty(rd, None, scalar_type)
        else:
            out_ty = Ty(rd, shape, np.ndarray, "C")
        return self.op("reduce", [a], out_ty, hint or kind, kind=kind, axes=axes, keepdims=bool(keepdims))

    def transpose(self, x, axes=None, hint=None):
        ty = x.ty
        if not ty.is_array or ty.ndim < 2:
            return x
        if axes is None:
            axes = tuple(reversed(range(ty.ndim)))
        axes = tuple(int(a) % ty.ndim for a in axes)
        if axes == tuple(range(ty.ndim)):
            return x
        shape = tuple(ty.shape[a] for a in axes)
        if ty.ndim == 2:
            layout = {"C": "F", "F": "C"}.get(ty.layout, "A")
        else:
            layout = "A"
        return self.op("transpose", [x], ty.with_(shape=shape, layout=layout), hint or f"{x.name}_T", axes=axes)

    def reshape(self, x, shape, hint=None):
        if not isinstance(x, Dyn):
            return np.reshape(x, shape)
        ty = x.ty
        size = ty.size
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if has_dyn(shape):
            raise self.error("jit needs the new shape of `reshape` known when compiling")
        if size is None:
            raise self.error("jit needs the shape of the array being reshaped known")
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
            shape = tuple(size // known if d == -1 else d for d in shape)
        if int(np.prod(shape, dtype=np.int64)) != size:
            raise self.error(f"cannot reshape an array of size {size} into shape {shape}")
        if not ty.is_array:
            return self.op("asarray0", [x], Ty(ty.dtype, (), np.ndarray, "C"), "a") if shape == () else \
                self.reshape(self.op("asarray0", [x], Ty(ty.dtype, (), np.ndarray, "C"), "a"), shape, hint)
        if shape == ty.shape:
            return x
        return self.op("reshape", [x], Ty(ty.dtype, shape, np.ndarray, "C"), hint or x.name, shape=shape,
                       contiguous=ty.layout == "C")

    def getitem(self, x, index, hint=None):
        ty = x.ty
        if not ty.is_array:
            if index in ((), (Ellipsis,)):
                return x
            raise self.error("jit cannot index a scalar")
        parts = []
        witness = []
        dyn_shape = False
        for part in index:
            if isinstance(part, Dyn):
                if part.ty.is_array:
                    if part.ty.dtype == np.bool_:
                        dyn_shape = True
                    witness.append(np.zeros(tuple(1 if d is None else d for d in part.ty.shape), part.ty.dtype))
                elif part.ty.dtype.kind in "iu":
                    witness.append(0)
                else:
                    raise self.error("an index must be an integer")
                parts.append(part)
            elif isinstance(part, DynSlice):
                dyn_shape = True
                witness.append(slice(None))
                parts.append(DynSlice(*(None if p is None else self.atom(p) for p in (part.start, part.stop,
                                                                                       part.step))))
            elif isinstance(part, np.ndarray):
                witness.append(part)
                parts.append(Const(part))
            elif isinstance(part, (list, tuple)):
                arr = np.asarray(part)
                witness.append(arr)
                parts.append(Const(arr))
            elif part is None or part is Ellipsis or isinstance(part, slice) or _int(part):
                witness.append(part)
                parts.append(part)
            elif isinstance(part, (bool, np.bool_)):
                raise self.error("jit cannot index with a boolean scalar")
            else:
                raise self.error(f"jit cannot index with {_describe(part)}")
        try:
            out = ty.witness()[tuple(witness)]
        except Exception as err:
            raise self.error(f"{type(err).__name__}: {err}") from None
        if isinstance(out, np.ndarray):
            shape = list(out.shape)
            if dyn_shape:
                shape = _dynamic_dims(parts, ty, shape)
            layout = _index_layout(parts, ty)
            out_ty = Ty(ty.dtype, tuple(shape), np.ndarray, layout)
        else:
            out_ty = Ty(ty.dtype, None, type(out))
        return self.op("getitem", [x], out_ty, hint or f"{x.name}_item", index=tuple(parts))

    def setitem(self, x, index, value, add=False):
        if not isinstance(index, tuple):
            index = (index,)
        parts = [self.index_atom(p) for p in index]
        v = value
        if isinstance(value, Dyn) and value.ty.dtype != x.ty.dtype:
            v = self.cast(value, x.ty.dtype)
        self.emit(SetItem(x.name, tuple(parts), self.atom(v, x.ty.dtype), add))

    def index_atom(self, part):
        if isinstance(part, Dyn):
            return part
        if isinstance(part, DynSlice):
            return DynSlice(*(None if p is None else self.atom(p) for p in (part.start, part.stop, part.step)))
        if isinstance(part, (list, tuple)):
            return Const(np.asarray(part))
        if isinstance(part, np.ndarray):
            return Const(part)
        return part

    def fill(self, shape, dtype, value, hint="filled"):
        """An array of one value: an elementwise op on a constant, so kernels fuse it."""
        dtype = np.dtype(dtype)
        ty = Ty(dtype, tuple(shape), np.ndarray, "C")
        if ty.size == 0 or not shape:
            return self.op("full", [], ty, hint, shape=tuple(shape), dtype=dtype, fill=value)
        return self.op("ew", [Const(value, dtype)], ty, hint, fn="positive")

    def zeros(self, shape, dtype, hint="zeros"):
        shape = tuple(shape)
        if any(isinstance(d, Dyn) for d in shape):
            ty = Ty(dtype, tuple(None if isinstance(d, Dyn) else d for d in shape), np.ndarray, "C")
            return self.op("zeros", [self.atom(d) for d in shape], ty, hint, dtype=np.dtype(dtype), dynamic=True)
        return self.fill(shape, dtype, 0, hint)

    def create_array(self, name, impl, args, kwargs, value):
        """A big array built from constants: created at run time rather than baked in."""
        ty = Ty(value.dtype, value.shape, np.ndarray, "C")
        if name in ("zeros", "zeros_like"):
            return self.fill(value.shape, value.dtype, 0, name)
        if name in ("ones", "ones_like"):
            return self.fill(value.shape, value.dtype, 1, name)
        if name in ("empty", "empty_like"):
            return self.op("empty", [], ty, name, shape=value.shape, dtype=value.dtype)
        if name in ("full", "full_like") and np.all(value == value.flat[0]):
            return self.fill(value.shape, value.dtype, value.flat[0].item(), name)
        if name in ("eye", "identity") and value.ndim == 2:
            k = 0 if name == "identity" else (kwargs.get("k", args[2] if len(args) > 2 else 0))
            return self.op("eye", [], ty, name, shape=value.shape, dtype=value.dtype, k=int(k))
        if name == "arange" and value.ndim == 1 and value.size > 1:
            start = value[0].item()
            step = (value[1] - value[0]).item()
            return self.op("arange", [], ty, name, start=start, step=step, n=value.size, dtype=value.dtype)
        return value


_EW_TYPES = {}
_REDUCE_TYPES = {}


def _remembered(table, key, compute):
    """compute(), remembered in `table` under `key` (computed every time for an unhashable key)."""
    try:
        hit = table.get(key)
    except TypeError:
        return compute()
    if hit is None:
        hit = table[key] = compute()
    return hit


def _reduce_types(kind, ndim, dtype, axis, keepdims):
    """(dtype, Python type of a scalar result) of a NumPy reduction, from a one-element array."""
    return _remembered(_REDUCE_TYPES, (kind, ndim, dtype, axis, keepdims),
                       lambda: _reduction_types(kind, ndim, dtype, axis, keepdims))


def _reduction_types(kind, ndim, dtype, axis, keepdims):
    with np.errstate(all="ignore"):
        small = np.ones((1,) * ndim, dtype)
        fn = getattr(np, kind)
        if kind in ("argmax", "argmin") and keepdims is False:
            r = fn(small, axis=axis)
        else:
            r = fn(small, axis=axis, keepdims=keepdims)
    return np.result_type(r), type(np.asarray(r)[()]) if not isinstance(r, np.generic) else type(r)


def _unit_key(value):
    """What `Specializer.unit` of an operand depends on (values of numbers: `0 ** -1` fails)."""
    if isinstance(value, Dyn):
        ty = value.ty
        return (ty.dtype, ty.shape is None, ty.pytype)
    if isinstance(value, np.ndarray):
        return (np.ndarray, value.dtype)
    return (type(value), value)


def _grow(lst, n):
    if lst.length is not None:
        lst.length += n
    if getattr(lst, "delta", None) is not None:
        lst.delta += n


class _Restart(Exception):
    """A list's element type became known: run the loop body again."""


def _debug(*parts):
    if os.environ.get("S2S_JIT_DEBUG"):
        print("[s2s.jit]", *parts)


def has_ty(tmpl):
    if isinstance(tmpl, Ty):
        return True
    if isinstance(tmpl, (tuple, SList)):
        return any(has_ty(t) for t in tmpl)
    return False


def _dynamic_dims(parts, ty, shape):
    """Dimensions that run-time slice bounds or boolean masks make unknown."""
    out = list(shape)
    k_out = 0
    for part in parts:
        if part is None:
            k_out += 1
        elif isinstance(part, DynSlice):
            out[k_out] = None
            k_out += 1
        elif isinstance(part, slice):
            k_out += 1
        elif isinstance(part, Dyn) and part.ty.is_array:
            if part.ty.dtype == np.bool_:
                out[k_out] = None
            k_out += part.ty.ndim if part.ty.dtype != np.bool_ else 1
    return tuple(out)


def _index_layout(parts, ty):
    """'C' when NumPy (and Numba) give a contiguous view: integers first, then whole axes."""
    if ty.layout != "C":
        return "A"
    seen_slice = False
    for part in parts:
        if part is None:
            continue                 # a new axis keeps the layout (Numba agrees)
        if _int(part) or (isinstance(part, Dyn) and not part.ty.is_array):
            if seen_slice:
                return "A"
        elif isinstance(part, slice) and part == slice(None):
            seen_slice = True
        elif part is Ellipsis:
            seen_slice = True
        elif isinstance(part, Dyn) or isinstance(part, Const):
            return "C"          # advanced indexing copies
        else:
            return "A"
    return "C"


def broadcast_shapes(shapes, spec):
    first = shapes[0]
    if all(s == first for s in shapes):
        return tuple(first)
    ndim = max(len(s) for s in shapes)
    out = []
    for k in range(ndim):
        dims = [s[len(s) - ndim + k] for s in shapes if len(s) - ndim + k >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise spec.error(f"operands could not be broadcast together with shapes {shapes}")
        if known:
            out.append(known.pop())
        elif None in dims:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def nodes_load(target):
    import copy
    node = copy.copy(target)
    node.ctx = gast.Load()
    return node


def stored_names(stmts):
    out = set()
    for stmt in stmts:
        for node in gast.walk(stmt):
            if isinstance(node, _NAME) and isinstance(node.ctx, _STORE):
                out.add(node.id)
    return out


def _is_s2s_helper(fn):
    """A rule helper written in Python (inlined like user code)."""
    return isinstance(fn, types.FunctionType) and (getattr(fn, "__module__", "") or "").startswith("s2s.")


def _is_user_function(fn):
    module = getattr(fn, "__module__", "") or ""
    return not module.startswith(("numpy", "scipy", "math", "builtins", "functools", "operator", "numba",
                                  "s2s.runtime.primitives.core", "s2s.runtime.primitives.structural",
                                  "s2s.runtime.pytree"))


def located_error(where, message, suggestion=None):
    """TransformError at the innermost user line of `where` (frames of rule helpers skipped)."""
    chosen = None
    for source, stmt in reversed(where):
        if source is None:
            continue
        if not _is_library_file(source.filename):
            chosen = (source, stmt)
            break
    if chosen is None and where:
        chosen = where[-1]
    if chosen is None:
        return TransformError(message, suggestion=suggestion)
    source, stmt = chosen
    filename, lineno, construct = user_line(source, getattr(stmt, "lineno", None))
    return TransformError(message, filename=filename, lineno=lineno, function=source.qualname or source.name,
                          construct=construct, suggestion=suggestion)


def _is_library_file(filename):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.abspath(filename).startswith(os.path.join(here, "runtime"))


def user_line(source, lineno):
    """(file, line, text) of a line; for s2s-generated files, the user's line its comment names."""
    import linecache
    filename = source.filename
    text = linecache.getline(filename, lineno).strip() if lineno else ""
    base = os.path.basename(filename)
    from .module import cache_dir
    if lineno and os.path.dirname(os.path.abspath(filename)) == os.path.abspath(cache_dir()):
        for k in range(lineno - 1, 0, -1):
            line = linecache.getline(filename, k).strip()
            if line.startswith("def "):
                break
            if line.startswith("# ") and ":" in line:
                head = line[2:].split(":", 2)
                if len(head) == 3 and head[1].strip().isdigit():
                    return head[0], int(head[1]), head[2].strip() + f"    (generated {base}:{lineno}: {text})"
    return base, lineno, text


from ..runtime import pytree as _pytree  # noqa: E402

_STRUCTURAL_IDS.update(id(f) for f in (_pytree.tree_flatten, _pytree.tree_unflatten, _pytree.tree_leaves,
                                       _pytree.tree_structure))


from . import lowering  # noqa: E402,F401  (registers the rules)
