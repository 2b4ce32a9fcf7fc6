"""Differential fuzzer campaign: `python -m tests.fuzz --n 500 --seed 1 [--checks grad,jvp] [--show]`.

Runs generated programs (generator.generate(seed, index)) through the checks of checks.py and
prints, per construct tag, how many programs used it and the wrong/crash/refusal counts of every
check; then the totals, one line per failure and the first few failures minimized.
Program i of a campaign is reproduced with `--seed S --start i --n 1 --show`.
"""
import argparse
import collections
import json
import os
import re
import sys
import time

os.environ.setdefault("S2S_CHECK_ROUND_TRIP", "1")
os.environ.setdefault("S2S_JIT_BACKGROUND", "0")

from . import checks as checks_mod  # noqa: E402
from .generator import generate  # noqa: E402
from .minimize import minimize, repro_script  # noqa: E402


def normalize(message):
    """A failure message with program-specific parts removed, for deduplication."""
    m = re.sub(r"fuzz_prog_\d+_\d+\.py:\d+", "<prog>", message)
    m = re.sub(r"`[^`]{40,}`", "`...`", m)
    m = re.sub(r"\b([A-Za-z_]+?)\d+\b", r"\1", m)
    m = re.sub(r"(?<![A-Za-z_\d])-?\d+(\.\d+)?(e[-+]?\d+)?", "N", m)
    return m[:120]


def campaign(seed, n, start=0, checks=checks_mod.ALL_CHECKS, show=False, progress=True, out=sys.stdout):
    reports = []
    t0 = time.time()
    for index in range(start, start + n):
        program = generate(seed, index)
        if show:
            print(f"# ---- seed {seed} index {index} tags {' '.join(program.tags)}", file=out)
            print(program.source, file=out)
        report = checks_mod.run_program(program, checks)
        reports.append(report)
        if show:
            for name, o in report.outcomes.items():
                print(f"#   {name}: {o.status} {o.message}", file=out)
            if report.status != "checked":
                print(f"#   {report.status}: {report.message}", file=out)
        if progress and (index - start + 1) % 50 == 0:
            print(f"... {index - start + 1}/{n} programs, {time.time() - t0:.0f} s", file=sys.stderr)
    return reports, time.time() - t0


def table(reports, checks, out=sys.stdout):
    checked = [r for r in reports if r.status == "checked"]
    rows = collections.defaultdict(lambda: collections.Counter())
    for r in checked:
        for tag in list(r.program.tags) + ["ALL"]:
            c = rows[tag]
            c["programs"] += 1
            for name, o in r.outcomes.items():
                c[(name, o.status)] += 1
    print("\nPer construct: programs using it, then wrong/crash/refusal per check", file=out)
    head = f"{'construct':<18}{'progs':>6}" + "".join(f"{name:>14}" for name in checks)
    print(head, file=out)
    print("-" * len(head), file=out)
    order = sorted((t for t in rows if t != "ALL"), key=lambda t: (t.startswith("prim:"), t)) + ["ALL"]
    for tag in order:
        c = rows[tag]
        cells = "".join(f"{c[(name, 'wrong')]:>4}/{c[(name, 'crash')]:>3}/{c[(name, 'refusal')]:>4}"
                        for name in checks)
        print(f"{tag:<18}{c['programs']:>6}{cells}", file=out)
    print("\nTotals per check", file=out)
    print(f"{'check':<10}{'ok':>7}{'wrong':>7}{'crash':>7}{'refusal':>9}{'skip':>6}{'refusal%':>10}", file=out)
    for name in checks:
        c = collections.Counter(r.outcomes[name].status for r in checked if name in r.outcomes)
        ran = sum(c[s] for s in ("ok", "wrong", "crash", "refusal"))
        pct = 100.0 * c["refusal"] / ran if ran else 0.0
        print(f"{name:<10}{c['ok']:>7}{c['wrong']:>7}{c['crash']:>7}{c['refusal']:>9}{c['skip']:>6}{pct:>9.1f}%",
              file=out)
    status = collections.Counter(r.status for r in reports)
    print(f"\nprograms: {len(reports)}  checked: {status['checked']}  untrusted (kink near the point): "
          f"{status['untrusted']}  invalid: {status['invalid']}", file=out)
    for r in reports:
        if r.status == "invalid":
            print(f"  invalid program seed={r.program.seed} index={r.program.index}: {r.message[:120]}", file=out)


def failures(reports):
    out = []
    for r in reports:
        for name, o in r.outcomes.items():
            if o.status in ("wrong", "crash", "refusal"):
                out.append((r.program, name, o))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="index of the first program")
    parser.add_argument("--checks", default=",".join(checks_mod.ALL_CHECKS),
                        help=f"comma-separated subset of {','.join(checks_mod.ALL_CHECKS)}")
    parser.add_argument("--show", action="store_true", help="print every program and its outcomes")
    parser.add_argument("--minimize", type=int, default=3, help="minimize the first K distinct failures")
    parser.add_argument("--minimize-refusals", action="store_true", help="also minimize refusals")
    parser.add_argument("--json", help="write every failure to this file (JSON lines)")
    args = parser.parse_args(argv)
    checks = [c for c in args.checks.split(",") if c]
    unknown = set(checks) - set(checks_mod.ALL_CHECKS)
    if unknown:
        parser.error(f"unknown checks {sorted(unknown)}")

    reports, elapsed = campaign(args.seed, args.n, args.start, checks, args.show)
    print(f"seed {args.seed}, programs {args.start}..{args.start + args.n - 1}, checks {','.join(checks)}: "
          f"{elapsed:.1f} s ({elapsed / max(1, args.n):.3f} s per program)")
    table(reports, checks)

    fails = failures(reports)
    print(f"\nFailures ({len(fails)}): seed index check status message")
    groups = collections.OrderedDict()
    for program, name, o in fails:
        key = (name, o.status, normalize(o.message))
        groups.setdefault(key, []).append((program, o))
    for program, name, o in fails:
        if o.status != "refusal":
            print(f"  {program.seed} {program.index} {name} {o.status}: {o.message[:140]}")
    refusals = collections.Counter((k[0], k[2]) for k in groups for _ in groups[k] if k[1] == "refusal")
    print(f"\nDistinct failures ({len(groups)}), most frequent first:")
    for key, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        p, _ = items[0]
        print(f"  {len(items):>4}x {key[0]:<9}{key[1]:<8} {key[2]}  (e.g. seed {p.seed} index {p.index})")
    if args.json:
        with open(args.json, "w") as handle:
            for program, name, o in fails:
                handle.write(json.dumps({"seed": program.seed, "index": program.index, "check": name,
                                         "status": o.status, "message": o.message, "key": normalize(o.message),
                                         "tags": program.tags, "detail": o.detail}) + "\n")
    shown = 0
    for key, items in groups.items():
        if shown >= args.minimize:
            break
        if key[1] == "refusal" and not args.minimize_refusals:
            continue
        program, o = items[0]
        print(f"\n==== minimized: seed {program.seed} index {program.index} check {key[0]} {key[1]}: {o.message[:160]}")
        if o.detail:
            print("\n".join("     " + line for line in o.detail.strip().splitlines()[-8:]))
        source = minimize(program, key[0], o)
        print(repro_script(source, program, key[0]))
        shown += 1
    bad = sum(1 for _, _, o in fails if o.status in ("wrong", "crash"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
