#!/usr/bin/python3
"""SMTP transport against the real test server (tests/smtpd/smtpd.py).

    test_smtp.py CASE

Each CASE starts the server in one mode, delivers through transport_tool
(the C transport, built with the tests) and checks what the server stored,
byte for byte, and the outcome (rc, code, text) of every message. CTest
runs one test per case (tests.cmake).
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import SmtpServer, build_dir, certs, fail  # noqa: E402

TOOL = os.environ.get("TRANSPORT_TOOL") or os.path.join(build_dir(), "tests", "transport_tool")
import faulthandler
faulthandler.dump_traceback_later(100, exit=True)  # a hang shows where
CASE = sys.argv[1]
TMP = os.path.join(build_dir(), "testtmp", "transport-" + CASE)
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)

FROM = "bounces+t0k3n@news.example.org"


def message(n, body_extra=b""):
    """A message in the shape compose produces: CRLF, Date/From/Message-ID,
    a QP body with a line holding a single '.' and lines starting with '.'."""
    m = (b"Date: Thu, 26 Nov 2026 10:00:00 +0700\r\n"
         b"From: =?UTF-8?Q?B=C3=A1o_T=E1=BB=89nh?= <news@news.example.org>\r\n"
         b"To: reader%d@example.net\r\n"
         b"Subject: =?UTF-8?B?VGluIG3hu5tpIHRyb25nIHR14bqnbg==?=\r\n"
         b"Message-ID: <%d.abc@news.example.org>\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n"
         b"\r\n"
         b"Xin ch=C3=A0o, b=E1=BA=A1n %d\r\n"
         b".\r\n"
         b"..starts with two dots\r\n"
         b". a dot and a space\r\n" % (n, n, n)) + body_extra + b"end\r\n"
    path = os.path.join(TMP, "msg%d.eml" % n)
    with open(path, "wb") as f:
        f.write(m)
    return path, m


def run(port, rcpts, *opts, host="localhost", scheme="smtp", tls="none", expect_exit=0,
        envid=None):
    args = [TOOL, "--transport", "%s://%s:%d" % (scheme, host, port), "--tls", tls,
            "--from", FROM, "--helo", "mailer.test"]
    if envid:
        args += ["--envid", envid]
    args += [str(o) for o in opts]
    bodies = []
    for i, r in enumerate(rcpts):
        path, data = message(i + 1)
        bodies.append(data)
        args += ["--rcpt", r, "--msg", path]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    if p.returncode != expect_exit:
        fail("transport_tool exit %d (want %d)\nstdout:\n%s\nstderr:\n%s"
             % (p.returncode, expect_exit, p.stdout, p.stderr))
    if p.stderr.strip() and expect_exit == 0:
        fail("unexpected stderr (sanitizer?):\n" + p.stderr)
    results = []
    for line in p.stdout.splitlines():
        m = re.match(r"send (\d+) id (\d+) rc (\S+) code (\d+) text ?(.*)$", line)
        if m:
            results.append({"send": int(m[1]), "id": int(m[2]), "rc": m[3],
                            "code": int(m[4]), "text": m[5]})
        elif line.startswith("open "):
            results.append({"open": line})
    return results, bodies, elapsed


def expect(res, rc, code=None, text=None):
    if res.get("rc") != rc or (code is not None and res["code"] != code) or \
            (text is not None and not re.search(text, res["text"])):
        fail("outcome %r, want rc=%s code=%s text~%r" % (res, rc, code, text))


def expect_received(srv, bodies, rcpts):
    got = srv.messages()
    if len(got) != len(bodies):
        fail("server stored %d messages, want %d" % (len(got), len(bodies)))
    for g, b, r in zip(got, bodies, rcpts):
        if g["data"] != b:
            fail("bytes differ for %s:\n%r\n!=\n%r" % (r, g["data"], b))
        if g["rcpt_tos"] != [r] or g["mail_from"] != FROM:
            fail("envelope %r %r, want %s -> %s" % (g["mail_from"], g["rcpt_tos"], FROM, r))
    return got


def store(name="srv"):
    return os.path.join(TMP, name)


# ---- cases -------------------------------------------------------------------

def case_plain_bytes():
    """Plain SMTP on loopback: exact bytes (dot lines survive), envelope, EHLO name."""
    with SmtpServer(store()) as srv:
        rcpts = ["reader1@example.net"]
        res, bodies, _ = run(srv.port, rcpts)
        expect(res[0], "ok", 250, r"^2\.0\.0 Ok: queued as 000001$|^Ok: queued")
        got = expect_received(srv, bodies, rcpts)
        if got[0]["helo"] != "mailer.test":
            fail("EHLO name %r" % got[0]["helo"])


def case_one_connection_many_messages():
    """20 messages in one transport_send: one connection, all bytes exact."""
    with SmtpServer(store()) as srv:
        rcpts = ["r%d@example.net" % i for i in range(20)]
        res, bodies, _ = run(srv.port, rcpts)
        for r in res:
            expect(r, "ok", 250)
        expect_received(srv, bodies, rcpts)
        st = srv.stats()
        if st["connections"] != 1 or st["sessions"] != 1:
            fail("want 1 connection, got %r" % st)


def case_batch_split_per_connection():
    """messages_per_connection = 3 splits 7 messages over 3 connections."""
    with SmtpServer(store()) as srv:
        rcpts = ["r%d@example.net" % i for i in range(7)]
        res, bodies, _ = run(srv.port, rcpts, "--per-conn", 3)
        for r in res:
            expect(r, "ok", 250)
        got = expect_received(srv, bodies, rcpts)
        if srv.stats()["connections"] != 3 or [g["connection"] for g in got] != \
                [1, 1, 1, 2, 2, 2, 3]:
            fail("connections %r" % srv.stats())


def case_dsn_parameters():
    """A DSN server gets RET=HDRS, ENVID and NOTIFY=FAILURE,DELAY."""
    with SmtpServer(store(), "--dsn") as srv:
        rcpts = ["reader1@example.net"]
        res, bodies, _ = run(srv.port, rcpts, envid="env-42")
        expect(res[0], "ok", 250)
        got = expect_received(srv, bodies, rcpts)
        if got[0]["mail_params"] != {"RET": "HDRS", "ENVID": "env-42"}:
            fail("MAIL params %r" % got[0]["mail_params"])
        if got[0]["rcpt_params"] != [{"NOTIFY": "FAILURE,DELAY"}]:
            fail("RCPT params %r" % got[0]["rcpt_params"])


def case_starttls_verified():
    """tls = required with the test CA: delivered over TLS, bytes exact."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/server.pem", c + "/server.key",
                    "--require-tls") as srv:
        rcpts = ["reader1@example.net", "reader2@example.net"]
        res, bodies, _ = run(srv.port, rcpts, "--ca", c + "/ca.pem", tls="required")
        for r in res:
            expect(r, "ok", 250)
        got = expect_received(srv, bodies, rcpts)
        if not all(g["tls"] for g in got):
            fail("not over TLS: %r" % got)


