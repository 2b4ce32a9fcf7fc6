"""Greedy minimizer of a failing generated program.

Candidate edits of the program's AST, tried in order while the failure persists (same check,
same status, same exception type): delete a statement, replace an if/for/while by its body,
replace an expression by one of its sub-expressions or by a constant. The program's
parameters and inputs stay those of the original (seed, index), so the reference stays valid.
"""
import ast
import copy
import time
import warnings

from . import checks


def _parents(tree):
    parents = {}
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        parents[id(child)] = (node, field, i)
            elif isinstance(value, ast.AST):
                parents[id(value)] = (node, field, None)
    return parents


def _replace(parents, node, new):
    parent, field, i = parents[id(node)]
    if i is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[i] = new


def _edits(tree):
    """(kind, node position in ast.walk order, extra) for every candidate edit."""
    edits = []
    nodes = list(ast.walk(tree))
    for k, node in enumerate(nodes):
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                for j in range(len(value)):
                    edits.append(("delete", k, (field, j)))
        if isinstance(node, (ast.If, ast.For, ast.While)):
            edits.append(("inline", k, "body"))
            if node.orelse:
                edits.append(("inline", k, "orelse"))
    parents = _parents(tree)
    for k, node in enumerate(nodes):
        if isinstance(node, ast.expr) and not isinstance(node, (ast.Name, ast.Constant, ast.Attribute)) \
                and not isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)):
            for ci in range(len(_children(node))):
                edits.append(("hoist", k, ci))
            parent = parents.get(id(node))
            if parent is None or not (isinstance(parent[0], ast.Call) and parent[1] == "func"):
                edits.append(("const", k, None))
    return edits


def _children(node):
    """The sub-expressions an expression may be replaced by (not a call's function)."""
    if isinstance(node, ast.Call):
        return list(node.args) + [kw.value for kw in node.keywords]
    return [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)
            and not isinstance(getattr(c, "ctx", None), ast.Store)]


def _apply(tree, edit):
    tree = copy.deepcopy(tree)
    kind, k, extra = edit
    nodes = list(ast.walk(tree))
    node = nodes[k]
    parents = _parents(tree)
    if kind == "delete":
        field, j = extra
        body = getattr(node, field)
        del body[j]
        if not body and field in ("body",) and not isinstance(node, ast.Module):
            body.append(ast.Pass())
    elif kind == "inline":
        parent, field, i = parents[id(node)]
        if i is None:
            return None
        seq = getattr(parent, field)
        replacement = getattr(node, extra) or [ast.Pass()]
        if isinstance(node, ast.For):   # keep the loop variable bound
            first = ast.Assign(targets=[node.target], value=ast.Subscript(
                value=ast.Call(func=ast.Name("list", ast.Load()), args=[node.iter], keywords=[]),
                slice=ast.Constant(0), ctx=ast.Load()))
            replacement = [first] + replacement if extra == "body" else replacement
        seq[i:i + 1] = replacement
    elif kind == "hoist":
        _replace(parents, node, _children(node)[extra])
    elif kind == "const":
        _replace(parents, node, ast.Constant(0.5))
    ast.fix_missing_locations(tree)
    return tree


def _strip_loop_break(tree):
    """Inlining a loop body may leave a `break`/`continue` outside a loop: not valid."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(tree, "<candidate>", "exec")
        return True
    except SyntaxError:
        return False


def minimize(program, check, outcome, budget_s=60.0, max_tries=600):
    """The shortest variant of program.source that still gives `outcome`'s signature."""
    target = outcome.signature()
    tree = ast.parse(program.source)
    best = ast.unparse(tree)
    start = time.time()
    tries = 0
    improved = True
    while improved and time.time() - start < budget_s and tries < max_tries:
        improved = False
        for edit in _edits(tree):
            if time.time() - start > budget_s or tries >= max_tries:
                break
            candidate = _apply(tree, edit)
            if candidate is None or not _strip_loop_break(candidate):
                continue
            source = ast.unparse(candidate)
            if len(source) >= len(best):
                continue
            tries += 1
            result = checks.run_source(source + "\n", program, check)
            if result is not None and result.signature() == target:
                tree = candidate
                best = source
                improved = True
                break
    return best + "\n"


def repro_script(source, program, check):
    """A standalone script: the minimized program, its inputs, the failing call."""
    import numpy as np
    args = program.inputs(0)
    names = [n for n, _ in program.params]
    lines = [source.rstrip(), "", "", "import s2s"]
    with np.printoptions(precision=17, floatmode="unique"):
        for n, a in zip(names, args):
            text = f"np.array({np.array2string(a, separator=', ')})" if isinstance(a, np.ndarray) else repr(a)
            lines.append(f"{n} = {text}")
    call = ", ".join(names)
    lines.append(_REPRO[check].format(call=call))
    return "\n".join(lines) + "\n"


# the line of a reproducer script that runs each check on f({call})
_REPRO = {
    "grad": "print(s2s.grad(f)({call}))",
    "hessian": "print(s2s.hessian(f)({call}))",
    "jvp": "print(s2s.jvp(f, ({call},), tuple(np.ones_like(a) * 1.0 for a in ({call},))))",
    "vjp": "out, back = s2s.vjp(f, {call})\nprint(back(1.0))",
    "vmap": "print(s2s.vmap(f)(*[np.stack([a, a * 0.5, -a]) for a in ({call},)]))",
    "jit": "f_jit = s2s.jit(f)\nf_jit({call})\nf_jit.__s2s__.wait()\nprint(f_jit({call}), f({call}))",
    "jit_grad": "g_jit = s2s.jit(s2s.grad(f))\ng_jit({call})\ng_jit.__s2s__.wait()\n"
                "print(g_jit({call}), s2s.grad(f)({call}))",
}
