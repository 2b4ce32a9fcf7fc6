"""Loop-nest kernels: fused elementwise chains, the reductions that consume them, and einsum.

`fuse(block, uses)` groups the elementwise operations of straight-line code into `Kernel`
records (one loop nest each, several outputs allowed, an optional reduction at the end).
`numba_cpu` renders a Kernel as an `@njit` function with `prange` over the outer loop, `cuda`
as a CUDA kernel. Output buffers are allocated by the caller and passed in.
"""
from dataclasses import dataclass, field

import numpy as np

from .residual import Assign, Const, Dyn, For, If, While

PARALLEL_WORK = 1 << 18     # element-operations below which a kernel runs serially (waking threads costs more)
# relative cost of one element of an operation (cheap arithmetic is 1)
COST = {"exp": 8, "log": 8, "log1p": 10, "expm1": 10, "sqrt": 4, "sin": 10, "cos": 10, "tan": 12, "tanh": 8,
        "sinh": 12, "cosh": 12, "arctan": 12, "arcsin": 12, "arccos": 12, "arctan2": 14, "expit": 10,
        "power": 12, "divide": 3, "mod": 4, "floor_divide": 4}


def work(kernel, size):
    """Estimated element-operations of a kernel over `size` elements."""
    per = sum(COST.get(m.expr.params["fn"], 1) for m in kernel.members) + (1 if kernel.reduce is not None else 0)
    return size * max(per, 1)

# float32 tanh as in Eigen/XLA (a rational approximation, <= 6 ulp; Numba's scalar np.tanh is
# ~10x slower than NumPy's vectorized one)
TANH_F32 = """@numba.njit(cache=True, nogil=True, error_model="numpy")
def tanh_f32(a):
    x = min(max(a, np.float32(-7.90531110763549805)), np.float32(7.90531110763549805))
    x2 = x * x
    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
    p = x2 * p + np.float32(-8.60467152213735e-11)
    p = x2 * p + np.float32(5.12229709037114e-08)
    p = x2 * p + np.float32(1.48572235717979e-05)
    p = x2 * p + np.float32(6.37261928875436e-04)
    p = x2 * p + np.float32(4.89352455891786e-03)
    p = x * p
    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
    q = x2 * q + np.float32(2.26843463243900e-03)
    q = x2 * q + np.float32(4.89352518554385e-03)
    r = p / q
    return a if abs(a) < np.float32(0.0004) else r
"""

# scalar templates of elementwise operations: {0}, {1}, ... are operand expressions
SCALAR = {
    "add": "{0} + {1}", "subtract": "{0} - {1}", "multiply": "{0} * {1}", "divide": "{0} / {1}",
    "power": "{0} ** {1}", "mod": "{0} % {1}", "floor_divide": "{0} // {1}",
    "less": "{0} < {1}", "less_equal": "{0} <= {1}", "greater": "{0} > {1}", "greater_equal": "{0} >= {1}",
    "equal": "{0} == {1}", "not_equal": "{0} != {1}",
    "logical_and": "({0} and {1})", "logical_or": "({0} or {1})", "logical_not": "(not {0})",
    "bitwise_and": "{0} & {1}", "bitwise_or": "{0} | {1}", "bitwise_xor": "{0} ^ {1}", "invert": "~{0}",
    "negative": "-{0}", "positive": "+{0}",
    "maximum": "max({0}, {1})", "minimum": "min({0}, {1})",
    "builtin_max": "max({0}, {1})", "builtin_min": "min({0}, {1})",
    "where": "({1} if {0} else {2})",
    "square": "{0} * {0}", "absolute": "abs({0})",
    "exp": "np.exp({0})", "log": "np.log({0})", "log1p": "np.log1p({0})", "expm1": "np.expm1({0})",
    "sqrt": "np.sqrt({0})", "sin": "np.sin({0})", "cos": "np.cos({0})", "tan": "np.tan({0})",
    "tanh": "np.tanh({0})", "sinh": "np.sinh({0})", "cosh": "np.cosh({0})", "arctan": "np.arctan({0})",
    "arcsin": "np.arcsin({0})", "arccos": "np.arccos({0})", "arctan2": "np.arctan2({0}, {1})",
    "logaddexp": "np.logaddexp({0}, {1})",
    "sign": "np.sign({0})", "floor": "np.floor({0})", "ceil": "np.ceil({0})", "rint": "np.rint({0})",
    "round": "np.rint({0})", "trunc": "np.trunc({0})", "isnan": "np.isnan({0})", "isinf": "np.isinf({0})",
    "isfinite": "np.isfinite({0})",
    "expit": "{one} / ({one} + np.exp(-{0}))",
}
# elementwise operations on whole arrays, when not fused (NumPy spelling Numba supports)
ARRAY = dict(SCALAR, logical_and="np.logical_and({0}, {1})", logical_or="np.logical_or({0}, {1})",
             logical_not="np.logical_not({0})", maximum="np.maximum({0}, {1})", minimum="np.minimum({0}, {1})",
             where="np.where({0}, {1}, {2})", absolute="np.abs({0})",
             # Python's max(a, b) is b only when b > a (NaN first stays): on 0-d arrays too
             builtin_max="np.where({1} > {0}, {1}, {0})", builtin_min="np.where({1} < {0}, {1}, {0})")


