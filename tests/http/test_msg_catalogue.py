#!/usr/bin/python3
"""Every refusal the public pages can show has its words in the catalogue.

Reads the sources: every machine name given to a refusal (merr_setr(...,
"NAME", ...) in any module, and the names the HTTP handlers pass to
http_page_error, http_reply_refusal, add_error, refuse1 and the subscribe
form's fields) must be an entry of the one table in mailer/http/http_msg.c,
and no handler of the public pages may write reader text itself: no
Vietnamese string literal in mailer/http/*.c outside the catalogue (and the
one 500 fallback that must not depend on it). Then, through a running
`mailer serve`, a few refusals over JSON carry the stable code, the field,
the reason and the catalogue's words, with the technical detail apart.
"""
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import SAMPLE, SOURCE, Mailer, check, sample_id  # noqa: E402

VIET = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúý]", re.I)


def sources(pattern):
    for f in glob.glob(os.path.join(SOURCE, pattern), recursive=True):
        with open(f, encoding="utf-8") as fh:
            yield f, fh.read()


def catalogue():
    with open(os.path.join(SOURCE, "mailer", "http", "http_msg.c"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("http_msgs[] = {"):text.index("{NULL, NULL, NULL}")]
    return set(re.findall(r'\{"([a-z_]+\.[a-z_]+)",', table))


def used_reasons():
    used = {}
    for f, text in list(sources("mailer/**/*.c")) + list(sources("subscribers/*.c")):
        for m in re.finditer(r'merr_setr\(\s*MERR_[A-Z]+,\s*"([a-z_]+\.[a-z_]+)"', text):
            used.setdefault(m.group(1), f)
        if f.endswith("text.c"):  # text_fault_reason: the typed-text filter's refusals
            for m in re.finditer(r'"((?:name|note)\.[a-z_]+)"', text):
                used.setdefault(m.group(1), f)
        if "/http/" in f:
            for pat in (r'http_page_error\([^;]*?"([a-z_]+\.[a-z_]+)"\)',
                        r'http_reply_refusal\([^;]*?"([a-z_]+\.[a-z_]+)"',
                        r'add_error\([^;]*?"([a-z_]+\.[a-z_]+)"\)',
                        r'refuse1\([^;]*?"([a-z_]+\.[a-z_]+)"',
                        r'errs\.\w+ = "([a-z_]+\.[a-z_]+)"',
                        r'"(csrf\.[a-z_]+|rate\.[a-z_]+|link\.[a-z_]+)"'):
                for m in re.finditer(pat, text, re.S):
                    used.setdefault(m.group(1), f)
    return used


def main():
    have = catalogue()
    check(len(have) >= 40, "the catalogue was read: %d entries" % len(have))
    used = used_reasons()
    check(len(used) >= 30, "reasons were found in the sources: %d" % len(used))
    missing = sorted((r, os.path.relpath(f, SOURCE)) for r, f in used.items() if r not in have)
    check(not missing, "refusals without words in http_msg.c: %r" % missing)
    # no reader text written by a handler: Vietnamese literals live in the catalogue only
    # (the web admin, http_admin*.c, speaks to editors in its own words: not a reader's page)
    for f, text in sources("mailer/http/*.c"):
        if f.endswith("http_msg.c") or os.path.basename(f).startswith("http_admin"):
            continue
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', code):
            if VIET.search(lit) and lit != "Lỗi máy chủ.\\n":
                check(False, "%s writes reader text itself: %r" % (os.path.basename(f), lit))

    # JSON refusals: stable code, field, reason, the catalogue's words, the detail apart
    share = "/share/" + sample_id()
    with Mailer("msg-catalogue", limits={"share_note_max_chars": 20}) as m:
        m.cli("article", "add", SAMPLE)
        m.start()
        cases = [
            ({"to": ["dn@example"], "sender_email": "a@example.vn"},
             "to", "addr.domain_no_dot", "chưa đầy đủ", "has no dot", 0),
            ({"to": ["ok@example.vn", "ng@@x.vn"], "sender_email": "a@example.vn"},
             "to", "addr.many_at", "một dấu @", "more than one @", 1),
            ({"to": ["ok@example.vn"], "sender_email": ""},
             "sender_email", "sender_email.missing", "email của bạn", "", None),
            ({"to": ["ok@example.vn"], "sender_email": "a@example.vn", "note": "x" * 21},
             "note", "note.too_long", "dài quá 20 ký tự", "", None),
            ({"to": ["ok@example.vn"], "sender_email": "a@example.vn",
              "sender_name": "An www.example.vn"},
             "sender_name", "name.link", "đường dẫn", "contains a link", None),
        ]
        for body, field, reason, words, detail, index in cases:
            st, _, raw = m.post_json(share, body)
            got = json.loads(raw)
            err = got["error"]
            check(st == 400 and err["code"] == "invalid" and err["field"] == field and
                  err["reason"] == reason and words in err["message"] and
                  detail in err["detail"], "%s: %d %s" % (reason, st, err))
            check(VIET.search(err["message"]), "%s: the message is not Vietnamese" % reason)
            if index is not None:
                check(err.get("index") == index, "%s: index %r" % (reason, err.get("index")))
            check(any(e["reason"] == reason for e in got["errors"]), "%s: errors list" % reason)
        # every field at once
        st, _, raw = m.post_json(share, {"to": ["x"], "sender_email": "y", "note": "z" * 30})
        got = json.loads(raw)
        check(st == 400 and [e["field"] for e in got["errors"]] == ["to", "sender_email", "note"],
              "all errors at once: %s" % got)
        check(m.sql("SELECT count(*) FROM share_log") == [(0,)], "a refusal made a share")
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok: %d reasons in use, %d in the catalogue" % (len(used), len(have)))


main()
