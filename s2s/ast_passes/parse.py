"""Find a function's source and parse it with gast, keeping the user's file and lines."""
import ast
import functools
import linecache
import os
import types
import weakref
from dataclasses import dataclass, field

import gast

from ..errors import TransformError
from . import nodes, reads


@dataclass
class FunctionSource:
    """A function to transform: its gast tree and where its names come from."""

    tree: gast.FunctionDef
    filename: str
    globals: dict
    closure: dict = field(default_factory=dict)
    qualname: str = ""
    python_function: object = None   # the original function, when there is one
    prelifted: dict = field(default_factory=dict)   # local name -> resolve.Through bound by a caller

    @property
    def name(self):
        return self.tree.name

    def line(self, lineno):
        """The text of one line of the user's file, stripped."""
        return linecache.getline(self.filename, lineno).strip() if lineno else ""

    def error(self, message, node=None, construct=None, suggestion=None):
        lineno = getattr(node, "lineno", None)
        if construct is None and lineno:
            construct = self.line(lineno)
        return TransformError(message, filename=os.path.basename(self.filename), lineno=lineno,
                              function=self.qualname or self.name, construct=construct,
                              suggestion=suggestion)


@functools.lru_cache(maxsize=256)
def _parse_file(filename, stamp):
    """The file's `ast` tree: parsing is fast, converting to gast is not, so only the functions
    that are transformed are converted (`_converted`)."""
    lines = linecache.getlines(filename)
    return ast.parse("".join(lines))


_GAST = {}      # id(ast node) -> (ast node, its gast conversion), kept as long as the file's tree


def _converted(node):
    hit = _GAST.get(id(node))
    if hit is None or hit[0] is not node:
        hit = _GAST[id(node)] = (node, gast.ast_to_gast(node))
    return hit[1]


def _file_tree(filename):
    try:
        stamp = os.stat(filename).st_mtime_ns
    except OSError:
        stamp = None
    if not linecache.getlines(filename):
        linecache.checkcache(filename)
    if not linecache.getlines(filename):
        return None
    return _parse_file(filename, stamp)


def function(fn):
    """FunctionSource for a Python function, lambda, nested function or method."""
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"s2s transforms Python functions; got {type(fn).__name__} {fn!r}")
    reads.note_function(fn)
    code = fn.__code__
    filename = code.co_filename
    tree = _file_tree(filename)
    if tree is None:
        raise TransformError(
            f"source of {fn.__qualname__} is not available (defined in {filename}); s2s reads a "
            "function's source, so define it in a file or a notebook cell, not at a bare REPL",
            filename=filename, function=fn.__qualname__, construct=None)
    node = _find(tree, code)
    if node is None:
        raise TransformError(
            f"cannot find the source of {fn.__qualname__} in {filename} at line {code.co_firstlineno}"
            " (was the file edited after it was imported?)",
            filename=os.path.basename(filename), lineno=code.co_firstlineno, function=fn.__qualname__)
    node = _converted(node)
    if isinstance(node, gast.Lambda):
        node = _lambda_to_def(node, code)
    else:
        node = nodes.copy(node)
        node.decorator_list = []
    closure = {}
    if fn.__closure__:
        for var, cell in zip(code.co_freevars, fn.__closure__):
            try:
                closure[var] = cell.cell_contents
            except ValueError:   # an empty cell: the variable is not assigned yet
                pass
    return FunctionSource(tree=node, filename=filename, globals=fn.__globals__, closure=closure,
                          qualname=fn.__qualname__, python_function=fn)


def _find(tree, code):
    first = code.co_firstlineno
    if code.co_name == "<lambda>":
        return _find_lambda(tree, code)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            starts = [node.lineno] + [d.lineno for d in node.decorator_list]
            if first in starts:
                return node
    return None


