"""The one place that builds gast nodes (gast changes node signatures between versions)."""
import ast
import math
import sys

import gast

LOAD, STORE = gast.Load(), gast.Store()
COMMENT_MARK = "#S2S# "


def name(id_, ctx=None):
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def store(id_):
    return name(id_, gast.Store())


def param(id_):
    return name(id_, gast.Param())


def const(value):
    return gast.Constant(value=value, kind=None)


def attr(value, attribute):
    return gast.Attribute(value=value, attr=attribute, ctx=gast.Load())


def dotted(path):
    """`np.linalg.inv` from the string 'np.linalg.inv'."""
    first, *rest = path.split(".")
    node = name(first)
    for part in rest:
        node = attr(node, part)
    return node


def call(func, args=(), keywords=None):
    if isinstance(func, str):
        func = dotted(func)
    kws = [gast.keyword(arg=k, value=v) for k, v in (keywords or {}).items()]
    return gast.Call(func=func, args=list(args), keywords=kws)


def assign(target, value, lineno=None):
    if isinstance(target, str):
        target = store(target)
    node = gast.Assign(targets=[target], value=value, type_comment=None)
    if lineno is not None:
        node.lineno = lineno
    return node


def tuple_(elts, ctx=None):
    return gast.Tuple(elts=list(elts), ctx=ctx or gast.Load())


def list_(elts):
    return gast.List(elts=list(elts), ctx=gast.Load())


def subscript(value, index, ctx=None):
    return gast.Subscript(value=value, slice=index, ctx=ctx or gast.Load())


def binop(left, op, right):
    return gast.BinOp(left=left, op=op, right=right)


def unary(op, operand):
    return gast.UnaryOp(op=op, operand=operand)


def expr(value):
    return gast.Expr(value=value)


def if_(test, body, orelse=()):
    return gast.If(test=test, body=list(body) or [gast.Pass()], orelse=list(orelse))


def for_(target, iter_, body):
    if isinstance(target, str):
        target = store(target)
    return gast.For(target=target, iter=iter_, body=list(body) or [gast.Pass()], orelse=[],
                    type_comment=None)


def while_(test, body):
    return gast.While(test=test, body=list(body) or [gast.Pass()], orelse=[])


def return_(value):
    return gast.Return(value=value)


def comment(text):
    """A statement that the emitter prints as a `# text` comment line."""
    return gast.Expr(value=const(COMMENT_MARK + text))


def is_comment(stmt):
    return (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant)
            and isinstance(stmt.value.value, str) and stmt.value.value.startswith(COMMENT_MARK))


def function(name_, params, body, defaults=()):
    args = gast.arguments(args=[param(p) if isinstance(p, str) else p for p in params],
                          posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                          kwarg=None, defaults=list(defaults))
    for a in args.args:
        a.ctx = gast.Param()
    return gast.FunctionDef(name=name_, args=args, body=list(body), decorator_list=[],
                            returns=None, type_comment=None, type_params=[])


def parse_expression(text):
    """A fresh tree of the expression `text` (each text is parsed once, then copied)."""
    if text not in _PARSED_EXPRESSIONS:
        _PARSED_EXPRESSIONS[text] = gast.parse(text, mode="eval").body
    return _copy(_PARSED_EXPRESSIONS[text])


def parse_statements(text):
    """Fresh trees of the statements in `text` (each text is parsed once, then copied)."""
    if text not in _PARSED_STATEMENTS:
        _PARSED_STATEMENTS[text] = gast.parse(text).body
    return [_copy(s) for s in _PARSED_STATEMENTS[text]]


_PARSED_EXPRESSIONS = {}
_PARSED_STATEMENTS = {}


def to_source(node):
    """Python source of a gast node; parsing it gives the same tree back (`to_ast(node)`)."""
    tree = to_ast(node)
    if not _FAST_TO_AST:
        ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def to_ast(node):
    """The `ast` tree of a gast node: the tree `gast.gast_to_ast` builds, without its visitor,
    except that statements that may print a type comment always have a `lineno` (None if the
    gast node has none), which is all `ast.unparse` reads of locations, and that a negative
    number is `-(number)`, as the parser reads it (`ast.unparse` prints `Constant(-1.5) ** 2`
    as `-1.5 ** 2`, which is `-(1.5 ** 2)`)."""
    if not _FAST_TO_AST:
        return _SignedConstants().visit(gast.gast_to_ast(node))
    return _to_ast(node)


def _negative(value):
    return type(value) in (int, float) and (value < 0 or (value == 0 and math.copysign(1.0, value) < 0))


