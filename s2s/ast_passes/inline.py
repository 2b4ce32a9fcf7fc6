"""Calls of s2s transformations inside transformed code become calls of what they generate.

`s2s.jvp(g, (x,), (v,))` inside a function being transformed becomes `jvp_g(x, v)`, the plain
generated function (bound as a new global of the function), so the outer transformation reads its
source and differentiates through it like any user function. A transformation opts in by
carrying `__s2s_inline__(call, static, bind)`, which returns the replacement call; `static(node)`
gives the transform-time value of an expression and `bind(value, name)` a global name for a value.
"""
import builtins

import gast

from . import nodes, parse, resolve


def transformation_calls(source):
    """`source` with its calls of s2s transformations replaced (a new FunctionSource if any)."""
    fn = source.tree
    locals_ = resolve.local_names(fn)

    def static(node):
        if isinstance(node, gast.Name):
            if node.id in locals_:
                raise KeyError(node.id)
            for scope in (source.closure, source.globals):
                if node.id in scope:
                    return scope[node.id]
            if hasattr(builtins, node.id):
                return getattr(builtins, node.id)
            raise KeyError(node.id)
        if isinstance(node, gast.Attribute):
            try:
                return getattr(static(node.value), node.attr)
            except AttributeError:
                raise KeyError(node.attr) from None
        raise KeyError(node)

    def hook(call):
        try:
            return getattr(static(call.func), "__s2s_inline__", None)
        except (KeyError, TypeError):
            return None

    def curried(call):
        """`s2s.grad(f)` with everything known now: the transformation to call (or None)."""
        try:
            transformation = static(call.func)
        except (KeyError, TypeError):
            return None
        if not getattr(transformation, "__s2s_curried__", False):
            return None
        return transformation

    calls = [n for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Call) and hook(n) is not None]
    made = [n for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Call) and curried(n) is not None]
    if not calls and not made:
        return source
    scope = dict(source.globals)
    taken = set(scope) | set(source.closure) | locals_ | \
        {n.id for n in nodes.walk(fn, contexts=False) if isinstance(n, gast.Name)}

    def bind(value, preferred):
        name = nodes.unique_name(preferred, taken)
        scope[name] = value
        return nodes.name(name)

    replaced = {}
    for call in made:
        # s2s.grad(f)(q, data), g = s2s.grad(f): the generated function, made now, by a global name
        try:
            args = [static(a) if not isinstance(a, gast.Constant) else a.value for a in call.args]
            keywords = {k.arg: static(k.value) if not isinstance(k.value, gast.Constant) else k.value.value
                        for k in call.keywords}
        except (KeyError, TypeError):
            continue                    # f is a local: left to fail (or not) as before
        transformation = curried(call)
        made_fn = transformation(*args, **keywords)
        label = getattr(args[0], "__name__", "fun") if args else "fun"
        replaced[id(call)] = bind(made_fn, f"{transformation.__name__}_{label}".replace("<lambda>", "lambda_"))
    if replaced:
        _replace(fn, replaced)
    for call in calls:
        try:
            new = hook(call)(call, static, bind)
        except KeyError as err:
            raise source.error(f"`{nodes.to_source(call.func)}` needs a function known when transforming; "
                               f"`{err.args[0] if err.args else '?'}` is not", call) from None
        except (TypeError, ValueError) as err:
            raise source.error(str(err), call) from None
        call.func, call.args, call.keywords = new.func, new.args, new.keywords
    return parse.FunctionSource(tree=fn, filename=source.filename, globals=scope, closure=source.closure,
                                qualname=source.qualname, python_function=source.python_function,
                                prelifted=source.prelifted)


def _replace(tree, replaced):
    """Put the Name in `replaced[id(call)]` where each call was."""
    nodes.replace(tree, lambda n: gast.copy_location(replaced[id(n)], n)
                  if isinstance(n, gast.Call) and id(n) in replaced else None)
