"""The one place that builds gast nodes (gast changes node signatures between versions)."""
import ast

import gast

LOAD, STORE = gast.Load(), gast.Store()
COMMENT_MARK = "#S2S# "


def name(id_, ctx=None):
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def store(id_):
    return name(id_, gast.Store())


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
    args = gast.arguments(args=[store(p) if isinstance(p, str) else p for p in params],
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
    """Python source of a gast node."""
    tree = gast.gast_to_ast(node)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


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


def walk(node):
    """Every node inside `node` (itself first), breadth first: `gast.walk` without its overhead."""
    todo = [node]
    for node in todo:          # the list grows while we iterate it
        yield node
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                todo.append(value)
            elif isinstance(value, list):
                todo.extend(v for v in value if isinstance(v, AST))


def walk_body(stmts):
    """`walk` over a list of statements, in the order `walk(Module(body=stmts))` gives without the module."""
    todo = [s for s in stmts if isinstance(s, AST)]
    for node in todo:
        yield node
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                todo.append(value)
            elif isinstance(value, list):
                todo.extend(v for v in value if isinstance(v, AST))


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
