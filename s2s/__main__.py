"""`python -m s2s show FILE_OR_MODULE:FUNCTION --transform grad[,jvp,...]`: print generated code."""
import argparse
import importlib
import importlib.util
import os
import sys

from . import api


def _load(target):
    location, _, function = target.rpartition(":")
    if not location or not function:
        raise SystemExit(f"expected FILE_OR_MODULE:FUNCTION, got {target!r}")
    if location.endswith(".py") or os.path.sep in location:
        path = os.path.abspath(location)
        name = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(location)
    obj = module
    for part in function.split("."):
        obj = getattr(obj, part)
    return obj


def _transforms():
    """Transforms usable from the command line: every public one that takes a function."""
    import s2s
    table = {}
    for name in ("grad", "value_and_grad", "jvp", "vmap", "jit", "jacfwd", "jacrev", "hessian"):
        fn = getattr(s2s, f"{name}_transform", None) or getattr(s2s, name, None)
        if fn is not None and name != "jvp":
            table[name] = fn
    jvp_transform = getattr(getattr(s2s, "jacobians", None), "jvp_transform", None)
    if jvp_transform is not None:
        table["jvp"] = jvp_transform
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m s2s", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the generated source of a transformed function")
    show.add_argument("target", help="FILE.py:FUNCTION or package.module:FUNCTION")
    show.add_argument("--transform", default="grad",
                      help="comma-separated transforms, outermost first, e.g. jit,grad")
    args = parser.parse_args(argv)
    fun = _load(args.target)
    table = _transforms()
    names = [t.strip() for t in args.transform.split(",") if t.strip()]
    for name in reversed(names):
        if name not in table:
            raise SystemExit(f"unknown transform {name!r}; available: {', '.join(sorted(table))}")
        fun = table[name](fun)
    print(api.source(fun), end="")


if __name__ == "__main__":
    main()