@dataclass(eq=False)
class Kernel:
    """One loop nest over `shape`: `members` computed per element in order, `outputs` stored,
    and optionally a reduction of the last member over `axes`."""
    name: str
    shape: tuple                      # iteration space
    members: list                     # Assign statements (op "ew"), in order
    outputs: list                     # names of members stored to arrays
    reduce: object = None             # the Assign of a "reduce" op, or None
    where: object = None
    inputs: list = field(default_factory=list)    # Dyn atoms read (arrays and scalars)

    @property
    def target(self):
        return self.reduce.target if self.reduce is not None else self.outputs[-1]


def count_uses(block, counts=None):
    """How many times each name is read anywhere in `block` (nested blocks included)."""
    from .residual import atoms_read, walk
    counts = {} if counts is None else counts
    for stmt in walk(block):
        for name in atoms_read(stmt):
            counts[name] = counts.get(name, 0) + 1
    return counts


def _array_ew(stmt):
    return isinstance(stmt, Assign) and stmt.expr.op == "ew" and stmt.ty is not None and stmt.ty.is_array \
        and None not in stmt.ty.shape and stmt.expr.params["fn"] in SCALAR


def _fusable_reduce(stmt):
    return isinstance(stmt, Assign) and stmt.expr.op == "reduce" and isinstance(stmt.expr.args[0], Dyn) \
        and stmt.expr.args[0].ty is not None and stmt.expr.args[0].ty.is_array \
        and None not in stmt.expr.args[0].ty.shape


def fuse(block, uses, fusion=True):
    """Replace elementwise chains (and reductions consuming them) in `block`, recursively, by
    Kernel statements. `uses` counts reads of every name in the whole function."""
    out = []
    open_groups = []          # Kernels still accepting members
    produced = {}             # name -> open Kernel producing it

    def close(kernel):
        if kernel in open_groups:
            open_groups.remove(kernel)
            for name in [n for n, k in produced.items() if k is kernel]:
                del produced[name]

    order = {id(stmt): k for k, stmt in enumerate(block)}

    def ordered(members):                 # original statement order, so the text is deterministic
        return sorted(members, key=lambda m: order[id(m)])

    for stmt in block:
        if isinstance(stmt, If):
            stmt.body = fuse(stmt.body, uses, fusion)
            stmt.orelse = fuse(stmt.orelse, uses, fusion)
        elif isinstance(stmt, (For, While)):
            stmt.body = fuse(stmt.body, uses, fusion)
        if _array_ew(stmt):
            shape = stmt.ty.shape
            found = []
            for a in stmt.expr.args:
                if isinstance(a, Dyn) and a.name in produced and produced[a.name] not in found:
                    found.append(produced[a.name])
            sources = [k for k in found if k.shape == shape and k.reduce is None] if fusion else []
            for kernel in found:
                if kernel not in sources:
                    close(kernel)
            if sources:
                kernel = sources[0]
                for other in sources[1:]:       # merge: all are open, same shape, earlier in order
                    kernel.members = ordered(kernel.members + other.members)
                    position = out.index(other)
                    out.pop(position)
                    close(other)
                    for m in other.members:
                        produced[m.target] = kernel
                kernel.members.append(stmt)
                out.remove(kernel)
                out.append(kernel)
            else:
                kernel = Kernel(f"kernel_{stmt.target}", shape, [stmt], [], where=stmt.where)
                open_groups.append(kernel)
                out.append(kernel)
            produced[stmt.target] = kernel
            kernel.name = f"kernel_{stmt.target}"
            continue
        if _fusable_reduce(stmt):
            src = stmt.expr.args[0]
            kernel = produced.get(src.name) if fusion else None
            if kernel is not None and kernel.shape == src.ty.shape and kernel.reduce is None:
                kernel.reduce = stmt
                kernel.name = f"kernel_{stmt.target}"
                out.remove(kernel)
                out.append(kernel)
                close(kernel)
            else:
                if kernel is not None:
                    close(kernel)
                kernel = Kernel(f"kernel_{stmt.target}", src.ty.shape, [], [], reduce=stmt, where=stmt.where)
                out.append(kernel)
            continue
        # any other statement reading an open group's value closes that group
        from .residual import atoms_read
        for name in atoms_read(stmt) if not isinstance(stmt, (If, For, While)) else _reads_nested(stmt):
            if name in produced:
                close(produced[name])
        if not isinstance(stmt, Assign):
            for kernel in list(open_groups):      # control flow and writes end every group
                close(kernel)
        out.append(stmt)
    for item in out:
        if isinstance(item, Kernel):
            _finish(item, uses)
    return out


def _reads_nested(stmt):
    from .residual import atoms_read, walk
    names = set()
    for s in walk([stmt]):
        names |= atoms_read(s)
    return names