def case_starttls_ip_san():
    """Connecting to 127.0.0.1 verifies against the certificate's IP SAN."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/server.pem", c + "/server.key") as srv:
        rcpts = ["reader1@example.net"]
        res, bodies, _ = run(srv.port, rcpts, "--ca", c + "/ca.pem", tls="required",
                             host="127.0.0.1")
        expect(res[0], "ok", 250)
        expect_received(srv, bodies, rcpts)


def case_starttls_untrusted():
    """A self-signed certificate fails with a clear text; nothing is sent."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/untrusted.pem", c + "/untrusted.key") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net", "reader2@example.net"],
                        "--ca", c + "/ca.pem", tls="required")
        for r in res:
            expect(r, "tempfail", 0,
                   r"^STARTTLS: certificate verification failed: self[- ]signed certificate")
        if srv.messages():
            fail("a message was delivered over an untrusted connection")


def case_starttls_wrong_name():
    """A trusted certificate for another name fails (the name is checked):
    the certificate is for localhost and 127.0.0.1, the server is 127.0.0.2."""
    c = certs()
    with SmtpServer(store(), "--host", "127.0.0.2", "--starttls", c + "/server.pem",
                    c + "/server.key") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net"], "--ca", c + "/ca.pem",
                        tls="required", host="127.0.0.2")
        expect(res[0], "tempfail", 0, r"^STARTTLS: certificate verification failed: "
                                      r"IP address mismatch")
        if srv.messages() or srv.stats()["connections"] != 1:
            fail("delivered to a server with the wrong name, or never connected")


