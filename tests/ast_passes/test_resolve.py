"""resolve: every call classified; aliases of numpy resolve to the same primitive."""
import gast

import corpus as c
from s2s.ast_passes import parse, resolve
from s2s.ast_passes.pipeline import Program


def callees(fn):
    program = Program()
    source = parse.function(fn)
    resolve.names(source, program.binder, program.function_source)
    return {call.s2s.label: call.s2s for call in gast.walk(source.tree) if isinstance(call, gast.Call)}


def test_numpy_aliases_and_math():
    found = callees(c.uses_aliases)
    assert found["np_tanh"].primitive.name == "tanh"
    assert found["np.sin"].primitive.name == "sin"     # `onp` is numpy too: one name in emitted code
    assert found["math.cos"].primitive.name == "cos"


def test_methods_user_functions_and_builtins():
    found = callees(c.chained)
    assert found["np.exp(...).sum"].primitive.name == "sum" and found["np.exp(...).sum"].receiver
    found = callees(c.mlp_loss)
    assert found["predict"].kind == "user"
    found = callees(c.for_zip_enumerate)
    assert found["enumerate"].primitive.name == "enumerate" and found["zip"].primitive.name == "zip"


def test_partial_and_lifted_closure():
    found = callees(c.calls_partial)
    assert found["add_partial"].kind == "user" and "n" in found["add_partial"].keywords
    found = callees(c.closure_inner)
    assert found["inner"].kind == "user"
    assert [a.id for a in found["inner"].suffix_args] == ["scale", "x"]


def test_globals_bound_once():
    program = Program()
    source = parse.function(c.broadcasting)
    resolve.names(source, program.binder, program.function_source)
    assert program.binder.values["BIAS"] is c.BIAS
