"""The specializer's fast paths give what the general ones give: helper trees read without
tokenizing, argument binding without inspect, fresh names without re-trying suffixes."""
import ast
import inspect
import itertools
import types

import pytest

import s2s  # noqa: F401  (registers every primitive)
from s2s.ast_passes import normalize
from s2s.runtime import primitives
from s2s.runtime.primitives import adjoints, batching, jacobian, structural
from s2s.codegen import specialize


def _functions(module):
    return [v for v in vars(module).values()
            if isinstance(v, types.FunctionType) and v.__module__ == module.__name__]


def _dump(tree):
    return ast.dump(tree, include_attributes=True)


@pytest.mark.parametrize("module", [adjoints, batching, jacobian, structural, specialize])
def test_helper_trees_are_the_ones_inspect_gives(module):
    for fn in _functions(module):
        quick = specialize._quick_tree(fn)
        assert quick is not None, fn.__qualname__
        assert _dump(quick) == _dump(specialize._inspected_tree(fn)), fn.__qualname__


def test_trees_of_nested_and_decorated_functions():
    def decorate(f):
        return f

    @decorate
    def nested(x,
               y=1):
        if x:
            return y
        else:
            pass
        # a comment at the end

    tree = specialize._quick_tree(nested)
    assert _dump(tree) == _dump(specialize._inspected_tree(nested))
    assert tree.decorator_list == [] and tree.lineno == nested.__code__.co_firstlineno + 1


def _inspect_bind(signature, args, kwargs):
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return TypeError
    bound.apply_defaults()
    return dict(bound.arguments)


def _fast_bind(signature, args, kwargs):
    try:
        return specialize.bind(signature, args, kwargs)
    except TypeError:
        return TypeError


SIGNATURES = ["x", "x, y=2", "x, *args", "*args, **kwargs", "x, y=1, *, z=3", "x, *, k", "x, /, y=1",
              "a, b=None, *rest, c=1, **kw", "x, axis=None, keepdims=False"]


@pytest.mark.parametrize("text", SIGNATURES)
def test_binding_matches_inspect(text):
    namespace = {}
    exec(f"def f({text}): pass", namespace)
    signature = inspect.signature(namespace["f"])
    names = ["x", "y", "z", "k", "a", "b", "c", "args", "kwargs", "rest", "kw", "axis"]
    for n in range(4):
        for keys in itertools.chain([()], itertools.combinations(names, 1), itertools.combinations(names, 2)):
            args, kwargs = list(range(n)), {k: k.upper() for k in keys}
            expected, got = _inspect_bind(signature, args, kwargs), _fast_bind(signature, args, kwargs)
            assert got == expected, (text, args, kwargs)
            if isinstance(expected, dict):
                assert list(got) == list(expected)


def test_binding_matches_inspect_for_every_primitive():
    for prim in primitives.all_primitives():
        params = list(prim.signature.parameters)
        args = list(range(len(params)))
        assert _fast_bind(prim.signature, args, {}) == _inspect_bind(prim.signature, args, {}), prim.name


def test_namer_gives_the_names_normalize_gives():
    bases = ["x", "tmp", "x_1", "x", "1x", "a.b", "", "x", "tmp", "x_bar", "x_1", "x"] * 3
    plain, fast = normalize.Namer({"x", "np"}), specialize.Namer({"x", "np"})
    for k, base in enumerate(bases):
        if k == 7:                         # names taken from outside stay taken
            plain.taken.add("x_5"), fast.taken.add("x_5")
        assert fast.fresh(base) == plain.fresh(base)
