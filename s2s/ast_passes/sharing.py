"""Which names of a function may share memory, and whether a write through one is seen through another.

NumPy writes in place: `acc += x`, `b[0] = v`, `out.append(a)` change the object a name holds,
and every other name bound to that object, or to a view of it, sees the change. The
transformations treat each such write as making a new value, which gives the same numbers
exactly when no other name that may share the object is read after the write, and the object
is not one the caller passed in. `check` asks `Sharing.conflict` and refuses the write otherwise.

Sharing is over-approximated, flow-insensitively: `b = a`, `b = a[i]`, `b = a.T`, `b = a.reshape(...)`,
`b = np.asarray(a)`, `b = (a, 1)`, `b.append(a)`, `for b in a`, and `b = f(a)` for any function not
known to return a new array, all make `a` and `b` share; arithmetic, reductions and NumPy
functions that allocate (np.sin, np.sum, np.concatenate, ...) do not.
"""
import builtins
import collections
import types

import gast
import numpy as np

from . import nodes

# NumPy functions that may return a view of an argument, or the argument itself
VIEW_FUNCTIONS = {
    "reshape", "ravel", "transpose", "swapaxes", "moveaxis", "rollaxis", "squeeze", "expand_dims",
    "broadcast_to", "broadcast_arrays", "atleast_1d", "atleast_2d", "atleast_3d", "asarray", "asanyarray",
    "ascontiguousarray", "asfortranarray", "require", "flip", "fliplr", "flipud", "diagonal", "real", "imag",
    "split", "array_split", "hsplit", "vsplit", "dsplit", "unstack", "matrix_transpose", "permute_dims",
    "as_strided", "sliding_window_view", "view",
}
# array methods that always return a new object (or a Python number)
FRESH_METHODS = {
    "sum", "mean", "prod", "std", "var", "max", "min", "argmax", "argmin", "cumsum", "cumprod", "dot",
    "copy", "astype", "all", "any", "round", "clip", "conj", "conjugate", "trace", "tolist", "item",
    "nonzero", "flatten", "repeat", "take", "sort_values", "ptp", "count", "index", "isnumeric",
}
# builtins whose result shares nothing with their arguments (that matters for arrays)
FRESH_BUILTINS = {
    "len", "float", "int", "bool", "abs", "sum", "round", "str", "repr", "isinstance", "range", "print",
    "hash", "id", "type", "callable", "any", "all", "complex", "divmod", "pow", "format", "issubclass",
}
CONTAINER_METHODS = {"append", "extend", "insert", "add", "update", "setdefault"}
_CONTAINERS = {"list", "tuple", "dict", "zip", "enumerate", "sorted", "reversed", "map", "filter"}
_LIBRARIES = ("numpy", "scipy", "math", "s2s")


