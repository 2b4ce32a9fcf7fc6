"""Optional contenders (s2s, autograd, JAX), each imported once; a missing one is skipped."""
import functools
import importlib
import types


class Unavailable(Exception):
    """A contender's library could not be imported; the message says why."""


@functools.cache
def _import(name):
    try:
        return importlib.import_module(name)
    except Exception as error:  # an unfinished package can fail with more than ImportError
        return Unavailable(f"{name} not importable ({type(error).__name__}: {error})")


def _require(name):
    module = _import(name)
    if isinstance(module, Unavailable):
        raise module
    return module


def require_s2s():
    return _require("s2s")


def require_autograd():
    """The `autograd` module, with `autograd.numpy` imported."""
    _require("autograd.numpy")
    return _require("autograd")


@functools.cache
def require_jax():
    """`jax` on the CPU with 64-bit floats on, so float64 stays float64 as in NumPy."""
    jax = _require("jax")
    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_enable_x64", True)
    _require("jax.numpy")
    return jax


def with_numpy(fn, np_module):
    """`fn`, with `np` meaning `np_module` in it and in the functions of its module it calls."""
    namespace = dict(fn.__globals__, np=np_module)
    for name, value in fn.__globals__.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is fn.__globals__:
            namespace[name] = types.FunctionType(value.__code__, namespace, name,
                                                 value.__defaults__, value.__closure__)
    return namespace[fn.__name__]


def jax_call(fn, *args):
    """A zero-argument call of JAX function `fn` that waits for its asynchronous result.

    The arguments are put on the JAX device once, here, outside the timed region.
    """
    jax = require_jax()
    args = jax.tree_util.tree_map(jax.numpy.asarray, args)
    return lambda: jax.block_until_ready(fn(*args))
