#!/usr/bin/python3
"""Mutation check: do the tests fail when the code breaks?

Each mutant (tests/mutation/mutants/*.toml, format in tests/mutation/README.md)
is one small, plausible bug: in one file, an exact piece of text and its
replacement, the CTest tests that should catch it, and the bug it stands for.
This script copies the source tree once into a scratch folder
(build-mutation/src, refreshed on every run: only changed files are
rewritten, so the scratch build stays incremental), configures one build
there like scripts/test.sh does (Debug, ASan+UBSan, -Werror), and for each
mutant in turn: puts the bug in, rebuilds (only what the file touches),
runs the guarding tests, and puts the code back.

A mutant is
  killed     a guarding test failed (or timed out) with the bug in: good
  SURVIVED   every guarding test passed with the bug in: a blind spot
  STALE      its text is not in the file any more (the code moved or
             changed): re-point it at the code as it is now
  AMBIGUOUS  its text occurs more than once in the file: add context
  BUILD-ERROR the mutated code does not compile (with -Werror): fix the mutant
  NO-TESTS   its test regex matches no CTest test
Before the mutants, the guarding tests run once on the unchanged code
(--no-baseline skips it): a test failing there would "kill" every mutant.

Exit status 0 only when every selected mutant is killed. Not part of CI: a
whole run rebuilds once per mutant and takes tens of minutes on 2 cores.

Usage: tests/mutation/run.py [-k SUBSTR]... [--list] [--check [--check-build DIR]] [--no-baseline]
       [-j N] [--timeout S] [--scratch DIR] [--keep-going]
"""
import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MUTANT_DIR = os.path.join(HERE, "mutants")
FIELDS = {"name", "file", "find", "replace", "tests", "bug"}


class MutantError(Exception):
    pass


def load_mutants(paths):
    """Reads every mutant file; returns a list of dicts with an `id`
    (<file stem>.<name>) and `tests` as a list of regexes."""
    out, seen = [], set()
    for path in paths:
        area = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise MutantError(f"{path}: {e}")
        extra = set(data) - {"mutant"}
        if extra:
            raise MutantError(f"{path}: unknown top-level keys {sorted(extra)}")
        for i, m in enumerate(data.get("mutant", [])):
            where = f"{path}: mutant #{i + 1}"
            missing = FIELDS - set(m)
            unknown = set(m) - FIELDS
            if missing:
                raise MutantError(f"{where}: missing {sorted(missing)}")
            if unknown:
                raise MutantError(f"{where}: unknown keys {sorted(unknown)}")
            if not re.fullmatch(r"[a-z0-9_]+", m["name"]):
                raise MutantError(f"{where}: name must be [a-z0-9_]+, got {m['name']!r}")
            if m["find"] == m["replace"]:
                raise MutantError(f"{where} ({m['name']}): find and replace are equal")
            if not m["find"]:
                raise MutantError(f"{where} ({m['name']}): empty find")
            tests = m["tests"]
            if isinstance(tests, str):
                tests = [tests]
            if not tests or not all(isinstance(t, str) and t for t in tests):
                raise MutantError(f"{where} ({m['name']}): tests must be a regex or a list")
            mid = f"{area}.{m['name']}"
            if mid in seen:
                raise MutantError(f"{where}: duplicate id {mid}")
            seen.add(mid)
            out.append(dict(m, id=mid, tests=tests, source=path))
    return out


def tracked_files(root):
    """Files of the working tree (tracked and new, not ignored): the same
    tree a commit of the current work would hold."""
    res = subprocess.run(
        ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True)
    names = [n for n in res.stdout.decode().split("\0") if n]
    return [n for n in names if os.path.isfile(os.path.join(root, n))]


