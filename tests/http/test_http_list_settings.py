"""A list's settings after creation: `mailer list set` / `list show` and
PATCH /api/lists/SLUG, checked in the database, and the digest settings
checked where they matter: the scheduler step (`mailer digest tick`) at the
new weekday and time picks the new category, maximum and subject, and
skips a disabled list. Every refusal names its field and changes nothing.
"""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import Mailer, check  # noqa: E402

VN = datetime.timezone(datetime.timedelta(hours=7))
# Wednesday 2022-01-05 09:31 in Asia/Ho_Chi_Minh
WED = int(datetime.datetime(2022, 1, 5, 9, 31, tzinfo=VN).timestamp())
WEEK = 7 * 86400
LIST = "giua-tuan"
COLS = ("name, description, optin, digest_weekday, digest_time, digest_category, "
        "digest_max_articles, digest_subject, digest_template, digest_enabled")


def settings(m, slug=LIST):
    return m.sql("SELECT " + COLS + " FROM lists WHERE slug = ?", slug)[0]


def article(m, art_id, category, published):
    path = os.path.join(m.dir, art_id + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"id": art_id, "url": "https://hagiang.gov.vn/" + art_id,
                   "title": "Tin " + art_id, "category": category, "author": "Ban biên tập",
                   "published_at": published, "summary": "Tóm tắt " + art_id,
                   "body_html": "<p>Nội dung " + art_id + "</p>"}, f, ensure_ascii=False)
    m.cli("article", "add", path)


def test_cli(m):
    then = {"MAILER_FAKE_NOW": str(WED - WEEK)}
    m.cli("list", "create", LIST, "--name", "Bản tin", "--optin", "double", env=then)
    m.cli("sub", "add", "doc.gia@example.vn", "--list", LIST, "--confirmed", env=then)
    before = settings(m)
    check(before[3:5] == (1, "07:00") and before[6] == 10 and before[9] == 0,
          "defaults (a new list's digest is off): %s" % (before,))
    p = m.cli("list", "set", LIST, "--name", "Bản tin giữa tuần", "--digest-weekday", "wed",
              "--digest-time", "09:30", "--digest-category", "Tin tức - Sự kiện",
              "--digest-max", "1", "--digest-subject", "Giữa tuần {{week}} – {{list.name}}",
              "--optin", "single", "--description", "Tin mới\ngiữa tuần", "--digest-enabled", "yes")
    check(p.stdout == "list %s updated\n" % LIST, "list set: %r" % p.stdout)
    check(settings(m) == ("Bản tin giữa tuần", "Tin mới\ngiữa tuần", "single", 3, "09:30",
                          "Tin tức - Sự kiện", 1, "Giữa tuần {{week}} – {{list.name}}", "digest",
                          1), "after list set: %s" % (settings(m),))
    out = m.cli("list", "show", LIST).stdout
    for want in ("digest:          enabled\n",
                 "digest schedule: Thứ Tư 09:30 (wed, weekday 3) Asia/Ho_Chi_Minh\n",
                 "digest category: Tin tức - Sự kiện\n", "digest max:      1 articles\n",
                 "digest subject:  Giữa tuần {{week}} – {{list.name}}\n",
                 "digest template: digest\n", "opt-in:          single\n"):
        check(want in out, "list show lacks %r:\n%s" % (want, out))
    # numbers and full names for the weekday too
    m.cli("list", "set", LIST, "--digest-weekday", "0")
    check(settings(m)[3] == 0, "weekday 0")
    m.cli("list", "set", LIST, "--digest-weekday", "Wednesday")
    check(settings(m)[3] == 3, "weekday Wednesday")

    # refusals: the exit code says what kind, stderr names the field, nothing changes
    good = settings(m)
    for args, code, needle in (
            (["--digest-time", "25:00"], 3, "digest_time"),
            (["--digest-time", "9:30"], 3, "digest_time"),
            (["--digest-subject", "Tin {{#week}}"], 3, "digest_subject"),
            (["--digest-subject", "Tin\r\nBcc: x@example.org"], 3, "digest_subject"),
            (["--digest-template", "../pages/share"], 3, "digest_template"),
            (["--digest-template", "khong-co-mau"], 3, "email/khong-co-mau.html"),
            (["--optin", "triple"], 3, "optin"),
            (["--name", ""], 3, "name"),
            (["--digest-weekday", "funday"], 1, "--digest-weekday"),
            (["--digest-weekday", "7"], 1, "--digest-weekday"),
            (["--digest-max", "0"], 1, "--digest-max"),
            (["--digest-max", "101"], 1, "--digest-max"),
            (["--digest-enabled", "maybe"], 1, "--digest-enabled"),
            (["--colour", "red"], 1, "--colour"),
            ([], 1, "nothing to change")):
        # a good option beside the bad one (none when testing "no option at all")
        extra = ["--digest-max", "5"] if args else []
        p = m.cli("list", "set", LIST, *extra, *args, check_rc=False)
        check(p.returncode == code and needle in p.stderr,
              "list set %s: exit %d, %r" % (args, p.returncode, p.stderr))
        check(settings(m) == good, "list set %s changed something" % args)
    p = m.cli("list", "set", "khong-co", "--digest-max", "3", check_rc=False)
    check(p.returncode == 5 and "khong-co" in p.stderr, "unknown list: %d %r" % (
        p.returncode, p.stderr))
    p = m.cli("list", "set", "--help")
    check("--digest-weekday" in p.stdout and "--digest-enabled" in p.stdout, "set --help")
    check("set SLUG" in m.cli("list", "--help").stdout, "list --help lacks set")


