"""The fast paths agree with what they replace: `nodes.walk`, `names_read`, `names_stored`, `copy` and
`to_ast` with gast on real code, `operations._bind` with `inspect.Signature.bind`."""
import ast
import importlib
import inspect

import gast
import pytest

from s2s.ast_passes import batching, nodes, normalize, operations, reverse
from s2s.runtime.primitives import adjoints, core

MODULES = [nodes, normalize, reverse, batching, adjoints]


def _trees():
    for module in MODULES:
        tree = gast.parse(inspect.getsource(module))
        for node in gast.walk(tree):
            if isinstance(node, gast.FunctionDef):
                yield node


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_walk_matches_gast(module):
    tree = gast.parse(inspect.getsource(module))
    assert [id(n) for n in nodes.walk(tree)] == [id(n) for n in gast.walk(tree)]
    module_body = gast.Module(body=tree.body, type_ignores=[])
    assert [id(n) for n in nodes.walk_body(tree.body)] == [id(n) for n in gast.walk(module_body)][1:]


def test_names_match_gast():
    for fn in _trees():
        for node in [fn] + fn.body:
            read = {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
            stored = {n.id for n in gast.walk(node)
                      if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))}
            assert nodes.names_read(node) == read
            assert nodes.names_stored(node) == stored
        assert nodes.names_read(fn.body) == nodes.names_read(gast.Module(body=fn.body, type_ignores=[]))


def test_names_in_annotations():
    fn = gast.parse("def f(x: np.ndarray) -> int:\n    return x").body[0]
    assert nodes.names_read(fn.args.args[0]) == {"np"}
    assert nodes.names_stored(fn.args.args[0]) == {"x"}


def test_copy_is_deep_and_keeps_annotations():
    for fn in _trees():
        fn.s2s_mark = object()
        new = nodes.copy(fn)
        assert nodes.to_source(new) == nodes.to_source(fn)
        assert new.s2s_mark is fn.s2s_mark
        old_ids = {id(n) for n in gast.walk(fn)}
        assert not any(id(n) in old_ids for n in gast.walk(new))
        assert [getattr(n, "lineno", None) for n in gast.walk(new)] == \
            [getattr(n, "lineno", None) for n in gast.walk(fn)]


def test_to_ast_matches_gast():
    for fn in _trees():
        for node in [fn] + fn.body:
            expected = ast.dump(gast.gast_to_ast(node), include_attributes=True)
            assert ast.dump(nodes.to_ast(node), include_attributes=True) == expected
    built = nodes.function("f", ["x"], [nodes.assign("y", nodes.call("np.sum", [nodes.name("x")], {"axis": nodes.const(0)})),
                                        nodes.return_(nodes.name("y"))])
    assert ast.dump(nodes.to_ast(built)) == ast.dump(gast.gast_to_ast(built))
    assert nodes.to_source(built) == "def f(x):\n    y = np.sum(x, axis=0)\n    return y"


@pytest.mark.parametrize("name", ["contextlib", "asyncio.tasks", "argparse"])
def test_to_ast_matches_gast_on_any_syntax(name):
    tree = gast.parse(inspect.getsource(importlib.import_module(name)))    # classes, try, async, lambdas
    assert ast.dump(nodes.to_ast(tree), include_attributes=True) == \
        ast.dump(gast.gast_to_ast(tree), include_attributes=True)


def test_bind_matches_signature_bind():
    signatures = [p.signature for p in core._BY_NAME.values()] + [s for _, s in core._BY_METHOD.values()]
    for signature in signatures:
        names = list(signature.parameters)
        for n_args in range(4):
            for keywords in ([], names[-1:], names[:1], ["keepdims"], ["nope"]):
                args = [nodes.name(f"a{k}") for k in range(n_args)]
                kws = {k: nodes.name(k) for k in keywords}
                try:
                    bound = signature.bind(*args, **kws)
                except TypeError:
                    assert operations._bind(signature, args, kws) is None
                    continue
                bound.apply_defaults()
                assert operations._bind(signature, args, kws) == dict(bound.arguments)
