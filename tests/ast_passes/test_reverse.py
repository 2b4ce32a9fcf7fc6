"""reverse: the emitted gradient code reads like the STYLE examples."""
import numpy as np

import corpus as c
import s2s


def test_golden_tanh_times_x():
    text = s2s.source(s2s.grad(c.square))
    assert "def grad_square(x):" in text
    assert "x_bar = " in text and "return x_bar" in text


def test_loop_tape_is_per_variable_list():
    text = s2s.source(s2s.grad(c.nested_loops))
    assert "acc_tape = []" in text and "acc_tape.append(acc)" in text and "acc = acc_tape.pop()" in text
    assert "for i in reversed(range(3)):" in text


def test_only_requested_cotangents_are_computed():
    text = s2s.source(s2s.grad(c.broadcasting, argnums=1))
    assert "x_bar" not in text and "y_bar" in text


def test_while_loop_replays_its_trip_count():
    text = s2s.source(s2s.grad(c.while_loop))
    assert "steps = steps + 1" in text and "for _ in range(steps):" in text


def test_backward_blocks_name_the_user_line():
    text = s2s.source(s2s.grad(c.tanh))
    assert "# corpus.py:" in text and "return (1.0 - y) / (1.0 + y)" in text


def test_emitted_file_is_real_for_tracebacks():
    g = s2s.grad(c.tanh)
    g(1.0)
    path = g.__s2s__.module.__file__
    with open(path) as handle:
        assert handle.read() == s2s.source(g)


def test_source_compiles_and_runs_identically():
    g = s2s.grad(c.mlp_loss)
    compile(s2s.source(g), "<check>", "exec")
    rng = np.random.default_rng(1)
    params = [(rng.normal(size=(3, 2)), rng.normal(size=2))]
    g(params, rng.normal(size=(4, 3)), rng.normal(size=(4, 2)))
