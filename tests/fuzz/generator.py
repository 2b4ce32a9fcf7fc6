"""Seeded generator of random plain-NumPy programs for the differential fuzzer.

A program is Python source text defining `f(x, ...)` (float64 arguments: `x` a vector of
shape (3,), optionally `y` a float and `W` a (3, 3) matrix) that returns a scalar, plus
helper functions and module constants. Every construct the generator uses is recorded
as a tag, so results can be reported per construct.

`generate(seed, index)` is deterministic: a program is reproducible from (seed, index).
"""
import importlib.util
import itertools
import os
import random
import sys
import tempfile

import numpy as np

N = 3   # every vector has shape (N,), every matrix (N, N)

HEADER = "import functools\n\nimport numpy as np\nfrom scipy.special import expit, logsumexp, softmax\n\n"

# elementwise unary templates: (tag, template); the operand is an atom ({0}), domains guarded
UNARY = [
    ("sin", "np.sin({0})"), ("cos", "np.cos({0})"), ("tanh", "np.tanh({0})"),
    ("arctan", "np.arctan({0})"), ("exp", "np.exp(np.sin({0}))"), ("exp", "np.exp(0.3 * {0})"),
    ("log", "np.log({0} * {0} + 1.0)"), ("log1p", "np.log1p(np.square({0}))"),
    ("sqrt", "np.sqrt({0} * {0} + 1.0)"), ("square", "np.square({0})"), ("pow", "({0} ** 2)"),
    ("pow", "({0} ** 3)"), ("power", "np.power({0} * {0} + 1.0, 1.5)"),
    ("pow", "(({0} * {0} + 0.5) ** 0.5)"), ("expm1", "np.expm1(np.tanh({0}))"),
    ("sinh", "np.sinh(np.tanh({0}))"), ("cosh", "np.cosh(np.tanh({0}))"),
    ("tan", "np.tan(0.5 * np.tanh({0}))"), ("arcsin", "np.arcsin(0.5 * np.tanh({0}))"),
    ("arccos", "np.arccos(0.5 * np.sin({0}))"), ("expit", "expit({0})"),
    ("abs", "np.abs({0})"), ("neg", "(-{0})"), ("clip", "np.clip({0}, -0.5, 0.8)"),
    ("maximum", "np.maximum({0}, 0.1)"), ("minimum", "np.minimum({0}, 0.2)"),
    ("floor", "(np.floor({0}) * 0.5 + {0})"), ("sign", "(np.sign({0}) * {0})"),
    ("div", "({0} / (2.0 + np.cos({0})))"), ("scale", "(1.7 * {0})"), ("scale", "({0} * 0.5 - 0.2)"),
]
UNARY_SCALAR = [("abs", "abs({0})")]

# elementwise binary templates
BINARY = [
    ("add", "({0} + {1})"), ("sub", "({0} - {1})"), ("mul", "({0} * {1})"),
    ("div", "({0} / (1.5 + {1} * {1}))"), ("maximum", "np.maximum({0}, {1})"),
    ("minimum", "np.minimum({0}, {1})"), ("where", "np.where({0} > {1}, {0}, {1} * 0.5)"),
    ("arctan2", "np.arctan2({0}, 2.0 + np.square({1}))"), ("add", "np.add({0}, {1})"),
    ("mul", "np.multiply({0}, {1})"),
]
BINARY_SCALAR = [("builtin_max", "max({0}, {1})"), ("builtin_min", "min({0}, {1})")]

_counter = itertools.count()
_directory = None


def _float(rng, lo=-1.0, hi=1.0):
    return f"{rng.uniform(lo, hi):.3f}"


class Program:
    """Source text of one generated program and what is needed to run it."""

    def __init__(self, seed, index, source, tags, params):
        self.seed = seed
        self.index = index
        self.source = source
        self.tags = sorted(tags)
        self.params = params          # [(name, kind)], kind in 's', 'v', 'm'
        self._fun = None

    def inputs(self, salt=0):
        """Float64 arguments for f, reproducible from (seed, index, salt)."""
        rng = np.random.default_rng([abs(hash_seed(self.seed)), self.index, salt])
        return make_args(rng, self.params)

    def load(self, source=None):
        return load_source(self.source if source is None else source)

    def __repr__(self):
        return f"<Program seed={self.seed} index={self.index}>"


def hash_seed(seed):
    return int(seed) if str(seed).lstrip("-").isdigit() else sum(map(ord, str(seed)))


def make_args(rng, params):
    args = []
    for _, kind in params:
        if kind == "v":
            args.append(rng.normal(size=N) * 0.8)
        elif kind == "m":
            args.append(rng.normal(size=(N, N)) * 0.6)
        else:
            args.append(float(rng.uniform(-1.0, 1.0)))
    return args


