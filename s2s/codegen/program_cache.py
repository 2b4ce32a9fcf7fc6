"""A disk cache of generated programs, so a later process skips the transformation passes.

A transformation's output depends only on what the passes read: the source of the function it is
asked of, the sources of the functions that one calls, and the values its free names stand for.
While a program is built, `parse.function` and `resolve.names` report each of those reads
(`ast_passes/reads.py`). The entry written afterwards says how to find each value again in
another process (a module global, a global of the transformed function's own module, an
importable object, a literal) and what it looked like (the fingerprint of a function's code
object, a constant's value, an array's dtype and shape). A later `lookup` is a hit only if every
read still finds the same thing; then the module text is loaded from its content-addressed file
without running a pass.

jit stores its specializations of generated code too (`store_payload`): they depend on every
global the generated functions name, arrays by content, since the specializer folds them in.

Not cached (always transformed again, never wrong): closures, `functools.partial` arguments,
methods, lambdas and nested functions that cannot be found again by name, values other than
modules, functions, importable objects, literals and arrays; jit of plain user functions.
The key includes s2s's own files (sizes and times). `S2S_PROGRAM_CACHE=0` turns it all off.
"""
import ast
import functools
import hashlib
import importlib
import json
import marshal
import os
import pickle
import sys
import types

import numpy as np

from . import module as modules

_VERSION = 1
counts = {"hit": 0, "miss": 0, "stored": 0}     # for tests and curious users


def enabled():
    return os.environ.get("S2S_PROGRAM_CACHE", "1") not in ("0", "false", "no")


# -- fingerprints ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _environment():
    """s2s's own files (sizes and times), and the versions whose behaviour the passes depend on."""
    import gast
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha1(f"{_VERSION} {sys.version} {np.__version__} {gast.__version__}".encode())
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(f for f in files if f.endswith(".py")):
            stat = os.stat(os.path.join(folder, name))
            digest.update(f"{os.path.relpath(os.path.join(folder, name), root)} {stat.st_size} "
                          f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def function_fingerprint(fn):
    """A digest of a function's code (bytecode, constants, names, file, lines) and defaults, or None
    when its behaviour also depends on values we cannot fingerprint (closure cells, defaults)."""
    if not isinstance(fn, types.FunctionType) or fn.__closure__ or fn.__kwdefaults__:
        return None
    defaults = fn.__defaults__ or ()
    if literal(defaults) is None:
        return None
    return hashlib.sha1(marshal.dumps(fn.__code__) + repr(defaults).encode()).hexdigest()


def root_function(root):
    """The Python function a transformation reads for `root` (a function or an s2s-transformed one)."""
    record = getattr(root, "__s2s__", None)
    if record is not None:
        return record.function
    return root if isinstance(root, types.FunctionType) else None


def literal(value):
    """repr(value) when literal_eval gives back an equal value of the same type, else None."""
    if value is None or type(value) in (bool, int, float, complex, str):
        text = repr(value)
    elif type(value) is tuple and all(literal(v) is not None for v in value):
        text = repr(value)
    else:
        return None
    try:
        back = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    same = back == value or (isinstance(value, float) and value != value and back != back)
    return text if same and type(back) is type(value) else None


def _signature(value, contents=False):
    """What a value looked like, as JSON-able data; None when it cannot be checked later. With
    `contents`, an array's values count too (for code that folded them in as constants)."""
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, types.FunctionType):
        fp = function_fingerprint(value)
        return None if fp is None else ["function", fp]
    text = literal(value)
    if text is not None:
        return ["literal", text]
    if type(value) is np.ndarray:
        if contents:
            digest = hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()
            return ["array", value.dtype.str, list(value.shape), digest]
        return ["array", value.dtype.str, list(value.shape)]
    if type(value) is tuple:
        items = [_signature(v, contents) for v in value]
        return None if None in items else ["tuple", items]
    place = _importable(value)
    if place is not None:
        return ["object"] + place
    return None


