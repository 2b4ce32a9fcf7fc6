"""The primitive rule table: one `Primitive` per operation, all its rules side by side.

A rule is a short Python expression template over named slots:

* the primitive's arguments, named by its signature (`x`, `y`, `axis`, ...);
* `out`, the primitive's result, and `out_bar`, the cotangent of that result;
* `<slot>_dot`, the tangent of an argument.

`vjp` maps each differentiable argument to the expression of its cotangent contribution;
`jvp` maps each differentiable argument to its (linear) contribution to `out_dot`.
Arguments absent from `vjp` are not differentiable (shapes, axes, indices). A primitive registered
with `differentiable=False` has a zero derivative (comparisons, `np.floor`, `len`); one registered
without rules otherwise is an error wherever a derivative would flow through it.
Templates are parsed once, at registration, so a typo fails on import.
"""
import ast
import inspect

import gast

_BY_IMPL = {}       # id(callable) -> Primitive
_BY_NAME = {}       # name -> Primitive
_BY_METHOD = {}     # ndarray method name -> (Primitive, method signature)
_BY_ATTRIBUTE = {}  # ndarray attribute name -> Primitive
_KEEP_ALIVE = []    # impl objects whose id() is a key of _BY_IMPL


class Primitive:
    """One operation s2s knows, with its reverse, forward, batching and lowering rules."""

    def __init__(self, name, impl, signature, *, vjp=None, jvp=None, differentiable=True,
                 helper=False, batch=None, numba=None, result="array"):
        self.name = name
        self.impl = impl
        self.signature_text = signature
        self.signature = _parse_signature(signature)
        self.differentiable = differentiable and bool(vjp)   # has derivative rules
        self.constant = not differentiable    # derivative zero (piecewise constant, integer or boolean)
        self.vjp = {slot: _parse_template(text, name) for slot, text in (vjp or {}).items()}
        self.jvp = {slot: _parse_template(text, name) for slot, text in (jvp or {}).items()}
        self.vjp_text = dict(vjp or {})
        self.jvp_text = dict(jvp or {})
        self.helper = helper     # emitted by s2s itself (unbroadcast, tape ops ...)
        self.batch = batch       # batching rule (vmap); filled by the batching issue
        self.numba = numba       # lowering rule (jit); filled by the jit issue
        self.result = result     # "array", "tree" (containers) or "any"
        for slot in list(self.vjp) + list(self.jvp):
            if slot not in self.signature.parameters:
                raise ValueError(f"{name}: rule for unknown argument {slot!r}")

    def __repr__(self):
        return f"<primitive {self.name}>"

    @property
    def variadic(self):
        """Name of the `*args` slot, if the signature has one."""
        for p in self.signature.parameters.values():
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                return p.name
        return None

    def bind(self, args, kwargs):
        """Bind call arguments (AST nodes or values) to slots; defaults filled in."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    # -- numeric evaluation of the templates, used by tests and by nobody else ------------
    def evaluate_vjp(self, slot, args, kwargs, out, out_bar, namespace):
        """Evaluate the cotangent contribution of `slot` with concrete values."""
        env = dict(namespace)
        env.update(self.bind(args, kwargs))
        env.update(out=out, out_bar=out_bar)
        return eval(compile(self.vjp_text[slot], f"<vjp {self.name}>", "eval"), env)

    def evaluate_jvp(self, args, kwargs, tangents, out, namespace):
        """Evaluate out_dot for concrete tangents (a dict slot -> tangent).

        Contributions add with `add_tree` from `namespace`: results may be tuples or lists.
        """
        env = dict(namespace)
        env.update(self.bind(args, kwargs))
        env["out"] = out
        total = None
        for slot, tangent in tangents.items():
            env[slot + "_dot"] = tangent
            term = eval(compile(self.jvp_text[slot], f"<jvp {self.name}>", "eval"), env)
            total = namespace["add_tree"](total, term)
        return total


def _parse_signature(text):
    fn = ast.parse(f"def _({text}): pass").body[0]
    namespace = {}
    exec(compile(ast.Module([fn], []), "<signature>", "exec"), namespace)
    return inspect.signature(namespace["_"])


def _parse_template(text, name):
    try:
        return gast.parse(text, mode="eval").body
    except SyntaxError as err:
        raise SyntaxError(f"rule of primitive {name!r} does not parse: {text!r}") from err


def primitive(name, impl, signature, *, methods=(), attributes=(), **rules):
    """Register a primitive; `methods` maps ndarray method names to their signatures."""
    prim = Primitive(name, impl, signature, **rules)
    if name in _BY_NAME:
        raise ValueError(f"primitive {name!r} registered twice")
    _BY_NAME[name] = prim
    impls = impl if isinstance(impl, (list, tuple)) else [impl]
    prim.impl = impls[0]
    for obj in impls:
        if obj is not None:
            _BY_IMPL[id(obj)] = prim
            _KEEP_ALIVE.append(obj)
    for method in methods:
        if isinstance(method, str):
            _BY_METHOD[method] = (prim, prim.signature)
        else:
            method_name, signature = method
            _BY_METHOD[method_name] = (prim, _parse_signature(signature))
    for attribute in attributes:
        _BY_ATTRIBUTE[attribute] = prim
    return prim


def lookup(obj):
    """The primitive whose implementation is `obj`, or None."""
    return _BY_IMPL.get(id(obj))


def by_name(name):
    return _BY_NAME[name]


def method(name):
    """(primitive, signature) for an ndarray method name, or None."""
    return _BY_METHOD.get(name)


def attribute(name):
    return _BY_ATTRIBUTE.get(name)


def all_primitives():
    return list(_BY_NAME.values())