def sync_tree(root, dst):
    """Makes dst a copy of the working tree, writing only files whose bytes
    differ (so make rebuilds only what changed) and removing files that are
    gone. Returns the number of files written."""
    files = tracked_files(root)
    keep = set(files)
    written = 0
    for rel in files:
        src_path, dst_path = os.path.join(root, rel), os.path.join(dst, rel)
        with open(src_path, "rb") as f:
            data = f.read()
        try:
            with open(dst_path, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dst_path), exist_ok=True)
        with open(dst_path, "wb") as f:
            f.write(data)
        shutil.copymode(src_path, dst_path)
        written += 1
    for dirpath, dirnames, filenames in os.walk(dst):
        rel_dir = os.path.relpath(dirpath, dst)
        if rel_dir == "tests/browser" and "node_modules" in dirnames:
            dirnames.remove("node_modules")
        for fn in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, fn))
            if rel not in keep:
                os.unlink(os.path.join(dirpath, fn))
    # playwright-core (installed by scripts/setup.sh, not tracked) for the
    # browser tests: share the real one.
    nm_src = os.path.join(root, "tests", "browser", "node_modules")
    nm_dst = os.path.join(dst, "tests", "browser", "node_modules")
    if os.path.isdir(nm_src) and not os.path.lexists(nm_dst):
        os.symlink(nm_src, nm_dst)
    return written


def run(cmd, log, **kw):
    """Runs cmd, appending its output to the open file log; returns rc."""
    log.write(f"\n$ {' '.join(cmd)}\n")
    log.flush()
    res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)
    return res.returncode


def build(build_dir, jobs, log, targets=None):
    cmd = ["cmake", "--build", build_dir, f"-j{jobs}"]
    if targets:
        cmd += ["--target", *sorted(targets)]
    return run(cmd, log) == 0


def test_programs(build_dir):
    """{test name: the build's targets its command runs}: the executables of
    the build folder it names, plus `mailer` (scripts drive the mailer)."""
    res = subprocess.run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"],
                         capture_output=True, text=True)
    out = {}
    if res.returncode != 0:
        return out
    real = os.path.realpath(build_dir)
    for t in json.loads(res.stdout).get("tests", []):
        targets = {"mailer"}
        for arg in t.get("command", []):
            p = os.path.realpath(arg)
            if p.startswith(real + os.sep) and os.path.isfile(p) and os.access(p, os.X_OK):
                targets.add(os.path.basename(p))
        out[t["name"]] = targets
    return out


def targets_for(programs, tests):
    """The targets of every test a mutant's regexes select (None: unknown,
    build everything)."""
    out = set()
    for name, targets in programs.items():
        if any(re.search(rx, name) for rx in tests):
            out |= targets
    return out or None


def test_regex(tests):
    # CTest's regular expressions allow few groups: alternation needs none.
    return "|".join(tests)


def ctest(build_dir, tests, jobs, timeout, log, stop_on_failure=False):
    """Runs the CTest tests matching any regex in tests. Returns
    (status, failed) with status 'pass', 'fail' or 'none' (no test matched).
    With stop_on_failure, the first failing test ends the run (a mutant is
    killed by one)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    cmd = ["ctest", "--test-dir", build_dir, "-R", test_regex(tests), f"-j{jobs}",
           "--no-tests=error", "--output-on-failure", "--timeout", str(timeout)]
    if stop_on_failure:
        cmd.append("--stop-on-failure")
    log.write(f"\n$ {' '.join(cmd)}\n")
    log.flush()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    log.write(res.stdout + res.stderr)
    log.flush()
    if "No tests were found" in res.stdout + res.stderr:
        return "none", []
    failed = re.findall(r"^\s*\d+ - (\S+) \(", res.stdout, re.M)
    if res.returncode == 0:
        return "pass", []
    return "fail", failed or ["(ctest rc %d)" % res.returncode]


def apply(path, find, replace):
    """Puts the mutant in. Returns (status, original bytes)."""
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    n = text.count(find)
    if n == 0:
        return "STALE", None
    if n > 1:
        return "AMBIGUOUS", None
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(find, replace, 1))
    return "ok", text


def restore(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def compile_alone(commands, path, text):
    """Compiles `text` as the C file `path` with the build's own command for
    it (-Werror): the error's first line, or None."""
    e = commands.get(os.path.realpath(path))
    if not e:
        return None
    tmp = path + ".mutation-check.c"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    args, skip = [], False
    for a in e.get("arguments") or shlex.split(e["command"]):
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif a != "-c":
            same = os.path.realpath(os.path.join(e["directory"], a)) == os.path.realpath(path)
            args.append(tmp if same else a)
    try:
        # compiled for real (to /dev/null): -fsyntax-only stops before the
        # pass that finds an unused static function
        res = subprocess.run(args + ["-c", "-o", os.devnull, "-Werror"], cwd=e["directory"],
                             capture_output=True, text=True)
    finally:
        os.unlink(tmp)
    if res.returncode == 0:
        return None
    lines = [l for l in res.stderr.splitlines() if "error" in l]
    return (lines or res.stderr.splitlines() or ["exit %d" % res.returncode])[0]