def case_starttls_not_offered():
    """tls = required against a server without STARTTLS: refused, nothing sent."""
    with SmtpServer(store()) as srv:
        res, _, _ = run(srv.port, ["reader1@example.net"], tls="required")
        expect(res[0], "tempfail", 0, r"^STARTTLS: the server does not offer STARTTLS")
        if srv.messages():
            fail("delivered without TLS")


def case_starttls_opportunistic():
    """opportunistic encrypts even with an untrusted certificate."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/untrusted.pem", c + "/untrusted.key") as srv:
        rcpts = ["reader1@example.net"]
        res, bodies, _ = run(srv.port, rcpts, tls="opportunistic")
        expect(res[0], "ok", 250)
        got = expect_received(srv, bodies, rcpts)
        if not got[0]["tls"]:
            fail("opportunistic did not use TLS")


def case_two_tls_sessions():
    """Two STARTTLS sessions in one process (LIBNOTES: the global ctx crashes)."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/server.pem", c + "/server.key") as srv:
        rcpts = ["reader1@example.net", "reader2@example.net"]
        res, bodies, _ = run(srv.port, rcpts, "--ca", c + "/ca.pem", "--sends", 3,
                             tls="required")
        if len(res) != 6:
            fail("want 6 outcomes, got %r" % res)
        for r in res:
            expect(r, "ok", 250)
        if srv.stats()["connections"] != 3 or len(srv.messages()) != 6:
            fail("stats %r" % srv.stats())


def case_auth_ok():
    """AUTH with the right password: delivered, the server saw the user."""
    with SmtpServer(store(), "--auth", "mailer:s3cret pass", "--require-auth") as srv:
        rcpts = ["reader1@example.net"]
        res, bodies, _ = run(srv.port, rcpts, "--user", "mailer", "--pass", "s3cret pass")
        expect(res[0], "ok", 250)
        got = expect_received(srv, bodies, rcpts)
        if got[0]["auth_user"] != "mailer":
            fail("auth user %r" % got[0]["auth_user"])


