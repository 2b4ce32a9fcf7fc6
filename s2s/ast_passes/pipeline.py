"""The pass pipelines, top to bottom, and `Program`: the functions of one emitted module.

Passes never print, cache or compile; `s2s.codegen` turns a Program into a module.
"""
import gast

from ..runtime import primitives
from . import (activity, aliases, batching, check, comprehensions, desugar, forward, guards, inline, nodes, normalize,
               parse,
               resolve, reverse, sequences, static_branches, static_loops, tidy)


def prepare(source, program):
    """A fresh normalized tree of `source`: checked, names resolved, one op per line."""
    source = parse.FunctionSource(tree=nodes.copy(source.tree), filename=source.filename,
                                  globals=source.globals, closure=source.closure,
                                  qualname=source.qualname, python_function=source.python_function,
                                  prelifted=source.prelifted)
    source = inline.transformation_calls(source)               # s2s.jvp(g, ...) -> the jvp_g it generates
    if program.lowers_comprehensions:                          # jit unrolls comprehensions itself
        source = comprehensions.loops(source)                  # [f(v) for v in xs] -> a loop filling a list
    source = sequences.appends(source)                         # t += (x,) on a local tuple -> t.append(x)
    check.supported(source)                                    # TransformError at the user's line
    aliases.calls_through_locals(source)                       # act = np.tanh; act(x) -> np.tanh(x)
    static_loops.unroll(source)                                # for layer in self.layers: one copy each
    resolve.names(source, program.binder, program.function_source)   # globals, closures, callees
    static_branches.decide(source.tree)                         # if self.activation is not None: ...
    guards.insert(source.tree)                                 # unshared_write(acc, ...) before acc += v
    desugar.plainer_spellings(source.tree)                     # dict(a=x) -> {'a': x}, np.r_[...]
    fn = normalize.one_op_per_line(source, taken=program.binder.values)   # A-normal form; user names kept
    program.local_names |= fn.s2s_namer.taken
    return source, fn


