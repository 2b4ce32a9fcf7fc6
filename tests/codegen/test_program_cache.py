"""The program cache: a second process loads generated programs instead of transforming again,
and anything the transformation read that has changed since makes it transform again."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import s2s
from s2s.codegen import program_cache

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL = textwrap.dedent("""
    import numpy as np

    SCALE = 2.0


    def layer(w, x):
        return np.tanh(x @ w)


    def loss(w, x):
        return SCALE * np.sum(layer(w, x) ** 2)
""")

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import s2s
    from s2s.codegen import program_cache
    import model

    w, x = np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(-1, 1, 12).reshape(4, 3)
    per_example = s2s.vmap(s2s.grad(model.loss), in_axes=(None, 0))(w, x[:, None, :])
    hessian = s2s.hessian(model.loss)(w, x)
    print(json.dumps({"grad": s2s.grad(model.loss)(w, x).tolist(), "per_example": per_example.tolist(),
                      "hessian": hessian.tolist(), "counts": program_cache.counts}))
""")


def run(folder, cache, **env):
    environment = dict(os.environ, S2S_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join([str(folder), ROOT]),
                       **env)
    done = subprocess.run([sys.executable, str(folder / "main.py")], env=environment, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def expected(scale, power):
    """The same three results from a fresh, uncached in-process transformation of the model."""
    namespace = {}
    exec(compile(MODEL.replace("SCALE = 2.0", f"SCALE = {scale}").replace("** 2", f"** {power}"),
                 "<model>", "exec"), namespace)
    w, x = np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(-1, 1, 12).reshape(4, 3)
    loss = namespace["loss"]

    def fd_grad(w_, x_):
        g = np.zeros_like(w_)
        for i in np.ndindex(w_.shape):
            e = np.zeros_like(w_)
            e[i] = 1e-6
            g[i] = (loss(w_ + e, x_) - loss(w_ - e, x_)) / 2e-6
        return g
    return fd_grad(w, x), np.stack([fd_grad(w, x[k:k + 1]) for k in range(4)])


@pytest.fixture
def project(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "main.py").write_text(SCRIPT)
    return tmp_path


def check(result, scale, power):
    grad, per_example = expected(scale, power)
    np.testing.assert_allclose(result["grad"], grad, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(result["per_example"], per_example, rtol=1e-6, atol=1e-8)
    h = np.array(result["hessian"])
    assert h.shape == (3, 2, 3, 2)
    np.testing.assert_allclose(h.reshape(6, 6), h.reshape(6, 6).T, rtol=1e-9, atol=1e-12)


def test_second_process_loads_every_program(project, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    first = run(project, cache)
    check(first, 2.0, 2)
    assert first["counts"]["stored"] >= 4
    second = run(project, cache)
    assert second["counts"]["stored"] == 0 and second["counts"]["miss"] == 0
    assert second["counts"]["hit"] == first["counts"]["hit"] + first["counts"]["stored"]
    for part in ("grad", "per_example", "hessian"):
        assert second[part] == first[part]


def test_an_edited_callee_is_transformed_again(project, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    run(project, cache)
    (project / "model.py").write_text(MODEL.replace("** 2", "** 3"))
    again = run(project, cache)
    assert again["counts"]["stored"] >= 4
    check(again, 2.0, 3)


def test_a_changed_global_constant_is_seen(project, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    run(project, cache)
    (project / "model.py").write_text(MODEL.replace("SCALE = 2.0", "SCALE = 0.5"))
    again = run(project, cache)
    check(again, 0.5, 2)


def test_turned_off(project, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    result = run(project, cache, S2S_PROGRAM_CACHE="0")
    assert result["counts"] == {"hit": 0, "miss": 0, "stored": 0}
    assert not (cache / "programs").exists() or not list((cache / "programs").iterdir())


def test_closures_and_partials_are_not_stored():
    import functools
    scale = 3.0

    def closure(x):
        return scale * np.sum(x ** 2)

    def two(a, x):
        return a * np.sum(x ** 2)

    before = dict(program_cache.counts)
    assert s2s.grad(closure)(np.ones(2)).tolist() == [6.0, 6.0]
    assert s2s.grad(functools.partial(two, 2.0))(np.ones(2)).tolist() == [4.0, 4.0]
    assert program_cache.counts["stored"] == before["stored"]


def test_fingerprints():
    def f(x):
        return x + 1

    def g(x):
        return x + 2

    assert program_cache.function_fingerprint(f) == program_cache.function_fingerprint(f)
    assert program_cache.function_fingerprint(f) != program_cache.function_fingerprint(g)
    assert program_cache.function_fingerprint(np.tanh) is None
    value = 1.0

    def closure(x):
        return x + value
    assert program_cache.function_fingerprint(closure) is None


# -- jit: the specialized, compiled code is stored too --------------------------------------------------------
JIT_MODEL = textwrap.dedent("""
    import numpy as np

    OFFSET = np.array([1.0, 2.0])


    def loss(w, x):
        return np.sum(np.tanh(x @ w + OFFSET) ** 2)
""")

JIT_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import s2s
    from s2s.codegen import program_cache
    import model

    w, x = np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(-1, 1, 12).reshape(4, 3)
    jitted = s2s.jit(s2s.grad(model.loss))
    jitted(w, x)
    jitted.__s2s__.wait()
    print(json.dumps({"grad": jitted(w, x).tolist(), "compiled": jitted.__s2s__.latest.call is not None,
                      "counts": program_cache.counts}))
""")


def test_jit_specializations_are_stored_and_checked_by_content(tmp_path, tmp_path_factory):
    (tmp_path / "model.py").write_text(JIT_MODEL)
    (tmp_path / "main.py").write_text(JIT_SCRIPT)
    cache = tmp_path_factory.mktemp("cache")
    w, x = np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(-1, 1, 12).reshape(4, 3)

    def expected(offset):
        t = np.tanh(x @ w + offset)
        return x.T @ (2 * t * (1 - t ** 2))

    first = run(tmp_path, cache)
    assert first["compiled"] and first["counts"]["stored"] == 2      # the gradient and its specialization
    np.testing.assert_allclose(first["grad"], expected(np.array([1.0, 2.0])), rtol=1e-12)
    second = run(tmp_path, cache)
    assert second["counts"] == {"hit": 2, "miss": 0, "stored": 0}
    assert second["grad"] == first["grad"]
    # same shape, new values: the gradient program still holds, the folded-in constant does not
    (tmp_path / "model.py").write_text(JIT_MODEL.replace("[1.0, 2.0]", "[-0.5, 0.25]"))
    third = run(tmp_path, cache)
    assert third["counts"]["hit"] == 1 and third["counts"]["stored"] == 1
    np.testing.assert_allclose(third["grad"], expected(np.array([-0.5, 0.25])), rtol=1e-12)