def case_auth_over_tls():
    """AUTH after STARTTLS with verification."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/server.pem", c + "/server.key",
                    "--auth", "mailer:pw", "--require-auth", "--require-tls") as srv:
        rcpts = ["reader1@example.net"]
        res, bodies, _ = run(srv.port, rcpts, "--ca", c + "/ca.pem", "--user", "mailer",
                             "--pass", "pw", tls="required")
        expect(res[0], "ok", 250)
        got = expect_received(srv, bodies, rcpts)
        if got[0]["auth_user"] != "mailer" or not got[0]["tls"]:
            fail("meta %r" % got[0])


def case_auth_failed_not_sent():
    """A wrong password on a server that would accept mail anyway: libESMTP
    would carry on unauthenticated; the transport refuses and says why."""
    with SmtpServer(store(), "--auth", "mailer:right") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net", "reader2@example.net"],
                        "--user", "mailer", "--pass", "wrong")
        for r in res:
            expect(r, "tempfail", 535, r"^AUTH failed: 535 5\.7\.8 Authentication credentials "
                                       r"invalid")
            if "wrong" in r["text"]:
                fail("password in the outcome text")
        if srv.messages():
            fail("a message was sent unauthenticated")


def case_auth_not_offered_not_sent():
    """Credentials configured but the server offers no AUTH: not sent."""
    with SmtpServer(store()) as srv:
        res, _, _ = run(srv.port, ["reader1@example.net"], "--user", "mailer", "--pass", "pw")
        expect(res[0], "tempfail", 0, r"^AUTH not done: the server did not offer AUTH PLAIN or "
                                      r"LOGIN")
        if srv.messages():
            fail("a message was sent unauthenticated")


def no_auth_reached(srv):
    st = srv.stats()
    if st["auth_commands"] or srv.messages():
        fail("the credentials reached the server: %r" % st)


def case_auth_no_starttls_not_sent():
    """Issue 16 item 5: credentials and tls = opportunistic, the server (or
    someone in the path) offers no STARTTLS: libESMTP would AUTH in clear.
    No AUTH command leaves, nothing is sent, the outcome says why."""
    with SmtpServer(store(), "--auth", "mailer:pw") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net", "reader2@example.net"],
                        "--user", "mailer", "--pass", "pw", tls="opportunistic")
        for r in res:
            expect(r, "tempfail", 0, r"^AUTH not sent: the server did not offer STARTTLS; "
                                     r"credentials go only over verified TLS$")
        no_auth_reached(srv)
        if srv.stats()["sessions"] != 1:
            fail("want one session: %r" % srv.stats())


def case_auth_unverified_tls_not_sent():
    """Issue 16 item 5: opportunistic TLS with a certificate that does not
    verify (and the server would take AUTH): encrypted, but to whom? No
    AUTH; with a certificate that verifies the same settings authenticate."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/untrusted.pem", c + "/untrusted.key",
                    "--auth", "mailer:pw", "--require-auth") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net"], "--user", "mailer", "--pass", "pw",
                        tls="opportunistic")
        expect(res[0], "tempfail", 0, r"^AUTH not sent: certificate verification failed: .+; "
                                      r"credentials go only over verified TLS$")
        no_auth_reached(srv)
    with SmtpServer(store("verified"), "--starttls", c + "/server.pem", c + "/server.key",
                    "--auth", "mailer:pw", "--require-auth") as srv:
        rcpts = ["reader1@example.net"]
        res, bodies, _ = run(srv.port, rcpts, "--ca", c + "/ca.pem", "--user", "mailer",
                             "--pass", "pw", tls="opportunistic")
        expect(res[0], "ok", 250)
        got = expect_received(srv, bodies, rcpts)
        if got[0]["auth_user"] != "mailer" or not got[0]["tls"] or \
                srv.stats()["auth_without_tls"]:
            fail("meta %r stats %r" % (got[0], srv.stats()))


def case_auth_required_untrusted_not_sent():
    """tls = required, an unverifiable certificate: the handshake fails, no AUTH."""
    c = certs()
    with SmtpServer(store(), "--starttls", c + "/untrusted.pem", c + "/untrusted.key",
                    "--auth", "mailer:pw") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net"], "--user", "mailer", "--pass", "pw",
                        tls="required")
        expect(res[0], "tempfail", 0, r"^STARTTLS: certificate verification failed")
        no_auth_reached(srv)


def case_auth_required_no_credentials():
    """No credentials configured, the server wants AUTH: 530, temporary."""
    with SmtpServer(store(), "--auth", "mailer:pw", "--require-auth") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net"])
        expect(res[0], "tempfail", 530, r"^MAIL: 530 the server requires AUTH")


def case_greeting_421():
    with SmtpServer(store(), "--greeting-421") as srv:
        res, _, _ = run(srv.port, ["reader1@example.net", "reader2@example.net"])
        for r in res:
            expect(r, "tempfail", 421, r"^4\.3\.2 Service not available")


def case_rcpt_451():
    with SmtpServer(store(), "--rcpt-451", "later*@example.net") as srv:
        rcpts = ["later1@example.net", "now@example.net"]
        res, bodies, _ = run(srv.port, rcpts)
        expect(res[0], "tempfail", 451, r"^4\.3\.0 <later1@example\.net>: temporary failure")
        expect(res[1], "ok", 250)
        got = srv.messages()
        if len(got) != 1 or got[0]["rcpt_tos"] != ["now@example.net"] or \
                got[0]["data"] != bodies[1]:
            fail("server got %r" % got)