def _signed_constant(new):
    """`Constant(-x)` as the parser builds it: `UnaryOp(USub, Constant(x))`."""
    if _negative(new.value):
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-new.value, kind=None))
    return new


class _SignedConstants(ast.NodeTransformer):
    def visit_Constant(self, node):
        return _signed_constant(node)


def _to_ast(node):
    kind = type(node)
    convert = _TO_AST.get(kind)
    if convert is None:
        convert = _TO_AST[kind] = _converter(kind)
    return convert(node)


def _ast_value(value):
    if isinstance(value, AST):
        return _to_ast(value)
    if isinstance(value, list):
        return [_ast_value(v) for v in value]
    return value


def _converter(kind):
    """How gast (for Python 3.8 to 3.11) converts one node class; see gast/ast3.py `GAstToAst3`."""
    name = kind.__name__
    target = getattr(ast, name, None)
    if target is None:              # not part of the ast: gast drops it
        return lambda node: None
    fields = _KEPT_FIELDS.get(name)
    if name == "arguments":
        return _arguments
    if name == "Constant":
        plain = _converter_of(target, kind._fields, kind._attributes, False)
        return lambda node: _signed_constant(plain(node))
    if name == "ExceptHandler":
        plain = _converter_of(target, kind._fields, kind._attributes, False)
        located = _located(target, kind)

        def convert(node):
            if not node.name:
                return plain(node)
            new = _build(target, {"type": _ast_value(node.type), "name": node.name.id,
                                  "body": _ast_value(node.body)})
            return located(new, node)
        return convert
    if fields is not None:
        convert = _converter_of(target, fields, _located(target, kind), True)
    else:
        convert = _converter_of(target, kind._fields, kind._attributes, False)
    if name not in _TYPE_COMMENTED:
        return convert

    def with_lineno(node):
        new = convert(node)
        if "lineno" not in new.__dict__:
            new.lineno = None
        return new
    return with_lineno


def _converter_of(target, fields, attributes, located):
    """Build `target` from `fields`; then copy `attributes` (or locate it like ast.copy_location)."""
    def convert(node):
        values = {}
        for field in fields:
            value = getattr(node, field, _MISSING)
            if value is not _MISSING:
                values[field] = _ast_value(value)
        new = _build(target, values)
        if located:
            return attributes(new, node)
        for attribute in attributes:
            value = getattr(node, attribute, _MISSING)
            if value is not _MISSING:
                setattr(new, attribute, value)
        return new
    return convert


def _located(target, kind):
    """`ast.copy_location(new, old)` for a `target` built from a `kind` node."""
    shared = [a for a in ("lineno", "col_offset", "end_lineno", "end_col_offset")
              if a in kind._attributes and a in target._attributes]

    def locate(new, old):
        for attribute in shared:
            value = getattr(old, attribute, _MISSING)
            if value is _MISSING:
                continue
            if value is not None or attribute.startswith("end_"):
                setattr(new, attribute, value)
        return new
    return locate


def _build(target, values):
    new = target.__new__(target)
    new.__dict__.update(values)
    return new


def _arg(node):
    if node is None:
        return None
    new = _build(ast.arg, {"arg": node.id, "annotation": _ast_value(node.annotation),
                           "type_comment": _ast_value(node.type_comment)})
    return _ARG_LOCATED(new, node)


def _arguments(node):
    return _build(ast.arguments, {
        "posonlyargs": [_arg(a) for a in node.posonlyargs], "args": [_arg(a) for a in node.args],
        "vararg": _arg(node.vararg), "kwonlyargs": [_arg(a) for a in node.kwonlyargs],
        "kw_defaults": _ast_value(node.kw_defaults), "kwarg": _arg(node.kwarg),
        "defaults": _ast_value(node.defaults)})


# the fields gast keeps where it does not convert a node field by field
_KEPT_FIELDS = {
    "Name": ("id", "ctx"),
    "Assign": ("targets", "value"),
    "FunctionDef": ("name", "args", "body", "decorator_list", "returns", "type_comment"),
    "AsyncFunctionDef": ("name", "args", "body", "decorator_list", "returns", "type_comment"),
    "ClassDef": ("name", "bases", "keywords", "body", "decorator_list"),
}
# statements `ast.unparse` asks for a type comment, which looks their `lineno` up
_TYPE_COMMENTED = {"Assign", "FunctionDef", "AsyncFunctionDef", "For", "AsyncFor", "With", "AsyncWith"}
_FAST_TO_AST = (3, 8) <= sys.version_info[:2] < (3, 12)
_TO_AST = {}
_MISSING = object()
_ARG_LOCATED = _located(ast.arg, gast.Name)