def test_scheduler_uses_them(m):
    # Monday and Tuesday of the week; only one is of the list's category
    article(m, "su-kien-thu-hai", "Tin tức - Sự kiện", "2022-01-03T08:00:00+07:00")
    article(m, "kinh-te-thu-ba", "Kinh tế", "2022-01-04T08:00:00+07:00")
    article(m, "su-kien-thu-ba", "Tin tức - Sự kiện", "2022-01-04T10:00:00+07:00")
    # Wednesday 09:29: not yet; 09:31: due
    out = m.cli("digest", "tick", env={"MAILER_FAKE_NOW": str(WED - 120)}).stdout
    check(out == "created 0\n", "tick before 09:30: %r" % out)
    out = m.cli("digest", "tick", env={"MAILER_FAKE_NOW": str(WED)}).stdout
    check(out == "created 1\n", "tick at 09:31: %r" % out)
    rows = m.sql("SELECT d.period, d.articles, s.plan FROM digests d JOIN sends s "
                 "ON s.id = d.send_id")
    check(len(rows) == 1 and rows[0][0] == "2022-W01" and rows[0][1] == 1, "digest: %s" % rows)
    plan = json.loads(rows[0][2])
    text = json.dumps(plan, ensure_ascii=False)
    check("su-kien-thu-ba" in text and "kinh-te-thu-ba" not in text and
          "su-kien-thu-hai" not in text, "articles of the digest: %s" % text[:500])
    check("Giữa tuần 1 – Bản tin giữa tuần" in text, "subject in the plan: %s" % text[:500])
    # disabled: the next Wednesday gives nothing
    m.cli("list", "set", LIST, "--digest-enabled", "no")
    check(settings(m)[9] == 0, "disabled")
    article(m, "su-kien-tuan-sau", "Tin tức - Sự kiện", "2022-01-10T08:00:00+07:00")
    out = m.cli("digest", "tick", env={"MAILER_FAKE_NOW": str(WED + WEEK)}).stdout
    check(out == "created 0\n", "tick of a disabled list: %r" % out)
    check(m.sql("SELECT count(*) FROM digests") == [(1,)], "a digest of a disabled list")
    m.cli("list", "set", LIST, "--digest-enabled", "yes")


def api(m, method, path, token, body=None, ctype="application/json"):
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        h["Content-Type"] = ctype
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body, ensure_ascii=False)
    st, _, data = m.request(method, path, body, h)
    return st, (json.loads(data) if data.strip() else None)


