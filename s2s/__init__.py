"""s2s: source-to-source automatic differentiation and vectorization for plain NumPy code."""
from .errors import TransformError
from .api import grad, value_and_grad, vjp, source
from .jacobians import jvp, jacfwd, jacrev, hessian
from .vmap import vmap
from .jit import jit
from . import tree_util

__version__ = "0.1.0"
__all__ = ["TransformError", "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "vmap", "jit", "source",
           "tree_util"]
