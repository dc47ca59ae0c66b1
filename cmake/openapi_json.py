#!/usr/bin/python3
"""Turns docs/openapi.yaml into a C file holding it as JSON, served at
/api/openapi.json (mailer/http/CMakeLists.txt runs this at build time).

    openapi_json.py docs/openapi.yaml OUT.c

A YAML error or a document that is not OpenAPI 3.1 stops the build.
"""
import json
import sys

import yaml

src, out = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    doc = yaml.safe_load(f)
if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
    sys.exit("%s: not an OpenAPI 3.1 document" % src)
data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
body = ",".join(str(b) for b in data)
text = ("/* Generated from docs/openapi.yaml by cmake/openapi_json.py: do not edit. */\n"
        "#include <stddef.h>\n\n"
        "const char http_openapi_json[] = {%s, 0};\n"
        "const size_t http_openapi_json_len = %d;\n" % (body, len(data)))
try:
    with open(out, encoding="utf-8") as f:
        if f.read() == text:
            sys.exit(0)
except FileNotFoundError:
    pass
with open(out, "w", encoding="utf-8") as f:
    f.write(text)
