"""Differential checks of one generated program against finite differences and plain NumPy.

Every check gives an `Outcome` with a status:

* ``ok``       the transformed function agrees with the reference;
* ``wrong``    it returns a value that disagrees (or it mutated an input array);
* ``crash``    it raised anything but `s2s.TransformError` (also errors raised inside generated code);
* ``refusal``  it raised `s2s.TransformError`;
* ``skip``     no trustworthy reference (a dependency failed).

A program whose plain evaluation fails, or whose finite differences are not trustworthy
(a kink or jump of a branch, `np.where`, `maximum`, `abs`, `clip`, `floor` near the point:
the central differences at h = 1e-3 and the Richardson estimate at h = 1e-5 disagree),
is not checked at all (`Report.status` 'invalid' or 'untrusted').
"""
import copy
import os
import signal
import traceback
import warnings

import numpy as np

os.environ.setdefault("S2S_CHECK_ROUND_TRIP", "1")
os.environ.setdefault("S2S_JIT_BACKGROUND", "0")     # jit compiles on the first call, in this thread

import s2s  # noqa: E402

ALL_CHECKS = ("grad", "jvp", "vjp", "hessian", "vmap", "jit", "jit_grad")
FAST_CHECKS = ("grad", "jvp", "vjp", "hessian", "vmap")
STATUSES = ("ok", "wrong", "crash", "refusal", "skip")

RTOL1 = 1e-5       # first order, relative to the scale of the reference
RTOL2 = 1e-4       # second order
RTOL_EXACT = 1e-8  # vmap / jit against plain evaluation
KINK_TOL = 1e-3    # FD at h=1e-3 vs the Richardson estimate at h=1e-5 (relative to scale)
TIMEOUT_S = 60


class Outcome:
    def __init__(self, status, message="", detail=""):
        self.status = status
        self.message = message      # one line
        self.detail = detail        # traceback tail or values

    def signature(self):
        """What must stay the same while minimizing: status and (for exceptions) the type."""
        if self.status in ("crash", "refusal"):
            return (self.status, self.message.split(":", 1)[0])
        return (self.status,)

    def __repr__(self):
        return f"Outcome({self.status!r}, {self.message[:80]!r})"


class Report:
    def __init__(self, program, status, outcomes=None, message=""):
        self.program = program
        self.status = status            # 'checked', 'invalid' or 'untrusted'
        self.outcomes = outcomes or {}  # check name -> Outcome
        self.message = message


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"timed out after {TIMEOUT_S} s")


def _leaves(args):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def _unchanged(before, args):
    for b, a in zip(before, args):
        if isinstance(b, np.ndarray) and not np.array_equal(b, a):
            return False
    return True


def _as_list(value, n):
    """A gradient result (one array, or a tuple per argnum) as a list."""
    if n == 1 and not isinstance(value, (tuple, list)):
        return [value]
    return list(value)


def max_error(actual, expected):
    """max |a - e| and the scale max(1, max |e|) over paired leaves (shapes must match)."""
    err, scale = 0.0, 1.0
    for a, e in zip(actual, expected):
        a = np.asarray(a, dtype=np.float64)
        e = np.asarray(e, dtype=np.float64)
        if a.shape != e.shape:
            raise ValueError(f"shape {a.shape} where {e.shape} is expected")
        if not np.all(np.isfinite(a)):
            return float("inf"), scale
        if e.size:
            err = max(err, float(np.max(np.abs(a - e))))
            scale = max(scale, float(np.max(np.abs(e))))
    return err, scale


def _fmt(values):
    with np.printoptions(precision=10, suppress=False):
        return "[" + ", ".join(repr(np.asarray(v)) if isinstance(v, np.ndarray) else repr(v)
                               for v in values) + "]"


# -- finite differences ------------------------------------------------------------------------
def _perturb(args, j, index, delta):
    new = list(args)
    if isinstance(args[j], np.ndarray):
        a = args[j].copy()
        a[index] += delta
        new[j] = a
    else:
        new[j] = args[j] + delta
    return new


def _coords(args, js):
    for j in js:
        if isinstance(args[j], np.ndarray):
            for index in np.ndindex(args[j].shape):
                yield j, index
        else:
            yield j, ()


