"""Flatten and rebuild nested containers (JAX's pytree conventions, tuples/lists/dicts/None)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class PyTreeDef:
    kind: str                 # "leaf", "none", "tuple", "list", "dict"
    children: tuple = ()
    keys: tuple = ()

    @property
    def num_leaves(self):
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children))
            return "PyTreeDef({" + inner + "})"
        return f"PyTreeDef({self.kind}[{inner}])"


def tree_flatten(tree):
    """(leaves, treedef) of a pytree."""
    leaves = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def _flatten(tree, leaves):
    if tree is None:
        return PyTreeDef("none")
    if isinstance(tree, tuple) and not hasattr(tree, "_fields"):
        return PyTreeDef("tuple", tuple(_flatten(c, leaves) for c in tree))
    if isinstance(tree, list):
        return PyTreeDef("list", tuple(_flatten(c, leaves) for c in tree))
    if isinstance(tree, dict):
        keys = tuple(sorted(tree))
        return PyTreeDef("dict", tuple(_flatten(tree[k], leaves) for k in keys), keys)
    leaves.append(tree)
    return PyTreeDef("leaf")


def tree_unflatten(treedef, leaves):
    """Rebuild a pytree with the structure `treedef` from `leaves`."""
    iterator = iter(leaves)
    result = _build(treedef, iterator)
    return result


def _build(treedef, leaves):
    if treedef.kind == "leaf":
        return next(leaves)
    if treedef.kind == "none":
        return None
    children = [_build(c, leaves) for c in treedef.children]
    if treedef.kind == "tuple":
        return tuple(children)
    if treedef.kind == "list":
        return children
    return dict(zip(treedef.keys, children))


def tree_leaves(tree):
    return tree_flatten(tree)[0]


def tree_structure(tree):
    return tree_flatten(tree)[1]


def tree_map(f, tree, *rest):
    """Apply `f` leafwise to one or more pytrees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = [treedef_leaves(treedef, r) for r in rest]
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])


def treedef_leaves(treedef, tree):
    leaves, other = tree_flatten(tree)
    if other != treedef:
        raise ValueError(f"pytree structures differ: {treedef} and {other}")
    return leaves