def test_api(m):
    token = m.cli("token", "create", "cms").stdout.strip()
    path = "/api/lists/" + LIST
    st, got = api(m, "GET", path, token)
    check(st == 200 and got["digest_weekday"] == 3 and got["digest_time"] == "09:30" and
          got["digest_timezone"] == "Asia/Ho_Chi_Minh" and got["digest_enabled"] is True,
          "GET list: %s" % got)
    st, got = api(m, "PATCH", path, token,
                  {"digest_weekday": 5, "digest_time": "06:15", "digest_category": None,
                   "digest_max_articles": 20, "digest_subject": "Tin thứ Sáu {{week}}",
                   "digest_enabled": False, "name": "Bản tin thứ Sáu", "optin": "double"})
    check(st == 200 and got["digest_weekday"] == 5 and got["digest_time"] == "06:15" and
          got["digest_category"] is None and got["digest_max_articles"] == 20 and
          got["digest_enabled"] is False and got["name"] == "Bản tin thứ Sáu" and
          got["optin"] == "double", "PATCH: %d %s" % (st, got))
    check(settings(m) == ("Bản tin thứ Sáu", "Tin mới\ngiữa tuần", "double", 5, "06:15", None,
                          20, "Tin thứ Sáu {{week}}", "digest", 0),
          "after PATCH: %s" % (settings(m),))
    st, again = api(m, "GET", path, token)
    check(again == got, "GET after PATCH differs: %s vs %s" % (again, got))
    st, got = api(m, "PATCH", path, token, {})
    check(st == 200 and settings(m)[3] == 5, "empty PATCH: %d" % st)

    good = settings(m)
    for body, field in (({"digest_weekday": "mon"}, "digest_weekday"),
                        ({"digest_weekday": 7}, "digest_weekday"),
                        ({"digest_max_articles": 0}, "digest_max_articles"),
                        ({"digest_max_articles": 101}, "digest_max_articles"),
                        ({"digest_enabled": "yes"}, "digest_enabled"),
                        ({"digest_time": "6:15"}, "digest_time"),
                        ({"digest_time": 615}, "digest_time"),
                        ({"digest_subject": "{{#x}}"}, "digest_subject"),
                        ({"digest_subject": "A\nBcc: x@example.org"}, "digest_subject"),
                        ({"digest_template": "khong-co"}, "digest_template"),
                        ({"name": None}, "name"),
                        ({"optin": "none"}, "optin"),
                        ({"colour": "red"}, "colour"),
                        # a good field beside a bad one is not written either
                        ({"name": "Đổi tên", "digest_time": "99:00"}, "digest_time")):
        st, got = api(m, "PATCH", path, token, body)
        check(st == 400 and got["error"]["code"] == "invalid" and
              got["error"]["field"] == field and got["error"]["message"],
              "PATCH %s: %d %s" % (body, st, got))
        check(settings(m) == good, "PATCH %s changed something" % body)
    st, got = api(m, "PATCH", "/api/lists/khong-co", token, {"digest_time": "06:00"})
    check(st == 404 and got["error"]["code"] == "not_found", "unknown list: %d %s" % (st, got))
    st, got = api(m, "PATCH", path, None, {"digest_time": "06:00"})
    check(st == 401, "PATCH without a token: %d" % st)
    st, got = api(m, "PATCH", path, token, "digest_time=06:00",
                  "application/x-www-form-urlencoded")
    check(st == 415, "PATCH form: %d" % st)
    st, got = api(m, "PATCH", path, token, b'{"digest_time": ')
    check(st == 400 and "malformed JSON" in got["error"]["message"], "malformed: %s" % got)
    st, got = api(m, "PATCH", path, token, [1, 2])
    check(st == 400, "PATCH with an array: %d" % st)
    check(settings(m) == good, "a refused PATCH changed something")
    st, got = api(m, "PUT", path, token, {})
    check(st == 405, "PUT: %d" % st)


def main():
    with Mailer("http-list-settings", workers=False) as m:
        test_cli(m)
        test_scheduler_uses_them(m)
        m.start()
        test_api(m)
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok")


if __name__ == "__main__":
    main()