def fd_gradient(fun, args, h, js=None):
    """Central differences of scalar `fun` for every argument j in `js` (leaves like args)."""
    js = range(len(args)) if js is None else js
    out = {j: (np.zeros_like(args[j]) if isinstance(args[j], np.ndarray) else 0.0) for j in js}
    for j, index in _coords(args, js):
        d = (float(fun(*_perturb(args, j, index, h))) - float(fun(*_perturb(args, j, index, -h)))) / (2 * h)
        if isinstance(args[j], np.ndarray):
            out[j][index] = d
        else:
            out[j] = d
    return [out[j] for j in js]


def fd_jacobian_of(gfun, x, h):
    """Central differences of the vector function gfun(x) (x an array): shape g.shape + x.shape."""
    cols = []
    for index in np.ndindex(x.shape):
        p, m = x.copy(), x.copy()
        p[index] += h
        m[index] -= h
        cols.append((np.asarray(gfun(p), dtype=np.float64) - np.asarray(gfun(m), dtype=np.float64)) / (2 * h))
    g_shape = cols[0].shape
    return np.moveaxis(np.stack(cols), 0, -1).reshape(g_shape + x.shape)


def richardson(fd, h):
    """(4 D(h/2) - D(h)) / 3 leafwise, where fd(h) returns a list of leaves."""
    a, b = fd(h), fd(h / 2)
    return [(4 * np.asarray(bb, dtype=np.float64) - np.asarray(aa, dtype=np.float64)) / 3 for aa, bb in zip(a, b)]


def trusted_gradient(fun, args):
    """Reference gradient for every argument, or (None, why) if finite differences disagree."""
    ref = richardson(lambda h: fd_gradient(fun, args, h), 1e-5)
    coarse = fd_gradient(fun, args, 1e-3)
    medium = fd_gradient(fun, args, 1e-4)
    for other, h in ((coarse, 1e-3), (medium, 1e-4)):
        err, scale = max_error(other, ref)
        if not err <= KINK_TOL * scale:
            return None, f"FD at h={h:g} differs from Richardson at 1e-5 by {err:.3g} (scale {scale:.3g})"
    return ref, ""


# -- running one check ----------------------------------------------------------------------------
def _classify(err):
    if isinstance(err, s2s.TransformError):
        status = "refusal"
    else:
        status = "crash"
    head = str(err).strip().splitlines()[0] if str(err).strip() else ""
    message = f"{type(err).__name__}: {head[:200]}"
    detail = "".join(traceback.format_exception(type(err), err, err.__traceback__)[-6:])
    return Outcome(status, message, detail)


class Context:
    """Everything a check needs about one program: the function, inputs, references (lazy)."""

    def __init__(self, fun, args, params, index=0, batch=None, tangents=None, cotangent=0.7):
        self.fun = fun
        self.args = args
        self.params = params
        self.index = index
        self.batch = batch            # list of 3 argument lists, for vmap
        self.tangents = tangents
        self.cotangent = cotangent
        self.ref = None               # reference gradient, every argument
        self.s2s_grad = None          # s2s gradient w.r.t. x if the grad check was ok
        self.value = None

    @property
    def argnums(self):
        """grad's argnums: 0, or every argument for odd program indices."""
        if len(self.args) > 1 and self.index % 2:
            return tuple(range(len(self.args)))
        return 0


def check_grad(ctx):
    argnums = ctx.argnums
    js = [argnums] if isinstance(argnums, int) else list(argnums)
    g = s2s.grad(ctx.fun, argnums=argnums)(*ctx.args)
    got = _as_list(g, 1 if isinstance(argnums, int) else len(js))
    if len(got) != len(js):
        return Outcome("wrong", f"grad returned {len(got)} entries for argnums={argnums}")
    expected = [ctx.ref[j] for j in js]
    err, scale = max_error(got, expected)
    if not err <= RTOL1 * scale:
        return Outcome("wrong", f"grad(argnums={argnums}) off by {err:.3g} (scale {scale:.3g})",
                       f"s2s:      {_fmt(got)}\nexpected: {_fmt(expected)}")
    ctx.s2s_grad = got[0]
    return Outcome("ok")