def case_rcpt_550():
    with SmtpServer(store(), "--rcpt-550", "gone@example.net") as srv:
        rcpts = ["gone@example.net", "here@example.net"]
        res, bodies, _ = run(srv.port, rcpts)
        expect(res[0], "permfail", 550, r"^5\.1\.1 <gone@example\.net>: user unknown$")
        expect(res[1], "ok", 250)
        if len(srv.messages()) != 1:
            fail("server got %d messages" % len(srv.messages()))


def case_all_rcpts_fail():
    """Every RCPT refused: libESMTP still sends DATA; the outcome is the RCPT's."""
    with SmtpServer(store(), "--rcpt-550", "*") as srv:
        res, _, _ = run(srv.port, ["a@example.net", "b@example.net"])
        for r in res:
            expect(r, "permfail", 550, r"5\.1\.1 .*user unknown")
        if srv.messages():
            fail("stored a message without recipients")


def case_data_552():
    with SmtpServer(store(), "--data-552") as srv:
        res, _, _ = run(srv.port, ["a@example.net", "b@example.net"])
        for r in res:
            expect(r, "permfail", 552, r"^5\.3\.4 Message too big")


def case_drop_mid_data():
    with SmtpServer(store(), "--drop-mid-data") as srv:
        res, _, _ = run(srv.port, ["a@example.net", "b@example.net"])
        expect(res[0], "tempfail", 0, r"^DATA: connection lost$")
        expect(res[1], "tempfail", 0, r"^before RCPT: connection lost$")
        if srv.messages():
            fail("stored a half message")


def case_silent_server_timeout():
    """A server that accepts and never answers: the greeting timeout fires."""
    with SmtpServer(store(), "--silent") as srv:
        res, _, elapsed = run(srv.port, ["a@example.net"], "--command-ms", 700)
        expect(res[0], "tempfail", 0,
               r"^before RCPT: no reply from the server within 700 ms \(timeout\)$")
        if not 0.6 <= elapsed < 10:
            fail("took %.1f s for a 0.7 s timeout" % elapsed)


def case_connect_timeout():
    """connect() that never completes stops at connect_timeout_ms: a listener
    with a full accept queue drops further SYNs, as a firewall would."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    for _ in range(8):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.2)
    res, _, elapsed = run(port, ["a@example.net"], "--connect-ms", 500, host="127.0.0.1")
    expect(res[0], "tempfail", 0, r"^connect to 127\.0\.0\.1:\d+: timeout after 500 ms$")
    if not 0.4 <= elapsed < 5:
        fail("connect gave up after %.1f s with a 0.5 s timeout" % elapsed)
    for c in fillers:
        c.close()
    lst.close()


def case_closed_port():
    with SmtpServer(store()) as srv:
        port = srv.port
    res, _, _ = run(port, ["a@example.net"])
    expect(res[0], "tempfail", 0, r"^connect to localhost:\d+: .*refused")


def case_smtps_refused():
    res, _, _ = run(465, ["a@example.net"], scheme="smtps", tls="required", expect_exit=2)
    if "smtps:// (implicit TLS) is not supported by libESMTP 1.1.0; use smtp://host:587 with " \
       "[smtp] tls = required (STARTTLS)" not in res[0]["open"]:
        fail(res[0]["open"])


def case_tls_none_refused_off_loopback():
    res, _, _ = run(25, ["a@example.net"], host="mail.example.org", tls="none", expect_exit=2)
    if "tls = none: refused for \"mail.example.org\"" not in res[0]["open"]:
        fail(res[0]["open"])


def case_crlf_in_rcpt_refused():
    """An injected command in a recipient never reaches the server."""
    with SmtpServer(store()) as srv:
        res, _, _ = run(srv.port, ["x@example.net>\r\nRCPT TO:<victim@example.com"])
        expect(res[0], "permfail", 0, r"^invalid recipient address$")
        if srv.stats()["connections"] != 0:
            fail("connected for a refused message")


# ---- per-message callback (transport_send_cb) ---------------------------------

def callbacks(res):
    """The "cb" lines of transport_tool, parsed, in call order."""
    return [r for r in res if "enter" in r and "end" not in r]


def run_cb(port, rcpts, *opts, **kw):
    """run(), keeping transport_tool's callback lines as well."""
    args = [TOOL, "--transport", "smtp://localhost:%d" % port, "--tls", "none",
            "--from", FROM, "--helo", "mailer.test"] + [str(o) for o in opts]
    for i, r in enumerate(rcpts):
        path, _ = message(i + 1)
        args += ["--rcpt", r, "--msg", path]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode != kw.get("expect_exit", 0) or p.stderr.strip():
        fail("transport_tool exit %d\nstdout:\n%s\nstderr:\n%s"
             % (p.returncode, p.stdout, p.stderr))
    res = []
    for line in p.stdout.splitlines():
        m = re.match(r"cb id (\d+) rc (\S+) code (\d+) skipped (\d) enter (\S+) exit (\S+)$", line)
        if m:
            res.append({"id": int(m[1]), "rc": m[2], "code": int(m[3]),
                        "skipped": int(m[4]), "enter": float(m[5]), "exit": float(m[6])})
            continue
        m = re.match(r"end id (\d+) enter (\S+) exit (\S+)$", line)
        if m:
            res.append({"end": int(m[1]), "enter": float(m[2]), "exit": float(m[3])})
            continue
        m = re.match(r"send (\d+) id (\d+) rc (\S+) code (\d+) text ?(.*)$", line)
        if m:
            res.append({"send": int(m[1]), "id": int(m[2]), "rc": m[3],
                        "code": int(m[4]), "text": m[5]})
    return res


