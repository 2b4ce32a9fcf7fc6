"""tidy: dead code goes, list tapes stay paired, unused counters go."""
from s2s.ast_passes import nodes, tidy


def test_dead_assignments_and_unused_tapes_removed():
    body = nodes.parse_statements(
        "a = x * 2\nunused = a + 1\nt = []\nt.append(a)\nn = 0\nfor i in range(3):\n    n = n + 1\nreturn a\n")
    text = "\n".join(nodes.to_source(s) for s in tidy.remove_dead_code(body))
    assert text == "a = x * 2\nreturn a"


def test_pops_keep_their_pushes():
    body = nodes.parse_statements("t = []\nt.append(x)\ny = t.pop()\nreturn y\n")
    text = "\n".join(nodes.to_source(s) for s in tidy.remove_dead_code(body))
    assert "t.append(x)" in text and "y = t.pop()" in text


def test_free_names():
    body = nodes.parse_statements("a = b + c\nd = a * e\nreturn d\n")
    assert tidy.free_names(body) == {"b", "c", "e"}