def _find_lambda(tree, code):
    """The lambda whose span holds all of the code object's source positions."""
    spots = [(line, col) for line, _, col, end_col in code.co_positions()
             if line is not None and col is not None and end_col is not None and end_col > col]
    best = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Lambda) or node.lineno > code.co_firstlineno:
            continue
        if node.end_lineno < code.co_firstlineno:
            continue
        inside = all((node.lineno, node.col_offset) <= spot < (node.end_lineno, node.end_col_offset)
                     for spot in spots)
        if inside and (best is None or _span(node) < _span(best)):
            best = node
    return best


def _span(node):
    return (node.end_lineno - node.lineno, node.end_col_offset - node.col_offset)


def _lambda_to_def(node, code):
    body = nodes.return_(nodes.copy(node.body))
    body.lineno = node.lineno
    fn = gast.FunctionDef(name="lambda_", args=nodes.copy(node.args), body=[body], decorator_list=[],
                          returns=None, type_comment=None, type_params=[])
    fn.lineno = node.lineno
    return fn


_TWINS = weakref.WeakKeyDictionary()      # user function -> {key: its twin}


def twin(fn, key):
    """A second function object running `fn`'s code, one per (fn, key): a variant of `fn`'s tree
    (more parameters, allowed writes) gets its own entry in every cache keyed by function."""
    twins = _TWINS.setdefault(fn, {})
    if key not in twins:
        new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        new.__qualname__, new.__kwdefaults__ = fn.__qualname__, fn.__kwdefaults__
        twins[key] = new
    return twins[key]


def _join_displays(tree, star, names):
    """`xs + (a,)`, `(a,) + xs` with `xs` the packed *args: one tuple display `(xs_0, xs_1, a)`
    (autograd's `np.hstack(args + (ones,))`), which every pass reads as a sequence."""
    def parts(node):
        if isinstance(node, gast.Name) and node.id == star and isinstance(node.ctx, gast.Load):
            return [nodes.name(m) for m in names]
        if isinstance(node, gast.Tuple) and not any(isinstance(e, gast.Starred) for e in node.elts):
            return list(node.elts)
        return None

    class Join(gast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, gast.Add):
                left, right = parts(node.left), parts(node.right)
                if left is not None and right is not None:
                    return gast.copy_location(nodes.tuple_(left + right), node)
            return node

    Join().visit(tree)


def with_positional(source, n):
    """`def f(a, *xs)` called with `n` values for `xs`: `def f(a, xs_0, ..., xs_{n-1})` starting with
    `xs = (xs_0, ...)`; `g(*xs)` inside becomes `g(xs_0, ...)` while `xs` is never rebound."""
    fn = source.tree
    args = fn.args
    if args.vararg is None or args.kwarg is not None or args.kwonlyargs or n < 0:
        return source
    star = args.vararg.id
    python_function = twin(source.python_function, ("positional", n)) if source.python_function else None
    new = python_function and function(python_function)
    tree = new.tree if new else nodes.copy(fn)
    taken = {x.id for x in nodes.walk(tree, contexts=False) if isinstance(x, gast.Name)}
    names = [nodes.unique_name(f"{star}_{k}", taken) for k in range(n)]
    rebound = any(isinstance(x, gast.Name) and x.id == star and isinstance(x.ctx, gast.Store)
                  for x in nodes.walk(tree, contexts=False))
    if not rebound:
        for call in nodes.walk(tree, contexts=False):
            if isinstance(call, gast.Call):
                call.args = [a for arg in call.args for a in (
                    [nodes.name(m) for m in names] if isinstance(arg, gast.Starred)
                    and isinstance(arg.value, gast.Name) and arg.value.id == star else [arg])]
        _join_displays(tree, star, names)
    for name_ in names:
        param = nodes.store(name_)
        param.ctx = gast.Param()
        tree.args.args.append(param)
    tree.args.vararg = None
    pack = nodes.assign(star, nodes.tuple_([nodes.name(m) for m in names]), fn.lineno)
    tree.body = [pack] + tree.body
    return FunctionSource(tree=tree, filename=source.filename, globals=source.globals, closure=source.closure,
                          qualname=source.qualname, python_function=python_function)
