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
    path = os.environ.get("S2S_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), f"s2s-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    os.makedirs(path, exist_ok=True)
    return path


def write(source, label):
    """Write `source` to <cache>/<label>_<hash>.py (once) and return the path."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{label}_{digest}.py")
    if not os.path.exists(path):
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
