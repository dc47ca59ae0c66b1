#!/usr/bin/python3
"""bench/deliver/profile.py: perf samples of the pipeline, by part of the work.

  profile.py MAILER_SCRIPT SINK_SCRIPT PIPELINE_LINE N [-v]

MAILER_SCRIPT and SINK_SCRIPT are `perf script -F comm,tid,ip,sym,dso`
outputs (with call chains); PIPELINE_LINE is pipeline.sh's line of a run
without perf (for the CPU per message). -v: under each part, its largest
(system call or leaf symbol <- innermost user function) pairs. Each mailer sample is given to the
first part whose rule matches its call chain (leaf first), in the order of
PARTS below; the share of each part times the CPU per message is its
microseconds per message.
"""
import collections
import re
import sys

# (part, rule): a rule is a function of the call chain (list of
# (sym, dso), leaf first) that says whether the sample belongs to the part.


def has(*names):
    return lambda st: any(any(s.startswith(n) for n in names) for s, _ in st)


def user_frames(st):
    return [(s, d) for s, d in st if "kernel" not in d]


def syscall_of(st):
    """The system call a sample is in or entering: the kernel's entry
    frames are often missing (paravirtualized kernel), so it is named after
    the innermost user frame, libc's wrapper."""
    u = user_frames(st)
    if not u:
        return None
    wrappers = ("__GI___libc_write", "__GI___poll", "__GI___libc_read", "setsockopt_syscall",
                "__libc_pwrite", "__GI___libc_pwrite")
    if "kernel" not in st[0][1] and not u[0][0].startswith(wrappers):
        return None
    name = u[0][0]
    for key, call in (("pwrite", "pwrite"), ("fdatasync", "fsync"), ("fsync", "fsync"),
                      ("write", "write"), ("poll", "poll"), ("read", "read"),
                      ("setsockopt", "setsockopt"), ("futex", "futex"), ("lll_lock", "futex"),
                      ("pthread_cond", "futex"), ("clock_gettime", "clock")):
        if key in name:
            return call
    return "other"


def in_syscall(*calls):
    return lambda st: syscall_of(st) in calls


def in_dso(dso):
    return lambda st: any(dso in d for _, d in user_frames(st))


def leaf_user_dso(*dsos):
    def f(st):
        u = user_frames(st)
        return bool(u) and any(x in u[0][1] for x in dsos)
    return f


PARTS = [
    ("result commits (writer: outcome_apply, outbox_record, their SQLite work and WAL I/O)",
     has("outcome_", "apply_round", "outbox_record")),
    ("claims (writer: outbox_claim and the consent check)",
     has("outbox_claim", "run_claims", "subs_")),
    ("other writer work (rounds, waits)", has("writer_main")),
    ("socket writes (write(2) of the message data: syscall, TCP, loopback)",
     in_syscall("write")),
    ("reading replies (poll(2), read(2))", in_syscall("poll", "read")),
    ("waiting for commits / hand-offs (futex, scheduling)", in_syscall("futex")),
    ("setsockopt (TCP_CORK on and off per message)", in_syscall("setsockopt")),
    ("other kernel (other system calls, interrupts, page faults)",
     lambda st: bool(st) and "kernel" in st[0][1]),
    ("encoding (quoted-printable, base64, RFC 2047)",
     has("compose_qp", "enc_", "hdr_encode", "hdr_")),
    ("HMACs (Message-ID, VERP)", has("crypto_", "outbox_message_id", "outbox_verp")),
    ("rendering (templates, JSON, MIME assembly)",
     has("compose_", "tpl_", "render_one", "json_", "on_load", "personal")),
    ("libESMTP: line copy and dot-stuffing scan (its code and the memcpy/memchr it calls)",
     in_dso("libesmtp")),
    ("SQLite elsewhere", leaf_user_dso("libsqlite3")),
    ("libc elsewhere", leaf_user_dso("libc")),
    ("the rest (mailer, other libraries)", lambda st: True),
]

FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def samples(path):
    st = None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if st is not None:
                    yield st
                st = None
                continue
            m = FRAME.match(line)
            if m:
                if st is not None:
                    sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
                    st.append((sym, m.group(2)))
            else:
                st = []
    if st is not None:
        yield st


def main():
    mailer_txt, sink_txt, line, n = sys.argv[1:5]
    verbose = len(sys.argv) > 5 and sys.argv[5] == "-v"
    f = line.split()
    m = {f[i]: f[i + 1] for i in range(0, len(f) - 1, 2)}
    cpu_us = float(m["cpu_s"]) * 1e6 / int(n)
    sink_us = float(m["sink_cpu_s"]) * 1e6 / int(n) if "sink_cpu_s" in m else None
    counts = collections.Counter()
    detail = collections.defaultdict(collections.Counter)
    total = 0
    for st in samples(mailer_txt):
        total += 1
        for name, rule in PARTS:
            if rule(st):
                counts[name] += 1
                sc = [s for s, d in st if "kernel" in d and s.startswith("__x64_sys_")]
                user = [s for s, d in st if "kernel" not in d]
                detail[name]["%s <- %s" % (sc[-1] if sc else st[0][0],
                                           user[0] if user else "?")] += 1
                break
    print("mailer: %d samples, %.1f us of CPU per message (user + system, run without perf: %s msgs/s)"
          % (total, cpu_us, m.get("msgs_per_s", "?")))
    print("%6s %8s  %s" % ("share", "us/msg", "part"))
    for name, _ in PARTS:
        c = counts[name]
        if c:
            print("%5.1f%% %8.1f  %s" % (100.0 * c / total, cpu_us * c / total, name))
            if verbose:
                for k, v in detail[name].most_common(6):
                    print("%16s %4.1f%%  %s" % ("", 100.0 * v / total, k))
    sink = collections.Counter()
    stotal = 0
    for st in samples(sink_txt):
        stotal += 1
        sink["kernel" if st and "kernel" in st[0][1] else "user"] += 1
    if stotal:
        print("smtp-sink: %d samples, %.0f%% kernel (reading the data), %.0f%% user%s"
              % (stotal, 100.0 * sink["kernel"] / stotal, 100.0 * sink["user"] / stotal,
                 "; %.1f us of CPU per message" % sink_us if sink_us else ""))


if __name__ == "__main__":
    main()
