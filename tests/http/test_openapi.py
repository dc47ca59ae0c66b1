#!/usr/bin/python3
"""docs/openapi.yaml is the API as it is (issue 15 item 7).

- Every route the router knows (http_routes[] beside the router in
  mailer/http/http_route.c) is an operation of docs/openapi.yaml, and every
  operation there is a route: nothing undocumented, nothing made up.
- /api/openapi.json serves that document, as JSON, to anyone.
- Each route is called on a running `mailer serve` with real data, and its
  answer (status, content type, body) is validated against the document's
  schema for that status (Debian's python3-jsonschema, draft 2020-12 as
  OpenAPI 3.1 says).
- JSON comes back in UTF-8 as it is ("Hà Giang", no \\u escapes).
- Keyset paging: every list endpoint walked page by page (limit=1 or 2)
  gives the same rows as one big page, none twice, and ends with null.
- Dates in the API as in the CLI: `"since": "2021-01-01"` is taken.
- The import answers each bad line with its reason, and a dry run writes
  nothing.
"""
import glob
import json
import os
import re
import sys
import urllib.parse

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import SAMPLE, SOURCE, Mailer, check, sample_id  # noqa: E402

DOC = os.path.join(SOURCE, "docs", "openapi.yaml")
METHODS = ("get", "post", "put", "patch", "delete")


def router_routes():
    with open(os.path.join(SOURCE, "mailer", "http", "http_route.c"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("http_routes[] = {"):text.index("{NULL, NULL}")]
    return set(re.findall(r'\{"([A-Z]+)", "([^"]+)"\}', table))


def doc_operations(doc):
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}


class Validator:
    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver.from_schema(doc)
        self.called = {}

    def deref(self, o):
        while isinstance(o, dict) and "$ref" in o:
            o = self.resolver.resolve(o["$ref"])[1]
        return o

    def check(self, method, template, status, headers, body):
        op = self.doc["paths"][template][method.lower()]
        responses = op["responses"]
        key = str(status)
        check(key in responses, "%s %s answered %d, not documented (%s): %r" %
              (method, template, status, sorted(responses), body[:300]))
        resp = self.deref(responses[key])
        content = resp.get("content")
        ctype = headers.get("content-type", "").split(";")[0].strip()
        if content:
            types = list(content)
            match = [t for t in types if t == ctype or (t.endswith("/*") and
                                                        ctype.startswith(t[:-1]))]
            check(match, "%s %s %d: content type %r, documented %r" %
                  (method, template, status, ctype, types))
            schema = content[match[0]].get("schema")
            if schema and ctype == "application/json":
                data = json.loads(body)
                try:
                    jsonschema.Draft202012Validator(schema, resolver=self.resolver).validate(data)
                except jsonschema.ValidationError as e:
                    check(False, "%s %s %d: the answer does not fit the schema: %s at %s\n%s" %
                          (method, template, status, e.message, list(e.absolute_path),
                           json.dumps(data, ensure_ascii=False)[:800]))
        else:
            check(not body, "%s %s %d: a body where none is documented" %
                  (method, template, status))
        self.called.setdefault((method, template), set()).add(status)


