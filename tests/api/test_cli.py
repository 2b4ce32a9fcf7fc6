"""`python -m s2s show FILE:FUNCTION --transform grad` prints the generated source."""
import os
import subprocess
import sys

import corpus
import s2s

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_show_grad_of_file_function():
    path = os.path.join(HERE, "corpus.py")
    result = subprocess.run([sys.executable, "-m", "s2s", "show", f"{path}:tanh", "--transform", "grad"],
                            capture_output=True, text=True, check=True)
    assert "def grad_tanh(x):" in result.stdout
    assert result.stdout == s2s.source(s2s.grad(corpus.tanh))


def test_unknown_transform_is_reported():
    path = os.path.join(HERE, "corpus.py")
    result = subprocess.run([sys.executable, "-m", "s2s", "show", f"{path}:tanh", "--transform", "nope"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "unknown transform" in result.stderr


def test_traceback_shows_generated_lines():
    import traceback

    def bad(x):
        return np_log_of_negative(x)

    g = s2s.grad(corpus.power, argnums=0)
    try:
        g(1.0, "not a number")
    except Exception:
        text = traceback.format_exc()
    else:
        raise AssertionError("expected an error")
    assert g.__s2s__.module.__file__ in text