def load_source(source):
    """Write `source` to a fresh module file and import it; returns the module."""
    global _directory
    if _directory is None:
        _directory = tempfile.mkdtemp(prefix="s2s-fuzz-")
    name = f"fuzz_prog_{os.getpid()}_{next(_counter)}"
    path = os.path.join(_directory, name + ".py")
    with open(path, "w") as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Scope:
    def __init__(self, names=None):
        self.names = dict(names or {})   # name -> kind

    def of(self, kind):
        return [n for n, k in self.names.items() if k == kind]

    def copy(self):
        return Scope(self.names)


class Generator:
    """Generates one program from `random.Random(f"{seed}:{index}")`."""

    def __init__(self, seed, index):
        self.seed = seed
        self.index = index
        self.rng = random.Random(f"{seed}:{index}")
        self.module = []      # module-level chunks (helpers, constants)
        self.tags = set()
        self.fresh = itertools.count()
        self.consts = {}      # module constant name -> kind

    def name(self, prefix):
        return f"{prefix}{next(self.fresh)}"

    # -- expressions --------------------------------------------------------------------------
    def leaf(self, kind, scope):
        rng = self.rng
        names = scope.of(kind)
        if names and rng.random() < 0.75:
            return rng.choice(names)
        if kind == "s":
            if rng.random() < 0.3:
                return _float(rng)
            v = self.leaf("v", scope)
            return self.reduce_v(v, scope)
        if kind == "v":
            if rng.random() < 0.25:
                return self.const("v")
            if scope.of("m") and rng.random() < 0.5:
                return self.from_m(rng.choice(scope.of("m")), scope)
            if "x" in scope.names:
                return "x"
            if scope.of("s"):
                return f"({rng.choice(scope.of('s'))} * {self.const('v')})"
            return self.const("v")
        if kind == "m":
            if rng.random() < 0.25:
                return self.const("m")
            return self.make_m(self.leaf("v", scope), self.leaf("v", scope))
        raise ValueError(kind)

    def const(self, kind):
        """A module-level constant (created once per kind, reused after)."""
        for name, k in self.consts.items():
            if k == kind and self.rng.random() < 0.7:
                self.tags.add("module_const")
                return name
        name = self.name("C")
        rng = self.rng
        if kind == "v":
            values = ", ".join(_float(rng) for _ in range(N))
            self.module.append(f"\n{name} = np.array([{values}])\n")
        elif kind == "m":
            rows = ", ".join("[" + ", ".join(_float(rng) for _ in range(N)) + "]" for _ in range(N))
            self.module.append(f"\n{name} = np.array([{rows}])\n")
        else:
            self.module.append(f"{name} = {_float(rng)}\n")
        self.consts[name] = kind
        self.tags.add("module_const")
        return name

    def reduce_v(self, v, scope):
        rng = self.rng
        choice = rng.randrange(11)
        if choice == 0:
            return f"np.sum({v})"
        if choice == 1:
            return f"np.mean({v})"
        if choice == 2:
            self.tags.add("reduce_select")
            return f"np.max({v})" if rng.random() < 0.5 else f"np.min({v})"
        if choice == 3:
            self.tags.add("int_index")
            return f"{v}[{rng.randrange(-N, N)}]"
        if choice == 4:
            return f"{v}.sum()"
        if choice == 5:
            self.tags.add("dot")
            return f"np.dot({v}, {self.leaf('v', scope)})"
        if choice == 6:
            self.tags.add("matmul")
            return f"({v} @ {self.leaf('v', scope)})"
        if choice == 7:
            self.tags.add("special")
            return f"logsumexp({v})"
        if choice == 8:
            self.tags.add("prod")
            return f"np.prod(np.cos({v}))"
        if choice == 9:
            self.tags.add("slicing")
            return f"np.sum({v}[{rng.choice(['1:', ':2', '::2', '-2:'])}])"
        self.tags.add("dot")
        return f"np.vdot({v}, {self.leaf('v', scope)})"

    def reduce_m(self, m):
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            return f"np.sum({m})"
        if choice == 1:
            self.tags.add("int_index")
            return f"{m}[{rng.randrange(N)}, {rng.randrange(N)}]"
        if choice == 2:
            self.tags.add("trace")
            return f"np.trace({m})"
        return f"{m}.mean()"

    def from_m(self, m, scope):
        rng = self.rng
        choice = rng.randrange(11)
        axis = rng.randrange(2)
        if choice == 0:
            self.tags.add("matmul")
            return f"({m} @ {self.leaf('v', scope)})"
        if choice == 1:
            self.tags.add("matmul")
            return f"({self.leaf('v', scope)} @ {m})"
        if choice == 2:
            self.tags.add("dot")
            return f"np.dot({m}, {self.leaf('v', scope)})"
        if choice == 3:
            self.tags.add("reduce_axis")
            return f"np.sum({m}, axis={axis})"
        if choice == 4:
            self.tags.add("reduce_axis")
            return f"{m}.mean(axis={axis})"
        if choice == 5:
            self.tags.update(["reduce_axis", "reduce_select"])
            return f"np.max({m}, axis={axis})"
        if choice == 6:
            self.tags.add("int_index")
            return f"{m}[{rng.randrange(N)}]"
        if choice == 7:
            self.tags.add("slicing")
            return f"{m}[:, {rng.randrange(N)}]"
        if choice == 8:
            self.tags.add("einsum")
            return f"np.einsum('ij,j->i', {m}, {self.leaf('v', scope)})"
        if choice == 9:
            self.tags.add("transpose")
            return f"({m}.T @ {self.leaf('v', scope)})"
        self.tags.add("diag")
        return f"np.diag({m})"

    def make_m(self, a, b):
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            self.tags.add("outer")
            return f"np.outer({a}, {b})"
        if choice == 1:
            self.tags.add("broadcast")
            return f"({a}[:, None] * {b})"
        if choice == 2:
            self.tags.add("broadcast")
            return f"(np.reshape({a}, (3, 1)) + {b})"
        self.tags.add("stack")
        return f"np.stack([{a}, {b}, {a} * {b}])"

    def v_from_v(self, v, scope):
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:
            self.tags.add("slicing")
            return f"{v}[::-1]"
        if choice == 1:
            self.tags.add("flip")
            return f"np.flip({v})"
        if choice == 2:
            self.tags.update(["slicing", "concatenate"])
            return f"np.concatenate([{v}[:1], {v}[1:] * 2.0])"
        if choice == 3:
            self.tags.add("special")
            return f"softmax({v})"
        self.tags.update(["stack"])
        s = self.expr("s", 0, scope)
        return f"np.stack([{s}, {v}[0], {v}[2]])"

    def m_from_m(self, m, scope):
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            self.tags.add("transpose")
            return f"{m}.T"
        if choice == 1:
            self.tags.add("matmul")
            return f"({m} @ {self.leaf('m', scope)})"
        if choice == 2:
            self.tags.add("einsum")
            return f"np.einsum('ij,jk->ik', {m}, {self.leaf('m', scope)})"
        self.tags.add("transpose")
        return f"np.transpose({m})"

    def expr(self, kind, depth, scope):
        rng = self.rng
        if depth <= 0 or rng.random() < 0.2:
            return self.leaf(kind, scope)
        r = rng.random()
        if r < 0.35:
            tag, template = rng.choice(UNARY + (UNARY_SCALAR if kind == "s" else []))
            self.tags.add("prim:" + tag)
            return template.format(self.expr(kind, depth - 1, scope))
        if r < 0.7:
            tag, template = rng.choice(BINARY + (BINARY_SCALAR if kind == "s" else []))
            self.tags.add("prim:" + tag)
            a = self.expr(kind, depth - 1, scope)
            other = kind
            if kind != "s" and rng.random() < 0.3 and not tag.startswith("builtin"):
                other = "s" if kind == "v" or rng.random() < 0.5 else "v"
                self.tags.add("broadcast")
            b = self.expr(other, depth - 1, scope)
            if rng.random() < 0.5 and other != kind and tag not in ("where",):
                a, b = b, a
            return template.format(a, b)
        # structural
        if kind == "s":
            if rng.random() < 0.8:
                return self.reduce_v(self.expr("v", depth - 1, scope), scope)
            return self.reduce_m(self.expr("m", depth - 1, scope))
        if kind == "v":
            if rng.random() < 0.55:
                return self.from_m(self.expr("m", depth - 1, scope), scope)
            return self.v_from_v(self.expr("v", depth - 1, scope), scope)
        if rng.random() < 0.5:
            return self.m_from_m(self.expr("m", depth - 1, scope), scope)
        return self.make_m(self.expr("v", depth - 1, scope), self.expr("v", depth - 1, scope))

    def cond(self, scope):
        """A data-dependent condition."""
        rng = self.rng
        c = _float(rng, -0.8, 0.8)
        choice = rng.randrange(5)
        if choice == 0:
            text = f"np.sum({self.leaf('v', scope)}) > {c}"
        elif choice == 1:
            text = f"{self.expr('s', 1, scope)} > {c}"
        elif choice == 2:
            text = f"{self.leaf('v', scope)}[{rng.randrange(N)}] < {self.leaf('s', scope)}"
        elif choice == 3:
            text = f"np.max({self.leaf('v', scope)}) > {c}"
        else:
            op = rng.choice(["and", "or"])
            text = f"{self.leaf('s', scope)} > {c} {op} np.mean({self.leaf('v', scope)}) < {_float(rng)}"
            self.tags.add("bool_op")
        return text

    # -- statements ----------------------------------------------------------------------------
    def assign(self, lines, ind, scope, kind=None, depth=None):
        kind = kind or self.rng.choice("ssvvvm")
        target = self.name({"s": "s", "v": "v", "m": "M"}[kind])
        lines.append(f"{ind}{target} = {self.expr(kind, depth or self.rng.randint(1, 3), scope)}")
        scope.names[target] = kind
        return target, kind

    def update(self, lines, ind, scope, name, kind, depth=2):
        """Rebind an existing variable (keeps its kind), e.g. in a loop body or branch."""
        op = self.rng.choice(["=", "+=", "*=", "-="])
        e = self.expr(kind, depth, scope)
        if op == "=":
            lines.append(f"{ind}{name} = {self.expr(kind, 1, scope)} * 0.5 + np.tanh({e})")
        elif op == "*=":
            self.tags.add("augassign")
            lines.append(f"{ind}{name} *= np.cos({e})")
        else:
            self.tags.add("augassign")
            lines.append(f"{ind}{name} {op} {e}")

    def statement(self, lines, ind, scope, depth):
        rng = self.rng
        constructs = CONSTRUCTS if depth == 0 else INNER_CONSTRUCTS
        weights = [w for _, w in constructs]
        method = rng.choices([m for m, _ in constructs], weights)[0]
        getattr(self, "c_" + method)(lines, ind, scope, depth)

    def c_assign(self, lines, ind, scope, depth):
        self.assign(lines, ind, scope)

    def c_if(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("if")
        kind = rng.choice("svm")
        target = self.name("b")
        n_elif = rng.choice([0, 0, 1, 2])
        if n_elif:
            self.tags.add("elif")
        has_else = n_elif > 0 or rng.random() < 0.8
        if not has_else:
            lines.append(f"{ind}{target} = {self.expr(kind, 1, scope)}")
        for branch in range(1 + n_elif + has_else):
            if branch == 0:
                lines.append(f"{ind}if {self.cond(scope)}:")
            elif branch <= n_elif:
                lines.append(f"{ind}elif {self.cond(scope)}:")
            else:
                lines.append(f"{ind}else:")
            inner = scope.copy()
            if depth < 1 and rng.random() < 0.4:
                self.statement(lines, ind + "    ", inner, depth + 1)
            lines.append(f"{ind}    {target} = {self.expr(kind, 2, inner)}")
        scope.names[target] = kind

    def c_ifexp(self, lines, ind, scope, depth):
        self.tags.add("ifexp")
        kind = self.rng.choice("svm")
        target = self.name("e")
        lines.append(f"{ind}{target} = {self.expr(kind, 2, scope)} if {self.cond(scope)} "
                     f"else {self.expr(kind, 2, scope)}")
        scope.names[target] = kind

    def _acc(self, lines, ind, scope, kind=None):
        kind = kind or self.rng.choice("ssv")
        acc = self.name("acc")
        init = "0.0" if kind == "s" and self.rng.random() < 0.5 else self.expr(kind, 1, scope)
        if kind == "v" and init == "0.0":
            init = "np.zeros(3)"
        elif kind == "v":
            init = f"1.0 * {init}"      # a fresh array: `acc op= ...` must not write into an argument
        lines.append(f"{ind}{acc} = {init}")
        scope.names[acc] = kind
        return acc, kind

    def _loop_body(self, lines, ind, scope, depth, acc, kind, extra=()):
        inner = scope.copy()
        for name, k in extra:
            inner.names[name] = k
        if depth < 1 and self.rng.random() < 0.3:
            self.statement(lines, ind, inner, depth + 1)
        self.update(lines, ind, inner, acc, kind)

    def c_for_range(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("for_range")
        acc, kind = self._acc(lines, ind, scope)
        start, stop = rng.choice([(None, 3), (0, 3), (1, 3), (None, 2)])
        rtext = f"range({stop})" if start is None else f"range({start}, {stop})"
        i = self.name("i")
        lines.append(f"{ind}for {i} in {rtext}:")
        self.tags.add("int_index")
        v = self.leaf("v", scope)
        elem = self.name("t")
        lines.append(f"{ind}    {elem} = {v}[{i}]")
        self._loop_body(lines, ind + "    ", scope, depth, acc, kind, extra=[(elem, "s")])
        if rng.random() < 0.3:
            lines.append(f"{ind}    {acc} = {acc} + {i} * 0.1 * {elem}")

    def c_for_rows(self, lines, ind, scope, depth):
        rng = self.rng
        acc, kind = self._acc(lines, ind, scope)
        row = self.name("r")
        if rng.random() < 0.5:
            self.tags.add("for_rows")
            m = self.leaf("m", scope)
            lines.append(f"{ind}for {row} in {m}:")
            extra = [(row, "v")]
        else:
            self.tags.add("for_elements")
            lines.append(f"{ind}for {row} in {self.leaf('v', scope)}:")
            extra = [(row, "s")]
        self._loop_body(lines, ind + "    ", scope, depth, acc, kind, extra=extra)

    def c_for_zip(self, lines, ind, scope, depth):
        rng = self.rng
        acc, kind = self._acc(lines, ind, scope)
        a, b = self.name("a"), self.name("c")
        if rng.random() < 0.5:
            self.tags.add("for_zip")
            lines.append(f"{ind}for {a}, {b} in zip({self.leaf('v', scope)}, {self.expr('v', 1, scope)}):")
            extra = [(a, "s"), (b, "s")]
        else:
            self.tags.add("for_enumerate")
            lines.append(f"{ind}for {a}, {b} in enumerate({self.leaf('v', scope)}):")
            extra = [(b, "s")]
            lines.append(f"{ind}    {acc} = {acc} + {a} * {b} * 0.3")
        self._loop_body(lines, ind + "    ", scope, depth, acc, kind, extra=extra)

    def c_break(self, lines, ind, scope, depth):
        rng = self.rng
        acc, kind = self._acc(lines, ind, scope)
        i = self.name("i")
        lines.append(f"{ind}for {i} in range(3):")
        keyword = rng.choice(["break", "continue"])
        self.tags.add(keyword)
        inner = scope.copy()
        inner.names[i] = "i"
        if rng.random() < 0.5:
            self.update(lines, ind + "    ", inner, acc, kind)
        lines.append(f"{ind}    if {self.leaf('v', scope)}[{i}] > {_float(rng, -0.5, 0.5)}:")
        lines.append(f"{ind}        {keyword}")
        self.update(lines, ind + "    ", inner, acc, kind)

    def c_early_return(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("early_return")
        if rng.random() < 0.5:
            lines.append(f"{ind}if {self.cond(scope)}:")
            lines.append(f"{ind}    return {self.expr('s', 2, scope)}")
        else:
            self.tags.add("return_in_loop")
            acc, kind = self._acc(lines, ind, scope, kind="s")
            i = self.name("i")
            lines.append(f"{ind}for {i} in range(3):")
            self.update(lines, ind + "    ", scope, acc, "s")
            lines.append(f"{ind}    if {acc} > {_float(rng, 0.0, 2.0)}:")
            lines.append(f"{ind}        return {acc} * {self.expr('s', 1, scope)}")

    def c_while(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("while")
        acc, kind = self._acc(lines, ind, scope)
        k = self.name("k")
        lines.append(f"{ind}{k} = 0")
        test = f"np.sum({acc}) < {_float(rng, 0.5, 3.0)}" if kind == "v" else f"{acc} < {_float(rng, 0.5, 3.0)}"
        lines.append(f"{ind}while {test} and {k} < {rng.randint(2, 5)}:")
        lines.append(f"{ind}    {acc} = {acc} + 0.3 + np.square({self.expr(kind, 1, scope)})")
        lines.append(f"{ind}    {k} += 1")

    def helper(self, params, body_kinds, defaults=None):
        """A module-level helper: returns (name, ret kinds)."""
        rng = self.rng
        name = self.name("h")
        scope = Scope(params)
        plist = list(params)
        if defaults:
            plist = [p + (f"={d}" if d is not None else "") for p, d in zip(params, defaults)]
        lines = [f"def {name}({', '.join(plist)}):"]
        for _ in range(rng.randint(0, 2)):
            self.assign(lines, "    ", scope, depth=2)
        outs = [self.expr(k, 2, scope) for k in body_kinds]
        lines.append(f"    return {', '.join(outs)}")
        self.module.append("\n\n" + "\n".join(lines) + "\n")
        return name

    def c_helper(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("helper")
        kinds = [rng.choice("svm") for _ in range(rng.randint(1, 2))]
        params = {"a": rng.choice("sv"), "b": rng.choice("sv")}
        defaults = None
        if rng.random() < 0.5:
            self.tags.add("default_param")
            params["d"] = "s"
            defaults = [None, None, _float(rng)]
        ret = rng.choice([["s"], ["v"], ["s", "v"], ["v", "m"]])
        if len(ret) > 1:
            self.tags.add("tuple_result")
        h = self.helper(params, ret, defaults)
        args = [self.expr(params["a"], 1, scope), self.expr(params["b"], 1, scope)]
        if defaults and rng.random() < 0.5:
            args.append(("d=" if rng.random() < 0.5 else "") + self.expr("s", 1, scope))
        call = f"{h}({', '.join(args)})"
        targets = [self.name({"s": "s", "v": "v", "m": "M"}[k]) for k in ret]
        if len(ret) > 1 and rng.random() < 0.3:
            tup = self.name("tp")
            lines.append(f"{ind}{tup} = {call}")
            for i, t in enumerate(targets):
                lines.append(f"{ind}{t} = {tup}[{i}]")
        else:
            lines.append(f"{ind}{', '.join(targets)} = {call}")
        for t, k in zip(targets, ret):
            scope.names[t] = k
        if rng.random() < 0.4:      # call it a second time with other arguments
            t2 = self.name("s" if ret[0] == "s" else "v" if ret[0] == "v" else "M")
            idx = "[0]" if len(ret) > 1 else ""
            lines.append(f"{ind}{t2} = {h}({self.expr(params['a'], 1, scope)}, "
                         f"{self.expr(params['b'], 1, scope)}){idx}")
            scope.names[t2] = ret[0]

    def c_recursion(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("recursion")
        name = self.name("rec")
        kind = rng.choice("sv")
        inner = Scope({"a": kind})
        step = self.expr(kind, 2, inner)
        body = [f"def {name}(a, n):",
                "    if n == 0:",
                f"        return {self.expr(kind, 1, inner)}",
                f"    return {name}({step} * 0.5, n - 1) + np.sin(a)"]
        self.module.append("\n\n" + "\n".join(body) + "\n")
        target = self.name("s" if kind == "s" else "v")
        lines.append(f"{ind}{target} = {name}({self.expr(kind, 1, scope)}, {rng.randint(1, 3)})")
        scope.names[target] = kind

    def c_closure(self, lines, ind, scope, depth):
        rng = self.rng
        kind = rng.choice("sv")
        g = self.name("g")
        captured = rng.choice(list(scope.names)) if scope.names else "x"
        while scope.names.get(captured) not in ("s", "v", "m"):
            captured = "x"
        ckind = scope.names[captured]
        inner = scope.copy()
        inner.names["z"] = kind
        if rng.random() < 0.35:
            self.tags.add("lambda")
            lines.append(f"{ind}{g} = lambda z: {self.expr(kind, 2, inner)}")
        else:
            self.tags.add("closure")
            lines.append(f"{ind}def {g}(z):")
            w = self.name("w")
            lines.append(f"{ind}    {w} = {self.expr(kind, 2, inner)}")
            lines.append(f"{ind}    return {w} * {captured}" if ckind != "m" or kind == "m"
                         else f"{ind}    return {w}")
        if rng.random() < 0.3 and ckind in ("s", "v") and captured not in ("x", "y", "W"):
            self.tags.add("closure_rebound")
            lines.append(f"{ind}{captured} = {self.expr(ckind, 1, scope)}")
        target = self.name("u")
        # the result kind of g(z) is hard to track through the capture: reduce it to a scalar
        lines.append(f"{ind}{target} = np.sum({g}({self.expr(kind, 1, scope)}))")
        if rng.random() < 0.4:
            lines.append(f"{ind}{target} = {target} + np.sum({g}({self.expr(kind, 1, scope)}))")
        scope.names[target] = "s"

    def c_higher_order(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("higher_order")
        kind = rng.choice("sv")
        ap = self.name("apply")
        inner = Scope({"a": kind})
        self.module.append(f"\n\ndef {ap}(fn, a, k=2):\n    out = fn(a)\n    for _ in range(k - 1):\n"
                           f"        out = out + fn(a * 0.5)\n    return out\n")
        choice = rng.randrange(3)
        if choice == 0:
            fn = self.helper({"a": kind}, [kind])
        elif choice == 1:
            self.tags.add("lambda")
            inner2 = scope.copy()
            inner2.names["q"] = kind
            fn = f"lambda q: {self.expr(kind, 2, inner2)}"
        else:
            self.tags.add("partial")
            h = self.helper({"a": kind, "b": "s"}, [kind])
            fn = f"functools.partial({h}, b={self.expr('s', 1, scope)})"
        target = self.name("s" if kind == "s" else "v")
        k = rng.choice(["", ", 3", ", k=1"])
        lines.append(f"{ind}{target} = {ap}({fn}, {self.expr(kind, 1, scope)}{k})")
        scope.names[target] = kind

    def c_partial(self, lines, ind, scope, depth):
        self.tags.add("partial")
        kind = self.rng.choice("sv")
        h = self.helper({"a": kind, "b": "s"}, [kind])
        p = self.name("p")
        lines.append(f"{ind}{p} = functools.partial({h}, b={self.expr('s', 1, scope)})")
        target = self.name("s" if kind == "s" else "v")
        lines.append(f"{ind}{target} = {p}({self.expr(kind, 1, scope)}) + {p}({self.expr(kind, 1, scope)})")
        scope.names[target] = kind

    def c_unpack(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("tuple_unpack")
        a, b = self.name("s"), self.name("v")
        if rng.random() < 0.5:
            lines.append(f"{ind}{a}, {b} = {self.expr('s', 2, scope)}, {self.expr('v', 2, scope)}")
        else:
            c = self.name("s")
            lines.append(f"{ind}({a}, {b}), {c} = ({self.expr('s', 1, scope)}, {self.expr('v', 1, scope)}), "
                         f"{self.expr('s', 1, scope)}")
            scope.names[c] = "s"
        scope.names[a] = "s"
        scope.names[b] = "v"
        if rng.random() < 0.3:
            self.tags.add("swap")
            lines.append(f"{ind}{a}, {b} = np.sum({b}) * 0.5, {b} * {a}")

    def c_comprehension(self, lines, ind, scope, depth):
        rng = self.rng
        i = self.name("i")
        inner = scope.copy()
        inner.names[i] = "i"
        v = self.leaf("v", scope)
        term = f"{v}[{i}] * {self.expr('s', 1, scope)}"
        choice = rng.randrange(4)
        target = self.name("s")
        if choice == 0:
            self.tags.add("genexp")
            lines.append(f"{ind}{target} = sum(np.sin({term}) for {i} in range(3))")
        elif choice == 1:
            self.tags.add("listcomp")
            lst = self.name("lst")
            lines.append(f"{ind}{lst} = [np.tanh({term}) for {i} in range(3)]")
            lines.append(f"{ind}{target} = {lst}[0] * {lst}[2] + sum({lst})")
        elif choice == 2:
            self.tags.update(["listcomp", "stack"])
            lst = self.name("lst")
            lines.append(f"{ind}{lst} = [{self.expr('v', 1, scope)} * {i} for {i} in range(3)]")
            target = self.name("M")
            lines.append(f"{ind}{target} = np.stack({lst})")
            scope.names[target] = "m"
            return
        else:
            self.tags.add("listcomp")
            lst = self.name("lst")
            lines.append(f"{ind}{lst} = [np.cos(e) * e for e in {self.expr('v', 1, scope)}]")
            target = self.name("v")
            lines.append(f"{ind}{target} = np.array({lst})")
            scope.names[target] = "v"
            return
        scope.names[target] = "s"

    def c_containers(self, lines, ind, scope, depth):
        rng = self.rng
        choice = rng.randrange(3)
        h = self.name("use")
        k1, k2 = rng.choice("sv"), rng.choice("svm")
        e1, e2 = self.expr(k1, 1, scope), self.expr(k2, 1, scope)
        inner = Scope({"p": k1, "q": k2})
        body = self.expr("s", 2, inner)
        c = self.name("ct")
        if choice == 0:
            self.tags.add("dict")
            lines.append(f"{ind}{c} = {{'p': {e1}, 'q': {e2}}}")
            self.module.append(f"\n\ndef {h}(d):\n    p = d['p']\n    q = d['q']\n    return {body}\n")
        elif choice == 1:
            self.tags.add("list")
            lines.append(f"{ind}{c} = [{e1}, {e2}]")
            self.module.append(f"\n\ndef {h}(d):\n    p, q = d\n    return {body}\n")
        else:
            self.tags.add("tuple")
            lines.append(f"{ind}{c} = ({e1}, {e2})")
            self.module.append(f"\n\ndef {h}(d):\n    p = d[0]\n    q = d[1]\n    return {body}\n")
        target = self.name("s")
        lines.append(f"{ind}{target} = {h}({c})")
        if rng.random() < 0.5:
            h2 = self.name("use")
            self.module.append(f"\n\ndef {h2}(d, w=1.0):\n    return {h}(d) * w + 0.5\n")
            lines.append(f"{ind}{target} = {target} + {h2}({c}, {self.expr('s', 1, scope)})")
        scope.names[target] = "s"

    def c_inplace(self, lines, ind, scope, depth):
        rng = self.rng
        self.tags.add("inplace_local")
        out = self.name("out")
        lines.append(f"{ind}{out} = np.zeros(3)")
        if rng.random() < 0.6:
            i = self.name("i")
            lines.append(f"{ind}for {i} in range(3):")
            lines.append(f"{ind}    {out}[{i}] = {self.expr('s', 2, scope)} * {self.leaf('v', scope)}[{i}]")
        else:
            for j in rng.sample(range(3), 2):
                lines.append(f"{ind}{out}[{j}] = {self.expr('s', 2, scope)}")
        if rng.random() < 0.3:
            self.tags.add("slice_write")
            lines.append(f"{ind}{out}[1:] = {out}[1:] + {self.expr('v', 1, scope)}[:2]")
        if rng.random() < 0.3:
            self.tags.add("augassign")
            lines.append(f"{ind}{out} += {self.expr('v', 1, scope)}")
        scope.names[out] = "v"

    def c_shared_write(self, lines, ind, scope, depth):
        """A write in place into an array another name shares (a view, a reshape, a tuple or list
        holding it), sometimes read afterwards: s2s must refuse it or give NumPy's numbers."""
        rng = self.rng
        self.tags.add("shared_write")
        acc, other = self.name("acc"), self.name("alias")
        lines.append(f"{ind}{acc} = {self.expr('v', 1, scope)} * 1.0")
        how = rng.choice(["view", "reshape", "asarray", "tuple", "list"])
        made = {"view": f"{acc}[1:]", "reshape": f"{acc}.reshape(3, 1)", "asarray": f"np.asarray({acc})",
                "tuple": f"({acc}, 1.0)", "list": f"[{acc}]"}[how]
        lines.append(f"{ind}{other} = {made}")
        if rng.random() < 0.5:
            op = rng.choice(["+", "-", "*"])
            lines.append(f"{ind}{acc} {op}= {self.expr('v', 1, scope)}")
        else:
            lines.append(f"{ind}{acc}[{rng.randrange(3)}] = {self.expr('s', 1, scope)}")
        if rng.random() < 0.7:
            s = self.name("s")
            read = f"{other}[0]" if how in ("tuple", "list") else other
            lines.append(f"{ind}{s} = np.sum({read})")
            scope.names[s] = "s"
        scope.names[acc] = "v"


CONSTRUCTS = [("assign", 6), ("if", 4), ("ifexp", 2), ("for_range", 3), ("for_rows", 2),
              ("for_zip", 2), ("break", 2), ("early_return", 1.5), ("while", 1.5), ("helper", 3),
              ("recursion", 1.5), ("closure", 2.5), ("higher_order", 1.5), ("partial", 1),
              ("unpack", 1.5), ("comprehension", 2), ("containers", 2), ("inplace", 2),
              ("shared_write", 0.75)]
INNER_CONSTRUCTS = [("assign", 6), ("if", 1), ("ifexp", 1), ("comprehension", 0.5)]


def generate(seed, index):
    """The program number `index` of campaign `seed`."""
    gen = Generator(seed, index)
    rng = gen.rng
    params = [("x", "v")]
    if rng.random() < 0.5:
        params.append(("y", "s"))
    if rng.random() < 0.35:
        params.append(("W", "m"))
    scope = Scope({n: k for n, k in params})
    lines = []
    for _ in range(rng.randint(1, 5)):
        gen.statement(lines, "    ", scope, 0)
    # the result: a scalar mixing a few of the variables computed
    names = [n for n, k in scope.names.items() if k in "svm"]
    recent = names[-3:]
    picked = rng.sample(recent, min(len(recent), rng.randint(1, 2)))
    others = [n for n in names if n not in picked]
    if others and rng.random() < 0.5:
        picked.append(rng.choice(others))
    terms = []
    for n in picked:
        k = scope.names[n]
        if k == "s":
            terms.append(n)
        elif k == "v":
            terms.append(gen.reduce_v(n, scope) if rng.random() < 0.5 else f"np.sum(np.sin({n}))")
        else:
            terms.append(gen.reduce_m(n))
    lines.append(f"    return {' + '.join(terms)}")
    source = HEADER + "".join(gen.module) + "\n\ndef f(" + ", ".join(n for n, _ in params) + "):\n" \
        + "\n".join(lines) + "\n"
    return Program(seed, index, source, gen.tags, params)


if __name__ == "__main__":
    import sys as _sys
    seed = int(_sys.argv[1]) if len(_sys.argv) > 1 else 0
    for index in range(int(_sys.argv[2]) if len(_sys.argv) > 2 else 3):
        p = generate(seed, index)
        print(f"# ---- seed {seed} index {index} tags {p.tags}")
        print(p.source)