def check_once(res, n):
    """Every message reported exactly once, with its final outcome."""
    cbs = callbacks(res)
    final = {r["id"]: r for r in res if "send" in r}
    if sorted(c["id"] for c in cbs) != list(range(1, n + 1)):
        fail("callbacks for ids %r, want each of 1..%d once" % ([c["id"] for c in cbs], n))
    for c in cbs:
        f = final[c["id"]]
        if (c["rc"], c["code"]) != (f["rc"], f["code"]):
            fail("callback saw %r, final outcome %r" % (c, f))
    return cbs


class TimedServer:
    """aiosmtpd in this process, noting on the monotonic clock when each MAIL
    arrived and when each message's reply to the end of DATA was about to be
    sent (the handler's return)."""

    def __init__(self):
        import asyncio
        import threading
        from aiosmtpd.smtp import SMTP
        self.events = []
        events = self.events

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, options):
                events.append(("mail", time.monotonic()))
                envelope.mail_from = address
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                events.append(("data", time.monotonic(), envelope.rcpt_tos[0]))
                return "250 2.0.0 Ok: stored"

        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start():
            self.server = await self.loop.create_server(
                lambda: SMTP(Handler(), hostname="timed.test", loop=self.loop),
                "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(
            target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()),
            daemon=True)
        self.thread.start()
        if not ready.wait(10):
            fail("timed server did not start")

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def case_callback_before_next_mail():
    """Each message's callback runs after the server answered its data and
    before the next MAIL FROM reaches the server: the callback sleeps 150 ms
    and the server's clock shows every MAIL waiting for it."""
    srv = TimedServer()
    try:
        rcpts = ["r%d@example.net" % i for i in range(1, 5)]
        res = run_cb(srv.port, rcpts, "--cb-sleep-ms", 150)
    finally:
        srv.close()
    cbs = check_once(res, 4)
    if [c["id"] for c in cbs] != [1, 2, 3, 4] or any(c["rc"] != "ok" for c in cbs):
        fail("callbacks %r" % cbs)
    mails = [e[1] for e in srv.events if e[0] == "mail"]
    datas = [e for e in srv.events if e[0] == "data"]
    if len(mails) != 4 or [d[2] for d in datas] != rcpts:
        fail("server events %r" % srv.events)
    for i, c in enumerate(cbs):
        if not datas[i][1] <= c["enter"]:
            fail("callback %d entered at %.6f before the server's reply at %.6f"
                 % (i + 1, c["enter"], datas[i][1]))
        if i + 1 < len(mails) and not c["exit"] <= mails[i + 1]:
            fail("MAIL %d arrived at %.6f, before callback %d returned at %.6f"
                 % (i + 2, mails[i + 1], i + 1, c["exit"]))