def _finish(kernel, uses):
    """Decide outputs (members read outside the kernel) and inputs."""
    member_names = {m.target for m in kernel.members}
    inside = {}                  # statements of the kernel reading each name (as count_uses counts)
    for m in kernel.members:
        for name in {a.name for a in m.expr.args if isinstance(a, Dyn)}:
            inside[name] = inside.get(name, 0) + 1
    if kernel.reduce is not None:
        src = kernel.reduce.expr.args[0]
        inside[src.name] = inside.get(src.name, 0) + 1
    outputs = []
    for m in kernel.members:
        if uses.get(m.target, 0) > inside.get(m.target, 0) or (kernel.reduce is None and m is kernel.members[-1]):
            outputs.append(m.target)
    kernel.outputs = outputs
    inputs, seen = [], set()
    for m in kernel.members:
        for a in m.expr.args:
            if isinstance(a, Dyn) and a.name not in member_names and a.name not in seen:
                seen.add(a.name)
                inputs.append(a)
    if kernel.reduce is not None:
        src = kernel.reduce.expr.args[0]
        if src.name not in member_names and src.name not in seen:
            inputs.append(src)
    kernel.inputs = inputs


# -- rendering a kernel as Python loops (shared by the Numba and CUDA backends) ----------------------
def literal(const, dtype=None):
    """Source text of a constant, typed when its dtype is not Python's own."""
    value, dtype = const.value, (const.dtype if const.dtype is not None else dtype)
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind == "f":
            text = _float_text(float(value))
            return text if dtype == np.float64 else f"np.{dtype.name}({text})"
        if dtype.kind in "iu":
            if isinstance(value, float) and not float(value).is_integer():
                return _float_text(value)
            return str(int(value)) if dtype == np.int64 else f"np.{dtype.name}({int(value)})"
        if dtype.kind == "b":
            return "True" if value else "False"
        if dtype.kind == "c":
            return f"np.{dtype.name}({complex(value)!r})"
    if isinstance(value, float) or isinstance(value, np.floating):
        return _float_text(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return repr(value)


def _float_text(x):
    if x != x:
        return "np.nan"
    if x in (float("inf"), float("-inf")):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(x)


def _index(var_names, in_shape, out_shape):
    """Index expression of an input of `in_shape` broadcast against the loop space `out_shape`."""
    n, m = len(out_shape), len(in_shape)
    parts = []
    for k in range(m):
        d = in_shape[k]
        o = out_shape[n - m + k]
        parts.append("0" if d == 1 and o != 1 else var_names[n - m + k])
    if not parts:
        return "()"
    return ", ".join(parts) if len(parts) > 1 else parts[0] + ","


ACC_INIT = {"sum": "0", "mean": "0", "prod": "1", "any": "False", "all": "True",
            "max": "-np.inf", "min": "np.inf", "argmax": "-np.inf", "argmin": "np.inf"}


def acc_dtype(kind, dtype):
    dtype = np.dtype(dtype)
    if kind in ("any", "all"):
        return np.dtype(np.bool_)
    if kind in ("sum", "prod", "mean"):
        if dtype.kind == "f":
            return np.dtype(np.float64)
        if dtype.kind in "biu":
            return np.dtype(np.int64) if kind != "mean" else np.dtype(np.float64)
    return dtype


def render_body(kernel, loads, idx_vars, scalar_names):
    """Per-element statements: loads of inputs, one line per member, stores of outputs."""
    lines = []
    for name, expr in loads:
        lines.append(f"{name} = {expr}")
    for m in kernel.members:
        args = [scalar_names.get(a.name, a.name) if isinstance(a, Dyn) else literal(a) for a in m.expr.args]
        fn = m.expr.params["fn"]
        one = literal(Const(1.0, m.ty.dtype if m.ty.dtype.kind == "f" else np.float64))
        text = SCALAR[fn].format(*args, one=one)
        if fn == "tanh" and m.ty.dtype == np.float32:
            text = f"tanh_f32({args[0]})"
            kernel.needs = getattr(kernel, "needs", set()) | {"tanh_f32"}
        if fn == "power" and isinstance(m.expr.args[1], Const) and m.expr.args[1].value == 2:
            text = f"{args[0]} * {args[0]}"
        scalar = f"v_{m.target}"
        if m.ty.dtype == np.float32 and fn in _PROMOTING:
            text = f"np.float32({text})"
        lines.append(f"{scalar} = {text}")
        scalar_names[m.target] = scalar
    return lines


# Numba computes these in float64 for float32 arguments
_PROMOTING = {"exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arctan",
              "arcsin", "arccos", "arctan2", "expit", "power", "divide"}


def einsum_plan(params, operands):
    """(letters in loop order, output letters, sizes) of an einsum op."""
    sizes = dict(params["sizes"])
    out_letters = params["output"]
    inner = [c for c in sizes if c not in out_letters]
    return list(out_letters) + sorted(inner), out_letters, sizes
