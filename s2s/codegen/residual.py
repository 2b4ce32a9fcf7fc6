"""The residual program: what `specialize` leaves of a function once shapes, dtypes and
pytree structures are known. Backends (`numba_cpu`, `cuda`) render it as source text.

Values are `Dyn` (a variable of the residual program, with its type) or `Const` (a value
known when specializing). Statements are a small structured language: assignments of one
operation, in-place element writes, list appends, `if`, range `for`, `while`, `break`, one
final `return`.
"""
from dataclasses import dataclass, field

import numpy as np

_PY_SCALARS = (bool, int, float, complex)


class Ty:
    """Type of a residual value: dtype and shape (None for a scalar), the Python type a NumPy run
    would give it (`float`, `np.float32`, `np.ndarray`, ...) and, for arrays, the memory layout."""

    __slots__ = ("dtype", "shape", "pytype", "layout")

    def __init__(self, dtype, shape=None, pytype=None, layout="C"):
        self.dtype = np.dtype(dtype)
        self.shape = None if shape is None else tuple(shape)
        if pytype is None:
            pytype = np.ndarray if shape is not None else self.dtype.type
        self.pytype = pytype
        self.layout = layout if shape is not None else None

    @property
    def is_array(self):
        return self.shape is not None

    @property
    def ndim(self):
        return 0 if self.shape is None else len(self.shape)

    @property
    def size(self):
        """Number of elements, or None when some dimension is only known at run time."""
        if self.shape is None:
            return 1
        n = 1
        for d in self.shape:
            if d is None:
                return None
            n *= d
        return n

    @property
    def weak(self):
        """A Python scalar: NumPy lets the other operand's dtype win (NEP 50)."""
        return self.pytype in _PY_SCALARS

    def unit(self):
        """A value of this dtype and kind for NumPy's type rules (0-d array or scalar); one, so
        that `0.0 ** -1` does not stop the inference."""
        if self.shape is not None:
            return np.ones((), self.dtype)
        if self.pytype in _PY_SCALARS:
            return self.pytype(1)
        return self.dtype.type(1)

    def witness(self):
        """An array (or scalar) of this type; big arrays cost nothing until written (calloc)."""
        if self.shape is None:
            return self.unit()
        return np.zeros(tuple(1 if d is None else d for d in self.shape), self.dtype)

    def with_(self, **changes):
        fields = dict(dtype=self.dtype, shape=self.shape, pytype=self.pytype, layout=self.layout or "C")
        fields.update(changes)
        return Ty(**fields)

    def key(self):
        return (self.dtype.str, self.shape, self.pytype, self.layout)

    def __eq__(self, other):
        return isinstance(other, Ty) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        if self.shape is None:
            return f"Ty({self.pytype.__name__})"
        return f"Ty({self.dtype}{list(self.shape)}{'' if self.layout == 'C' else ',' + self.layout})"


def ty_of(value):
    """The type of a run-time value (an argument)."""
    if isinstance(value, np.ndarray):
        layout = "C" if value.flags.c_contiguous else ("F" if value.flags.f_contiguous else "A")
        return Ty(value.dtype, value.shape, np.ndarray, layout)
    if isinstance(value, np.generic):
        return Ty(value.dtype, None, type(value))
    if isinstance(value, bool):
        return Ty(np.bool_, None, bool)
    if isinstance(value, int):
        return Ty(np.int64, None, int)
    if isinstance(value, float):
        return Ty(np.float64, None, float)
    if isinstance(value, complex):
        return Ty(np.complex128, None, complex)
    raise TypeError(f"not an array or a number: {type(value).__name__}")


class Dyn:
    """A value known only at run time, held by the residual variable `name`."""

    __slots__ = ("name", "ty")

    def __init__(self, name, ty):
        self.name = name
        self.ty = ty

    def __repr__(self):
        return f"<{self.name}: {self.ty}>"

    def __bool__(self):
        raise TypeError("internal: truth value of a run-time value taken at specialization time")


@dataclass
class Const:
    """A value known when specializing, written into the residual code as a literal (or, for an
    array, a module constant). `dtype` asks for a typed literal (`np.float32(0.5)`)."""
    value: object
    dtype: object = None


@dataclass
class E:
    """One operation: `op` names it (see `numba_cpu.render`), `args` are Dyn/Const atoms."""
    op: str
    args: list
    params: dict = field(default_factory=dict)


@dataclass
class Assign:
    target: str
    expr: E
    ty: object
    where: object = None


@dataclass
class SetItem:
    """`array[index] = value` (or `+=` when `add`); index parts are atoms, slices of atoms, None."""
    array: str
    index: tuple
    value: object
    add: bool = False
    where: object = None


@dataclass
class Append:
    lst: str
    value: object
    where: object = None


@dataclass
class If:
    test: object
    body: list
    orelse: list
    where: object = None


@dataclass
class For:
    var: str
    start: object
    stop: object
    step: object
    body: list
    where: object = None


@dataclass
class While:
    test: object
    body: list
    where: object = None


@dataclass
class Break:
    where: object = None


@dataclass
class Return:
    values: list
    where: object = None


@dataclass
class DynSlice:
    """A slice with a bound known only at run time (atoms or None)."""
    start: object
    stop: object
    step: object


PURE_EXCEPT = {"pop", "call_impure"}


def walk(block):
    """Every statement of a block, nested ones included."""
    for stmt in block:
        yield stmt
        if isinstance(stmt, If):
            yield from walk(stmt.body)
            yield from walk(stmt.orelse)
        elif isinstance(stmt, (For, While)):
            yield from walk(stmt.body)