class Program:
    """Collects the generated functions of one module, generating callees on demand."""

    lowers_comprehensions = True

    def __init__(self):
        self.binder = resolve.Binder(primitives.TEMPLATE_NAMESPACE)
        self.functions = []
        self._sources = {}
        self._pairs = {}
        self._jvps = {}
        self.local_names = set()

    # -- names and sources ----------------------------------------------------------------------
    def function_source(self, python_function):
        key = id(python_function)
        if key not in self._sources:
            self._sources[key] = (python_function, parse.function(python_function))
        return self._sources[key][1]

    def function_name(self, base):
        """Reserve a module-level name for a generated function (`hessian_<lambda>` -> `hessian_lambda_`)."""
        base = base.replace("<lambda>", "lambda_")
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in base)
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
            saved_value = nodes.name("saved")
            if any(isinstance(n, gast.Attribute) and n.attr == "pop" for s in backward_body for n in nodes.walk(s)):
                saved_value = nodes.call(nodes.name("unshared"), [saved_value])   # keep the caller's tapes whole
            unpack = nodes.assign(nodes.tuple_([nodes.store(n) for n in needed], gast.Store()), saved_value)
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
            if parts.reverse.definitions.get(param):
                # the parameter is reassigned: take the zeros' shape from its value on entry
                zero = parts.reverse.namer.fresh(f"{param}_zero")
                parts.preamble.insert(0, nodes.assign(zero, _zeros(param)))
                return nodes.name(zero)
            return _zeros(param)
        if parts.reverse.kinds.get(param) == reverse.ARRAY:
            return nodes.name(bar)
        return reverse.dense_of(nodes.name(bar), param)

    def _emit(self, name, fn, body, doc):
        new = nodes.function(name, [a.id for a in fn.args.args], body, defaults=fn.args.defaults)
        self.functions.append((new, doc))

    # -- batching (vmap) ------------------------------------------------------------------------
    def vmap_function(self, source, in_axes, out_axes, kinds):
        """`vmap_f(...)`: `source` run on a batch; `in_axes` and `kinds` ('array'/'tree') per parameter."""
        return self._batching().entry(source, in_axes, out_axes, kinds)

    def vmap_callee(self, source, mask, kinds, in_branch=False):
        """`vmap_g`: a user function run on a batch, the parameters in `mask` batched (cached per mask)."""
        return self._batching().callee(source, mask, kinds, in_branch)

    def _batching(self):
        if getattr(self, "_batching_state", None) is None:
            self._batching_state = batching.Batching(self, prepare)
        return self._batching_state

    # -- forward mode ---------------------------------------------------------------------------
    def jvp_function(self, source, mask, callee=True):
        """`jvp_f(params..., tangents of the params selected by mask)` returning (result, tangent).

        Returns (name, names of the tangent parameters, mask). A callee only takes the tangents
        its result depends on (the returned mask); when that is none, this returns None and
        the caller keeps the plain call.
        """
        key = (id(source.python_function) if source.python_function is not None else id(source), tuple(mask))
        if key in self._jvps:
            return self._jvps[key]
        original = source
        source, fn = prepare(source, self)
        params = [a.id for a in fn.args.args]
        if len(mask) != len(params):
            raise source.error(f"{source.name} takes {len(params)} argument(s), called with {len(mask)}", fn)
        activity.check_rules(source, fn, activity.mark(fn, [p for p, m in zip(params, mask) if m]))
        if callee:
            out = fn.body[-1].value
            needed = tuple(m and bool(nodes.names_read(out) & activity.mark(fn, [p])) for p, m in zip(params, mask))
            if not any(needed) and source.python_function is None:
                # a lifted def or lambda has no name the caller could call: a jvp without tangents
                self._jvps[key] = self.jvp_function(original, needed, callee=False)
                return self._jvps[key]
            if not any(needed):
                self._jvps[key] = None
                return None
            if needed != tuple(mask):
                self._jvps[key] = self.jvp_function(original, needed)
                return self._jvps[key]
        active = [p for p, m in zip(params, mask) if m]
        differ = forward.Forward(source, fn, active, fn.s2s_namer, self.jvp_function)
        name = self.function_name(f"jvp_{source.name}")
        dots = [differ.dot(p) for p in active]
        self._jvps[key] = (name, dots, tuple(mask))
        parts = differ.differentiate()
        result = nodes.tuple_([nodes.copy(parts.out), parts.out_dot])
        body = tidy.remove_dead_code(parts.body + [nodes.return_(result)])
        defaults = [nodes.copy(d) for d in fn.args.defaults]
        if defaults:      # tangent parameters follow parameters with defaults
            defaults += [nodes.const(None)] * len(dots)
        new = nodes.function(name, params + dots, body, defaults=defaults)
        self.functions.append((new, f"tangent of {_where(source, fn)} along {', '.join(active) or 'nothing'}: "
                                    "returns (result, tangent)"))
        return self._jvps[key]

    def jacobian_function(self, source, argnums, mode, bound=(), keywords=None, kind=None):
        """`jacfwd_f(x, ...)`: the Jacobian of `source` with respect to the parameters at `argnums`
        (counted after those given by `bound` and `keywords`, which become module constants).

        mode "fwd" pushes one tangent per input element through `jvp_f`, mode "rev" one cotangent
        per output element through the reverse pair; `kind` names the entry (`hessian_f`) if given.
        """
        keywords = keywords or {}
        _, fn = prepare(source, self)
        params = [a.id for a in fn.args.args]
        defaults = dict(zip(params[len(params) - len(fn.args.defaults):], fn.args.defaults))
        given = {p: self.binder.bind(p, value) for p, value in zip(params, bound)}
        given.update({k: self.binder.bind(k, value) for k, value in keywords.items()})
        entry = [p for p in params if p not in given]
        positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        for i in positions:
            if not 0 <= i < len(entry):
                raise source.error(f"argnums {i} is out of range for {len(entry)} parameter(s)", fn)
        wrt = [entry[i] for i in positions]
        mask = tuple(p in wrt for p in params)
        if mode == "fwd":
            jvp_name, _, _ = self.jvp_function(source, mask, callee=False)
        else:
            forward_name, backward_name = self.reverse_pair(source, mask)
        namer = normalize.Namer(set(self.binder.values) | set(params))
        args = [nodes.name(given.get(p, p)) for p in params]
        body = []
        if isinstance(argnums, int):
            inputs = nodes.name(wrt[0])
        else:
            inputs = nodes.name(namer.fresh("inputs"))
            body.append(nodes.assign(inputs.id, nodes.tuple_([nodes.name(p) for p in wrt])))
        out, k = namer.fresh("out"), namer.fresh("k")
        if mode == "fwd":
            seeds = [namer.fresh(f"{p}_dot") for p in wrt]
            out_dot = namer.fresh("out_dot")
            in_order = [seeds[wrt.index(p)] for p in params if p in wrt]
            push = nodes.assign(nodes.tuple_([nodes.store(out), nodes.store(out_dot)], gast.Store()),
                                nodes.call(nodes.name(jvp_name), args + [nodes.name(s) for s in in_order]))
            collected, assemble = namer.fresh("columns"), "jacobian_from_columns"
            body += self._push_basis(inputs, seeds, isinstance(argnums, int), [push], out_dot, collected, k)
        else:
            saved = namer.fresh("saved")
            body.append(nodes.assign(nodes.tuple_([nodes.store(out), nodes.store(saved)], gast.Store()),
                                     nodes.call(nodes.name(forward_name), args)))
            out_bar = namer.fresh("out_bar")
            bars = {p: namer.fresh(f"{p}_bar") for p in wrt}
            in_order = [bars[p] for p in params if p in wrt]
            target = (nodes.store(in_order[0]) if len(in_order) == 1
                      else nodes.tuple_([nodes.store(b) for b in in_order], gast.Store()))
            push = [nodes.assign(target, nodes.call(nodes.name(backward_name), [nodes.name(saved), nodes.name(out_bar)]))]
            row = bars[wrt[0]] if isinstance(argnums, int) else nodes.tuple_([nodes.name(bars[p]) for p in wrt])
            collected, assemble = namer.fresh("rows"), "jacobian_from_rows"
            body += self._push_basis(nodes.name(out), [out_bar], True, push, row, collected, k)
        body.append(nodes.return_(nodes.call(nodes.name(assemble), [nodes.name(collected), nodes.name(out),
                                                                    nodes.copy(inputs)])))
        self.local_names |= namer.taken
        suffix = "" if list(positions) == [0] else "_" + "_".join(wrt)
        name = self.function_name((kind or f"{'jacfwd' if mode == 'fwd' else 'jacrev'}_{source.name}") + suffix)
        how = "one jvp per input element" if mode == "fwd" else "one vjp per output element"
        what = f"Jacobian of {_where(source, fn)}"
        if kind and kind.startswith("hessian"):
            what = f"Hessian, the Jacobian of {_where(source, fn)}"
        new = nodes.function(name, entry, body, defaults=[nodes.copy(defaults[p]) for p in entry if p in defaults])
        self.functions.append((new, f"{what} with respect to {', '.join(wrt)}, {how}"))
        return name

    def _push_basis(self, basis_of, seeds, single, push, result, collected, k):
        """The one place a basis goes through jvp (vjp): a loop over `unit_tangent(basis_of, k)`
        collecting `result` of the `push` statements for every k. (vmap will make it one batched call.)"""
        seed = nodes.call(nodes.name("unit_tangent"), [nodes.copy(basis_of), nodes.name(k)])
        target = nodes.store(seeds[0]) if single else nodes.tuple_([nodes.store(s) for s in seeds], gast.Store())
        result = nodes.name(result) if isinstance(result, str) else result
        loop = nodes.for_(k, nodes.call(nodes.name("range"),
                                        [nodes.call(nodes.name("tree_size"), [nodes.copy(basis_of)])]),
                          [nodes.assign(target, seed), *push,
                           nodes.expr(nodes.call(nodes.attr(nodes.name(collected), "append"), [result]))])
        return [nodes.assign(collected, nodes.list_([])), loop]


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
