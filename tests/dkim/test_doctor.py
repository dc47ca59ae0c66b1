#!/usr/bin/python3
"""`mailer doctor` against a real DNS server (dnspython on a loopback port).

Each case writes a configuration and the records a zone would publish, runs
`mailer doctor --nameserver 127.0.0.1:PORT`, and checks the exit code that
scripts rely on (0 nothing to fix, 2 something to fix, 4 the DNS could not be
asked, 1 usage), the FAIL/warn/ok lines with their reasons, and the records
listed to publish:
  - nothing set up: https, EHLO, DKIM, SPF and DMARC each named, exit 2;
  - everything right (RSA + Ed25519 keys published, SPF, DMARC at the
    organizational domain of a subdomain From): exit 0, no FAIL;
  - a published key that is another key, a revoked one, t=y, two TXT records;
  - two SPF records, "+all"; a key file readable by others;
  - a silent DNS server: exit 4 and the records listed; --offline: exit 0;
  - `mailer deliver` over SMTP with an http base_url warns at start.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import Checks, CliEnv, DnsServer, dkim_record, write_ini  # noqa: E402

FROM_DOMAIN = "tin.hagiang.example"
_c = Checks()
check = _c.check


class Env(CliEnv):
    def __init__(self, name, mail=None, site=None, smtp=None, dkim=None, transport=None):
        super().__init__("dkim-doctor-" + name,
                         transport=transport or "smtp://relay.hagiang.example:587")
        self.keys = os.path.join(self.dir, "dkim")
        write_ini(self.config, [
            ("site", site or {"base_url": "https://tin.hagiang.example"}),
            ("database", {"path": self.db_path}),
            ("mail", mail or {"from_address": "tin-tuc@" + FROM_DOMAIN,
                              "secret": "doctor-secret-0123456789"}),
            ("delivery", self.delivery),
            ("smtp", smtp or {"helo": "mail.hagiang.example", "tls": "required"}),
            ("dkim", dict({"keys_dir": self.keys}, **(dkim or {}))),
        ])

    def keygen(self, domain, selector, alg="rsa"):
        self.mailer("dkim", "keygen", "--domain", domain, "--selector", selector,
                    "--algorithm", alg)
        return dkim_record(self, domain, selector)

    def doctor(self, *args, code=None):
        p = self.mailer("doctor", *args, code=code)
        return p.returncode, p.stdout.decode()


def lines(out, kind):
    return [l[6:] for l in out.splitlines() if l.startswith(kind)]


def has(out, kind, needle):
    return any(needle in l for l in lines(out, kind))


def good_records(env):
    rsa = env.keygen(FROM_DOMAIN, "s2026")
    ed = env.keygen(FROM_DOMAIN, "e2026", "ed25519")
    return {"s2026._domainkey." + FROM_DOMAIN: [rsa],
            "e2026._domainkey." + FROM_DOMAIN: [ed],
            FROM_DOMAIN: ["v=spf1 a:relay.hagiang.example ~all", "google-site-verification=x"],
            "_dmarc.hagiang.example": ["v=DMARC1; p=quarantine; rua=mailto:d@hagiang.example"]}


def main():
    # Nothing set up: every rule named with why and fix, records to publish.
    env = Env("bare", site={"base_url": "http://tin.hagiang.example"},
              smtp={"helo": "vm", "tls": "none"})
    with DnsServer({}) as dns:
        code, out = env.doctor("--nameserver", dns.address)
    check(code == 2, "bare: exit %d, want 2\n%s" % (code, out))
    check(has(out, "FAIL", "base_url http://tin.hagiang.example is not https"), "bare: https")
    check("RFC 8058" in out, "bare: the reason for https")
    check(has(out, "FAIL", '"vm": not a fully qualified domain name'), "bare: EHLO")
    check(has(out, "FAIL", "[dkim] selector is not set"), "bare: DKIM\n" + out)
    check("fix: mailer dkim keygen --domain " + FROM_DOMAIN in out, "bare: the keygen command")
    check(has(out, "FAIL", "no SPF record (v=spf1) at " + FROM_DOMAIN), "bare: SPF\n" + out)
    check(has(out, "FAIL", "no DMARC record at _dmarc." + FROM_DOMAIN), "bare: DMARC")
    check(has(out, "warn", "[smtp] tls = none"), "bare: TLS warning")
    check(re.search(r'^tin\.hagiang\.example\. IN TXT "v=spf1 a:relay\.hagiang\.example mx ~all"$',
                    out, re.M), "bare: the SPF record to publish\n" + out)
    check(re.search(r'^_dmarc\.tin\.hagiang\.example\. IN TXT "v=DMARC1; p=none; '
                    r'rua=mailto:dmarc-reports@tin\.hagiang\.example"$', out, re.M),
          "bare: the DMARC record to publish")
    check("; Gmail and Yahoo require bulk senders to publish DMARC" in out,
          "bare: why DMARC, above its record")
    check(re.search(r"^5 to fix, 1 warning: exit 2$", out, re.M), "bare: the summary\n" + out)

    # Everything right: exit 0, each check ok, nothing to publish.
    env = Env("good", dkim={"selector": "s2026", "ed25519_selector": "e2026"})
    records = good_records(env)
    with DnsServer(records) as dns:
        code, out = env.doctor("--nameserver", dns.address)
        asked = list(dns.queries)
    check(code == 0, "good: exit %d, want 0\n%s" % (code, out))
    check(not lines(out, "FAIL"), "good: FAIL lines %s" % lines(out, "FAIL"))
    check(has(out, "ok", "DKIM rsa key d=%s s=s2026 is published" % FROM_DOMAIN), "good: rsa")
    check(has(out, "ok", "DKIM ed25519 key d=%s s=e2026 is published" % FROM_DOMAIN),
          "good: ed25519")
    check(has(out, "ok", "SPF record at %s: v=spf1 a:relay" % FROM_DOMAIN), "good: SPF")
    check(has(out, "ok", "DMARC record at _dmarc.hagiang.example: v=DMARC1; p=quarantine"),
          "good: DMARC found at the organizational domain\n" + out)
    check("_dmarc." + FROM_DOMAIN in asked and "_dmarc.hagiang.example" in asked,
          "good: asked the From domain first, then its parent: %s" % asked)
    check("DNS records to publish" not in out, "good: nothing to publish\n" + out)
    check(has(out, "ok", "EHLO name mail.hagiang.example"), "good: EHLO")

    # --offline: no DNS asked, every record listed (exit 0: nothing known to be wrong).
    code, out = env.doctor("--offline")
    check(code == 0, "offline: exit %d\n%s" % (code, out))
    check("DNS records to publish (not checked):" in out, "offline: records listed")
    check(records["s2026._domainkey." + FROM_DOMAIN][0][:60] in out.replace('" "', ""),
          "offline: the DKIM record")

    # A silent DNS server: exit 4, the records still listed.
    with DnsServer(records, silent=True) as dns:
        code, out = env.doctor("--nameserver", dns.address)
    check(code == 4, "silent DNS: exit %d, want 4\n%s" % (code, out))
    check("the DNS is not asked again" in out and "DNS records to publish:" in out,
          "silent DNS: listed\n" + out)

    # Wrong, revoked, testing, doubled DKIM records; two SPF; +all.
    other = Env("other", dkim={"selector": "s2026"})
    other_rec = other.keygen(FROM_DOMAIN, "s2026")
    p_ours = re.search(r"p=(\S+)", records["s2026._domainkey." + FROM_DOMAIN][0]).group(1)
    cases = [
        ("another key", {"s2026._domainkey." + FROM_DOMAIN: [other_rec]}, 2,
         ("FAIL", "is not this key")),
        ("revoked", {"s2026._domainkey." + FROM_DOMAIN: ["v=DKIM1; k=rsa; p="]}, 2,
         ("FAIL", "is revoked")),
        ("testing", {"s2026._domainkey." + FROM_DOMAIN: [
            records["s2026._domainkey." + FROM_DOMAIN][0].replace("k=rsa;", "k=rsa; t=y;")]}, 0,
         ("warn", "testing mode (t=y)")),
        ("two keys", {"s2026._domainkey." + FROM_DOMAIN: [records["s2026._domainkey." +
                                                                  FROM_DOMAIN][0], other_rec]},
         2, ("FAIL", "2 TXT records at s2026._domainkey")),
        ("bad record", {"s2026._domainkey." + FROM_DOMAIN: ["v=DKIM1; k=rsa p=AAAA"]}, 2,
         ("FAIL", "DKIM record:")),
        ("two SPF", {FROM_DOMAIN: ["v=spf1 -all", "v=spf1 mx -all"]}, 2,
         ("FAIL", "2 SPF records")),
        ("+all", {FROM_DOMAIN: ["v=spf1 +all"]}, 2, ("FAIL", "ends in +all")),
    ]
    for label, override, want, (kind, needle) in cases:
        recs = dict(records)
        recs.update(override)
        with DnsServer(recs) as dns:
            code, out = env.doctor("--nameserver", dns.address)
        check(code == want, "%s: exit %d, want %d\n%s" % (label, code, want, out))
        check(has(out, kind, needle), "%s: no %s line with %r\n%s" % (label, kind, needle, out))
        if want == 2 and "DKIM" in needle + label:
            check(p_ours[:40] in out.replace('" "', ""), "%s: our record to publish" % label)

    # A key file others can read: FAIL with the fix, exit 2.
    os.chmod(os.path.join(env.keys, FROM_DOMAIN, "s2026.key"), 0o644)
    with DnsServer(records) as dns:
        code, out = env.doctor("--nameserver", dns.address)
    check(code == 2 and has(out, "FAIL", "chmod 600"), "readable key: %d\n%s" % (code, out))

    # SMTP delivery with an http base_url warns at start (nothing queued: it
    # opens and exits); the dir transport does not.
    warn = "is not https: list mail goes without List-Unsubscribe-Post"
    http = Env("http-start", site={"base_url": "http://tin.hagiang.example"},
               transport="smtp://127.0.0.1:9", smtp={"helo": "mail.hagiang.example",
                                                    "tls": "none"})
    http.mailer("init")
    p = http.mailer("deliver", "--once")
    check(warn in p.stderr.decode(), "no https warning at SMTP start: %r" % p.stderr)
    files = Env("http-dir", site={"base_url": "http://tin.hagiang.example"},
                transport="dir:" + os.path.join(http.dir, "out"))
    files.mailer("init")
    p = files.mailer("deliver", "--once")
    check(warn not in p.stderr.decode(), "https warning with the dir transport: %r" % p.stderr)

    # Usage.
    env.mailer("doctor", "--nameserver", "not-an-ip", code=1)
    env.mailer("doctor", "--bogus", code=1)

    if _c.failures:
        sys.exit("%d check(s) failed" % len(_c.failures))
    print("doctor: all checks passed")


if __name__ == "__main__":
    main()
