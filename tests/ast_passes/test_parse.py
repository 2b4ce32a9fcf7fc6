"""parse: sources of functions, nested functions, methods and lambdas."""
import pytest

import corpus as c
from s2s import TransformError
from s2s.ast_passes import parse

two = (lambda x: x * 3.0, lambda x: x * 5.0)


class Holder:
    def method(self, x):
        return x * self.k


def test_top_level_and_nested():
    source = parse.function(c.tanh)
    assert source.name == "tanh" and source.tree.lineno == c.tanh.__code__.co_firstlineno
    inner = c.make_closure(1.0)
    source = parse.function(inner)
    assert source.name == "f" and source.closure == {"w": 1.0}


def test_lambdas_sharing_a_line():
    first, second = parse.function(two[0]), parse.function(two[1])
    assert "3.0" in repr(first.tree.body[0].value.right.value)
    assert "5.0" in repr(second.tree.body[0].value.right.value)


def test_method():
    source = parse.function(Holder().method)
    assert [a.id for a in source.tree.args.args] == ["self", "x"]


def test_missing_source():
    namespace = {}
    exec("def f(x):\n    return x\n", namespace)
    with pytest.raises(TransformError, match="not available"):
        parse.function(namespace["f"])