def atoms_read(stmt):
    """Names a statement reads (not counting the statements nested in it)."""
    out = set()

    def add(x):
        if isinstance(x, Dyn):
            out.add(x.name)
        elif isinstance(x, DynSlice):
            add(x.start), add(x.stop), add(x.step)
        elif isinstance(x, (tuple, list)):
            for y in x:
                add(y)
        elif isinstance(x, E):
            for y in x.args:
                add(y)
            for y in x.params.values():
                add(y)

    if isinstance(stmt, Assign):
        add(stmt.expr)
    elif isinstance(stmt, SetItem):
        out.add(stmt.array)
        add(stmt.index), add(stmt.value)
    elif isinstance(stmt, Append):
        out.add(stmt.lst)
        add(stmt.value)
    elif isinstance(stmt, (If, While)):
        add(stmt.test)
    elif isinstance(stmt, For):
        add(stmt.start), add(stmt.stop), add(stmt.step)
    elif isinstance(stmt, Return):
        add(stmt.values)
    return out


def prune(block):
    """Drop what no result, test or kept write needs (mark and sweep; loops' carried values
    that only feed themselves go too)."""
    _sweep(block, _live(block))
    return block


def _live(block):
    """The names a result, a test or a kept write needs: from the names those read, through what
    each name being live makes live (its assignments' reads, writes into it, pops from it)."""
    needs = {}                  # name -> names that are live once it is
    todo = []
    for stmt in walk(block):
        reads = atoms_read(stmt)
        if isinstance(stmt, (Return, If, While, For)):
            todo.extend(reads)
        elif isinstance(stmt, Assign):
            reads.add(stmt.target)
            needs.setdefault(stmt.target, []).extend(reads)
            if stmt.expr.op in PURE_EXCEPT:         # a pop from a live list stays
                for a in stmt.expr.args:
                    if isinstance(a, Dyn):
                        needs.setdefault(a.name, []).extend(reads)
        elif isinstance(stmt, SetItem):
            needs.setdefault(stmt.array, []).extend(reads)
        elif isinstance(stmt, Append):
            needs.setdefault(stmt.lst, []).extend(reads)
    live = set()
    while todo:
        name = todo.pop()
        if name not in live:
            live.add(name)
            todo.extend(needs.get(name, ()))
    return live


def _pop_of_live(stmt, live):
    e = stmt.expr
    return e.op in PURE_EXCEPT and any(isinstance(a, Dyn) and a.name in live for a in e.args)


def _sweep(block, live):
    keep = []
    for stmt in block:
        if isinstance(stmt, Assign) and stmt.target not in live and not _pop_of_live(stmt, live):
            continue
        if isinstance(stmt, SetItem) and stmt.array not in live:
            continue
        if isinstance(stmt, Append) and stmt.lst not in live:
            continue
        if isinstance(stmt, If):
            _sweep(stmt.body, live)
            _sweep(stmt.orelse, live)
        elif isinstance(stmt, (For, While)):
            _sweep(stmt.body, live)
        keep.append(stmt)
    block[:] = keep


# operations that only compute (no mutation, no possible failure on a loop that never runs)
HOISTABLE = {"ew", "reduce", "matmul", "transpose", "reshape", "cast", "astype", "copy", "const", "einsum",
             "asarray0", "broadcast_to", "dim", "size", "tuple", "tuple_get", "stack", "array_of", "concatenate", "diag",
             "int"}


def _assignments(block, counts, mutated):
    for stmt in walk(block):
        if isinstance(stmt, Assign):
            counts[stmt.target] = counts.get(stmt.target, 0) + 1
        elif isinstance(stmt, For):
            counts[stmt.var] = counts.get(stmt.var, 0) + 2
        elif isinstance(stmt, SetItem):
            mutated.add(stmt.array)
        elif isinstance(stmt, Append):
            mutated.add(stmt.lst)


def hoist_invariants(block):
    """Move computations that do not change inside a loop to just before it (innermost loops
    first, so an invariant can travel out of several)."""
    counts, mutated = {}, set()
    _assignments(block, counts, mutated)
    _hoist(block, counts, mutated)
    return block


def _hoist(block, counts, mutated):
    out = []
    for stmt in block:
        if isinstance(stmt, If):
            _hoist(stmt.body, counts, mutated)
            _hoist(stmt.orelse, counts, mutated)
        elif isinstance(stmt, (For, While)):
            _hoist(stmt.body, counts, mutated)
            changed = set()
            for s in walk(stmt.body):
                if isinstance(s, Assign):
                    changed.add(s.target)
                elif isinstance(s, For):
                    changed.add(s.var)
                elif isinstance(s, (SetItem, Append)):
                    changed.add(s.array if isinstance(s, SetItem) else s.lst)
                if isinstance(s, Assign) and s.expr.op in PURE_EXCEPT:
                    for a in s.expr.args:
                        if isinstance(a, Dyn):
                            changed.add(a.name)
            if isinstance(stmt, For):
                changed.add(stmt.var)
            moved = []
            while True:
                progress = False
                keep = []
                for s in stmt.body:
                    if (isinstance(s, Assign) and s.expr.op in HOISTABLE and counts.get(s.target) == 1
                            and s.target not in mutated and not (atoms_read(s) & changed)):
                        moved.append(s)
                        changed.discard(s.target)
                        progress = True
                    else:
                        keep.append(s)
                stmt.body[:] = keep
                if not progress:
                    break
            out.extend(moved)
        out.append(stmt)
    block[:] = out
