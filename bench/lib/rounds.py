#!/usr/bin/python3
"""bench/lib/rounds.py: the rounds-and-medians method shared by the benchmarks.

A single run of "mailer, then smtp-source" lets any burst of background work
land on one side only; on a shared 2-core machine that moved the ratio by
+-0.15 from one run to the next. The benchmarks therefore alternate the two
sides in rounds (mailer, baseline, mailer, baseline, ...), and judge by the
medians: the median of each side's rate, their ratio, and the median CPU per
message of each side. CPU comes from the processes' own accounting (wait4's
rusage of the measured child, /proc/PID/stat of the long-running sink), not
from wall time, so it says what a message costs whatever else ran.

Subcommands (the shell scripts call them):

  rounds.py measure OUT -- CMD ARGS...
      Runs CMD (stdout and stderr passed through), then writes to the file
      OUT one line "wall_s W user_s U sys_s S rss_mb R rc C busy_cores B"
      from wait4's rusage (microsecond user/sys, peak RSS) and /proc/stat
      (B: the whole machine's busy CPU over the wall time, in cores: every
      process and the kernel's interrupt work, which no rusage holds; B
      near the machine's core count says the run was bound by CPU), then
      for each kind of thread of CMD (its name, /proc/PID/task/TID/comm,
      less a trailing number: "dlv-worker-3" is of kind "dlv-worker")
      "cpu_KIND_s C runq_KIND_s Q": the CPU seconds of those threads and
      the seconds they waited in the run queue, runnable but without a CPU
      (/proc/PID/task/TID/schedstat, sampled every 20 ms while CMD runs:
      the last 20 ms are missing). Exits with CMD's status.

  rounds.py cpu PID
      Prints the user + system CPU seconds PID has used so far
      (/proc/PID/stat fields 14 and 15; clock ticks).

  rounds.py runq PID
      Prints the seconds PID's main thread has waited in the run queue so
      far, runnable but without a CPU (/proc/PID/schedstat, field 2).

  rounds.py load
      Prints the 1, 5 and 15 minute load averages (/proc/loadavg).

  rounds.py summary FILE [--unit U]
      FILE has one line per measurement, "key value" pairs; the keys used:
        side NAME round I value V [cpu_ms_per_msg C] [sink_cpu_ms_per_msg K]
        [load L] [text ...free text to the end of the line]
      plus "load_before L1 L5 L15" and "load_after ..." lines. Prints each
      round, the median value of each side, the ratio of medians of each
      side over each later one (the sides in order of first appearance:
      with two, first / second), the ratio of each round and the median CPU
      per message of each side.
"""
import os
import statistics
import subprocess
import sys
import threading
import time


