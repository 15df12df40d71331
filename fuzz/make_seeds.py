#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs to fuzz/seeds/<target>/ (run from the repo root).

Seeds are small slices of data-samples/, jobs/, config/policy.toml and the
shipped HTS export, plus hand-made hostile cases. Manifest seeds start with
the selector byte that picks the job in fuzz/props.rs (Reader::jobs). Parquet
seeds need pyarrow (pip install pyarrow); without it they are skipped.
"""

import hashlib
import io
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


CANON = ("carrier,master_bill,house_bill,line_no,arrival_date,port_of_entry,shipper_name,"
         "shipper_country,consignee_name,consignee_address,consignee_city,consignee_state,"
         "consignee_zip,description,hts_code,country_of_origin,quantity,declared_value,currency,"
         "weight_kg,seller_name")
ROW = ("DHLX,020-1,HB1,1,2025-05-01,2720,Shenzhen Co,CN,Ann Lee,1 Main St,Los Angeles,CA,90012,"
       "Cotton T-shirt,6109.10.0012,CN,2,19.99,USD,0.4,ShopA")


def csv_seeds():
    t = "manifest_csv"
    for name in sorted(os.listdir(os.path.join(ROOT, "data-samples"))):
        if name.endswith(".csv"):
            put(t, "sample-" + name, b"\x00" + read("data-samples/" + name)[:4096])
    put(t, "pclx-as-utf8", b"\x01" + read("data-samples/PCLX_20251103.txt"))
    hostile = {
        "broken-quote": CANON + "\n" + ROW + "\n" + ROW.replace("Cotton", '"Cotton') + "\n" + ROW + "\n",
        "quote-closes-midfield": CANON + "\nA,\"b\nc\"d,e\n" + ROW + "\n",
        "quoted-newline": CANON + "\n" + ROW.replace("Cotton T-shirt", '"two\r\nlines, ""quoted"""') + "\n",
        "unclosed-at-eof": CANON + "\n" + ROW + '\nX,"never closed',
        "crlf-lf-mix": (CANON + "\r\n" + ROW + "\n" + ROW + "\r\n\r\n\n" + ROW),
        "cr-only": CANON + "\r" + ROW + "\r" + ROW + "\r",
        "bom-mid-header": "house_bill,\ufeffline_no\nH1,1\n",
        "bom-start": "\ufeff" + CANON + "\n" + ROW + "\n",
        "duplicate-header": "house_bill,house_bill,line_no\nH1,H2,1\n",
        "header-only": CANON + "\n",
        "blank-lines": "\n\n  \n" + CANON + "\n\n" + ROW + "\n \n",
        "wrong-width": CANON + "\n" + ROW + ",extra\nonly,three,fields\n" + ROW + "\n",
        "zero-width": CANON + "\n" + ROW.replace("Ann Lee", "Ann\u200bLee") + "\n",
        "invalid-utf8-row": (CANON + "\n").encode() + b"DHLX,1,H\xff\xfe,1\n" + (ROW + "\n").encode(),
        "control-in-data": CANON + "\n" + ROW.replace("HB1", "HB\x1b[31m1") + "\n",
        "delims-only": ",,,,\n,,,,\n",
        "quote-only": '"\n"\n"',
        "comma-money": "house_bill,declared_value\nH1,\"1,234.50\"\nH2,\"1.234,50\"\nH3,\"8,00\"\n",
    }
    for k, v in hostile.items():
        put(t, k, b"\x00" + (v if isinstance(v, bytes) else v.encode()))
    put(t, "tab", b"\x02" + CANON.replace(",", "\t").encode() + b"\n" + ROW.replace(",", "\t").encode() + b"\n")
    put(t, "pipe", b"\x03hb|line_no|declared_value\nH1|1|10\nH1|\"2|x\"|5\n")
    put(t, "semicolon", b"\x01HAWB;Item;Value;Goods Description\nP1;1;\"1,5\";Tea\n")


