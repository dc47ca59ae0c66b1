#!/usr/bin/python3
"""bench/admin/measure.py BASE_URL SERVE_LOG EMAIL PASSWORD N [PID]: signs in
and requests the admin's pages one at a time, N times each kind, then reads
the server's own time for each request from its log ("http: GET PATH 200
X.Yms": from the request's first byte to the answer's last) and prints p50
and p99 per kind. With the server's PID, also the CPU time it spent per
request of each kind (user + system, from /proc/PID/stat): unlike the
times, that does not grow with what else the machine runs."""
import os
import http.client
import random
import re
import sys
import time
import urllib.parse

base, log_path, email, password, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
pid = sys.argv[6] if len(sys.argv) > 6 else None


def cpu_s():
    if not pid:
        return 0.0
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
u = urllib.parse.urlparse(base)
random.seed(7)
cookie = None
jar = {}  # every cookie the server sets (the login form's token is bound to its form cookie)


def req(method, path, body=None):
    global cookie
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = {"Cookie": "; ".join("%s=%s" % kv for kv in jar.items())} if jar else {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    for name, value in r.getheaders():
        if name.lower() == "set-cookie":
            k, v = value.split(";")[0].split("=", 1)
            jar[k.strip()] = v
            if k.strip() == "mailer_admin":
                cookie = v
    c.close()
    return r.status, data


st, page = req("GET", "/admin/login")
tok = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
st, _ = req("POST", "/admin/login", urllib.parse.urlencode(
    {"csrf": tok, "email": email, "password": password}))
assert st == 303 and cookie, "login failed: %d" % st

given = ["an", "hoa", "lan", "nam", "binh", "minh"]
family = ["nguyen", "tran", "le", "pham", "vu"]
names = ["Nguyễn Văn An", "trần thị hoa", "Giàng A Chớ", "Đặng Quang", "le ngoc yen", "Sùng Mí Pà"]
kinds = {
    "dashboard": lambda: "/admin/",
    "search: address prefix": lambda: "/admin/subscribers?q=" + urllib.parse.quote(
        "%s.%s%d" % (random.choice(given), random.choice(family), random.randrange(1, 99999))),
    "search: name words": lambda: "/admin/subscribers?q=" + urllib.parse.quote(random.choice(names)),
    "search: name, next page": lambda: "/admin/subscribers?q=" + urllib.parse.quote(
        random.choice(names)) + "&before=%d" % random.randrange(100000, 1000000),
    "search: list and state": lambda: "/admin/subscribers?list=ban-tin&state=" + random.choice(
        ["confirmed", "unconfirmed", "unsubscribed"]) + "&before=%d" % random.randrange(2, 1000001),
    "search: nothing matches": lambda: "/admin/subscribers?q=zzqx" + str(random.randrange(1000)),
    "person page": lambda: "/admin/subscribers/%d" % random.randrange(1, 1000001),
}
marks = {}
cpu = {}
for kind, path in kinds.items():
    with open(log_path, encoding="utf-8", errors="replace") as f:
        start = len(f.readlines())
    c0 = cpu_s()
    for _ in range(n):
        st, _ = req("GET", path())
        assert st == 200, "%s: %d" % (kind, st)
    cpu[kind] = (cpu_s() - c0) * 1000 / n
    time.sleep(0.2)  # the log line is written when the request completes
    with open(log_path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()[start:]
    ms = sorted(float(m.group(1)) for m in
                (re.search(r"http: GET /admin/\S* 200 ([0-9.]+)ms", l) for l in lines) if m)
    assert len(ms) == n, "%s: %d timings for %d requests" % (kind, len(ms), n)
    marks[kind] = ms
print("%-26s %8s %8s %8s %8s   (server time per page, %d requests each, one at a time)" %
      ("page", "p50 ms", "p99 ms", "max ms", "cpu ms", n))
worst = 0.0
for kind, ms in marks.items():
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    worst = max(worst, p99)
    print("%-26s %8.1f %8.1f %8.1f %8s" % (kind, p50, p99, ms[-1],
                                          "%.2f" % cpu[kind] if pid else "-"))
print("goal: p99 < 50 ms: %s (worst p99 %.1f ms)" % ("met" if worst < 50 else "NOT met", worst))