def _importable(value):
    """[module, qualname] under which `value` itself can be imported, or None."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    try:
        found = _import(module, qualname)
    except Exception:
        return None
    return [module, qualname] if found is value else None


def _import(module, qualname):
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


# -- recipes: how to find a value again --------------------------------------------------------------
def _recipe(value, where, name, root):
    """How a later process finds `value` (read as `name` in the globals dict `where`)."""
    if where is None:
        return ["builtin", name]
    if root is not None and where is root.__globals__:
        return ["root", name]
    module_name = where.get("__name__")
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    if module is not None and module.__dict__ is where and not module_name.startswith("s2s_generated"):
        return ["global", module_name, name]
    return None


def _find(recipe, root):
    kind = recipe[0]
    if kind == "builtin":
        import builtins
        return getattr(builtins, recipe[1])
    if kind == "root":
        return root.__globals__[recipe[1]]
    if kind == "path":
        value = root
        for name in recipe[1]:
            value = value.__globals__[name]
        return value
    if kind == "global":
        return getattr(importlib.import_module(recipe[1]), recipe[2])
    if kind == "object":
        return _import(recipe[1], recipe[2])
    if kind == "module":
        return importlib.import_module(recipe[1])
    if kind == "literal":
        return ast.literal_eval(recipe[1])
    raise KeyError(kind)


def _value_recipe(value, reads_by_id):
    """A recipe for a namespace value of the emitted module."""
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if id(value) in reads_by_id:
        return reads_by_id[id(value)]
    text = literal(value)
    if text is not None:
        return ["literal", text]
    place = _importable(value)
    return None if place is None else ["object"] + place


# -- the cache ------------------------------------------------------------------------------------------
def key_of(parts, root):
    """The cache key of transformation `parts` (JSON-able options) applied to `root`, or None."""
    if not enabled():
        return None
    fn = root_function(root)
    fp = function_fingerprint(fn) if fn is not None else None
    if fp is None:
        return None
    text = json.dumps([_environment(), parts, fp], default=repr)
    return hashlib.sha1(text.encode()).hexdigest()


def _path(key, suffix=".json"):
    root = modules.cache_dir()
    folder = _folders.get(root)
    if folder is None:
        folder = _folders[root] = os.path.join(root, "programs")
        os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, key + suffix)


_folders = {}


def lookup(key, root):
    """(module, text, entry, meta) of a stored program whose reads all still hold, or None."""
    found = _load(key, root)
    counts["hit" if found is not None else "miss"] += 1
    return found


def _load(key, root):
    try:
        with open(_path(key)) as handle:
            stored = json.load(handle)
        with open(stored["file"]) as handle:
            text = handle.read()
    except (OSError, ValueError, KeyError):
        return None
    fn = root_function(root)
    if not _reads_hold(stored["reads"], fn):
        return None
    try:
        namespace = {name: _find(recipe, fn) for name, recipe in stored["namespace"].items()}
    except Exception:            # a module, global or attribute that is gone: transform again
        return None
    entry = stored["entry"]
    entry = entry if isinstance(entry, str) else tuple(entry)
    module = modules.load(text, namespace, stored["label"])
    return module, text, entry, stored.get("meta")


def store(key, root, reads, module, text, namespace, entry, label, meta=None):
    """Write the entry for a program just built, if everything it read can be found again."""
    fn = root_function(root)
    found = _read_entries(reads, fn)
    if found is None:
        return False
    entries, by_id = found
    names = {}
    for name, value in namespace.items():
        recipe = _value_recipe(value, by_id)
        if recipe is None:
            _debug("namespace", name, value)
            return False
        names[name] = recipe
    stored = {"file": module.__file__, "label": label, "entry": entry, "meta": meta,
              "reads": entries, "namespace": names}
    return _write(_path(key), lambda handle: json.dump(stored, handle, indent=1), "w")


# -- compiled specializations (jit) -------------------------------------------------------------------------
def lookup_payload(key, root):
    """The object `store_payload` stored under `key`, if everything it depends on still holds."""
    try:
        with open(_path(key, ".pickle"), "rb") as handle:
            stored = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError):
        stored = None
    holds = stored is not None and _reads_hold(stored["reads"], root, contents=True)
    found = stored["payload"] if holds else None
    counts["hit" if found is not None else "miss"] += 1
    return found


def store_payload(key, root, payload):
    """Pickle `payload` (compiled code specialized from the generated function `root`) under `key`.
    It depends on every value reachable from root's module: arrays count by content, since the
    specializer folds constants in."""
    entries = module_entries(root)
    if entries is None:
        return False
    stored = {"reads": entries, "payload": payload}
    return _write(_path(key, ".pickle"), lambda handle: pickle.dump(stored, handle), "wb")


def generated(fn):
    """Whether `fn` was emitted by s2s (its code comes from a file in the cache directory)."""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", "")
    return os.path.dirname(os.path.abspath(filename)) == os.path.abspath(modules.cache_dir())


def module_entries(fn):
    """[recipe, signature] of every global value the generated function `fn` names, and those that
    the generated functions it names name in turn (in its module or others), or None when user code
    or a value that cannot be checked is among them."""
    entries, seen = [], set()

    def visit(function, path):
        if function.__code__ in seen:
            return True
        seen.add(function.__code__)
        namespace = function.__globals__
        for name in sorted(_global_names(function.__code__)):
            if name not in namespace:
                continue            # an attribute name, or a builtin
            value = namespace[name]
            recipe = ["path", path + [name]]
            if isinstance(value, types.FunctionType) and not value.__module__.startswith("s2s."):
                if not generated(value):
                    _debug("user function", name)
                    return False
                entries.append([recipe, _signature(value)])
                if not visit(value, path + [name]):
                    return False
                continue
            signature = _signature(value, contents=True)
            if signature is None:
                _debug("value", name, value)
                return False
            entries.append([recipe, signature])
        return True

    return entries if generated(fn) and visit(fn, []) else None


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


# -- reads --------------------------------------------------------------------------------------------------
def _read_entries(reads, fn, contents=False):
    """([recipe, signature] per read, {id(value): recipe}), or None if some read cannot be found again."""
    if not reads.cacheable:
        return None
    entries, by_id = [], {}
    for where, name, value in reads.names:
        recipe = _recipe(value, where, name, fn)
        signature = ["s2s"] if recipe is not None and recipe[0] == "global" and recipe[1].startswith("s2s.") \
            else _signature(value, contents)      # s2s's own globals change only with its files (in the key)
        if recipe is None or signature is None:
            _debug("read", name, value, recipe, signature)
            return None
        entries.append([recipe, signature])
        by_id.setdefault(id(value), recipe)
    for read in reads.functions:
        if read is fn or read.__module__.startswith("s2s.") or id(read) in by_id:
            continue
        place = _importable(read)
        signature = _signature(read)
        if place is None or signature is None:
            _debug("function", read, place, signature)
            return None
        entries.append([["object"] + place, signature])
    return entries, by_id


def _reads_hold(entries, fn, contents=False):
    try:
        for recipe, signature in entries:
            if signature != ["s2s"] and _signature(_find(recipe, fn), contents) != signature:
                return False
    except Exception:            # a module, global or attribute that is gone
        return False
    return True


def _write(path, dump, mode):
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, mode) as handle:
            dump(handle)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError, pickle.PicklingError, AttributeError, RecursionError):
        try:
            os.remove(tmp)
        except OSError:
            pass
        return False
    counts["stored"] += 1
    return True


def _debug(*what):
    if os.environ.get("S2S_PROGRAM_CACHE_DEBUG"):
        print("program cache: not stored,", *what, file=sys.stderr)