def case_callback_before_end():
    """before_end runs after the message's MAIL and before the server has
    its end of data: the hook sleeps 150 ms and the server's clock shows
    each message completed only after it returned, and after the previous
    message's done()."""
    srv = TimedServer()
    try:
        rcpts = ["r%d@example.net" % i for i in range(1, 4)]
        res = run_cb(srv.port, rcpts, "--end-sleep-ms", 150)
    finally:
        srv.close()
    cbs = check_once(res, 3)
    ends = [r for r in res if "end" in r]
    if [e["end"] for e in ends] != [1, 2, 3] or any(c["rc"] != "ok" for c in cbs):
        fail("before_end calls %r, done calls %r" % (ends, cbs))
    mails = [e[1] for e in srv.events if e[0] == "mail"]
    datas = [e for e in srv.events if e[0] == "data"]
    if len(mails) != 3 or [d[2] for d in datas] != rcpts:
        fail("server events %r" % srv.events)
    for i, e in enumerate(ends):
        if not mails[i] <= e["enter"]:
            fail("before_end %d entered before its MAIL arrived" % (i + 1))
        if not e["exit"] <= datas[i][1]:
            fail("server had message %d at %.6f, before before_end returned at %.6f"
                 % (i + 1, datas[i][1], e["exit"]))
        if i > 0 and not cbs[i - 1]["exit"] <= e["enter"]:
            fail("before_end %d ran before done %d" % (i + 1, i))


def case_callback_end_stop():
    """before_end asking to stop at the 2nd message: the server never gets
    its end of data (connection dropped), the 3rd and 4th never leave; all
    three are reported as skipped."""
    with SmtpServer(store()) as srv:
        rcpts = ["r%d@example.net" % i for i in range(1, 5)]
        res = run_cb(srv.port, rcpts, "--per-conn", 2, "--end-stop-at", 2)
        cbs = check_once(res, 4)
        final = {r["id"]: r for r in res if "send" in r}
        expect(final[1], "ok", 250)
        for i in (2, 3, 4):
            expect(final[i], "tempfail", 0, r"^not sent: the caller stopped the batch$")
        if [c["skipped"] for c in cbs] != [0, 1, 1, 1]:
            fail("skipped flags %r" % cbs)
        got = srv.messages()
        if [g["rcpt_tos"] for g in got] != [["r1@example.net"]]:
            fail("server stored %r" % [g["rcpt_tos"] for g in got])
        if srv.stats()["connections"] != 1:
            fail("a stopped batch opened another connection: %r" % srv.stats())


def case_callback_stop():
    """A callback asking to stop after the 2nd message: the 3rd (same
    connection) is never completed, the 4th and 5th (next connection) never
    leave; they are reported as skipped."""
    with SmtpServer(store()) as srv:
        rcpts = ["r%d@example.net" % i for i in range(1, 6)]
        res = run_cb(srv.port, rcpts, "--per-conn", 3, "--cb-stop-after", 2)
        cbs = check_once(res, 5)
        final = {r["id"]: r for r in res if "send" in r}
        for i in (1, 2):
            expect(final[i], "ok", 250)
        for i in (3, 4, 5):
            expect(final[i], "tempfail", 0, r"^not sent: the caller stopped the batch$")
        if [c["skipped"] for c in cbs] != [0, 0, 1, 1, 1]:
            fail("skipped flags %r" % cbs)
        got = srv.messages()
        if [g["rcpt_tos"] for g in got] != [["r1@example.net"], ["r2@example.net"]]:
            fail("server stored %r" % [g["rcpt_tos"] for g in got])
        if srv.stats()["connections"] != 1:
            fail("a stopped batch opened another connection: %r" % srv.stats())