def check_jvp(ctx):
    primals = tuple(ctx.args)
    out, tout = s2s.jvp(ctx.fun, primals, tuple(ctx.tangents))
    expected = sum(float(np.sum(np.asarray(r) * np.asarray(t))) for r, t in zip(ctx.ref, ctx.tangents))
    err, scale = max_error([out], [ctx.value])
    if not err <= RTOL_EXACT * scale:
        return Outcome("wrong", f"jvp primal output {out!r} != f = {ctx.value!r}")
    err, scale = max_error([tout], [expected])
    if not err <= RTOL1 * scale:
        return Outcome("wrong", f"jvp tangent off by {err:.3g} (scale {scale:.3g})",
                       f"s2s: {tout!r}\nexpected: {expected!r}")
    return Outcome("ok")


def check_vjp(ctx):
    out, vjp_fun = s2s.vjp(ctx.fun, *ctx.args)
    err, scale = max_error([out], [ctx.value])
    if not err <= RTOL_EXACT * scale:
        return Outcome("wrong", f"vjp primal output {out!r} != f = {ctx.value!r}")
    cts = vjp_fun(ctx.cotangent)
    if not isinstance(cts, tuple) or len(cts) != len(ctx.args):
        return Outcome("wrong", f"vjp_fun returned {type(cts).__name__} of length "
                                f"{len(cts) if hasattr(cts, '__len__') else '?'}, expected a tuple of {len(ctx.args)}")
    expected = [ctx.cotangent * np.asarray(r) for r in ctx.ref]
    err, scale = max_error(list(cts), expected)
    if not err <= RTOL1 * scale:
        return Outcome("wrong", f"vjp cotangents off by {err:.3g} (scale {scale:.3g})",
                       f"s2s:      {_fmt(cts)}\nexpected: {_fmt(expected)}")
    return Outcome("ok")


def check_hessian(ctx):
    x = ctx.args[0]
    rest = ctx.args[1:]
    grad_x = s2s.grad(ctx.fun)

    def gfun(v):
        return grad_x(v, *rest)

    H = s2s.hessian(ctx.fun)(*ctx.args)
    try:
        ref = richardson(lambda h: [fd_jacobian_of(gfun, x, h)], 1e-4)[0]
        coarse = fd_jacobian_of(gfun, x, 1e-3)
    except Exception as err:   # the gradient crashed at a nearby point: no reference
        return Outcome("skip", f"FD of s2s.grad failed: {type(err).__name__}: {str(err)[:100]}")
    err, scale = max_error([coarse], [ref])
    if not err <= 1e-2 * scale:
        return Outcome("skip", "FD of s2s.grad not trustworthy (kink near the point)")
    err, scale = max_error([H], [ref])
    if not err <= RTOL2 * scale:
        return Outcome("wrong", f"hessian off by {err:.3g} (scale {scale:.3g})",
                       f"s2s:\n{np.asarray(H)!r}\nexpected (FD of s2s.grad):\n{ref!r}")
    return Outcome("ok")


def vmap_axes(ctx):
    """in_axes: x batched; the other arguments batched or not, by program index."""
    axes = [0]
    for j in range(1, len(ctx.args)):
        axes.append(0 if (ctx.index >> j) & 1 == 0 else None)
    return tuple(axes)


def check_vmap(ctx):
    axes = vmap_axes(ctx)
    batched = []
    for j, ax in enumerate(axes):
        if ax is None:
            batched.append(ctx.args[j])
        else:
            batched.append(np.stack([np.asarray(b[j], dtype=np.float64) for b in ctx.batch]))
    per = [[b[j] if ax is not None else ctx.args[j] for j, ax in enumerate(axes)] for b in ctx.batch]
    expected = np.array([float(ctx.fun(*p)) for p in per])
    before = _leaves(batched)
    out = s2s.vmap(ctx.fun, in_axes=axes if len(axes) > 1 else 0)(*batched)
    if not _unchanged(before, batched):
        return Outcome("wrong", "vmap mutated its batched input")
    out = np.asarray(out, dtype=np.float64)
    err, scale = max_error([out], [expected])
    if not err <= RTOL_EXACT * scale:
        return Outcome("wrong", f"vmap(in_axes={axes}) off by {err:.3g} (scale {scale:.3g})",
                       f"s2s: {out!r}\nloop: {expected!r}")
    return Outcome("ok")


