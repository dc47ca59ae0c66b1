"""Issue 16 item 7: slowloris.

520 slow connections from one address made the whole HTTP service
unanswerable: there was no per-IP connection limit, and the time-out was an
idle one, reset by each byte.

Here the server trusts no proxy, lets one address hold 8 connections
([http] per_ip_connections) and gives a request 3 s to arrive whole
([http] request_deadline), with an idle time-out of 60 s. From 127.0.0.2
the attacker opens 520 connections and trickles a header byte into each
held one now and then: the server keeps at most 8 of them, other readers
(127.0.0.3, 127.0.0.4) are answered meanwhile, every held connection is
cut at the deadline although it never went idle, and a slow body is cut
the same way. Then the attacker's address is answered again like anyone.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import Mailer, check  # noqa: E402
from mailertest import TIMEOUT_SCALE, raw_http  # noqa: E402

ATTACKER, READER, READER2 = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def connect(m, src, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", m.port))
    return s


def get(m, src, path="/healthz"):
    return raw_http(m.port, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                             % path).encode(), src=src)


def alive(s):
    """True while the server keeps the connection open (no EOF, no reset)."""
    s.setblocking(False)
    try:
        s.recv(1)  # end of file, or an answer: either way not held open
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def trickle_until_cut(s, first, step, limit):
    """Sends `first`, then one byte of `step` every 0.5 s until the server
    cuts the connection; returns the seconds it lived (None if never cut
    before `limit` seconds)."""
    t0 = time.monotonic()
    s.sendall(first)
    i = 0
    while time.monotonic() - t0 < limit:
        time.sleep(0.5)
        try:
            s.sendall(step[i % len(step):i % len(step) + 1])
        except OSError:
            return time.monotonic() - t0
        i += 1
        if not alive(s):
            return time.monotonic() - t0
    return None


def main():
    # The request deadline is a hang guard too: on a loaded machine making 520
    # connections takes seconds, and the held ones must outlive that phase.
    deadline = int(3 * TIMEOUT_SCALE)
    with Mailer("sec-slowloris", http={"trusted_proxies": "", "per_ip_connections": 8,
                                       "request_deadline": deadline,
                                       "connection_timeout": 20 * deadline}) as m:
        m.start()
        # 520 connections from one address, each with half a request head
        held = []
        for _ in range(520):
            try:
                s = connect(m, ATTACKER, timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
            except OSError:
                pass
        # the server refuses the surplus as it accepts them: under load its
        # accept queue takes a while to drain, so wait until it has (or give up)
        t0 = time.monotonic()
        kept = [s for s in held if alive(s)]
        while len(kept) > 8 and time.monotonic() - t0 < deadline / 3:
            time.sleep(0.2)
            kept = [s for s in kept if alive(s)]
        check(len(kept) <= 8, "the server keeps %d connections of one address (limit 8)"
              % len(kept))
        check(len(kept) >= 1, "no connection of the attacker was kept at all")
        # readers at other addresses are answered while the attacker holds its share
        for src in (READER, READER2):
            st = get(m, src)
            check(st == 200, "a reader at %s got %d while one address attacked" % (src, st))
        # the held ones keep trickling: still cut at the deadline, long before the
        # idle time-out (20 times longer) that each byte resets
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10 * deadline and any(alive(s) for s in kept):
            for s in kept:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
            time.sleep(0.5)
        still = sum(alive(s) for s in kept)
        check(still == 0, "%d trickling connections outlived the request deadline" % still)
        for s in held:
            s.close()

        # one trickling head and one trickling body, each alone
        s = connect(m, READER)
        lived = trickle_until_cut(s, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: aaaaaaaaaaaaa\r\n",
                                  10 * deadline)
        s.close()
        check(lived is not None, "a head trickled a byte every 0.5 s for %d s and was never cut" % (10 * deadline))
        s = connect(m, READER)
        lived = trickle_until_cut(
            s, b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: "
               b"application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n", b"a",
            10 * deadline)
        s.close()
        check(lived is not None, "a body trickled a byte every 0.5 s for %d s and was never cut" % (10 * deadline))

        # the attacker's address, once its connections are gone, is answered like anyone
        check(get(m, ATTACKER) == 200, "the attacker's address is refused for ever")
        log = m.log()
        check("request_deadline" in m.request("GET", "/metrics")[2].decode(),
              "cut requests are not counted in /metrics")
        check(m.stop() == 0, "serve did not stop cleanly:\n" + log[-2000:])
    print("ok: 520 connections from one address held to 8, readers answered, "
          "trickling heads and bodies cut at the deadline")


if __name__ == "__main__":
    main()
