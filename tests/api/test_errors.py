"""Bad input gets a clear error naming the user's file, line and construct."""
import inspect

import numpy as np
import pytest

import errors_corpus as e
import s2s


def line_of(fn, text):
    lines, start = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(text)


def check(fn, text, *needles, args=(1.0,)):
    with pytest.raises(s2s.TransformError) as info:
        s2s.grad(fn)(*args)
    message = str(info.value)
    assert f"errors_corpus.py:{line_of(fn, text)}" in message, message
    assert fn.__name__ in message
    for needle in needles:
        assert needle in message, message
    return message


def test_write_into_argument_suggests_index_add():
    message = check(e.writes_argument, "params[0] += step", "changes the argument `params` in place",
                    "s2s.numpy.index_add(params, 0, step)", args=(np.ones(3), 1.0))
    assert "params[0] += step" in message


def test_augmented_assignment_to_argument():
    check(e.augments_argument, "x += 1.0", "changes the argument `x` in place", "x = x + 1.0",
          args=(np.ones(3),))


def test_global_write():
    check(e.writes_global, "global COUNTER", "global COUNTER")


def test_nonlocal_write():
    check(e.nonlocal_write, "nonlocal total", "nonlocal total")


def test_try_except():
    check(e.uses_try, "try:", "try/except")


def test_generator():
    check(e.generator, "yield", "generator")


def test_class_definition():
    check(e.defines_class, "class Local", "class definition")


def test_async_function():
    with pytest.raises(s2s.TransformError, match="async"):
        s2s.grad(e.asynchronous)(1.0)


def test_mutating_method_on_argument():
    check(e.appends_to_argument, "xs.append(x)", "changes the argument `xs` in place", args=([], 1.0))


def test_missing_rule_names_function_and_line():
    check(e.no_rule, "np.cumsum", "no derivative rule for `np.cumsum`", args=(np.ones(3),))


def test_source_not_available():
    namespace = {}
    exec("def typed_at_repl(x):\n    return x * 2.0\n", namespace)
    with pytest.raises(s2s.TransformError, match="source of typed_at_repl is not available"):
        s2s.grad(namespace["typed_at_repl"])(1.0)


def test_non_scalar_output_is_type_error():
    with pytest.raises(TypeError, match="scalar output"):
        s2s.grad(e.returns_vector)(np.ones(3))


def test_integer_input_is_type_error():
    with pytest.raises(TypeError, match="floating-point"):
        s2s.grad(e.returns_vector)(3)
    with pytest.raises(TypeError, match="dtype int64"):
        s2s.grad(e.returns_vector)(np.arange(3))


def test_public_api_argument_types():
    with pytest.raises(TypeError, match="argnums"):
        s2s.grad(e.returns_vector, argnums=1.5)
    with pytest.raises(TypeError, match="fun"):
        s2s.grad(3)
    with pytest.raises(TypeError):
        s2s.source(lambda x: x)


def test_argnums_out_of_range():
    with pytest.raises(TypeError, match="argnums"):
        s2s.grad(e.returns_vector, argnums=2)(1.0)
