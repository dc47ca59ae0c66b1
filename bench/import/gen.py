#!/usr/bin/python3
"""Writes a CSV of N subscribers (default 1,000,000) to stdout or a file.

Columns: email,name,city,plan. Names are Vietnamese with diacritics; every
1,000th name holds a comma (so it is quoted), every 5,000th city a quoted
line break, so the parser's slow paths are part of the measurement. A
quarter of the domains are IDN (bưuđiện.vn). Deterministic:
the same N gives the same bytes.
"""
import sys

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hương", "Khánh", "Linh", "Minh",
         "Ngọc", "Phương", "Quân", "Thảo", "Trang", "Tuấn", "Vy", "Yến"]
CITY = ["Hà Giang", "Hà Nội", "Huế", "Đà Nẵng", "TP. Hồ Chí Minh", "Cần Thơ"]
DOMAINS = ["example.vn", "mail.example.com", "baotinh.example", "bưuđiện.vn"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    out = open(sys.argv[2], "w", encoding="utf-8", newline="") if len(sys.argv) > 2 else sys.stdout
    w = out.write
    w("email,name,city,plan\r\n")
    for i in range(n):
        name = f"{FAMILY[i % 10]} {GIVEN[i % 18]} {i}"
        city = CITY[i % 6]
        if i % 1000 == 0:
            name = f"\"{name}, Jr.\""
        if i % 5000 == 1:
            city = f"\"{city}\r\nViệt Nam\""
        w(f"reader.{i}@{DOMAINS[i % 4]},{name},{city},{'gold' if i % 7 == 0 else ''}\r\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