def copy(node):
    """A deep copy of the syntax; s2s annotations (callees, bound values) are shared."""
    if isinstance(node, list):
        return [copy(n) for n in node]
    if not isinstance(node, AST):
        return node
    return _copy(node)


def _copy(node):
    kind = type(node)
    new = kind.__new__(kind)
    fields = {}
    for key, value in node.__dict__.items():
        if isinstance(value, AST):
            value = _copy(value)
        elif isinstance(value, list):
            value = [_copy(v) if isinstance(v, AST) else copy(v) for v in value]
        fields[key] = value
    new.__dict__.update(fields)
    return new


def statements(stmts):
    """Every statement in `stmts` and in the bodies of the ifs and loops among them, in order."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, gast.If):
            yield from statements(stmt.body)
            yield from statements(stmt.orelse)
        elif isinstance(stmt, (gast.For, gast.While)):
            yield from statements(stmt.body)


def unique_name(base, taken):
    """`base`, or `base_1`, `base_2`, ... : the first not in `taken` (which it is added to)."""
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def walk(node, contexts=True):
    """Every node inside `node` (itself first), breadth first: `gast.walk` without its overhead.
    With contexts=False, without the Load / Store / Param markers of names."""
    return _breadth_first([node], contexts)


def replace(tree, replaced):
    """`tree` with every node for which `replaced(node)` gives a node swapped for that node (which
    is not looked into); returns the new root when the root itself is replaced."""
    new = replaced(tree)
    if new is not None:
        return new
    todo = [tree]
    for node in todo:
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                new = replaced(value)
                if new is None:
                    todo.append(value)
                else:
                    setattr(node, field, new)
            elif isinstance(value, list):
                for k, item in enumerate(value):
                    if isinstance(item, AST):
                        new = replaced(item)
                        if new is None:
                            todo.append(item)
                        else:
                            value[k] = new
    return tree


def walk_body(stmts, contexts=True):
    """`walk` over a list of statements, in the order `walk(Module(body=stmts))` gives without the module."""
    return _breadth_first([s for s in stmts if isinstance(s, AST)], contexts)


def _breadth_first(todo, contexts):
    append = todo.append
    for node in todo:          # the list grows while we iterate it
        yield node
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                if contexts or not isinstance(value, _CONTEXTS):
                    append(value)
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, AST):
                        append(v)


def _names(node, contexts):
    """Ids of the Names inside `node` (a node or a list) whose context is one of `contexts`."""
    out = set()
    todo = [node] if isinstance(node, AST) else [n for n in node if isinstance(n, AST)]
    append = todo.append
    for node in todo:
        if type(node) is _Name and isinstance(node.ctx, contexts):
            out.add(node.id)
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                if not isinstance(value, _CONTEXTS):
                    append(value)
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, AST):
                        append(v)
    return out


def names_read(node):
    """Ids of every Name loaded anywhere inside `node` (a node or a list of nodes)."""
    if type(node) is _Name and getattr(node, "annotation", None) is None:
        return {node.id} if isinstance(node.ctx, gast.Load) else set()
    return _names(node, gast.Load)


def names_stored(node):
    """Ids of every Name stored (or a parameter) anywhere inside `node` (a node or a list of nodes)."""
    if type(node) is _Name and getattr(node, "annotation", None) is None:
        return {node.id} if isinstance(node.ctx, (gast.Store, gast.Param)) else set()
    return _names(node, (gast.Store, gast.Param))


AST = gast.AST
_Name = gast.Name
_CONTEXTS = gast.expr_context


COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


def free_names(node, bound=frozenset()):
    """The Name nodes under `node` not bound by a comprehension or lambda inside it (nor in `bound`)."""
    if isinstance(node, gast.Name):
        if node.id not in bound:
            yield node
        return
    if isinstance(node, COMPREHENSIONS):
        inner = set(bound)
        for k, gen in enumerate(node.generators):
            yield from free_names(gen.iter, bound if k == 0 else frozenset(inner))
            inner |= names_stored(gen.target)
            for cond in gen.ifs:
                yield from free_names(cond, frozenset(inner))
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                yield from free_names(getattr(node, part), frozenset(inner))
        return
    if isinstance(node, gast.Lambda):
        yield from free_names(node.body, bound | {a.id for a in node.args.args})
        return
    for child in gast.iter_child_nodes(node):
        yield from free_names(child, bound)