def main():
    with open(DOC, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    check(str(doc["openapi"]).startswith("3.1"), "not OpenAPI 3.1: %r" % doc.get("openapi"))
    routes, ops = router_routes(), doc_operations(doc)
    check(len(routes) >= 40, "the route table was read: %d routes" % len(routes))
    check(not routes - ops, "routes the router knows, missing in docs/openapi.yaml: %s" %
          sorted(routes - ops))
    check(not ops - routes, "operations in docs/openapi.yaml the router does not know: %s" %
          sorted(ops - routes))
    v = Validator(doc)
    sid = sample_id()

    with Mailer("openapi") as m:
        for f in sorted(glob.glob(os.path.join(SOURCE, "examples", "articles", "*.json"))):
            m.cli("article", "add", f)
        m.cli("list", "create", "ha-giang", "--name", "Bản tin Hà Giang", "--optin", "single",
              "--public")
        token = m.cli("token", "create", "openapi-test").stdout.strip()
        m.start()
        auth = {"Authorization": "Bearer " + token}

        def call(method, template, path=None, body=None, ctype="application/json", ok=None,
                 headers=None, token=True):
            h = dict(auth) if token else {}
            h.update(headers or {})
            if body is not None:
                h["Content-Type"] = ctype
                if not isinstance(body, (bytes, str)):
                    body = json.dumps(body, ensure_ascii=False)
            st, hd, data = m.request(method, path or template, body, h)
            v.check(method, template, st, hd, data)
            if ok is not None:
                check(st in (ok if isinstance(ok, tuple) else (ok,)),
                      "%s %s: %d %r" % (method, path or template, st, data[:400]))
            return st, hd, data

        # the description, to anyone, as the YAML says
        st, _, data = call("GET", "/api/openapi.json", token=False, ok=200)
        check(json.loads(data) == json.loads(json.dumps(doc)), "/api/openapi.json differs")

        # articles: a CMS post, one, pages of one
        with open(SAMPLE, encoding="utf-8") as f:
            art = json.load(f)
        art.update({"id": "openapi-1", "images": []})
        call("POST", "/api/articles", body=art, ok=201)
        call("POST", "/api/articles", body=art, ok=200)
        call("POST", "/api/articles", body={"id": "x"}, ok=400)
        call("GET", "/api/articles/{id}", "/api/articles/" + urllib.parse.quote(sid, safe=""),
             ok=200)
        call("GET", "/api/articles/{id}", "/api/articles/khong-co", ok=404)
        st, _, data = call("GET", "/api/articles", ok=200)
        every = [a["id"] for a in json.loads(data)["articles"]]
        check(len(every) == 7 and json.loads(data)["next_after"] is None, "articles: %r" % every)
        seen, after = [], None
        for _ in range(10):
            q = "/api/articles?limit=2" + ("&after=" + urllib.parse.quote(after) if after else "")
            page = json.loads(call("GET", "/api/articles", q, ok=200)[2])
            seen += [a["id"] for a in page["articles"]]
            after = page["next_after"]
            if not after:
                break
        check(seen == every, "articles page by page %r, at once %r" % (seen, every))
        call("GET", "/api/articles", "/api/articles?after=x", ok=400)

        # lists: one made by the API, paged one by one; UTF-8 as it is
        call("POST", "/api/lists", body={"slug": "a-thu", "name": "Thử nghiệm"}, ok=201)
        call("POST", "/api/lists", body={"slug": "z-van-hoa", "name": "Văn hóa", "public": True},
             ok=201)
        call("POST", "/api/lists", body={"slug": "a-thu", "name": "Lần hai"}, ok=409)
        st, _, raw = call("GET", "/api/lists/{slug}", "/api/lists/ha-giang", ok=200)
        check("Bản tin Hà Giang".encode() in raw and b"\\u" not in raw,
              "JSON is not UTF-8 as it is: %r" % raw[:200])
        call("PATCH", "/api/lists/{slug}", "/api/lists/a-thu", body={"digest_enabled": True},
             ok=200)
        call("PATCH", "/api/lists/{slug}", "/api/lists/a-thu", body={"colour": "red"}, ok=400)
        every = [x["slug"] for x in json.loads(call("GET", "/api/lists", ok=200)[2])["lists"]]
        seen, after = [], None
        for _ in range(10):
            q = "/api/lists?limit=1" + ("&after=" + after if after else "")
            page = json.loads(call("GET", "/api/lists", q, ok=200)[2])
            seen += [x["slug"] for x in page["lists"]]
            after = page["next_after"]
            if not after:
                break
        check(seen == every == ["a-thu", "ha-giang", "z-van-hoa"], "lists: %r %r" % (seen, every))
        call("DELETE", "/api/lists/{slug}", "/api/lists/a-thu", ok=204)

        # import: a semicolon file with Vietnamese headers and bad lines; dry run first
        csv = ("Địa chỉ email;Họ và tên\r\nan@example.vn;Nguyễn Văn An\r\nkhong-phai-email;X\r\n"
               "binh@example.vn;Trần Thị Bình\r\nchi@example.vn;Lê Chi\r\nx@@y.vn;Y\r\n"
               "dung@example.vn;Phạm Dũng\r\n").encode()
        path = "/api/subscribers/import?list=ha-giang&dry_run=1"
        rep = json.loads(call("POST", "/api/subscribers/import", path, body=csv, ctype="text/csv",
                              ok=200)[2])
        check(rep["dry_run"] and rep["rows"] == 6 and rep["bad"] == 2 and
              [e["line"] for e in rep["errors"]] == [3, 6] and
              all(e["reason"] for e in rep["errors"]) and rep["delimiter"] == "semicolon" and
              rep["name_column"] == "Họ và tên", "dry run: %r" % rep)
        check(m.sql("SELECT count(*) FROM subscribers") == [(0,)], "a dry run wrote")
        rep = json.loads(call("POST", "/api/subscribers/import",
                              "/api/subscribers/import?list=ha-giang", body=csv, ctype="text/csv",
                              ok=200)[2])
        check(not rep["dry_run"] and rep["created"] == 4 and rep["bad"] == 2, "import: %r" % rep)
        check(m.sql("SELECT name FROM subscribers WHERE email = 'binh@example.vn'") ==
              [("Trần Thị Bình",)], "the name column was not read")
        call("POST", "/api/subscribers/import", "/api/subscribers/import?list=ha-giang&dry_run=2",
             body=csv, ctype="text/csv", ok=400)
        call("POST", "/api/subscribers/import", "/api/subscribers/import?list=ha-giang",
             body="x", ctype="text/plain", ok=415)

        # subscribers: one more by the API, then pages of two, each ending with a whole person
        call("POST", "/api/subscribers", body={"email": "em@example.vn", "list": "z-van-hoa"},
             ok=201)
        call("POST", "/api/subscribers", body={"email": "an@example.vn", "list": "z-van-hoa"},
             ok=201)
        big = json.loads(call("GET", "/api/subscribers", ok=200)[2])
        check(big["next_after"] is None and not big["truncated"], "one page: %r" % big)
        every = [(r["email"], r["list"]) for r in big["subscribers"]]
        check(len(every) == 6, "subscriptions: %r" % every)
        seen, after = [], None
        for _ in range(10):
            q = "/api/subscribers?limit=1" + ("&after=%d" % after if after else "")
            page = json.loads(call("GET", "/api/subscribers", q, ok=200)[2])
            seen += [(r["email"], r["list"]) for r in page["subscribers"]]
            after = page["next_after"]
            if not after:
                break
        check(seen == every, "subscribers page by page %r, at once %r" % (seen, every))
        one = json.loads(call("GET", "/api/subscribers", "/api/subscribers?list=ha-giang&limit=2",
                              ok=200)[2])
        check(len(one["subscribers"]) == 2 and one["truncated"] and one["next_after"],
              "a first page of two: %r" % one)
        call("GET", "/api/subscribers", "/api/subscribers?limit=0", ok=400)
        call("GET", "/api/subscribers/export", "/api/subscribers/export?list=ha-giang", ok=200)
        call("GET", "/api/subscribers/{email}", "/api/subscribers/an%40example.vn", ok=200)
        call("GET", "/api/subscribers/{email}", "/api/subscribers/ai%40example.vn", ok=404)
        call("DELETE", "/api/subscribers/{email}", "/api/subscribers/dung%40example.vn", ok=204)

        # digests: a date as the CLI takes it
        call("GET", "/api/digests/{list}/preview", "/api/digests/ha-giang/preview", ok=404)
        call("GET", "/api/digests/{list}/preview", "/api/digests/ha-giang/preview?since=2021-01-01",
             ok=200)
        call("POST", "/api/digests/{list}/send", "/api/digests/ha-giang/send",
             body={"since": "2021-13-01"}, ok=400)
        dg = json.loads(call("POST", "/api/digests/{list}/send", "/api/digests/ha-giang/send",
                             body={"since": "2021-01-01"}, ok=201)[2])
        check(dg["articles"] >= 5, "a digest since 2021-01-01: %r" % dg)
        did = dg["id"]
        call("GET", "/api/digests/{id}", "/api/digests/%d" % did, ok=200)
        call("POST", "/api/digests/{id}/pause", "/api/digests/%d/pause" % did, ok=(200, 409))
        call("POST", "/api/digests/{id}/resume", "/api/digests/%d/resume" % did, ok=(200, 409))
        call("POST", "/api/digests/{id}/cancel", "/api/digests/%d/cancel" % did, ok=(200, 409))
        call("GET", "/api/digests/{id}", "/api/digests/999999", ok=404)

        # breaking news: once per article and list
        call("POST", "/api/breaking", body={"list": "ha-giang"}, ok=400)
        call("POST", "/api/breaking", body={"list": "khong-co", "article": sid}, ok=404)
        bn = json.loads(call("POST", "/api/breaking", body={"list": "ha-giang", "article": sid},
                             ok=201)[2])
        check(bn["list"] == "ha-giang" and bn["article"] == sid and bn["send_id"] > 0,
              "breaking news: %r" % bn)
        again = json.loads(call("POST", "/api/breaking",
                                body={"list": "ha-giang", "article": sid}, ok=409)[2])
        check(again["error"]["send_id"] == bn["send_id"], "the second one: %r" % again)
        listed = json.loads(call("GET", "/api/breaking", ok=200)[2])["breaking"]
        check([b["id"] for b in listed] == [bn["id"]], "GET /api/breaking: %r" % listed)

        # sends and the queue
        st, _, data = call("POST", "/share/{article_id}", "/share/" + urllib.parse.quote(sid),
                           body={"to": ["ban@example.vn"], "sender_email": "toi@example.vn"},
                           ok=202)
        share_send = json.loads(data)["send_id"]
        call("POST", "/share/{article_id}", "/share/" + urllib.parse.quote(sid),
             body={"to": ["ban@example"], "sender_email": "toi@example.vn"}, ok=400)
        sends = json.loads(call("GET", "/api/sends", ok=200)[2])
        every = [s["id"] for s in sends["sends"]]
        seen, before = [], None
        for _ in range(20):
            q = "/api/sends?limit=1" + ("&before=%d" % before if before else "")
            page = json.loads(call("GET", "/api/sends", q, ok=200)[2])
            seen += [s["id"] for s in page["sends"]]
            before = page["next_before"]
            if not before:
                break
        check(seen == every and share_send in every, "sends %r %r" % (seen, every))
        call("GET", "/api/sends/{id}", "/api/sends/%d" % share_send, ok=200)
        call("POST", "/api/sends/{id}/cancel", "/api/sends/%d/cancel" % share_send, ok=(200, 409))
        call("GET", "/api/sends/{id}", "/api/sends/999999", ok=404)
        call("GET", "/api/queue", ok=200)

        # bounces: none yet
        page = json.loads(call("GET", "/api/bounces", ok=200)[2])
        check(page["bounces"] == [] and page["next_before"] is None, "bounces: %r" % page)
        call("GET", "/api/bounces/{id}", "/api/bounces/1", ok=404)
        call("POST", "/api/bounces/{id}/undo", "/api/bounces/1/undo", ok=404)

        # the public pages
        call("GET", "/healthz", token=False, ok=(200, 503))
        call("GET", "/metrics", token=False, ok=200)
        call("GET", "/", token=False, ok=200)
        call("GET", "/subscribe", token=False, ok=200)
        call("POST", "/subscribe", body="list=ha-giang&email=moi%40example.vn",
             ctype="application/x-www-form-urlencoded", token=False, ok=403)  # no form token
        form = "&csrf=" + urllib.parse.quote(m.form_token("/subscribe"))
        call("POST", "/subscribe", body="list=ha-giang&email=moi%40example.vn" + form,
             ctype="application/x-www-form-urlencoded", token=False, ok=200)
        form = "&csrf=" + urllib.parse.quote(m.form_token("/subscribe"))
        call("POST", "/subscribe", body="list=ha-giang&email=moi%40example" + form,
             ctype="application/x-www-form-urlencoded", token=False, ok=400)
        for kind in ("confirm", "unsubscribe"):
            for meth in ("GET", "POST"):
                call(meth, "/%s/{token}" % kind, "/%s/khong-hop-le" % kind, token=False,
                     ok=(400, 404, 415))
            call("POST", "/%s/{token}" % kind, "/%s/khong-hop-le" % kind, body="",
                 ctype="application/x-www-form-urlencoded", token=False, ok=(400, 404))
        call("GET", "/share/{article_id}", "/share/" + urllib.parse.quote(sid), token=False,
             ok=200)
        call("GET", "/share/{article_id}/sent", "/share/%s/sent" % urllib.parse.quote(sid),
             token=False, ok=200)
        sha = m.sql("SELECT sha256 FROM media LIMIT 1")[0][0]
        call("GET", "/media/{sha256}", "/media/" + sha, token=False, ok=200)
        call("GET", "/media/{sha256}", "/media/" + "0" * 64, token=False, ok=404)
        # without a token, every API route says so in the documented shape
        call("GET", "/api/articles", token=False, ok=401)
        check(m.stop() == 0, "serve did not stop cleanly")

    missing = sorted(routes - set(v.called))
    check(not missing, "routes never called: %s" % missing)
    print("ok: %d routes documented, called and their answers valid" % len(routes))


main()
