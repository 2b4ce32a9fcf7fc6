"""Load generated source as a real module backed by a content-addressed file.

Tracebacks and pdb show the generated lines because the file exists on disk; the module
is registered in `sys.modules` so Numba's on-disk cache can find it later.
"""
import hashlib
import itertools
import os
import sys
import tempfile
import types

_counter = itertools.count()


def cache_dir():
    """`$S2S_CACHE_DIR`, or `<tmp>/s2s-cache-<uid>`; created on first use."""
    setting = os.environ.get("S2S_CACHE_DIR")
    path = _made.get(setting)
    if path is None:
        path = setting or os.path.join(
            tempfile.gettempdir(), f"s2s-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
        os.makedirs(path, exist_ok=True)
        _made[setting] = path
    return path


_made = {}      # S2S_CACHE_DIR setting -> the folder, already created


def write(source, label):
    """Write `source` to <cache>/<label>_<hash>.py (once) and return the path."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{label}_{digest}.py")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)     # in case it was removed meanwhile
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as handle:
            handle.write(source)
        os.replace(tmp, path)
    return path


def load(source, namespace, label):
    """Execute generated `source` in a new module whose globals start as `namespace`."""
    path = write(source, label)
    name = f"s2s_generated.{os.path.basename(path)[:-3]}_{next(_counter)}"
    module = types.ModuleType(name)
    module.__file__ = path
    module.__dict__.update(namespace)
    code = compile(source, path, "exec")
    sys.modules[name] = module
    exec(code, module.__dict__)
    return module