class Sharing:
    """The may-share relation among the names of `fn` (globals give the meaning of `np.` calls).

    Three kinds of link, each noted with the node that made it: `b = a.T` (b is a, or a view of
    it: both ways), `t = (a, 1)` (t holds a: a write into a is seen through t, a write into t's
    items is not seen through a) and `b = t[0]`, `for b in t` (b is t, a view of it, or one of
    the items t holds)."""

    def __init__(self, fn, globals_):
        self.fn = fn
        self.globals = globals_
        self.same = collections.defaultdict(list)        # name -> [(name, node)], both ways
        self.holds = collections.defaultdict(list)       # container -> [(item name, node)]
        self.held_by = collections.defaultdict(list)     # item name -> [(container, node)]
        self.items = collections.defaultdict(list)       # name -> [(container it was read from, node)]
        self.read_from = collections.defaultdict(list)   # container -> [(name read from it, node)]
        self.order, self.loops, self.nested = {}, {}, set()
        self._index(fn, [], False)
        params = {a.id for a in fn.args.args}
        walked = list(nodes.walk(fn, contexts=False))
        self.locals = params | {n.id for n in walked if isinstance(n, gast.Name) and
                                isinstance(n.ctx, (gast.Store, gast.Param))} | \
            {n.name for n in walked if isinstance(n, gast.FunctionDef)}
        self.params = params
        # locals assigned a container somewhere (a parameter may hold one too)
        self.containers = {t.id for n in walked if isinstance(n, gast.Assign) and _makes_container(n.value)
                                    for t in n.targets if isinstance(t, gast.Name)}
        self.block_of = {id(st): (id(node), field) for node in walked for field in ("body", "orelse")
                         if isinstance(getattr(node, field, None), list) for st in getattr(node, field)}
        self.assignments = collections.defaultdict(list)      # name -> plain `name = ...` statements
        self.jumps = [n for n in walked if isinstance(n, (gast.Break, gast.Continue, gast.Return, gast.Raise))]
        for node in walked:
            if isinstance(node, gast.Assign):
                for target in node.targets:
                    self._bind(target, node.value, node)
                    if isinstance(target, gast.Name):
                        self.assignments[target.id].append(node)
            elif isinstance(node, gast.AugAssign):
                if isinstance(node.value, (gast.List, gast.Tuple)):      # list += [a]: a is an item now
                    for root in _stored_roots(node.target):
                        self._link(root, [("held", n) for _, n in self.may_alias(node.value)], node)
            elif isinstance(node, gast.For):
                for root in _stored_roots(node.target):
                    self._link(root, [("item", n) for _, n in self.may_alias(node.iter)], node)
            elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                    node.func.attr in CONTAINER_METHODS:
                root = _root(node.func.value)
                if root in self.locals:         # lst.append(a); not np.add(a, b)
                    self._link(root, [("held", n) for a in node.args for _, n in self.may_alias(a)], node)

    # -- building the links ------------------------------------------------------------------
    def _bind(self, target, value, where):
        if isinstance(target, gast.Name):
            self._link(target.id, self.may_alias(value), where)
        elif isinstance(target, (gast.Tuple, gast.List)):
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts) and \
                    not any(isinstance(e, gast.Starred) for e in target.elts + value.elts):
                for t, v in zip(target.elts, value.elts):
                    self._bind(t, v, where)
                return
            links = [("item", n) for _, n in self.may_alias(value)]    # unpacked: an item of the value
            for root in _stored_roots(target):
                self._link(root, links, where)
        elif isinstance(target, gast.Starred):
            self._bind(target.value, value, where)
        elif isinstance(target, gast.Subscript):
            root = _root(target)
            if root in self.containers or root in self.params:  # an array copies an item in, a list keeps it
                self._link(root, [("held", n) for _, n in self.may_alias(value)], where)

    def _link(self, name, links, where):
        for kind, other in links:
            if other == name or not self._may_hold_data(other):
                continue
            if kind == "same":
                self.same[name].append((other, where))
                self.same[other].append((name, where))
            elif kind == "held":
                self.holds[name].append((other, where))
                self.held_by[other].append((name, where))
            else:
                self.items[name].append((other, where))
                self.read_from[other].append((name, where))

    def may_alias(self, e):
        """[(kind, name)]: the value of `e` may be name's object or a view of it ("same"), hold it
        ("held"), or be it, a view of it or one of its items ("item")."""
        if isinstance(e, gast.Name):
            return [("same", e.id)]
        if isinstance(e, gast.Attribute):
            return self.may_alias(e.value)          # a.T, a.real: views
        if isinstance(e, (gast.Subscript, gast.Starred)):
            return [("item", n) for _, n in self.may_alias(e.value)]
        if isinstance(e, (gast.Tuple, gast.List, gast.Set)):
            return [("held", n) for v in e.elts for _, n in self.may_alias(v)]
        if isinstance(e, gast.Dict):
            return [("held", n) for v in e.values for _, n in self.may_alias(v)]
        if isinstance(e, gast.IfExp):
            return self.may_alias(e.body) + self.may_alias(e.orelse)
        if isinstance(e, gast.BoolOp):
            return [link for v in e.values for link in self.may_alias(v)]
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Mult)):
            # `+` and `*` on lists and tuples make a new one holding the same items
            return [("held", n) for side in (e.left, e.right) if self._maybe_sequence(side)
                    for _, n in self.may_alias(side)]
        if isinstance(e, gast.Call):
            return self._call_may_alias(e)
        return []               # numbers, arithmetic, comparisons, lambdas (they read names when called)

    def _call_may_alias(self, call):
        args = [a for a in call.args] + [k.value for k in call.keywords]
        from_args = [("item", n) for a in args for _, n in self.may_alias(a)]
        func = call.func
        root, value = self._static(func)
        if value is not None:
            name = getattr(value, "__name__", "")
            if getattr(builtins, name, None) is value:
                if name in _CONTAINERS:             # a new container of the items it is given
                    return [("held", n) for _, n in from_args]
                return [] if name in FRESH_BUILTINS else from_args
            module = root.__name__ if isinstance(root, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(value, np.ufunc) or (module or "").startswith(_LIBRARIES):
                return from_args if name in VIEW_FUNCTIONS else []
            return from_args             # a function of the program: it may return what it was given
        if isinstance(func, gast.Attribute):         # a method of a local value
            if func.attr in FRESH_METHODS:
                return []
            return [("item", n) for _, n in self.may_alias(func.value)] + from_args
        return from_args

    def _static(self, func):
        """(root value, value) of a module-level name `func` (`np.linalg.inv`, `helper`), else (None, None)."""
        chain = []
        while isinstance(func, gast.Attribute):
            chain.append(func.attr)
            func = func.value
        if not isinstance(func, gast.Name) or func.id in self.locals:
            return None, None
        if func.id in self.globals:
            root = self.globals[func.id]
        elif hasattr(builtins, func.id):
            root = getattr(builtins, func.id)
        else:
            return None, None
        value = root
        for attr in reversed(chain):
            value = getattr(value, attr, None)
        return root, value

    def _may_hold_data(self, name):
        """False for module-level names of modules, functions and classes: they share no arrays."""
        if name in self.locals or name not in self.globals:
            return True
        value = self.globals[name]
        return not isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
                                      np.ufunc, int, float, complex, bool, str))

    def _maybe_sequence(self, node):
        if isinstance(node, (gast.List, gast.Tuple)):
            return True
        if isinstance(node, gast.Name):
            return node.id in self.containers
        return _makes_container(node)

    # -- reads after a write -----------------------------------------------------------------
    def _index(self, node, loops, nested):
        """Number the nodes in source order; note the loops around each and whether it is in a def or lambda."""
        self.order[id(node)] = len(self.order)
        self.loops[id(node)] = loops
        if nested:
            self.nested.add(id(node))
        inner_loops = loops + [node] if isinstance(node, (gast.For, gast.While)) else loops
        inner_nested = nested or (node is not self.fn and isinstance(node, (gast.FunctionDef, gast.Lambda)))
        for child in gast.iter_child_nodes(node):
            self._index(child, inner_loops, inner_nested)
        self.order[("end", id(node))] = len(self.order)

    def read_after(self, stmt, names):
        """A Load of one of `names` that may run after `stmt` and see the object it held then:
        later in the text, anywhere in a loop around `stmt`, or in a nested def or lambda, and
        not after an assignment that always rebinds the name in between. None if there is none."""
        end = self.order[("end", id(stmt))]
        around = self.loops[id(stmt)]
        for node in nodes.walk(self.fn, contexts=False):
            if not (isinstance(node, gast.Name) and node.id in names and isinstance(node.ctx, gast.Load)):
                continue
            if id(node) in self.nested:
                return node
            later = self.order[id(node)] > end
            if (later or any(self._inside(node, loop) for loop in around)) and \
                    not self._rebound_between(stmt, node, later):
                return node
        return None

    def _rebound_between(self, stmt, read, later):
        """An assignment to `read`'s name that runs after `stmt` and before `read` on every path:
        a statement of `stmt`'s own block after it (no jump in between) when `read` is later in
        the text, or a statement of the body of a loop around `stmt` before `read` when `read`
        comes round again in the next iteration."""
        for assign in self.assignments.get(read.id, ()):
            block = self.block_of.get(id(assign))
            if self.order[("end", id(assign))] >= self.order[id(read)]:
                continue
            if later:
                if block == self.block_of.get(id(stmt)) and self.order[id(assign)] > self.order[id(stmt)] and \
                        not any(self.order[id(stmt)] < self.order[id(j)] < self.order[id(assign)] for j in self.jumps):
                    return True
            elif any(block == (id(loop), "body") and self._inside(read, loop) for loop in self.loops[id(stmt)]):
                return True
        return False

    def observers(self, name, stmt, into_items, deep):
        """The other names that may see a write into `name`'s object at `stmt`, through the links
        made before it or in a loop around it. `into_items`: the write rebinds an item of a
        container (`lst[i] = v`), which names read out of it earlier do not see; `deep`: it may
        change an item in place (`lst[i] += v`), which everything seeing the item sees."""
        seen, todo = {name}, [name]
        if deep:
            for item, where in self.holds.get(name, ()):
                if self._may_run_before(where, stmt):
                    seen.add(item)
                    todo.append(item)

        def reach(other, where):
            if other not in seen and self._may_run_before(where, stmt):
                seen.add(other)
                todo.append(other)

        while todo:
            current = todo.pop()
            for other, where in self.same.get(current, ()):
                reach(other, where)
            for container, where in self.held_by.get(current, ()):      # seen through what holds it,
                reach(container, where)
                for reader, read_where in self.read_from.get(container, ()):   # and through items
                    reach(reader, read_where)                                  # read out of that
            for container, where in self.items.get(current, ()):        # read out of a container: it
                reach(container, where)                                 # may be a view of it, or one
                for item, held_where in self.holds.get(container, ()):  # of the items it holds
                    if self._may_run_before(held_where, stmt):
                        reach(item, where)
            if not (into_items and current == name and (name in self.containers or name in self.params)):
                for reader, where in self.read_from.get(current, ()):   # views read out of it
                    reach(reader, where)
        return seen - {name}

    def _may_run_before(self, node, stmt):
        if self.order[id(node)] < self.order[id(stmt)]:
            return True
        return any(self._inside(node, loop) for loop in self.loops[id(stmt)])

    def _inside(self, node, outer):
        return self.order[id(outer)] < self.order[id(node)] < self.order[("end", id(outer))]

    def conflict(self, stmt, name, params, into_items=False, deep=False):
        """Why writing into `name` at `stmt` in place would be seen elsewhere, or None."""
        partners = self.observers(name, stmt, into_items, deep)
        given = sorted(partners & params)
        if given:
            return f"may share memory with the argument `{given[0]}`"
        module = sorted(p for p in partners if p not in self.locals)
        if module:
            return f"may share memory with the module value `{module[0]}`"
        seen = self.read_after(stmt, partners)
        if seen is not None:
            return f"shares memory with `{seen.id}` (read afterwards)"
        return None


def _root(node):
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _stored_roots(target):
    """The names an assignment target binds or writes into: `a`, `(a, b)`, `c` of `c[i]`."""
    if isinstance(target, (gast.Tuple, gast.List)):
        return set().union(set(), *[_stored_roots(e) for e in target.elts])
    if isinstance(target, gast.Starred):
        return _stored_roots(target.value)
    root = _root(target)
    return {root} if root else set()


def _makes_container(node):
    """A display, or a call of list/tuple/dict/zip/...: a value that holds other objects."""
    if isinstance(node, (gast.List, gast.Tuple, gast.Dict, gast.Set)):
        return True
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in _CONTAINERS
