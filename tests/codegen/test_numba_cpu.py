"""Lowering to Numba: what the specialized text looks like (checked without compiling), and a few
compiled helpers Numba lacks (axis reductions with keepdims, einsum)."""
import importlib
import re

import numpy as np
import pytest

import corpus as c
import s2s
from s2s.ast_passes import parse
from s2s.codegen import numba_cpu, residual, specialize
from numerics import assert_tree_close

jit_module = importlib.import_module("s2s.jit")
rng = np.random.default_rng(0)


def lowered(fun, *args):
    """The lowered module of jit(fun) for these arguments (nothing is compiled)."""
    fn = jit_module.numpy_function(fun)
    abstract, _, params = jit_module.abstract_arguments(fn, args, ())
    spec = specialize.Specializer(reserved=params).specialize(fn, abstract, params)
    return numba_cpu.render(spec, "test")


def driver(text, name):
    return text[text.index(f"def {name}("):]


def readme(x):
    return x * x + x * 2.0


def test_float_literals_are_typed_to_the_array_dtype():
    text = lowered(readme, np.ones((4, 5), np.float32)).text
    assert "np.float32(2.0)" in text
    assert not re.search(r"[^(]2\.0", text.replace("np.float32(2.0)", ""))


def test_an_elementwise_chain_is_one_kernel_writing_a_buffer_allocated_outside():
    small = lowered(readme, np.ones((4, 5), np.float32))
    assert small.text.count("def kernel_") == 1
    assert "prange(" not in small.text                    # small: no threads
    big = lowered(readme, np.ones((1100, 1000), np.float32))
    assert "for i0 in prange(" in big.text                 # flattened, parallel
    assert big.buffers == [((1100, 1000), np.dtype(np.float32))]   # NumPy allocates the result
    assert "np.empty" not in driver(big.text, "readme")


def test_a_reduction_consuming_a_chain_is_fused():
    def f(x):
        return np.sum(np.tanh(x) * x)
    text = lowered(f, np.ones(10)).text
    assert text.count("def kernel_") == 1 and "acc += " in text
    assert "np.empty" not in driver(text, "f")             # nothing materialized


def test_python_loops_and_branches_stay_loops_and_branches():
    text = driver(lowered(c.for_range, 0.4).text, "for_range")
    assert text.count("for ") == 1 and text.count("np.sin(") == 1
    text = driver(lowered(s2s.grad(c.for_range), 0.4).text, "grad_for_range")
    assert text.count("for ") == 2 and ".append(" in text and ".pop()" in text
    text = driver(lowered(c.abs_val, 1.0).text, "abs_val")
    assert "if " in text


def test_tape_placeholders_and_breaks_are_specialized_away():
    text = driver(lowered(s2s.grad(c.while_break), 0.3).text, "grad_while_break")
    assert "None" not in text
    assert not re.search(r"\bbreak\b", text) and "while True" not in text   # miscompiled: numba#5267
    assert "while running" in text


def test_loops_over_a_list_of_layers_are_unrolled():
    params = [(np.ones((4, 5)), np.ones(5)), (np.ones((5, 3)), np.ones(3))]
    text = driver(lowered(s2s.grad(c.mlp_loss), params, np.ones((7, 4)), np.ones((7, 3))).text, "grad_mlp_loss")
    assert "for " not in text and text.count("np.dot(") >= 5
    assert "def grad_mlp_loss(params_0_0, params_0_1, params_1_0, params_1_1, inputs, targets)" in text


def test_loop_invariant_work_leaves_the_loop():
    def f(x):
        return np.sum(np.tanh(x) ** 2)
    text = driver(lowered(s2s.hessian(f), np.linspace(0, 1, 6)).text, "hessian_f")
    loop = text.index("for k")
    assert text.index("tanh_x") < loop                     # tanh(x) once, not once per basis vector


def test_helpers_keep_their_own_tree_structure():
    def f(p):
        return np.sum(p["w"] * 2.0) + p["b"]
    low = lowered(s2s.grad(f), {"w": np.ones(3), "b": 0.5})
    assert "def grad_f(p_b, p_w)" in low.text


@pytest.mark.parametrize("fun", [
    lambda x: np.max(x, axis=0, keepdims=True) + np.mean(x, axis=1, keepdims=True) - np.min(x, axis=1)[:, None],
    lambda x: np.einsum("ij,jk->ik", x, x.T) + np.einsum("ii", x[:, :3]) * np.sum(x.sum(axis=0)),
], ids=["reductions", "einsum"])
def test_compiled_helpers_numba_lacks(fun):
    x = rng.normal(size=(3, 4))
    jitted = s2s.jit(fun)
    jitted(x)
    jitted.__s2s__.wait()
    assert_tree_close(jitted(x), fun(x), rtol=1e-12, atol=1e-12)


def test_numba_errors_are_reported_at_the_users_line():
    source = parse.function(c.tanh)
    stmt = source.tree.body[0]
    low = numba_cpu.Lowered("text", {}, "tanh", {7: ((source, stmt),)})
    err = Exception('Failed in nopython mode pipeline (step: nopython frontend)\n'
                    'No implementation of function Function(<built-in function getitem>) found\n'
                    'File "/cache/jit_x.py", line 7:\n')
    message = str(numba_cpu.numba_error(err, low, "/cache/jit_x.py"))
    assert message.startswith(f"corpus.py:{stmt.lineno} in tanh: jit cannot compile this with Numba")
    assert "No implementation of function" in message


def test_residual_pruning_keeps_list_pops_of_live_tapes():
    t = residual.Ty(np.float64)
    body = [residual.Assign("tape", residual.E("list", []), None),
            residual.Append("tape", residual.Const(1.0)),
            residual.Assign("a", residual.E("pop", [residual.Dyn("tape", None)]), t),
            residual.Assign("b", residual.E("pop", [residual.Dyn("tape", None)]), t),
            residual.Assign("dead", residual.E("ew", [residual.Dyn("b", t), residual.Const(2.0)], {"fn": "add"}), t),
            residual.Return([residual.Dyn("b", t)])]
    residual.prune(body)
    assert [getattr(s, "target", None) for s in body] == ["tape", None, "a", "b", None]