def check_jit(ctx):
    jf = s2s.jit(ctx.fun)
    out = jf(*ctx.args)         # may run the fallback while Numba compiles
    jf.__s2s__.wait()
    out2 = jf(*ctx.args)        # the compiled path
    err, scale = max_error([out, out2], [ctx.value, ctx.value])
    if not err <= RTOL_EXACT * scale:
        return Outcome("wrong", f"jit(f) = {out!r}, {out2!r}, f = {ctx.value!r}")
    return Outcome("ok")


def check_jit_grad(ctx):
    expected = ctx.s2s_grad if ctx.s2s_grad is not None else ctx.ref[0]
    jg = s2s.jit(s2s.grad(ctx.fun))
    g1 = jg(*ctx.args)
    jg.__s2s__.wait()
    g2 = jg(*ctx.args)
    err, scale = max_error([g1, g2], [expected, expected])
    if not err <= RTOL1 * scale:
        return Outcome("wrong", f"jit(grad(f)) off by {err:.3g} (scale {scale:.3g})",
                       f"jit(grad): {g1!r}\nexpected: {expected!r}")
    return Outcome("ok")


CHECKS = {"grad": check_grad, "jvp": check_jvp, "vjp": check_vjp, "hessian": check_hessian,
          "vmap": check_vmap, "jit": check_jit, "jit_grad": check_jit_grad}


def run_check(ctx, name):
    before = _leaves(ctx.args)
    old = signal.signal(signal.SIGALRM, _alarm) if _main_thread() else None
    if old is not None:
        signal.alarm(TIMEOUT_S)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            outcome = CHECKS[name](ctx)
    except Exception as err:
        outcome = _classify(err)
    finally:
        if old is not None:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    if outcome.status == "ok" and not _unchanged(before, ctx.args):
        outcome = Outcome("wrong", f"{name} mutated an input array")
    for j, b in enumerate(before):      # restore, so that later checks see the original inputs
        if isinstance(b, np.ndarray):
            ctx.args[j][...] = b
    return outcome


def _main_thread():
    import threading
    return threading.current_thread() is threading.main_thread()


def prepare(fun, params, args, index, batch, tangents):
    """Plain evaluation and the reference gradient: (Context, None) or (None, (status, why))."""
    ctx = Context(fun, args, params, index=index, batch=batch, tangents=tangents)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            value = fun(*args)
            v = float(value)
            if not np.isfinite(v) or abs(v) > 1e6:
                return None, ("invalid", f"f = {v!r}")
            for b in batch:
                vb = float(fun(*b))
                if not np.isfinite(vb) or abs(vb) > 1e6:
                    return None, ("invalid", f"f(batch) = {vb!r}")
            ref, why = trusted_gradient(fun, args)
    except Exception as err:
        return None, ("invalid", f"{type(err).__name__}: {str(err)[:200]}")
    if ref is None:
        return None, ("untrusted", why)
    ctx.value = value
    ctx.ref = ref
    return ctx, None


def program_context(program, module=None):
    """The Context of a generated program (its inputs are reproducible from seed and index)."""
    if module is None:
        module = program.load()
    args = program.inputs(0)
    batch = [program.inputs(k) for k in (1, 2, 3)]
    tangents = program.inputs(4)
    return prepare(module.f, program.params, args, program.index, batch, tangents)


def run_program(program, checks=ALL_CHECKS):
    try:
        ctx, why = program_context(program)
    except Exception as err:     # the source does not import
        return Report(program, "invalid", message=f"{type(err).__name__}: {err}")
    if ctx is None:
        return Report(program, why[0], message=why[1])
    outcomes = {}
    for name in checks:
        if name == "jit_grad" and "grad" in outcomes and outcomes["grad"].status == "wrong":
            outcomes[name] = Outcome("skip", "grad is wrong")
            continue
        outcomes[name] = run_check(ctx, name)
    return Report(program, "checked", outcomes)


def run_source(source, program, check):
    """Run one check on a variant of `program` (same parameters and inputs); for the minimizer.

    Returns the Outcome, or None when the variant is invalid or untrusted."""
    from .generator import load_source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = load_source(source)
        if not hasattr(module, "f"):
            return None
        ctx, _ = program_context(program, module)
    except Exception:
        return None
    if ctx is None:
        return None
    if check == "jit_grad" or check == "hessian":
        run_check(ctx, "grad")
    return run_check(ctx, check)
