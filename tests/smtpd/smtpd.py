#!/usr/bin/python3
"""A real SMTP server for the tests (aiosmtpd, Debian's python3-aiosmtpd).

Listens on 127.0.0.1 (or --host, another loopback address) on a random port and prints "PORT N" on stdout when
ready (also written to --port-file). Every message it accepts is stored in
--store DIR as NNNNNN.eml (the exact bytes received, after dot-unstuffing)
and NNNNNN.json (envelope from, recipients, MAIL and RCPT parameters such
as RET/ENVID/NOTIFY, the connection number, TLS, AUTH user). DIR/stats.json
counts connections and sessions (connections that said EHLO/HELO), and every
AUTH command received (auth_commands; auth_without_tls those on a plain
connection): a client that must not send its credentials sends no AUTH.

Modes:
  (default)              plain SMTP, no extensions beyond aiosmtpd's
  --starttls CERT KEY    offer STARTTLS with that certificate
  --require-tls          refuse MAIL before STARTTLS (530)
  --auth USER:PASS       offer AUTH PLAIN/LOGIN (also without TLS)
  --require-auth         unauthenticated MAIL gets 530
  --dsn                  advertise DSN and accept RET/ENVID/NOTIFY/ORCPT
Faults:
  --greeting-421         answer every connection "421 4.3.2 ..." and close
  --rcpt-451 PATTERN     RCPT matching the fnmatch PATTERN gets 451 4.3.0
  --rcpt-550 PATTERN     RCPT matching PATTERN gets 550 5.1.1 user unknown
  --data-552             every message gets 552 5.3.4 after DATA
  --data-451-once PATTERN  the first message to each recipient matching PATTERN
                         gets 451 4.3.0 after its data (a retry is accepted); the
                         bytes refused are kept as refused-NNNNNN.eml and .json
  --drop-mid-data        close the connection in the middle of DATA
  --silent               accept TCP connections and never say anything
  --rcpt-delay SECONDS   wait SECONDS before answering each RCPT (a slow,
                         content-scanning or tarpitting relay)
"""
import argparse
import asyncio
import fnmatch
import json
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, syntax

args = None
stats = {"connections": 0, "sessions": 0, "messages": 0, "auth_commands": 0,
         "auth_without_tls": 0}
counter = {"msg": 0, "refused": 0}
refused_once = set()  # recipients --data-451-once has refused


def save_stats():
    tmp = os.path.join(args.store, ".stats.tmp")
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, os.path.join(args.store, "stats.json"))


def split_params(arg, names):
    """Removes the ESMTP parameters in `names` from a MAIL/RCPT argument."""
    kept, taken = [], {}
    parts = arg.split(" ")
    for i, p in enumerate(parts):
        key = p.split("=", 1)[0].upper()
        if i > 0 and key in names and "=" in p:
            taken[key] = p.split("=", 1)[1]
        else:
            kept.append(p)
    return " ".join(kept), taken


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if args.dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if args.rcpt_delay:
            await asyncio.sleep(args.rcpt_delay)
        if args.rcpt_451 and fnmatch.fnmatch(address, args.rcpt_451):
            return "451 4.3.0 <%s>: temporary failure, try again later" % address
        if args.rcpt_550 and fnmatch.fnmatch(address, args.rcpt_550):
            return "550 5.1.1 <%s>: user unknown" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if args.data_552:
            return "552 5.3.4 Message too big for system"
        first = [r for r in envelope.rcpt_tos if args.data_451_once and
                 fnmatch.fnmatch(r, args.data_451_once) and r not in refused_once]
        if first:
            refused_once.update(first)
            counter["refused"] += 1
            self.store(server, session, envelope, "refused-%06d" % counter["refused"])
            return "451 4.3.0 Temporary failure after DATA, try again later"
        counter["msg"] += 1
        n = counter["msg"]
        self.store(server, session, envelope, "%06d" % n)
        stats["messages"] += 1
        save_stats()
        return "250 2.0.0 Ok: queued as %06d" % n

    def store(self, server, session, envelope, name):
        """Writes the message's bytes and metadata as NAME.eml and NAME.json."""
        base = os.path.join(args.store, name)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_params": getattr(server, "dsn_mail", {}),
            "rcpt_params": getattr(server, "dsn_rcpt", []),
            "connection": server.conn_no,
            "tls": server._tls_protocol is not None,
            "auth_user": session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword) else None,
            "helo": session.host_name,
        }
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.replace(base + ".json.tmp", base + ".json")
        os.replace(base + ".eml.tmp", base + ".eml")


