#!/usr/bin/python3
"""`mailer dkim keygen|record|sign` as an admin uses them.

keygen writes KEYS_DIR/DOMAIN/SELECTOR.key with mode 0600 and prints a
zone-file line whose record dkimpy accepts; it never replaces a key (exit
3) and refuses names that are not DNS names (exit 1). record prints the
same line again. `mailer compose` signs with the configured keys (both
algorithms), and sign signs that message again once its signatures are
taken off, each so that dkimpy verifies it; without
[dkim] selector, or with a key readable by others, sign exits 2 and names
the fix.
"""
import os
import re
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import (SRC, Checks, CliEnv, dkim_record, dkim_verify_dkimpy,  # noqa: E402
                        write_ini)

DOMAIN = "hagiang.example"
_c = Checks()
check = _c.check


def env_with(name, dkim):
    env = CliEnv("dkim-keys-" + name)
    env.keys = os.path.join(env.dir, "keys")
    write_ini(env.config, [
        ("site", {"base_url": "https://tin.hagiang.example"}),
        ("database", {"path": env.db_path}),
        ("mail", {"from_address": "tin-tuc@" + DOMAIN, "secret": "keys-secret-0123456789"}),
        ("delivery", env.delivery),
        ("dkim", dict({"keys_dir": env.keys}, **dkim)),
    ])
    return env


def main():
    env = env_with("gen", {"selector": "s2026", "ed25519_selector": "e2026"})
    out = env.mailer("dkim", "keygen", "--domain", DOMAIN, "--selector", "s2026").stdout.decode()
    path = os.path.join(env.keys, DOMAIN, "s2026.key")
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "key mode %o" % os.stat(path).st_mode)
    check(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700, "key folder mode")
    zone = [l for l in out.splitlines() if not l.startswith(";")]
    check(len(zone) == 1 and zone[0].startswith(
        's2026._domainkey.hagiang.example. IN TXT ( "v=DKIM1; k=rsa; " "p=MII'),
          "the zone line: %r" % zone)
    check(all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', zone[0])), "strings <= 255")
    check("; publish this TXT record in the DNS zone of hagiang.example" in out and
          "[dkim] selector = s2026" in out, "what to do with it:\n" + out)
    check(env.mailer("dkim", "record", "--domain", DOMAIN, "--selector", "s2026")
          .stdout.decode().splitlines()[-1] == zone[0], "record prints the same line")
    out = env.mailer("dkim", "keygen", "--domain", DOMAIN, "--selector", "e2026", "--algorithm",
                     "ed25519").stdout.decode()
    check('"v=DKIM1; k=ed25519; " "p=' in out and "ed25519_selector = e2026" in out,
          "ed25519 record:\n" + out)
    before = open(path, "rb").read()
    p = env.mailer("dkim", "keygen", "--domain", DOMAIN, "--selector", "s2026", code=3)
    check(b"never replaced" in p.stderr and open(path, "rb").read() == before,
          "an existing key is kept: %r" % p.stderr)
    for bad in (["--domain", "a/../b", "--selector", "s"], ["--domain", DOMAIN, "--selector",
                "-x"], ["--domain", DOMAIN], ["--domain", DOMAIN, "--selector", "s",
                                             "--algorithm", "dsa"]):
        env.mailer("dkim", "keygen", *bad, code=1)
    env.mailer("dkim", "record", "--domain", DOMAIN, "--selector", "nothere", code=2)

    # sign: a composed share, both signatures verified by dkimpy
    records = {"s2026._domainkey." + DOMAIN: dkim_record(env, DOMAIN, "s2026"),
               "e2026._domainkey." + DOMAIN: dkim_record(env, DOMAIN, "e2026")}
    env.mailer("init")
    env.mailer("article", "add", os.path.join(SRC, "examples", "articles", "tin-pccc-20211005.json"))
    composed = os.path.join(env.dir, "composed.eml")
    env.mailer("compose", "share", "tin-pccc-20211005", "--to", "an@example.net", "-o", composed)
    data = open(composed, "rb").read()
    # `mailer compose` signs as delivery does
    verdicts = dkim_verify_dkimpy(data, records)
    check(verdicts == [("ed25519-sha256", True), ("rsa-sha256", True)],
          "dkimpy on `compose`: %s" % verdicts)
    # the same message without its signatures, signed again by `dkim sign`
    head, body = data.split(b"\r\n\r\n", 1)
    fields = re.split(rb"\r\n(?![ \t])", head)
    msg = os.path.join(env.dir, "share.eml")
    with open(msg, "wb") as f:
        f.write(b"\r\n".join(x for x in fields if not x.startswith(b"DKIM-Signature:")) +
                b"\r\n\r\n" + body)
    signed = env.mailer("dkim", "sign", msg).stdout
    verdicts = dkim_verify_dkimpy(signed, records)
    check(verdicts == [("ed25519-sha256", True), ("rsa-sha256", True)],
          "dkimpy on `dkim sign`: %s" % verdicts)
    check(signed.endswith(open(msg, "rb").read()), "sign only adds the signature fields")

    # a key readable by others: refused with the fix
    os.chmod(path, 0o640)
    p = env.mailer("dkim", "sign", msg, code=2)
    check(b"chmod 600" in p.stderr, "unsafe key: %r" % p.stderr)
    os.chmod(path, 0o600)

    # no selector: signing is off
    off = env_with("off", {})
    p = off.mailer("dkim", "sign", msg, code=2)
    check(b"[dkim] selector is not set" in p.stderr, "off: %r" % p.stderr)

    if _c.failures:
        sys.exit("%d check(s) failed" % len(_c.failures))
    print("dkim keys: all checks passed")


if __name__ == "__main__":
    main()
