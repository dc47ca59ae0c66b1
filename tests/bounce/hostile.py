"""The hostile messages of the bounce tests, built here (nothing stored):
(name, bytes, a phrase the unparsed reason must contain)."""


def _dsn_head(boundary):
    return ("From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+1.00000000000000000000@hagiang.example\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;\r\n"
            "\tboundary=\"%s\"\r\n\r\n" % boundary)


def hostile_messages():
    out = []
    # 10 MB: a DSN whose returned message carries a huge body
    big = _dsn_head("b1") + "--b1\r\nContent-Type: text/plain\r\n\r\n" + ("x" * 76 + "\r\n") * (10 * 1024 * 1024 // 78) + "--b1--\r\n"
    out.append(("ten-megabytes", big.encode(), "larger than the limit"))
    # 1,000 parts
    parts = _dsn_head("p") + "".join("--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(1000)) + "--p--\r\n"
    out.append(("thousand-parts", parts.encode(), "MIME part delimiters"))
    # 200 levels of nesting (multipart inside multipart)
    nest = _dsn_head("n0")
    for i in range(1, 200):
        nest += "--n%d\r\nContent-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n" % (i - 1, i)
    nest += "--n199\r\nContent-Type: text/plain\r\n\r\ndeep\r\n"
    for i in range(199, -1, -1):
        nest += "--n%d--\r\n" % i
    out.append(("two-hundred-levels", nest.encode(), "nested too deep"))
    # 200 levels of message/rfc822
    msgs = _dsn_head("m") + "--m\r\n" + "Content-Type: message/rfc822\r\n\r\n" * 200 + "x\r\n--m--\r\n"
    out.append(("two-hundred-messages", msgs.encode(), "nested too deep"))
    # broken boundaries: libetpan 1.9.4 overflows its heap on boundary="\""
    out.append(("boundary-quote", (_dsn_head('\\"') + "--x\r\n\r\nhi\r\n").encode(), "backslash"))
    out.append(("boundary-unterminated", ("Subject: x\r\nContent-Type: multipart/mixed; boundary=\"abc\r\n\r\n--abc\r\n").encode(), "line break"))
    out.append(("boundary-too-long", (_dsn_head("b" * 71) + "--" + "b" * 71 + "\r\n\r\nx\r\n").encode(), "71 characters"))
    out.append(("boundary-empty", (_dsn_head("") + "--\r\n\r\nx\r\n").encode(), "0 characters"))
    out.append(("boundary-nested-bad", (_dsn_head("ok") + "--ok\r\nContent-Type: multipart/mixed; boundary=\"a\"b\"\r\n\r\n--ok--\r\n").encode(), "RFC 2046"))
    # invalid UTF-8 in the header section
    out.append(("invalid-utf8", b"From: \xff\xfe\xc3\x28 <MAILER-DAEMON@x.example>\r\nSubject: \xc0\xaf\r\n\r\nbody\r\n", "invalid UTF-8"))
    # a 1 MB header line
    out.append(("megabyte-header-line", ("Subject: " + "a" * (1024 * 1024) + "\r\nFrom: x@y.example\r\n\r\nbody\r\n").encode(), "bytes long"))
    # a NUL byte
    out.append(("nul-byte", b"From: x@y.example\r\nSubject: a\x00b\r\n\r\nbody\r\n", "NUL byte"))
    return out
