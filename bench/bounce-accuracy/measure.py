#!/usr/bin/env python3
"""Accuracy of `mailer bounce parse` on real bounces from a public corpus.

The corpus is not in this repository: manifest.tsv names each sample (the
public GitHub repository, the path and the commit it was read at, its size
in characters as stored, "=N" when the local copy was re-encoded) and the
class expected for each of its recipients, in the order the message lists
them, with the reason sisimai's own tests give it and the address
(go-sisimai fact/*_test.go: HardBounce true -> hard, a feedback report ->
complaint, except auth-failure reports, which are no complaint (RFC 6591)
-> unknown; delivered -> delivered, vacation -> auto-reply; every other
failure -> soft). fetch.sh downloads the samples
into corpus/ (needs the network); this script only reads corpus/.

Scoring, per expected recipient: our recipients are paired with the
expected ones by address (the manifest's third field), those without one in
order; a recipient we do not report counts as wrong (class "missing").
"right" = same class; "wrongly hard" = we say hard where the expected class
is not hard (the error that silences a real reader). Recipients we report
that the sample does not list are printed; "extra hard" counts those we call
hard (an address taken from the prose that is no failed recipient).

    bench/bounce-accuracy/measure.py [--mailer PATH] [--set NAME] [--verbose]

--set restricts to one set column of the manifest (seen, heldout1, ...).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def load_manifest(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            name, repo, rpath, commit, chars, expected, dataset = cols[:7]
            exp = [tuple((e.split(":", 2) + [""])[:3]) for e in expected.split(",")]
            rows.append({"file": name, "repo": repo, "path": rpath, "commit": commit,
                         "chars": None if chars.startswith("=") else int(chars),
                         "expected": exp, "set": dataset})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailer", default=os.environ.get("MAILER_BIN"))
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--manifest", default=os.path.join(HERE, "manifest.tsv"))
    ap.add_argument("--set", action="append", help="only these sets (repeatable)")
    ap.add_argument("--verbose", "-v", action="store_true")
    a = ap.parse_args()
    if not a.mailer:
        for cand in ("build-bench", "build-test", "build"):
            p = os.path.join(HERE, "..", "..", cand, "bin", "mailer")
            if os.access(p, os.X_OK):
                a.mailer = os.path.abspath(p)
                break
    if not a.mailer:
        sys.exit("no mailer binary: build one or pass --mailer")
    rows = load_manifest(a.manifest)
    if a.set:
        rows = [r for r in rows if r["set"] in a.set]
    missing = [r["file"] for r in rows if not os.path.exists(os.path.join(a.corpus, r["file"]))]
    if missing:
        sys.exit("not in %s (run fetch.sh): %s" % (a.corpus, " ".join(missing)))
    for r in rows:
        if r["chars"] is None:
            continue
        n = len(open(os.path.join(a.corpus, r["file"]), encoding="utf-8", errors="surrogateescape", newline="").read())
        if n != r["chars"]:
            print("warning: %s has %d characters, the manifest says %d" % (r["file"], n, r["chars"]),
                  file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        ini = os.path.join(tmp, "mailer.ini")
        with open(ini, "w") as f:
            f.write("[database]\npath = %s\n" % os.path.join(tmp, "never", "m.db"))
        p = subprocess.run([a.mailer, "--config", ini, "bounce", "parse"] + [r["file"] for r in rows],
                           cwd=a.corpus, capture_output=True)
    if p.returncode not in (0,):
        sys.exit("mailer bounce parse exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    got = {}
    for line in p.stdout.decode("utf-8").splitlines():
        o = json.loads(line)
        got[o["file"]] = o
    totals = {}
    wrong = []
    spurious = []
    for r in rows:
        ours = list(got[r["file"]]["recipients"])
        used = [False] * len(ours)
        pick = [None] * len(r["expected"])
        # pair by address first, then the rest in order
        for i, (cls, reason, addr) in enumerate(r["expected"]):
            for j, o in enumerate(ours):
                if addr and not used[j] and (o["address"] or "").lower() == addr.lower():
                    pick[i], used[j] = j, True
                    break
        for i in range(len(pick)):
            if pick[i] is None and not r["expected"][i][2]:
                for j in range(len(ours)):
                    if not used[j]:
                        pick[i], used[j] = j, True
                        break
        for j, o in enumerate(ours):
            if not used[j]:
                spurious.append((r["set"], r["file"], o))
        for i, (cls, reason, addr) in enumerate(r["expected"]):
            mine = ours[pick[i]] if pick[i] is not None else None
            mcls = mine["class"] if mine else "missing"
            t = totals.setdefault(r["set"], [0, 0, 0, set(), 0])
            t[0] += 1
            t[3].add(r["file"].rsplit("-", 1)[0])
            ok = mcls == cls
            t[1] += ok
            hard_wrong = mcls == "hard" and cls != "hard"
            t[2] += hard_wrong
            if not ok:
                wrong.append((r["set"], r["file"], i + 1, cls, reason, mcls,
                              mine["reason"] if mine else None, (mine or {}).get("diagnostic")))
    for sset, f, o in spurious:
        totals.setdefault(sset, [0, 0, 0, set(), 0])[4] += o["class"] == "hard"
    allt = [0, 0, 0, set(), 0]
    print("%-10s %10s %8s %14s %14s %9s" % ("set", "recipients", "families", "right class", "wrongly hard",
                                           "extra hard"))
    for name in sorted(totals):
        t = totals[name]
        for k in (0, 1, 2, 4):
            allt[k] += t[k]
        allt[3] |= t[3]
        print("%-10s %10d %8d %7d %5.1f%% %7d %5.1f%% %9d" % (name, t[0], len(t[3]), t[1], 100.0 * t[1] / t[0],
                                                            t[2], 100.0 * t[2] / t[0], t[4]))
    if len(totals) > 1:
        print("%-10s %10d %8d %7d %5.1f%% %7d %5.1f%% %9d" % ("all", allt[0], len(allt[3]), allt[1],
                                                            100.0 * allt[1] / allt[0], allt[2],
                                                            100.0 * allt[2] / allt[0], allt[4]))
    if allt[0]:
        # the goal (docs/bounces.md): at least 95 % right, fewer than 1 % wrongly hard
        right, hard = 100.0 * allt[1] / allt[0], 100.0 * allt[2] / allt[0]
        print("goal: right %.2f %% (>= 95: %s), wrongly hard %.2f %% (< 1: %s)" %
              (right, "met" if right >= 95.0 else "NOT met", hard, "met" if hard < 1.0 else "NOT met"))
    print("misclassified:")
    for w in wrong:
        print("  [%s] %s #%d: want %s (%s), got %s (%s): %s" % (w[0], w[1], w[2], w[3], w[4], w[5], w[6],
                                                            (w[7] or "")[:160]))
    print("recipients we report that the expected list does not have:")
    for sset, f, o in spurious:
        print("  [%s] %s: %s %s (%s): %s" % (sset, f, o["address"], o["class"], o["reason"],
                                           (o.get("diagnostic") or "")[:120]))
    if a.verbose:
        for r in rows:
            print(json.dumps(got[r["file"]], ensure_ascii=False))


main()