def check_only(mutants, root, build_dir):
    """Every mutant's text occurs exactly once in the working tree, and, when
    `build_dir` holds a configured build (compile_commands.json), each mutated
    .c file compiles alone with the build's flags and -Werror: a mutant that
    leaves a variable or function unused is found here, not hours into a run."""
    bad = 0
    commands = {}
    cc = os.path.join(build_dir, "compile_commands.json")
    if os.path.isfile(cc):
        with open(cc, encoding="utf-8") as f:
            for e in json.load(f):
                commands[os.path.realpath(os.path.join(e["directory"], e["file"]))] = e
    else:
        print(f"mutation: no {cc}: only the texts are checked, not that each mutant compiles")
    for m in mutants:
        path = os.path.join(root, m["file"])
        if not os.path.isfile(path):
            print(f"STALE      {m['id']}: {m['file']} does not exist")
            bad += 1
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        n = text.count(m["find"])
        if n != 1:
            print(f"{'STALE' if n == 0 else 'AMBIGUOUS':10} {m['id']}: text found {n} times in {m['file']}")
            bad += 1
            continue
        err = compile_alone(commands, path, text.replace(m["find"], m["replace"]))
        if err:
            print(f"BUILD-ERROR {m['id']}: {err}")
            bad += 1
    print(f"{len(mutants) - bad}/{len(mutants)} mutants apply"
          + (" and compile" if commands else ""))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", action="append", default=[],
                    help="run only mutants whose id contains this (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--check", action="store_true",
                    help="only check that every mutant's text is found once and that each "
                    "mutated .c file compiles alone (no build; needs a configured build dir)")
    ap.add_argument("--check-build", default=os.path.join(ROOT, "build-test"),
                    help="the configured build whose compile_commands.json --check compiles "
                    "with (build-test/)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip running the guarding tests on the unchanged code first")
    ap.add_argument("--keep-going", action="store_true",
                    help="keep going after a BUILD-ERROR instead of stopping")
    ap.add_argument("-j", type=int, default=2, help="build and ctest parallelism (2)")
    ap.add_argument("--timeout", type=int, default=300, help="per test, seconds (300)")
    ap.add_argument("--scratch", default=os.path.join(ROOT, "build-mutation"),
                    help="scratch folder for the copy and its build (build-mutation/)")
    args = ap.parse_args()

    try:
        mutants = load_mutants(sorted(glob.glob(os.path.join(MUTANT_DIR, "*.toml"))))
    except MutantError as e:
        print(f"mutation: {e}", file=sys.stderr)
        return 2
    if args.k:
        mutants = [m for m in mutants if any(k in m["id"] for k in args.k)]
    if not mutants:
        print("mutation: no mutant selected", file=sys.stderr)
        return 2
    if args.list:
        for m in mutants:
            print(f"{m['id']:45} {m['file']:38} {test_regex(m['tests'])}\n{'':45} {m['bug']}")
        print(f"{len(mutants)} mutants")
        return 0
    if args.check:
        return check_only(mutants, ROOT, args.check_build)

    src = os.path.join(args.scratch, "src")
    bdir = os.path.join(args.scratch, "build")
    os.makedirs(src, exist_ok=True)
    logpath = os.path.join(args.scratch, "mutation.log")
    log = open(logpath, "w")
    print(f"mutation: {len(mutants)} mutants; log {logpath}")
    n = sync_tree(ROOT, src)
    print(f"mutation: scratch copy {src} ({n} files refreshed)")
    if run(["cmake", "-S", src, "-B", bdir, "-DCMAKE_BUILD_TYPE=Debug", "-DMAILER_SANITIZE=ON",
            "-DMAILER_WERROR=ON"], log) != 0:
        print(f"mutation: cmake failed, see {logpath}", file=sys.stderr)
        return 2
    t0 = time.time()
    if not build(bdir, args.j, log):
        print(f"mutation: the unchanged tree does not build, see {logpath}", file=sys.stderr)
        return 2
    print(f"mutation: built in {time.time() - t0:.0f} s")

    if not args.no_baseline:
        all_tests = sorted({t for m in mutants for t in m["tests"]})
        t0 = time.time()
        status, failed = ctest(bdir, all_tests, args.j, args.timeout, log)
        if status != "pass":
            print(f"mutation: baseline: guarding tests fail on the unchanged code: "
                  f"{' '.join(failed) or status}; see {logpath}", file=sys.stderr)
            return 2
        print(f"mutation: baseline passes ({time.time() - t0:.0f} s)")

    # Each mutant rebuilds only what its tests run (their executables and
    # `mailer`); a mutant that survives that is rebuilt whole and tested
    # again, so that a helper program left unmutated never hides a kill.
    programs = test_programs(bdir)
    whole = False
    results = []
    width = max(len(m["id"]) for m in mutants)
    for i, m in enumerate(mutants, 1):
        t0 = time.time()
        path = os.path.join(src, m["file"])
        detail = ""
        log.write(f"\n===== {m['id']} ({m['file']}) =====\n")
        if whole:
            build(bdir, args.j, log)  # the whole tree as it is, after a whole build with a bug
            whole = False
        if not os.path.isfile(path):
            status, original = "STALE", None
        else:
            status, original = apply(path, m["find"], m["replace"])
        if status == "ok":
            try:
                targets = targets_for(programs, m["tests"])
                res, failed = "pass", []
                if targets and build(bdir, args.j, log, targets):
                    res, failed = ctest(bdir, m["tests"], args.j, args.timeout, log, True)
                if res == "pass":
                    whole = True  # everything is built with the bug in: rebuild after
                if res == "pass" and not build(bdir, args.j, log):
                    status = "BUILD-ERROR"
                else:
                    if res == "pass":
                        res, failed = ctest(bdir, m["tests"], args.j, args.timeout, log, True)
                    if res == "none":
                        status = "NO-TESTS"
                    elif res == "fail":
                        status, detail = "killed", " ".join(failed)
                    else:
                        status = "SURVIVED"
            finally:
                restore(path, original)
        results.append((m, status))
        print(f"[{i:2}/{len(mutants)}] {m['id']:{width}}  {status:11} "
              f"{time.time() - t0:4.0f} s  {detail}", flush=True)
        if status == "BUILD-ERROR" and not args.keep_going:
            print(f"mutation: {m['id']} does not compile; see {logpath}", file=sys.stderr)
            break
    # Leave the scratch build matching the unchanged tree for the next run.
    build(bdir, args.j, log)

    killed = sum(1 for _, s in results if s == "killed")
    applied = sum(1 for _, s in results if s in ("killed", "SURVIVED"))
    print()
    for m, s in results:
        if s != "killed":
            print(f"{s:11} {m['id']} ({m['file']}): {m['bug']}")
    others = {}
    for _, s in results:
        if s not in ("killed", "SURVIVED"):
            others[s] = others.get(s, 0) + 1
    pct = 100.0 * killed / applied if applied else 0.0
    extra = "".join(f", {v} {k.lower()}" for k, v in sorted(others.items()))
    print(f"mutation score: {killed}/{applied} killed ({pct:.1f} %){extra}")
    return 0 if killed == len(mutants) else 1


if __name__ == "__main__":
    sys.exit(main())
