"""Pytrees: nested tuples, lists and dicts (leaves in sorted-key order for dicts), None empty."""
from .runtime.pytree import tree_flatten, tree_leaves, tree_map, tree_unflatten, tree_structure

__all__ = ["tree_flatten", "tree_leaves", "tree_map", "tree_unflatten", "tree_structure"]
