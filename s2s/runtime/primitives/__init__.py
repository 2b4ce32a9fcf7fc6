"""The primitive rule table; importing this package registers every primitive."""
import numpy as np

from . import adjoints
from . import arithmetic, elementwise, reductions, shapes, linalg, structural, selection, special  # noqa: F401  (registration)
from .core import Primitive, all_primitives, attribute, by_name, lookup, method, primitive

# Names rule templates may use, and so names every emitted module defines.
HELPERS = {name: getattr(adjoints, name) for name in adjoints.__all__} if hasattr(adjoints, "__all__") else {
    name: value for name, value in vars(adjoints).items()
    if callable(value) and getattr(value, "__module__", None) == adjoints.__name__}
HELPERS["sequence_of"] = structural.sequence_of
TEMPLATE_NAMESPACE = {"np": np, **HELPERS}

__all__ = ["Primitive", "primitive", "lookup", "by_name", "method", "attribute", "all_primitives",
           "HELPERS", "TEMPLATE_NAMESPACE"]