def busy_ticks():
    """The machine's busy clock ticks so far: /proc/stat's cpu line less idle and iowait."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4]


def sample_threads(pid, last, done):
    """Until `done` is set: every 20 ms, last[tid] = (kind, cpu_ns, runq_ns) of each
    thread of pid (/proc/PID/task/TID/comm and schedstat)."""
    while not done.is_set():
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            tids = []
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    kind = f.read().strip().rstrip("0123456789").rstrip("-") or "main"
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    cpu_ns, runq_ns = [int(x) for x in f.read().split()[:2]]
            except (OSError, ValueError):
                continue
            last[tid] = (kind.replace(" ", "_"), cpu_ns, runq_ns)
        done.wait(0.02)


def measure(out, cmd):
    t0 = time.monotonic()
    b0 = busy_ticks()
    p = subprocess.Popen(cmd)
    last, done = {}, threading.Event()
    sampler = threading.Thread(target=sample_threads, args=(p.pid, last, done))
    sampler.start()
    _, status, ru = os.wait4(p.pid, 0)
    done.set()
    sampler.join()
    wall = time.monotonic() - t0
    busy = (busy_ticks() - b0) / os.sysconf("SC_CLK_TCK")
    rc = os.waitstatus_to_exitcode(status)
    kinds = {}
    for kind, cpu_ns, runq_ns in last.values():
        c, q = kinds.get(kind, (0, 0))
        kinds[kind] = (c + cpu_ns, q + runq_ns)
    with open(out, "w") as f:
        f.write("wall_s %.6f user_s %.6f sys_s %.6f rss_mb %.1f rc %d busy_cores %.2f"
                % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss / 1024, rc,
                   busy / wall if wall > 0 else 0.0))
        for kind in sorted(kinds):
            f.write(" cpu_%s_s %.4f runq_%s_s %.4f" % (kind, kinds[kind][0] / 1e9, kind,
                                                      kinds[kind][1] / 1e9))
        f.write("\n")
    return rc


def cpu(pid):
    with open("/proc/%s/stat" % pid) as f:
        # the command name (field 2) may contain spaces: split after its ')'
        rest = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(rest[11]) + int(rest[12])) / ticks  # fields 14, 15


def runq(pid):
    """Seconds PID's main thread has waited in the run queue so far (/proc/PID/schedstat)."""
    with open("/proc/%s/schedstat" % pid) as f:
        return int(f.read().split()[1]) / 1e9


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def parse(line):
    f = line.split()
    d = {}
    i = 0
    while i < len(f) - 1:
        if f[i] == "text":
            d["text"] = " ".join(f[i + 1:])
            break
        d[f[i]] = f[i + 1]
        i += 2
    return d


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def summary(path, unit):
    rows, sides = [], []
    load_before = load_after = "?"
    for line in open(path):
        if line.startswith("load_before"):
            load_before = line.split(None, 1)[1].strip()
            continue
        if line.startswith("load_after"):
            load_after = line.split(None, 1)[1].strip()
            continue
        d = parse(line)
        if "side" not in d:
            continue
        rows.append(d)
        if d["side"] not in sides:
            sides.append(d["side"])
    width = max(len(s) for s in sides)
    for d in rows:
        extra = ""
        if "cpu_ms_per_msg" in d:
            extra += "  CPU %.3f ms/msg" % float(d["cpu_ms_per_msg"])
        if "sink_cpu_ms_per_msg" in d:
            extra += " (sink %.3f)" % float(d["sink_cpu_ms_per_msg"])
        if "busy_cores" in d:
            extra += "  machine busy %s cores" % d["busy_cores"]
        if "load" in d:
            extra += "  load %s" % d["load"]
        if "text" in d:
            extra += "  " + d["text"]
        print("round %s  %-*s %10.1f %s%s" % (d["round"], width, d["side"], float(d["value"]),
                                             unit, extra))
    med = {}
    for s in sides:
        vals = [float(d["value"]) for d in rows if d["side"] == s]
        med[s] = median(vals)
        cpus = [float(d["cpu_ms_per_msg"]) for d in rows if d["side"] == s and "cpu_ms_per_msg" in d]
        sinks = [float(d["sink_cpu_ms_per_msg"]) for d in rows
                 if d["side"] == s and "sink_cpu_ms_per_msg" in d]
        line = "median %-*s %10.1f %s over %d rounds (min %.1f, max %.1f)" % (
            width, s, med[s], unit, len(vals), min(vals), max(vals))
        if cpus:
            line += "; CPU %.3f ms/msg (median; %.3f-%.3f)" % (median(cpus), min(cpus), max(cpus))
        if sinks:
            line += "; sink CPU %.3f ms/msg" % median(sinks)
        busy = [float(d["busy_cores"]) for d in rows if d["side"] == s and "busy_cores" in d]
        if busy:
            line += "; machine busy %.2f cores" % median(busy)
        print(line)
    # each side over each later one: 2 sides give mailer/baseline; 3 (the
    # signed mode: signed, unsigned, smtp-source) give all three ratios
    for i, a in enumerate(sides):
        for b in sides[i + 1:]:
            ratio_line(rows, med, a, b)
    print("load average (1, 5, 15 min): before %s, after %s" % (load_before, load_after))


def ratio_line(rows, med, a, b):
    """Prints the ratio of the medians of sides a and b, and of each round."""
    per_round = []
    for r in sorted({d["round"] for d in rows}, key=int):
        va = [float(d["value"]) for d in rows if d["side"] == a and d["round"] == r]
        vb = [float(d["value"]) for d in rows if d["side"] == b and d["round"] == r]
        if va and vb and vb[0] > 0:
            per_round.append(va[0] / vb[0])
    ratio = med[a] / med[b] if med[b] else float("nan")
    print("ratio of medians %s/%s: %.2f   (per round: %s; median %.2f)" % (
        a, b, ratio, " ".join("%.2f" % x for x in per_round), median(per_round)))


def main(argv):
    if len(argv) >= 4 and argv[1] == "measure" and argv[3] == "--":
        return measure(argv[2], argv[4:])
    if len(argv) == 3 and argv[1] == "cpu":
        print("%.2f" % cpu(argv[2]))
        return 0
    if len(argv) == 3 and argv[1] == "runq":
        print("%.4f" % runq(argv[2]))
        return 0
    if len(argv) == 2 and argv[1] == "load":
        print(load())
        return 0
    if len(argv) >= 3 and argv[1] == "summary":
        unit = argv[4] if len(argv) == 5 and argv[3] == "--unit" else "msgs/s"
        summary(argv[2], unit)
        return 0
    print(__doc__, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
