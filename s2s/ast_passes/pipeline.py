"""The pass pipelines, top to bottom, and `Program`: the functions of one emitted module.

Passes never print, cache or compile; `s2s.codegen` turns a Program into a module.
"""
import gast

from ..runtime import primitives
from . import check, nodes, normalize, parse, resolve, reverse, tidy


def prepare(source, program):
    """A fresh normalized tree of `source`: checked, names resolved, one op per line."""
    source = parse.FunctionSource(tree=nodes.copy(source.tree), filename=source.filename,
                                  globals=source.globals, closure=source.closure,
                                  qualname=source.qualname, python_function=source.python_function)
    check.supported(source)                                    # TransformError at the user's line
    resolve.names(source, program.binder, program.function_source)   # globals, closures, callees
    fn = normalize.one_op_per_line(source, taken=program.binder.values)   # A-normal form; user names kept
    program.local_names |= fn.s2s_namer.taken
    return source, fn


class Program:
    """Collects the generated functions of one module, generating callees on demand."""

    def __init__(self):
        self.binder = resolve.Binder(primitives.TEMPLATE_NAMESPACE)
        self.functions = []
        self._sources = {}
        self._pairs = {}
        self.local_names = set()

    # -- names and sources ----------------------------------------------------------------------
    def function_source(self, python_function):
        key = id(python_function)
        if key not in self._sources:
            self._sources[key] = (python_function, parse.function(python_function))
        return self._sources[key][1]

    def function_name(self, base):
        """Reserve a module-level name for a generated function."""
        name, k = base, 0
        while name in self.local_names or name in self.binder.values:
            k += 1
            name = f"{base}_{k}"
        return self.binder.bind(name, object())

    # -- reverse mode ---------------------------------------------------------------------------
    def grad_function(self, source, argnums, has_aux=False, with_value=False):
        """`grad_f(x, ...)` returning the cotangents of the parameters at `argnums`."""
        source, fn = prepare(source, self)
        namer = fn.s2s_namer
        params = [a.id for a in fn.args.args]
        for i in argnums:
            if not -len(params) <= i < len(params):
                raise TypeError(f"argnums {i} is out of range: {source.qualname or source.name} takes "
                                f"{len(params)} parameter(s)")
        argnums = type(argnums)(i % len(params) for i in argnums)
        active = [params[i] for i in argnums]
        parts = reverse.differentiate(source, fn, active, namer, self.reverse_pair)
        value, aux = parts.out, None
        if has_aux:
            value, aux = _split_aux(parts, namer)
        seeds = {}
        if isinstance(value, gast.Name):
            seeds[value.id] = nodes.call(nodes.name("scalar_seed"), [nodes.name(value.id)])
        reverse.backward_from(parts, seeds)
        grads = [self._returned_bar(parts, p) for p in active]
        result = grads[0] if len(argnums) == 1 and not getattr(argnums, "as_tuple", False) else nodes.tuple_(grads)
        if has_aux:
            result = nodes.tuple_([nodes.tuple_([value, aux]), result]) if with_value else nodes.tuple_([result, aux])
        elif with_value:
            result = nodes.tuple_([value, result])
        body = parts.preamble + parts.forward + parts.backward + [nodes.return_(result)]
        body = tidy.remove_dead_code(body)
        suffix = "" if list(argnums) == [0] else "_" + "_".join(active)
        name = self.function_name(("value_and_grad_" if with_value else "grad_") + fn.name + suffix)
        self._emit(name, fn, body, f"{'value and ' if with_value else ''}gradient of {_where(source, fn)} "
                                   f"with respect to {', '.join(active)}")
        return name

    def reverse_pair(self, source, mask):
        """(forward, backward) functions: forward returns (out, saved); backward(saved, out_bar)
        returns the cotangents of the parameters selected by `mask`."""
        key = (id(source.python_function) if source.python_function is not None else id(source), mask)
        if key in self._pairs:
            return self._pairs[key]
        forward_name = self.function_name(f"forward_{source.name}")
        backward_name = self.function_name(f"backward_{source.name}")
        self._pairs[key] = (forward_name, backward_name)
        source, fn = prepare(source, self)
        namer = fn.s2s_namer
        params = [a.id for a in fn.args.args]
        if len(mask) != len(params):
            raise source.error(f"{source.name} takes {len(params)} argument(s), called with {len(mask)}", fn)
        active = [p for p, m in zip(params, mask) if m]
        parts = reverse.differentiate(source, fn, active, namer, self.reverse_pair)
        if isinstance(parts.out, gast.Name):
            out_bar = parts.reverse.bar(parts.out.id)
        else:
            out_bar = namer.fresh("out_bar")
        seeds = {}
        if isinstance(parts.out, gast.Name):
            seeds[parts.out.id] = nodes.name(out_bar)
        elif isinstance(parts.out, gast.Tuple):
            for k, elt in enumerate(parts.out.elts):
                if isinstance(elt, gast.Name) and elt.id not in seeds:
                    seeds[elt.id] = reverse.dense_of(nodes.subscript(nodes.name(out_bar), nodes.const(k)), elt.id)
        reverse.backward_from(parts, seeds)
        bars = [self._returned_bar(parts, p) for p in active]
        backward_body = parts.backward + [nodes.return_(bars[0] if len(bars) == 1 else nodes.tuple_(bars))]
        backward_body = tidy.remove_dead_code(backward_body)
        defined = set(params) | {n for s in parts.preamble + parts.forward for n in _stored(s)}
        needed = sorted(tidy.free_names(backward_body, [out_bar]) & defined)
        saved = nodes.tuple_([nodes.name(n) for n in needed])
        surely = set(params) | {n for s in parts.preamble + parts.forward
                                if isinstance(s, gast.Assign) for n in _stored(s)}
        maybe = [nodes.assign(n, nodes.const(None)) for n in needed if n not in surely]
        forward_body = maybe + parts.preamble + parts.forward + [nodes.return_(nodes.tuple_([parts.out, saved]))]
        forward_body = tidy.remove_dead_code(forward_body)
        if needed:
            unpack = nodes.assign(nodes.tuple_([nodes.store(n) for n in needed], gast.Store()), nodes.name("saved"))
            backward_body = [unpack] + backward_body
        where = _where(source, fn)
        self._emit(forward_name, fn, forward_body, f"forward sweep of {where}: returns (result, saved values)")
        backward_fn = nodes.function(backward_name, ["saved", out_bar], backward_body)
        self.functions.append((backward_fn, f"backward sweep of {where}: cotangents of {', '.join(active)}"))
        return self._pairs[key]

    @staticmethod
    def _returned_bar(parts, param):
        """The cotangent of a parameter as returned: zeros if none, containers made dense."""
        bar = parts.bars.get(param)
        if not bar:
            return _zeros(param)
        if parts.reverse.kinds.get(param) == reverse.ARRAY:
            return nodes.name(bar)
        return reverse.dense_of(nodes.name(bar), param)

    def _emit(self, name, fn, body, doc):
        new = nodes.function(name, [a.id for a in fn.args.args], body, defaults=fn.args.defaults)
        self.functions.append((new, doc))


def _stored(stmt):
    return nodes.names_stored(stmt)


def _zeros(param):
    return nodes.call(nodes.name("zeros_like_tree"), [nodes.name(param)])


def _where(source, fn):
    import os
    return f"{source.qualname or source.name} ({os.path.basename(source.filename)}:{getattr(source.tree, 'lineno', '?')})"


def _split_aux(parts, namer):
    """(value atom, aux atom) of a function returning `(value, aux)`."""
    out = parts.out
    if isinstance(out, gast.Tuple) and len(out.elts) == 2:
        return out.elts[0], out.elts[1]
    if not isinstance(out, gast.Name):
        raise TypeError("has_aux=True requires the function to return a pair (value, aux)")
    value, aux = namer.fresh("value"), namer.fresh("aux")
    for target, k in ((value, 0), (aux, 1)):
        stmt = nodes.assign(target, nodes.subscript(nodes.name(out.id), nodes.const(k)))
        stmt.lineno = None
        parts.forward.append(stmt)
    if out.id in parts.reverse.active:
        parts.reverse.active |= {value, aux}
    parts.reverse.kinds[out.id] = reverse.TREE
    return nodes.name(value), nodes.name(aux)