def ndjson_seeds():
    t = "manifest_ndjson"
    upsn = read("data-samples/upsn-20250828.ndjson")
    put(t, "sample-upsn", b"\x01" + upsn[:4096])
    first = json.loads(upsn.splitlines()[0])
    canon = dict(zip(CANON.split(","), ROW.split(",")))
    line = json.dumps(canon)
    hostile = {
        "canonical": line + "\n" + line + "\n",
        "dup-keys": '{"house_bill":"A","house_bill":"B","line_no":1}\n',
        "nul-escape": '{"house_bill":"A\\u0000B","description":"x\\u001b[31m"}\n',
        "surrogate": '{"house_bill":"\\ud800","description":"\\udc00\\ud83d\\ude00"}\n',
        "nested": '{"house_bill":{"a":[1,2,{"b":null}]},"line_no":[1]}\n',
        "numbers": '{"house_bill":"A","declared_value":1e400,"quantity":-0.0,"weight_kg":123456789012345678901234567890}\n',
        "not-object": '[1,2]\n"text"\n42\nnull\n{"house_bill":"A"}\n',
        "deep": "[" * 200 + "]" * 200 + "\n" + line + "\n",
        "bom-crlf": "\ufeff" + line + "\r\n" + line + "\r\n",
        "blank": "\n  \n\t\n" + line + "\n\n",
        "truncated": line[: len(line) // 2] + "\n" + line + "\n",
        "escaped-keys": '{"house\\u005fbill":"A","line\\u005fno":"1"}\n',
        "bools": '{"house_bill":true,"line_no":false,"declared_value":null}\n',
    }
    for k, v in hostile.items():
        put(t, k, b"\x00" + v.encode())
    put(t, "upsn-mapped", b"\x01" + (json.dumps(first) + "\n").encode())
    put(t, "cp1252", b"\x02" + '{"house_bill":"A","consignee_name":"Jos'.encode() + b"\xe9 M\xfcller\x80\x81\"}\n")


def cp1252_seeds():
    t = "manifest_cp1252"
    for name in ["PCLX_20251103.txt", "PCLX_20251104.txt"]:
        put(t, "sample-" + name, b"\x01" + read("data-samples/" + name))
    put(t, "canonical", b"\x00" + CANON.encode() + b"\n" + ROW.replace("Ann Lee", "Jos\xe9").encode("latin-1") + b"\n")
    put(t, "c1-bytes", b"\x00house_bill,description\nH1,\x80\x81\x8d\x8f\x90\x9d\x9f\nH2,\"\x93quoted\x94\"\n")
    put(t, "high-header", b"\x01HAWB;Item;Consignee Name\xa0\nP1;1;\xc0\xff\n")
    put(t, "utf8-as-1252", b"\x00house_bill,description\nH1,\xe2\x80\x8b\xef\xbb\xbf\n")


def parquet_seeds():
    try:
        import datetime
        import decimal

        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        print("pyarrow missing: no Parquet seeds", file=sys.stderr)
        return
    t = "manifest_parquet"

    def write(name, table, selector=0, **kw):
        buf = io.BytesIO()
        pq.write_table(table, buf, **kw)
        put(t, name, bytes([selector]) + buf.getvalue())

    cols = CANON.split(",")
    vals = ROW.split(",")
    canon = pa.table({c: [v, v] for c, v in zip(cols, vals)})
    write("canonical", canon)
    write("canonical-dict", canon, use_dictionary=True, compression="NONE")
    write("canonical-snappy-rowgroups", pa.table({c: [v] * 5 for c, v in zip(cols, vals)}), row_group_size=2, compression="snappy")
    write("empty", pa.table({c: pa.array([], pa.string()) for c in cols}), compression="NONE")
    typed = pa.table({
        "house_bill": ["H1", "H2", None],
        "line_no": pa.array([1, 2, 3], pa.int64()),
        "arrival_date": pa.array([datetime.date(2025, 5, 1), None, datetime.date(1, 1, 1)], pa.date32()),
        "declared_value": pa.array([decimal.Decimal("19.99"), decimal.Decimal("-0.01"), None], pa.decimal128(12, 2)),
        "quantity": pa.array([1.5, float("nan"), float("inf")], pa.float64()),
        "weight_kg": pa.array([True, False, None], pa.bool_()),
        "description": pa.array([b"ok", b"\xff\xfe", b"tea"], pa.binary()),
    })
    write("typed", typed, compression="NONE")
    ts = pa.table({
        "hb": ["A", "B"],
        "eta": pa.array([0, 1_700_000_000_000_000], pa.timestamp("us", tz="America/New_York")),
        "arrival_date": pa.array([0, -1], pa.timestamp("ms")),
    })
    write("timestamps-mapped", ts, selector=1, compression="NONE")
    ts2 = pa.table({"eta": pa.array([1, 2], pa.timestamp("ns", tz="+05:30")), "hb": ["A", "B"]})
    write("timestamps-offset", ts2, selector=1, compression="NONE")
    lst = pa.table({"house_bill": pa.array([[1, 2], []], pa.list_(pa.int32())), "line_no": ["1", "2"]})
    write("list-column", lst, compression="NONE")
    nested = pa.table({"house_bill": pa.array([{"a": 1}, {"a": 2}], pa.struct([("a", pa.int8())]))})
    write("struct-column", nested, compression="NONE")
    large = pa.table({"house_bill": pa.array(["A" * 3, "\u200b"], pa.large_string()), "line_no": pa.array([1, 2], pa.uint8())})
    write("large-string", large, compression="NONE")
    write("v1-format", canon, version="1.0", data_page_version="1.0", compression="NONE")
    put(t, "magic-only", b"\x00PAR1PAR1")
    put(t, "not-parquet", b"\x00" + CANON.encode() + b"\n")


def job_seeds():
    t = "job_toml"
    for name in sorted(os.listdir(os.path.join(ROOT, "jobs"))):
        if name.endswith(".toml"):
            put(t, "job-" + name, read("jobs/" + name))
    for name in sorted(os.listdir(os.path.join(ROOT, "jobs", "ace-demo"))):
        if name.endswith(".toml"):
            put(t, "ace-" + name, read("jobs/ace-demo/" + name))
    hostile = {
        "escape-name": 'name = "../../x"\n[format]\nkind = "csv"\n',
        "abs-output": 'name = "j"\n[output]\npath = "/etc/s321d"\n[format]\nkind = "csv"\n',
        "dotdot-inbox": 'name = "j"\n[source]\nname = "data"\ninbox = "a/../../b"\n[format]\nkind = "csv"\n',
        "bad-delimiter": 'name = "j"\n[format]\nkind = "csv"\ndelimiter = "\\""\n',
        "bad-date": 'name = "j"\n[format]\nkind = "csv"\ndate_format = "%Q%"\n',
        "no-year": 'name = "j"\n[format]\nkind = "csv"\ndate_format = "%m/%d"\n',
        "huge-settle": 'name = "j"\n[source]\nname = "data"\nsettle_secs = 18446744073709551615\n[format]\nkind = "csv"\n',
        "unknown-key": 'name = "j"\nnope = 1\n[format]\nkind = "csv"\n',
        "multibyte-error": 'name = "é€😀"\n[format]\nkind = "csv"\ndelimiter = 1\n',
        "control-key": 'name = "j\\u001b[2J"\n[format]\nkind = "csv"\n"\\u001b[31m" = 1\n',
        "schedule": 'name = "j"\nschedule = "*/0 * * * * *"\ntimezone = "Mars/Olympus"\n[format]\nkind = "ndjson"\n',
        "parquet-format": 'name = "j"\n[format]\nkind = "parquet"\ndate_format = "%Y-%m-%dT%H:%M:%S%z"\n',
        "glob": 'name = "j"\npattern = "[a-"\n[format]\nkind = "csv"\n',
        "constants": 'name = "j"\n[format]\nkind = "csv"\n[format.columns]\ncarrier = "c"\nnot_a_column = "x"\n[format.constants]\ncarrier = "X"\n',
    }
    for k, v in hostile.items():
        put(t, k, v)


def policy_seeds():
    t = "policy_toml"
    text = read("config/policy.toml").decode()
    text = text.replace('file = "../reference/hts-2026-rev4.csv"', 'file = "hts-small.csv"')
    # Comments stripped, then the file cut into its top-level sections.
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    parts = re.split(r"\n(?=\[)", body)
    head = parts[0]
    put(t, "head", head + "\n")
    regimes = [p for p in parts if p.startswith("[[regime]]")]
    put(t, "regimes", head + "\n" + "\n".join(regimes) + "\n")
    for p in parts[1:]:
        name = re.match(r"\[+([^\]]+)\]+", p).group(1)
        if name in ("regime", "duty.layer"):
            continue
        piece = p if len(p) < 3000 else p[:3000].rsplit("\n", 1)[0] + "\n]\n"
        put(t, "section-" + name, piece + "\n")
    duty = [p for p in parts if p.startswith("[duty]") or p.startswith("[[duty.hts]]") or p.startswith("[fees]")]
    layers = [p for p in parts if p.startswith("[[duty.layer]]")]
    small_layers = [re.sub(r"hts = \[[^\]]*\]", 'hts = ["6109", "8471.30", "0902.10.10.15"]', l, flags=re.S) for l in layers[:6]]
    put(t, "duty", "\n".join(duty + small_layers) + "\n")
    hostile = {
        "unordered": '[[regime]]\nfrom = "2025-08-29"\nde_minimis = false\n[[regime]]\nfrom = "2016-03-10"\nde_minimis = true\n',
        "same-day": '[[regime]]\nfrom = "2025-08-29"\nde_minimis = false\n[[regime]]\nfrom = "2025-08-29"\nde_minimis = true\n',
        "money": 'threshold_usd = "-1"\ninformal_limit_usd = "1e9999"\n[fx]\nEUR = "0"\nxx = "1,5"\nGBP = "99999999999999999999999999999999999"\n',
        "dates": 'fx_as_of = "2026-02-30"\n[[regime]]\nfrom = "+262143-12-31"\nde_minimis = true\nthreshold_usd = "800"\n',
        "lists": '[lists]\nports = ["", "27 20", "\\u0000"]\nvague_terms = ["", "GIFT"]\npga_prefixes = ["x"]\n',
        "missing-hts": '[duty]\n[[duty.hts]]\nfrom = "2026-02-24"\nfile = "nope.csv"\n',
        "abs-hts": '[duty]\n[[duty.hts]]\nfrom = "2026-02-24"\nfile = "/nonexistent/hts.csv"\n',
        "multibyte-error": 'threshold_usd = "€😀"\nfoo = \n',
        "layer": '[duty]\n[[duty.hts]]\nfrom = "2026-01-01"\nfile = "hts-small.csv"\n[[duty.layer]]\nheading = "9903.88.01"\nprogram = "301"\nrate = "25% + $1.50/kg"\norigins = ["CN"]\nhts = ["6109"]\nfrom = "2026-01-01"\nto = "2025-01-01"\nnot_with = ["301", "nope"]\n',
    }
    for k, v in hostile.items():
        put(t, k, v)


def hts_seeds():
    t = "hts_export"
    lines = read("reference/hts-2026-rev4.csv").decode("utf-8").splitlines(keepends=True)
    header = lines[0]
    # Windows across the file: chapter starts, 10-digit rows, chapter 99, rows with special groups.
    starts = [1, 2000, 9000, 16360, 25000, 33000]
    starts += [i for i, l in enumerate(lines) if l.startswith('"9903.88.01"') or l.startswith('"6109"')][:2]
    import csv as csvmod
    for s in starts:
        chunk = lines[s : s + 40]
        put(t, f"csv-{s}", header + "".join(chunk))
        rows = []
        for rec in csvmod.reader(chunk):
            if len(rec) < 7:
                continue
            units = json.loads(rec[3]) if rec[3].startswith("[") else []
            rows.append({"htsno": rec[0] or None, "indent": rec[1], "description": rec[2], "units": units,
                         "general": rec[4], "special": rec[5], "other": rec[6], "footnotes": []})
        put(t, f"json-{s}", json.dumps(rows, ensure_ascii=False))
    h = "HTS Number,Indent,Description,Unit of Quantity,General Rate of Duty,Special Rate of Duty,Column 2 Rate of Duty\n"
    hostile = {
        "indent-jump": h + "0101,0,x,,,,\n0101.21.00.10,7,y,,Free,,\n",
        "negative-indent": h + "0101,-1,x,,,,\n0101.21.00,99999999999999999999,y,,Free,,\n",
        "eight-digit-unit": h + "0101.21.00,0,x,\"[\"\"No.\"\"]\",Free,,\n0101.21.00,0,x,,5%,,\n",
        "letters": h + "01A1.21.0010,0,x,,Free,,\n0101.21.00.100,0,y,,Free,,\n",
        "rates": h + "0101,0,x,,,,\n" + "".join(
            f"0101.{i:02d}.00.00,1,r,kg,\"{r}\",\"{s}\",\"{o}\"\n" for i, (r, s, o) in enumerate([
                ("5.5% + 2.3¢/kg", "Free (A+,AU,B)", "45%"),
                ("$1.234/doz. + 4%", "Free (A*,CA,MX) 3% (KR)", "$2/kg"),
                ("4.4¢/kg on drained weight", "See 9823.xx", ""),
                ("The rate applicable to the article", "Free (  )", "1.5¢/liter + 10%"),
                ("20%1/", "Free(AU)", "0"),
                ("9999999999999999999999%", "Free (" + ",".join(["X"] * 60) + ")", "-5%"),
            ], start=10)),
        "no-header": "0101,0,x,,,,\n",
        "missing-columns": "HTS Number,Description\n0101.21.00.10,x\n",
        "bom-crlf": "\ufeff" + h.replace("\n", "\r\n") + "0101.21.00.10,0,x,,Free,,\r\n",
        "json-nulls": '[{"htsno":null,"indent":0},{"htsno":"0101.21.00.10","indent":"1","units":["No.",null],"general":"Free","special":null,"other":null}]',
        "json-weird": '[{"htsno":"0101.21.00.10","indent":-3,"units":"kg","general":"Free"},{"htsno":"0101.21.00.10","indent":1.5}]',
        "json-not-array": '[1, "x", []]',
        "json-empty": "[]",
        "json-deep": "[" * 130 + "]" * 130,
    }
    for k, v in hostile.items():
        put(t, k, v)


def place(values):
    b = bytearray(b" " * 80)
    for pos, v in values:
        b[pos - 1 : pos - 1 + len(v)] = v.encode()
    return b.decode()


def catair_seeds():
    # Selector byte: even = an SX acknowledgement, odd = an SO status batch.
    t = "catair_responses"
    sx = [
        place([(1, "A"), (2, "2704"), (6, "EEE"), (15, "120326"), (26, "SX")]),
        place([(1, "B"), (4, "4701"), (8, "S32"), (11, "SX")]),
        place([(1, "SE10"), (5, "A"), (6, "S32"), (11, "00010007"), (20, "86")]),
        place([(1, "SE15"), (5, "H"), (10, "DX1001"), (60, "00000001"), (73, "N")]),
        place([(1, "SE90"), (5, "02"), (10, "ENTRY ACCEPTED")]),
        place([(1, "SE10"), (5, "A"), (6, "S32"), (11, "00010015"), (20, "11")]),
        place([(1, "SE36"), (5, "SAN FRANCISCO"), (64, "US")]),
        place([(1, "SE90"), (5, "11"), (7, "C12"), (10, "CITY NOT VALID")]),
        place([(1, "SE90"), (5, "01"), (7, "C12"), (10, "ENTRY REJECTED")]),
        place([(1, "SE90"), (5, "04"), (7, "H01"), (10, "NO SE10 BEFORE")]),
        place([(1, "Y"), (4, "4701"), (8, "S32"), (11, "SX"), (13, "00007")]),
        place([(1, "Z"), (2, "2704"), (6, "EEE"), (15, "120326")]),
    ]
    put(t, "sx-accept-reject", b"\x00" + "\n".join(sx).encode() + b"\n")
    x1 = [
        place([(1, "A"), (2, "2704"), (6, "EEE"), (15, "120326")]),
        "B" + " " * 78 + "B",
        place([(1, "X0"), (4, "BLOCK"), (11, "000001"), (18, "REF ID:"), (26, "4701 S32    SE")]),
        place([(1, "X1"), (4, "F"), (5, "X17"), (11, "FILER NOT AUTHORIZED")]),
        place([(1, "X1"), (3, "R"), (4, "F"), (5, "999"), (11, "BATCH REJECTED")]),
        place([(1, "Y"), (13, "00003"), (80, "Y")]),
        "Z" + " " * 78 + "Z",
    ]
    put(t, "sx-x1", b"\x00" + "\r\n".join(x1).encode())
    so = [
        place([(1, "A"), (2, "2704"), (6, "EEE"), (15, "120326"), (26, "SO")]),
        place([(1, "B"), (4, "4701"), (8, "S32"), (11, "SO")]),
        place([(1, "SO10"), (5, "4701"), (9, "S32"), (14, "00010007"), (23, "86"), (25, "12-345678900"), (37, "DHLX")]),
        place([(1, "SO40"), (5, "H"), (10, "DX1001")]),
        place([(1, "SO50"), (5, "120326"), (11, "1402"), (15, "95"), (17, "BILL ARRIVED"), (57, "N")]),
        place([(1, "SO60"), (5, "120326"), (11, "1405"), (15, "98"), (17, "RELEASED"), (57, "120326"), (63, "03")]),
        place([(1, "SO10"), (5, "4701"), (9, "S32"), (14, "00010015"), (23, "11"), (25, "12-345678900")]),
        place([(1, "SO50"), (5, "120326"), (11, "1410"), (15, "53"), (17, "CBP HOLD"), (57, "N")]),
        place([(1, "SO60"), (5, "120326"), (11, "1411"), (15, "97"), (17, "ADMISSIBLE")]),
        place([(1, "SO60"), (5, "120326"), (11, "1412"), (15, "04"), (17, "ENTRY DETAINED")]),
        place([(1, "SO60"), (5, "120326"), (11, "1413"), (15, "23"), (17, "CANCELLED")]),
        place([(1, "Y"), (4, "4701"), (8, "S32"), (11, "SO"), (13, "00008")]),
        place([(1, "Z"), (2, "2704"), (6, "EEE"), (15, "120326")]),
    ]
    put(t, "so-rev36", b"\x01" + "\n".join(so).encode() + b"\n")
    put(t, "so-no-so10", b"\x01" + "\n".join(so[4:6]).encode())
    put(t, "sx-short-line", b"\x00SE10 short\n")
    put(t, "sx-non-ascii", b"\x00" + (sx[2][:79] + "\u00e9").encode() + b"\n")
    put(t, "so-bad-serial", b"\x01" + place([(1, "SO10"), (5, "4701"), (9, "S 2"), (14, "0001 00\u007f"[:8])]).encode() + b"\n" + so[5].encode())
    put(t, "empty", b"\x00\n\n   \n")


if __name__ == "__main__":
    csv_seeds()
    ndjson_seeds()
    cp1252_seeds()
    parquet_seeds()
    job_seeds()
    policy_seeds()
    hts_seeds()
    catair_seeds()
    total = 0
    for d, _, files in os.walk(OUT):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    print(f"seeds: {sum(len(f) for _, _, f in os.walk(OUT))} files, {total} bytes")