def case_callback_failures():
    """Refusals are reported once each, with the same outcome as the batch's:
    a 550 RCPT and a 451 RCPT among accepted ones, and a connection that
    drops mid-DATA (those at the end of the session)."""
    with SmtpServer(store(), "--rcpt-550", "gone*", "--rcpt-451", "later*") as srv:
        rcpts = ["ok1@example.net", "gone@example.net", "later@example.net",
                 "ok2@example.net", "x@example.net>\r\nRSET"]
        res = run_cb(srv.port, rcpts, "--cb", 1)
        check_once(res, 5)
        final = {r["id"]: r for r in res if "send" in r}
        expect(final[1], "ok", 250)
        expect(final[2], "permfail", 550)
        expect(final[3], "tempfail", 451)
        expect(final[4], "ok", 250)
        expect(final[5], "permfail", 0, r"^invalid recipient address$")
    with SmtpServer(store("drop"), "--drop-mid-data") as srv:
        res = run_cb(srv.port, ["a@example.net", "b@example.net"], "--cb", 1)
        check_once(res, 2)
        final = {r["id"]: r for r in res if "send" in r}
        expect(final[1], "tempfail", 0, r"^DATA: connection lost$")
        expect(final[2], "tempfail", 0, r"^before RCPT: connection lost$")


def lazy_lines(res_stdout):
    return [l for l in res_stdout.splitlines() if l.startswith(("load ", "release "))]


def run_lazy(port, rcpts, *opts):
    args = [TOOL, "--transport", "smtp://localhost:%d" % port, "--tls", "none",
            "--from", FROM, "--helo", "mailer.test"] + [str(o) for o in opts]
    bodies = []
    for i, r in enumerate(rcpts):
        path, data = message(i + 1, (b"x" * 70 + b"\r\n") * (40 * i))
        bodies.append(data)
        args += ["--rcpt", r, "--msg", path]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or p.stderr.strip():
        fail("transport_tool exit %d\nstdout:\n%s\nstderr:\n%s"
             % (p.returncode, p.stdout, p.stderr))
    final = {}
    for line in p.stdout.splitlines():
        m = re.match(r"send (\d+) id (\d+) rc (\S+) code (\d+) text ?(.*)$", line)
        if m:
            final[int(m[2])] = {"rc": m[3], "code": int(m[4]), "text": m[5]}
    return lazy_lines(p.stdout), final, bodies


def case_lazy_load_one_at_a_time():
    """Data from the load hook: each message loaded once, when its data is
    due, and released before the next is loaded (one in memory at a time);
    the server gets the exact bytes, over 2 connections of 3."""
    with SmtpServer(store()) as srv:
        rcpts = ["r%d@example.net" % i for i in range(6)]
        lines, final, bodies = run_lazy(srv.port, rcpts, "--lazy", 1, "--per-conn", 3)
        want = []
        for i in range(1, 7):
            want += ["load id %d live 0" % i, "release id %d live 0" % i]
        if lines != want:
            fail("load/release order %r, want %r" % (lines, want))
        for i in range(1, 7):
            expect(final[i], "ok", 250)
        expect_received(srv, bodies, rcpts)
        if srv.stats()["connections"] != 2:
            fail("want 2 connections, got %r" % srv.stats())


def case_lazy_load_failure():
    """A failed load: that message is not delivered (connection dropped
    before the end of its data), its outcome names the failure, the
    session's later messages are deferred, the earlier one is delivered."""
    with SmtpServer(store()) as srv:
        rcpts = ["a@example.net", "b@example.net", "c@example.net"]
        lines, final, bodies = run_lazy(srv.port, rcpts, "--lazy-fail-at", 2)
        if lines != ["load id 1 live 0", "release id 1 live 0", "load id 2 live 0"]:
            fail("load/release lines %r" % lines)
        expect(final[1], "ok", 250)
        expect(final[2], "tempfail", 0, r"^message not available: load 2 refused by the test$")
        expect(final[3], "tempfail", 0, r"^before RCPT: ")
        expect_received(srv, bodies[:1], rcpts[:1])


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}

if __name__ == "__main__":
    if CASE == "--list":
        print("\n".join(CASES))
        sys.exit(0)
    if not os.path.exists(TOOL):
        fail("transport_tool not built: " + TOOL)
    CASES[CASE]()
    print("ok", CASE)