class TestSMTP(SMTP):
    def connection_made(self, transport):
        if not hasattr(self, "conn_no"):
            stats["connections"] += 1
            self.conn_no = stats["connections"]
            self.said_hello = False
            save_stats()
        super().connection_made(transport)

    def _hello(self):
        if not self.said_hello:
            self.said_hello = True
            stats["sessions"] += 1
            save_stats()

    async def smtp_EHLO(self, hostname):
        self._hello()
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname):
        self._hello()
        await super().smtp_HELO(hostname)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg):
        stats["auth_commands"] += 1
        if self._tls_protocol is None:
            stats["auth_without_tls"] += 1
        save_stats()
        await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg):
        if arg and args.dsn:
            arg, self.dsn_mail = split_params(arg, {"RET", "ENVID"})
        else:
            self.dsn_mail = {}
        self.dsn_rcpt = []
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        taken = {}
        if arg and args.dsn:
            arg, taken = split_params(arg, {"NOTIFY", "ORCPT"})
        self.dsn_rcpt = getattr(self, "dsn_rcpt", []) + [taken]
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        if not args.drop_mid_data or not self.envelope.rcpt_tos:
            return await super().smtp_DATA(arg)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")  # a part of the message, then hang up
        self.transport.close()


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    if (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
            and auth_data.password == password.encode()):
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


class Raw(asyncio.Protocol):
    """--silent and --greeting-421: not SMTP servers at all."""

    def connection_made(self, transport):
        stats["connections"] += 1
        save_stats()
        self.transport = transport
        if args.greeting_421:
            transport.write(b"421 4.3.2 Service not available, closing channel\r\n")

    def data_received(self, data):
        if args.greeting_421 and data.upper().startswith(b"QUIT"):
            self.transport.write(b"221 2.0.0 Bye\r\n")
            self.transport.close()


async def main():
    loop = asyncio.get_running_loop()
    if args.silent or args.greeting_421:
        factory = Raw
    else:
        tls = None
        if args.starttls:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(args.starttls[0], args.starttls[1])
        kw = dict(hostname="smtpd.test", tls_context=tls, require_starttls=args.require_tls,
                  data_size_limit=0, loop=loop)
        if args.auth:
            kw.update(authenticator=authenticator, auth_required=args.require_auth,
                      auth_require_tls=False)

        def factory():
            return TestSMTP(Handler(), **kw)

    server = await loop.create_server(factory, host=args.host, port=args.port)
    port = server.sockets[0].getsockname()[1]
    save_stats()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("PORT %d" % port, flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


def parse():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--require-auth", action="store_true")
    p.add_argument("--dsn", action="store_true")
    p.add_argument("--greeting-421", action="store_true")
    p.add_argument("--rcpt-451")
    p.add_argument("--rcpt-550")
    p.add_argument("--data-552", action="store_true")
    p.add_argument("--data-451-once")
    p.add_argument("--drop-mid-data", action="store_true")
    p.add_argument("--silent", action="store_true")
    p.add_argument("--rcpt-delay", type=float, default=0)
    return p.parse_args()


if __name__ == "__main__":
    args = parse()
    os.makedirs(args.store, exist_ok=True)
    asyncio.run(main())
    sys.exit(0)
