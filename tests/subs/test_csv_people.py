#!/usr/bin/python3
"""CSV files as people have them, through `mailer sub import|export`.

Excel in a Vietnamese (or German, French...) locale writes ";" between
fields and a UTF-8 BOM ("CSV UTF-8"), headers are typed in Vietnamese
("Họ và tên", "Địa chỉ email"), sometimes in capitals or decomposed
(NFD); LibreOffice and Google Sheets write tabs on request. Each file must
import with its names (checked in the database), the report must say which
separator and which columns were used, and a file that cannot be read must
say what to do. The export must open with a UTF-8 BOM (Excel otherwise
shows Vietnamese as mojibake) unless --no-bom, and import back unchanged.
"""
import os
import subprocess
import sys
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import Checks, CliEnv, write_ini  # noqa: E402

_c = Checks()
check = _c.check


def write(path, text, encoding="utf-8-sig"):
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return path


def names(env, list_slug):
    return dict(env.q("SELECT s.email, s.name FROM subscribers s JOIN subscriptions n "
                      "ON n.subscriber_id = s.id JOIN lists l ON l.id = n.list_id "
                      "WHERE l.slug = ?", list_slug))


def main():
    env = CliEnv("csv-people")
    write_ini(env.config, [("database", {"path": env.db_path}),
                           ("site", {"base_url": "https://tin.example.vn"}),
                           ("delivery", env.delivery)])
    env.mailer("init")
    for slug in ("excel", "tab", "nfd", "back"):
        env.mailer("list", "create", slug, "--name", "Danh sách " + slug, "--optin", "single")
    d = env.dir

    # Excel "CSV UTF-8" in a Vietnamese locale: BOM, semicolons, CRLF, quotes where needed
    excel = write(os.path.join(d, "excel.csv"),
                  "STT;Họ và tên;Địa chỉ email;Đơn vị\r\n"
                  "1;Nguyễn Thị Hoa;hoa@example.vn;Sở Giáo dục\r\n"
                  "2;\"Trần Văn; Bình\";binh@example.vn;\"UBND xã Thanh Thủy, Vị Xuyên\"\r\n"
                  "3;Lê Minh;khong-hop-le;Báo Hà Giang\r\n")
    r = env.mailer("sub", "import", excel, "--list", "excel", code=0)
    out, err = r.stdout.decode(), r.stderr.decode()
    check("semicolon-separated" in out, "the separator is reported: %r" % out)
    check('email from column "Địa chỉ email"' in out and 'name from column "Họ và tên"' in out,
          "the columns taken are reported: %r" % out)
    check("line 4: " in err, "the bad row is reported by line: %r" % err)
    got = names(env, "excel")
    check(got == {"hoa@example.vn": "Nguyễn Thị Hoa", "binh@example.vn": "Trần Văn; Bình"},
          "names imported from the semicolon file: %r" % got)
    attrs = env.q("SELECT attributes FROM subscribers WHERE email = 'binh@example.vn'")[0][0]
    check("UBND xã Thanh Thủy, Vị Xuyên" in attrs and "Đơn vị" in attrs,
          "other columns are attributes: %r" % attrs)

    # tabs, English headers in another spelling, no BOM
    tab = write(os.path.join(d, "tab.tsv"), "E-mail\tFull Name\tCity\n"
                "an@example.vn\tPhạm An\tHà Giang\n", encoding="utf-8")
    r = env.mailer("sub", "import", tab, "--list", "tab")
    check("tab-separated" in r.stdout.decode(), "tab reported: %r" % r.stdout)
    check(names(env, "tab") == {"an@example.vn": "Phạm An"}, "tab file: %r" % names(env, "tab"))

    # capitals and decomposed accents (NFD), comma-separated, through stdin
    nfd = unicodedata.normalize("NFD", "HỌ TÊN,THƯ ĐIỆN TỬ\nVũ Thu,thu@example.vn\n")
    p = subprocess.run(env.cmd("sub", "import", "-", "--list", "nfd"), input=nfd.encode(),
                       capture_output=True, env=env.env())
    check(p.returncode == 0 and "comma-separated" in p.stdout.decode(),
          "NFD capitals: %d %r %r" % (p.returncode, p.stdout, p.stderr))
    got = names(env, "nfd")
    check(list(got) == ["thu@example.vn"] and unicodedata.normalize("NFC", got["thu@example.vn"])
          == "Vũ Thu", "NFD header matched: %r" % got)

    # the separator given by hand wins; a wrong one says so
    r = env.mailer("sub", "import", excel, "--list", "excel", "--delimiter", "comma", code=3)
    check(b"--delimiter" in r.stderr and b"no email column" in r.stderr,
          "a wrong --delimiter is named: %r" % r.stderr)
    r = env.mailer("sub", "import", excel, "--list", "excel", "--delimiter", "semicolon",
                   "--dry-run")
    check(b"semicolon-separated" in r.stdout, "--delimiter semicolon: %r" % r.stdout)
    env.mailer("sub", "import", excel, "--list", "excel", "--delimiter", "pipe", code=1)

    # files that cannot be read say why and what to do; nothing is written
    before = env.q("SELECT count(*) FROM subscribers")[0][0]
    bad = [
        (write(os.path.join(d, "u16.txt"), "Email\tTên\r\na@x.vn\tA\r\n", encoding="utf-16"),
         "UTF-16"),
        (write(os.path.join(d, "cp1258.csv"), "Tên,Email\r\nA,a@x.vn\r\n", encoding="cp1258"),
         "CSV UTF-8"),
        (write(os.path.join(d, "nomail.csv"), "Họ và tên;Số điện thoại\r\nA;0912\r\n"),
         'its columns are "Họ và tên", "Số điện thoại"'),
        (write(os.path.join(d, "twomail.csv"), "Email;E-mail\r\na@x.vn;b@x.vn\r\n"),
         "both hold the email address"),
    ]
    for path, want in bad:
        r = env.mailer("sub", "import", path, "--list", "excel", code=3)
        check(want in r.stderr.decode(), "%s: %r" % (os.path.basename(path), r.stderr.decode()))
    check(env.q("SELECT count(*) FROM subscribers")[0][0] == before, "refused files wrote nothing")

    # export: a BOM first by default (stdout and --output), none with --no-bom
    r = env.mailer("sub", "export", "--list", "excel")
    check(r.stdout.startswith(b"\xef\xbb\xbfemail,name,"), "export opens with a BOM: %r" %
          r.stdout[:20])
    check("Trần Văn; Bình".encode() in r.stdout, "names exported in UTF-8")
    outp = os.path.join(d, "out.csv")
    env.mailer("sub", "export", "--list", "excel", "--output", outp)
    with open(outp, "rb") as f:
        exported = f.read()
    check(exported.startswith(b"\xef\xbb\xbf"), "export --output opens with a BOM")
    r = env.mailer("sub", "export", "--list", "excel", "--no-bom")
    check(r.stdout.startswith(b"email,name,"), "--no-bom: %r" % r.stdout[:20])
    # and it imports back as it was, names included
    r = env.mailer("sub", "import", outp, "--list", "back")
    check(b"comma-separated" in r.stdout, "the export reads as comma-separated")
    check(names(env, "back") == names(env, "excel"), "round trip: %r" % names(env, "back"))

    if _c.failures:
        sys.exit(1)
    print("ok")


main()
