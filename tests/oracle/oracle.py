#!/usr/bin/env python3
"""Independent reference reading of the s321d data contract (shared/contract.md, sections 1-7).

    python3 oracle.py --job JOB.toml [--job ...] --policy POLICY.toml --out DIR FILE...

Behaves like `s321d validate --no-history`: every FILE is read with the first job whose
`pattern` matches its file name; all FILEs form one run, in the order given. Writes
DIR/findings.csv and DIR/dispositions.csv (contract section 7) and prints a short summary.
Exit status: 0 ran, 1 a file could not be read (F001), 2 bad arguments, job or policy.

Standard library only (Python 3.11). Money is decimal.Decimal throughout, never float.
Every judgement call is listed in INTERPRETATIONS.md beside this file.
"""

import argparse
import codecs
import csv
import datetime
import fnmatch
import json
import os
import re
import sys
import tomllib
import unicodedata
from decimal import Decimal, InvalidOperation

# ----------------------------------------------------------------------------------------------
# Contract constants
# ----------------------------------------------------------------------------------------------

CANONICAL = [
    "carrier", "master_bill", "house_bill", "line_no", "arrival_date", "port_of_entry",
    "shipper_name", "shipper_country", "consignee_name", "consignee_address", "consignee_city",
    "consignee_state", "consignee_zip", "description", "hts_code", "country_of_origin",
    "quantity", "declared_value", "currency", "weight_kg", "seller_name",
]

# V001: the fields that must not be empty or blank, in the order the contract lists them.
REQUIRED = [
    "house_bill", "consignee_name", "consignee_address", "description", "declared_value",
    "country_of_origin", "hts_code", "arrival_date", "port_of_entry",
]

# code -> severity, in the order of the contract's table (also the order of `reasons`).
RULES = {
    "F001": "error", "F002": "error", "F003": "error",
    "V001": "error", "V002": "error", "V003": "error", "V004": "error", "V005": "error",
    "V006": "error", "V007": "warning", "V008": "error", "V009": "warning",
    "D001": "warning", "D002": "error", "D003": "warning", "D004": "warning",
    "L001": "warning", "L002": "warning", "L003": "info",
    "E001": "info", "E002": "warning", "E003": "warning",
    "R001": "warning", "R002": "warning",
}
RULE_ORDER = {code: i for i, code in enumerate(RULES)}

FINDING_COLUMNS = ["source_file", "record", "carrier", "house_bill", "line_no", "rule",
                   "severity", "field", "message"]
DISPOSITION_COLUMNS = ["source_file", "carrier", "house_bill", "arrival_date", "consignee_key",
                       "lines", "total_usd", "disposition", "reasons"]

# The 249 officially assigned ISO 3166-1 alpha-2 codes (user-assigned XK, exceptionally
# reserved UK/EU/..., transitional and deleted codes are NOT assigned).
ISO_ALPHA2 = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
ZW
""".split())
assert len(ISO_ALPHA2) == 249

# norm(): whole-word abbreviations (contract section 4).
ABBREVIATIONS = {
    "street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr",
    "lane": "ln", "apartment": "apt", "suite": "ste", "north": "n", "south": "s",
    "east": "e", "west": "w",
}

# Unicode White_Space (what Rust's str::trim removes); used for every "trim" and "blank".
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")

DEFAULT_REGIMES = [  # used only when the policy file has no [[regime]] at all
    {"from": datetime.date(2016, 3, 10), "de_minimis": True, "suspended": frozenset()},
    {"from": datetime.date(2025, 5, 2), "de_minimis": True, "suspended": frozenset({"CN", "HK"})},
    {"from": datetime.date(2025, 8, 29), "de_minimis": False, "suspended": frozenset()},
]

VALUE_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INT_RE = re.compile(r"[+-]?[0-9]+")
ZIP_RE = re.compile(r"[0-9]{5}(?:-?[0-9]{4})?")


class BadInput(Exception):
    """Bad arguments, job or policy: exit status 2."""


class Unreadable(Exception):
    """The file cannot be read or decoded at all: F001."""


# ----------------------------------------------------------------------------------------------
# Normalisation (contract section 4)
# ----------------------------------------------------------------------------------------------

def trim(s):
    return s.strip(WHITESPACE)


def is_alnum(ch):
    cat = unicodedata.category(ch)
    return cat[0] == "L" or cat in ("Nd", "Nl", "No")


def norm(s):
    """NFKC, case-fold, runs of non-alphanumerics -> one space, trim, whole-word abbreviations."""
    s = unicodedata.normalize("NFKC", s).casefold()
    spaced = "".join(ch if is_alnum(ch) else " " for ch in s)
    words = [w for w in spaced.split(" ") if w]
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def norm_hts(s):
    return s.replace(".", "").replace(" ", "").replace("-", "")


def norm_country(s):
    return trim(s).upper()


def norm_currency(s):
    c = trim(s).upper()
    return c if c else "USD"


def parse_value(s):
    """declared_value: trim, drop one leading '$', drop ',' separators, then a decimal number.
    Returns a Decimal, or None if it does not parse."""
    s = trim(s)
    if s.startswith("$"):
        s = s[1:]
    s = s.replace(",", "")
    if not VALUE_RE.fullmatch(s):
        return None
    return Decimal(s)


def parse_number(s):
    """quantity / weight_kg: a plain number (exponent allowed). None if it does not parse."""
    s = trim(s)
    if not NUMBER_RE.fullmatch(s):
        return None
    return Decimal(s)


def zip5(s):
    digits = [ch for ch in s if ch in "0123456789"]
    return "".join(digits[:5])


def consignee_key(values):
    return "|".join([norm(values["consignee_name"]), norm(values["consignee_address"]),
                     zip5(values["consignee_zip"])])


def chrono_to_python(fmt):
    """Translate the few chrono/strftime specifiers Python's strptime lacks."""
    return (fmt.replace("%F", "%Y-%m-%d").replace("%D", "%m/%d/%y").replace("%e", "%d")
            .replace("%-d", "%d").replace("%-m", "%m"))


def parse_date(s, fmt):
    try:
        return datetime.datetime.strptime(s, chrono_to_python(fmt)).date()
    except ValueError:
        return None


def fmt_money(d):
    """Exact decimal, at least two decimal places, no exponent, no trailing zeros past two."""
    if d == 0:
        return "0.00"
    s = format(d, "f")
    if "." not in s:
        return s + ".00"
    whole, frac = s.split(".")
    frac = frac.rstrip("0")
    return whole + "." + frac.ljust(2, "0")


# ----------------------------------------------------------------------------------------------
# Policy and jobs
# ----------------------------------------------------------------------------------------------

def to_decimal(value, key):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadInput(f"policy: {key} must be a decimal string, got {value!r}")
    text = trim(str(value))
    if not VALUE_RE.fullmatch(text):
        raise BadInput(f"policy: {key} is not a decimal number: {value!r}")
    return Decimal(text)


def to_date(value, key):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise BadInput(f"policy: {key} is not a date (YYYY-MM-DD): {value!r}")


def str_list(data, key, table="lists"):
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"policy: {table}.{key} must be a list of strings")
    return value


def load_policy(path):
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BadInput(f"policy {path}: {e}")
    policy = {
        "threshold": to_decimal(data.get("threshold_usd", "800"), "threshold_usd"),
        "informal": to_decimal(data.get("informal_limit_usd", "2500"), "informal_limit_usd"),
    }
    regimes = []
    for i, r in enumerate(data.get("regime", [])):
        key = f"regime[{i}]"
        if "from" not in r:
            raise BadInput(f"policy: {key}.from is missing")
        start = to_date(r["from"], f"{key}.from")
        dm = r.get("de_minimis", True)
        if not isinstance(dm, bool):
            raise BadInput(f"policy: {key}.de_minimis must be true or false")
        suspended = r.get("suspended_origins", [])
        if not isinstance(suspended, list):
            raise BadInput(f"policy: {key}.suspended_origins must be a list")
        codes = set()
        for c in suspended:
            if not isinstance(c, str) or norm_country(c) not in ISO_ALPHA2:
                raise BadInput(f"policy: {key}.suspended_origins has a bad code {c!r}")
            codes.add(norm_country(c))
        if regimes and start <= regimes[-1]["from"]:
            raise BadInput(f"policy: {key}.from {start} is not after the previous regime")
        regimes.append({"from": start, "de_minimis": dm, "suspended": frozenset(codes),
                        "basis": r.get("basis", "")})
    policy["regimes"] = regimes if "regime" in data else DEFAULT_REGIMES
    fx = {}
    for code, rate in data.get("fx", {}).items():
        fx[trim(code).upper()] = to_decimal(rate, f"fx.{code}")
    policy["fx"] = fx
    lists = data.get("lists", {})
    ports = str_list(lists, "ports")
    policy["ports"] = None if ports is None else frozenset(trim(p) for p in ports)
    policy["vague_terms"] = frozenset(norm(t) for t in (str_list(lists, "vague_terms") or []))
    policy["pga_prefixes"] = [norm_hts(trim(p)) for p in (str_list(lists, "pga_prefixes") or [])
                              if norm_hts(trim(p))]
    policy["restricted_prefixes"] = [norm_hts(trim(p)) for p in
                                     (str_list(lists, "restricted_prefixes") or [])
                                     if norm_hts(trim(p))]
    floors = {}
    for chapter, floor in data.get("risk", {}).get("undervalued_usd_per_kg", {}).items():
        floors[trim(chapter)] = to_decimal(floor, f"risk.undervalued_usd_per_kg.{chapter}")
    policy["floors"] = floors
    return policy


def load_job(path):
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BadInput(f"job {path}: {e}")
    fmt = data.get("format")
    if not isinstance(fmt, dict):
        raise BadInput(f"job {path}: no [format] table")
    job = {
        "path": path,
        "name": data.get("name", os.path.basename(path)),
        "pattern": data.get("pattern", "*"),
        "kind": fmt.get("kind", "csv"),
        "delimiter": fmt.get("delimiter", ","),
        "date_format": fmt.get("date_format", "%Y-%m-%d"),
        "encoding": str(fmt.get("encoding", "utf-8")).lower().replace("_", "-"),
        "columns": fmt.get("columns", {}),
        "constants": fmt.get("constants", {}),
    }
    if job["kind"] not in ("csv", "ndjson", "parquet"):
        raise BadInput(f"job {path}: format.kind must be csv, ndjson or parquet")
    if not isinstance(job["delimiter"], str) or len(job["delimiter"]) != 1 \
            or job["delimiter"] in "\"\r\n":
        raise BadInput(f"job {path}: format.delimiter must be one character")
    if job["encoding"] in ("utf8",):
        job["encoding"] = "utf-8"
    if job["encoding"] in ("cp1252",):
        job["encoding"] = "windows-1252"
    if job["encoding"] not in ("utf-8", "windows-1252"):
        raise BadInput(f"job {path}: format.encoding must be utf-8 or windows-1252")
    for table in ("columns", "constants"):
        if not isinstance(job[table], dict):
            raise BadInput(f"job {path}: format.{table} must be a table")
        for k, v in job[table].items():
            if k not in CANONICAL:
                raise BadInput(f"job {path}: format.{table}.{k} is not a canonical column")
            if table == "columns" and not isinstance(v, str):
                raise BadInput(f"job {path}: format.columns.{k} must be a column name")
            if table == "constants" and (isinstance(v, (dict, list)) or v is None):
                raise BadInput(f"job {path}: format.constants.{k} must be a plain value")
    job["constants"] = {k: (("true" if v else "false") if isinstance(v, bool) else str(v))
                        for k, v in job["constants"].items()}
    return job


# ----------------------------------------------------------------------------------------------
# Reading files
# ----------------------------------------------------------------------------------------------

def _cp1252_table():
    # WHATWG windows-1252: the five bytes cp1252 leaves undefined map to the same code point.
    chars = []
    for b in range(256):
        try:
            chars.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(b))
    return "".join(chars)


CP1252 = _cp1252_table()


def decode(raw, encoding):
    if b"\x00" in raw:
        raise Unreadable("the file holds NUL bytes: binary data, not a text manifest")
    if encoding == "windows-1252":
        return codecs.charmap_decode(raw, "strict", CP1252)[0]
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Unreadable(f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})")


def csv_records(text, delim):
    """RFC 4180 reader. Yields (fields, error) per record; blank lines are no records.
    A record with broken quoting is reported as one bad record, and reading resumes at the
    physical line after the one where that record started."""
    i, n = 0, len(text)
    while i < n:
        if text[i] == "\n":
            i += 1
            continue
        if text[i] == "\r":
            i += 2 if text.startswith("\r\n", i) else 1
            continue
        start = i
        fields, i, error = _csv_one(text, i, delim)
        if error:
            i = _next_line(text, start)
            yield None, error
        else:
            yield fields, None


def _next_line(text, i):
    n = len(text)
    while i < n and text[i] not in "\r\n":
        i += 1
    if text.startswith("\r\n", i):
        return i + 2
    return min(i + 1, n)


def _csv_one(text, i, delim):
    n = len(text)
    fields = []
    while True:
        if i < n and text[i] == '"':
            i += 1
            buf = []
            while True:
                if i >= n:
                    return None, i, "a quoted field is never closed"
                ch = text[i]
                if ch == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(ch)
                i += 1
            fields.append("".join(buf))
            if i >= n:
                return fields, i, None
            ch = text[i]
            if ch == delim:
                i += 1
                continue
            if ch in "\r\n":
                return fields, _end_of_terminator(text, i), None
            return None, i, f"unexpected {ch!r} after a closing quote"
        start = i
        while i < n and text[i] != delim and text[i] not in "\r\n":
            i += 1
        fields.append(text[start:i])
        if i < n and text[i] == delim:
            i += 1
            continue
        return fields, _end_of_terminator(text, i), None


def _end_of_terminator(text, i):
    if text.startswith("\r\n", i):
        return i + 2
    return min(i + 1, len(text))


def json_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def read_rows(path, job):
    """Returns (header_names or None, [(record_no, raw dict or None, error)])."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise Unreadable(f"cannot open: {e.strerror}")
    if job["kind"] == "parquet":
        return read_parquet(path)
    text = decode(raw, job["encoding"])
    rows = []
    if job["kind"] == "ndjson":
        keys = set()
        record = 0
        for line in text.split("\n"):
            if not trim(line):
                continue
            record += 1
            try:
                obj = json.loads(line, parse_float=str, parse_int=str,
                                 parse_constant=_no_constants)
            except ValueError as e:
                rows.append((record, None, f"not a JSON object ({e})"))
                continue
            if not isinstance(obj, dict):
                rows.append((record, None, "the line is JSON but not an object"))
                continue
            keys.update(obj)
            rows.append((record, {k: json_text(v) for k, v in obj.items()}, None))
        return (keys if any(r[1] is not None for r in rows) else None), rows
    records = csv_records(text, job["delimiter"])
    first = next(records, None)
    if first is None:
        return None, []
    header, error = first
    if error:
        raise Unreadable(f"the header row cannot be parsed: {error}")
    header = [trim(h) for h in header]
    for number, (fields, error) in enumerate(records, start=1):
        if error:
            rows.append((number, None, error))
        elif len(fields) != len(header):
            rows.append((number, None,
                         f"{len(fields)} fields where the header has {len(header)}"))
        else:
            row = {}
            for name, value in zip(header, fields):
                row.setdefault(name, value)
            rows.append((number, row, None))
    return header, rows


def read_parquet(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BadInput("parquet needs pyarrow, which is not installed")
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - any pyarrow failure means unreadable
        raise Unreadable(f"not a readable parquet file: {e}")
    names = list(table.column_names)
    rows = []
    for number, rec in enumerate(table.to_pylist(), start=1):
        rows.append((number, {k: ("" if v is None else str(v)) for k, v in rec.items()}, None))
    return names, rows


def to_canonical(raw, job):
    values = {}
    for col in CANONICAL:
        if col in job["constants"]:
            value = job["constants"][col]
        else:
            value = raw.get(job["columns"].get(col, col), "")
        values[col] = trim(value)
    return values


# ----------------------------------------------------------------------------------------------
# Findings
# ----------------------------------------------------------------------------------------------

def finding(rule, message, field="", record="", values=None, carrier="", house_bill="",
            line_no=""):
    if values is not None:
        carrier, house_bill, line_no = values["carrier"], values["house_bill"], values["line_no"]
    return {"record": record, "carrier": carrier, "house_bill": house_bill, "line_no": line_no,
            "rule": rule, "severity": RULES[rule], "field": field, "message": message}


class Line:
    """One parsed record: its canonical values, the facts the rules need, its findings."""

    def __init__(self, record, values, job, policy):
        self.record = record
        self.values = values
        self.findings = []
        self.is_copy = False
        v = values
        self.hts = norm_hts(v["hts_code"])
        self.origin = norm_country(v["country_of_origin"])
        self.shipper_country = norm_country(v["shipper_country"])
        self.date = parse_date(v["arrival_date"], job["date_format"]) if v["arrival_date"] else None
        self.value = parse_value(v["declared_value"]) if v["declared_value"] else None
        self.currency = norm_currency(v["currency"])
        self.rate = Decimal(1) if self.currency == "USD" else policy["fx"].get(self.currency)
        self.weight = parse_number(v["weight_kg"]) if v["weight_kg"] else None
        self.desc = norm(v["description"])
        # USD value that counts towards totals: none for V004 (unparseable or <= 0) or V008.
        if self.value is not None and self.value > 0 and self.rate is not None:
            self.usd = self.value * self.rate
        else:
            self.usd = None

    def add(self, rule, message, field=""):
        self.findings.append(finding(rule, message, field, self.record, self.values))


def regime_on(policy, day):
    applied = None
    for r in policy["regimes"]:
        if r["from"] <= day:
            applied = r
    return applied


def rule_v001(line, policy):
    for col in REQUIRED:
        if line.values[col] == "":
            line.add("V001", f"{col} is empty", col)


def rule_v002(line, policy):
    raw = line.values["hts_code"]
    if raw and not re.fullmatch(r"[0-9]{10}", line.hts):
        line.add("V002", f"hts_code {raw!r} is not 10 digits (normalised {line.hts!r})",
                 "hts_code")


def rule_v003(line, policy):
    for col, code in (("country_of_origin", line.origin), ("shipper_country", line.shipper_country)):
        raw = line.values[col]
        if raw and code not in ISO_ALPHA2:
            line.add("V003", f"{col} {raw!r} is not an assigned ISO 3166-1 alpha-2 code", col)


def rule_v004(line, policy):
    raw = line.values["declared_value"]
    if not raw:
        return
    if line.value is None:
        line.add("V004", f"declared_value {raw!r} is not a decimal number", "declared_value")
    elif line.value <= 0:
        line.add("V004", f"declared_value {raw!r} is not above zero", "declared_value")


def rule_v005(line, policy):
    raw = line.values["port_of_entry"]
    if not raw:
        return
    if not re.fullmatch(r"[0-9]{4}", raw):
        line.add("V005", f"port_of_entry {raw!r} is not 4 digits", "port_of_entry")
    elif policy["ports"] is not None and raw not in policy["ports"]:
        line.add("V005", f"port_of_entry {raw!r} is not in lists.ports", "port_of_entry")


def rule_v006(line, policy, job):
    raw = line.values["arrival_date"]
    if raw and line.date is None:
        line.add("V006", f"arrival_date {raw!r} does not parse as {job['date_format']!r}",
                 "arrival_date")


def rule_v007(line, policy):
    raw = line.values["description"]
    if not raw:
        return
    if line.desc in policy["vague_terms"]:
        line.add("V007", f"description {raw!r} is a vague term", "description")
    elif len(line.desc) < 3:
        line.add("V007", f"description {raw!r} is shorter than 3 characters", "description")


def rule_v008(line, policy):
    if line.rate is None:
        line.add("V008", f"currency {line.values['currency']!r} has no fx rate", "currency")


def rule_v009(line, policy):
    raw = line.values["consignee_zip"]
    if raw and not ZIP_RE.fullmatch(raw):
        line.add("V009", f"consignee_zip {raw!r} is not 5 or 9 digits", "consignee_zip")


def rule_e001(line, policy):
    if line.date is None:
        return
    regime = regime_on(policy, line.date)
    if regime is None:
        line.add("E001", f"no de minimis regime applies on {line.date.isoformat()}",
                 "arrival_date")
    elif not regime["de_minimis"]:
        line.add("E001", f"de minimis is off on {line.date.isoformat()}", "arrival_date")
    elif line.origin in regime["suspended"]:
        line.add("E001", f"origin {line.origin} is suspended from de minimis on "
                 f"{line.date.isoformat()}", "country_of_origin")


def _prefix(hts, prefixes):
    for p in prefixes:
        if hts.startswith(p):
            return p
    return None


def rule_e002(line, policy):
    p = _prefix(line.hts, policy["pga_prefixes"]) if line.hts else None
    if p:
        line.add("E002", f"hts_code {line.values['hts_code']!r} starts with PGA prefix {p}",
                 "hts_code")


def rule_e003(line, policy):
    p = _prefix(line.hts, policy["restricted_prefixes"]) if line.hts else None
    if p:
        line.add("E003", f"hts_code {line.values['hts_code']!r} starts with restricted "
                 f"prefix {p}", "hts_code")


def rule_r001(line, policy):
    chapter = line.hts[:2]
    floor = policy["floors"].get(chapter) if re.fullmatch(r"[0-9]{2}", chapter) else None
    if floor is None or line.usd is None or line.weight is None or line.weight <= 0:
        return
    if line.usd < floor * line.weight:  # usd / weight < floor, without dividing
        line.add("R001", f"{fmt_money(line.usd)} USD for {line.values['weight_kg']} kg is below "
                 f"the chapter {chapter} floor of {floor} USD/kg", "declared_value")


def rule_r002(line, policy):
    if line.origin in ISO_ALPHA2 and line.shipper_country in ISO_ALPHA2 \
            and line.origin != line.shipper_country:
        line.add("R002", f"shipper_country {line.shipper_country} differs from "
                 f"country_of_origin {line.origin}", "shipper_country")


def check_line(line, policy, job):
    rule_v001(line, policy)
    rule_v002(line, policy)
    rule_v003(line, policy)
    rule_v004(line, policy)
    rule_v005(line, policy)
    rule_v006(line, policy, job)
    rule_v007(line, policy)
    rule_v008(line, policy)
    rule_v009(line, policy)
    rule_e001(line, policy)
    rule_e002(line, policy)
    rule_e003(line, policy)
    rule_r001(line, policy)
    rule_r002(line, policy)


def line_key(line_no):
    return int(line_no) if INT_RE.fullmatch(line_no) else line_no


def rules_d001_d002(lines):
    """D001: exact copies of an earlier row; D002: same (carrier, house_bill, line_no) with
    different content, every copy flagged."""
    first = {}
    for line in lines:
        content = tuple(line.values[c] for c in CANONICAL)
        if content in first:
            line.is_copy = True
            line.add("D001", f"record {line.record} repeats record {first[content]} exactly")
        else:
            first[content] = line.record
    groups = {}
    for line in lines:
        v = line.values
        groups.setdefault((v["carrier"], v["house_bill"], line_key(v["line_no"])), []).append(line)
    for (carrier, hb, ln), members in groups.items():
        contents = {tuple(m.values[c] for c in CANONICAL) for m in members}
        if len(contents) > 1:
            records = ", ".join(str(m.record) for m in members)
            for m in members:
                m.add("D002", f"{carrier}/{hb} line {m.values['line_no']!r} appears with "
                      f"different content in records {records}")


# ----------------------------------------------------------------------------------------------
# Files, shipments, the run
# ----------------------------------------------------------------------------------------------

class Shipment:
    def __init__(self, file, key):
        self.file = file
        self.carrier, self.house_bill = key
        self.key = key
        self.lines = []
        self.first_of = None  # the first-seen Shipment when this is a D003 repeat
        self.findings = []    # shipment-level findings

    def facts(self):
        first = self.lines[0]
        self.consignee_key = consignee_key(first.values)
        self.date = first.date
        distinct = [ln for ln in self.lines if not ln.is_copy]
        self.n_lines = len(distinct)
        self.total = sum((ln.usd for ln in distinct if ln.usd is not None), Decimal(0))
        self.distinct = distinct

    def add(self, rule, message):
        self.findings.append(finding(rule, message, "", self.lines[0].record,
                                     carrier=self.carrier, house_bill=self.house_bill))

    def line_codes(self):
        return {f["rule"] for ln in self.lines for f in ln.findings}


class ManifestFile:
    def __init__(self, path, job, policy):
        self.path = path
        self.name = os.path.basename(path)
        self.job = job
        self.file_findings = []
        self.malformed = []   # F003 findings
        self.lines = []
        self.shipments = []
        self.unreadable = False
        self.read(policy)

    def read(self, policy):
        job = self.job
        try:
            header, rows = read_rows(self.path, job)
        except Unreadable as e:
            self.unreadable = True
            self.file_findings.append(finding("F001", f"{self.name}: {e}"))
            return
        if header is not None:
            names = set(header)
            for col in CANONICAL:
                src = job["columns"].get(col)
                if src is not None and col not in job["constants"] and src not in names:
                    self.file_findings.append(finding(
                        "F002", f"mapped column {src!r} (for {col}) is not in the header", col))
        for record, raw, error in rows:
            if raw is None:
                self.malformed.append(finding("F003", f"record {record}: {error}", "", record))
                continue
            line = Line(record, to_canonical(raw, job), job, policy)
            check_line(line, policy, job)
            self.lines.append(line)
        rules_d001_d002(self.lines)
        by_key = {}
        for line in self.lines:
            key = (line.values["carrier"], line.values["house_bill"])
            if key not in by_key:
                by_key[key] = Shipment(self, key)
                self.shipments.append(by_key[key])
            by_key[key].lines.append(line)
        for s in self.shipments:
            s.facts()

    def findings(self):
        out = list(self.file_findings)
        items = [(f["record"], f) for f in self.malformed]
        for line in self.lines:
            ordered = sorted(line.findings, key=lambda f: RULE_ORDER[f["rule"]])
            items.extend((line.record, f) for f in ordered)
        items.sort(key=lambda t: t[0])  # stable: a record's findings keep rule order
        out.extend(f for _, f in items)
        for s in self.shipments:
            out.extend(sorted(s.findings, key=lambda f: RULE_ORDER[f["rule"]]))
        return out


def run_level_rules(files, policy):
    """D003, D004, L001, L002, L003 over the whole run (no history)."""
    first_seen = {}
    for mf in files:
        for s in mf.shipments:
            if s.house_bill == "":
                continue
            if s.key in first_seen:
                s.first_of = first_seen[s.key]
                s.add("D003", f"{s.carrier}/{s.house_bill} already came in "
                      f"{s.first_of.file.name}; not filed again")
            else:
                first_seen[s.key] = s
    groups = {}
    for s in first_seen.values():
        if s.date is not None:
            groups.setdefault((s.consignee_key, s.date), []).append(s)
    for (key, day), members in groups.items():
        rule_d004(members)
        if len(members) > 1:
            names = ", ".join(m.house_bill for m in members)
            for m in members:
                m.add("L001", f"consignee {key!r} has {len(members)} house bills on "
                      f"{day.isoformat()}: {names}")
        total = sum((m.total for m in members), Decimal(0))
        if total > policy["threshold"]:
            for m in members:
                m.add("L002", f"consignee {key!r} totals {fmt_money(total)} USD on "
                      f"{day.isoformat()}, above {policy['threshold']}")
    for s in first_seen.values():
        if s.total > policy["threshold"]:
            s.add("L003", f"house bill total {fmt_money(s.total)} USD is above "
                  f"{policy['threshold']}")


def rule_d004(members):
    by_sig = {}
    for s in members:
        for ln in s.distinct:
            if not ln.hts or ln.value is None or not ln.desc:
                continue
            sig = (ln.hts, ln.value, ln.currency, ln.desc)
            by_sig.setdefault(sig, []).append(s)
    flagged = {}
    for sig, ships in by_sig.items():
        distinct = []
        for s in ships:
            if s not in distinct:
                distinct.append(s)
        if len(distinct) > 1:
            for s in distinct:
                flagged.setdefault(id(s), (s, []))[1].extend(o for o in distinct if o is not s)
    for s, others in flagged.values():
        names = []
        for o in others:
            if o.house_bill not in names:
                names.append(o.house_bill)
        s.add("D004", f"a line matches a line of house bill(s) {', '.join(names)} "
              f"(same HTS, value, currency and description)")


def route(s, file_error_codes, policy):
    """Contract section 6: returns (disposition, [reason codes])."""
    codes = s.line_codes() | {f["rule"] for f in s.findings}
    errors = {c for c in codes if RULES[c] == "error"} | file_error_codes
    if errors:
        return "hold", sorted(errors, key=RULE_ORDER.get)
    if s.first_of is not None:
        return "duplicate", ["D003"]
    over_informal = s.total > policy["informal"]
    if "E003" in codes or over_informal:
        reasons = (["L003"] if over_informal and "L003" in codes else []) + \
                  (["E003"] if "E003" in codes else [])
        return "01", reasons
    blockers = [c for c in ("L002", "L003", "E001") if c in codes]
    if not blockers:
        return "86", []
    return "11", blockers


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------

def pick_job(jobs, path):
    name = os.path.basename(path)
    for job in jobs:
        if fnmatch.fnmatchcase(name, job["pattern"]):
            return job
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--job", action="append", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--no-history", action="store_true", help="accepted; always on")
    ap.add_argument("files", nargs="+")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        policy = load_policy(args.policy)
        jobs = [load_job(j) for j in args.job]
        plan = []
        for path in args.files:
            job = pick_job(jobs, path)
            if job is None:
                raise BadInput(f"no job's pattern matches {os.path.basename(path)}")
            plan.append((path, job))
        files = [ManifestFile(path, job, policy) for path, job in plan]
    except BadInput as e:
        print(f"oracle: {e}", file=sys.stderr)
        return 2

    run_level_rules(files, policy)

    findings, dispositions = [], []
    for mf in files:
        for f in mf.findings():
            findings.append(dict(f, source_file=mf.name))
        file_errors = {f["rule"] for f in mf.file_findings if f["severity"] == "error"}
        for s in mf.shipments:
            disposition, reasons = route(s, file_errors, policy)
            dispositions.append({
                "source_file": mf.name, "carrier": s.carrier, "house_bill": s.house_bill,
                "arrival_date": s.date.isoformat() if s.date else "",
                "consignee_key": s.consignee_key, "lines": s.n_lines,
                "total_usd": fmt_money(s.total), "disposition": disposition,
                "reasons": ";".join(reasons),
            })

    os.makedirs(args.out, exist_ok=True)
    write_csv(os.path.join(args.out, "findings.csv"), FINDING_COLUMNS, findings)
    write_csv(os.path.join(args.out, "dispositions.csv"), DISPOSITION_COLUMNS, dispositions)

    by_sev = {s: sum(1 for f in findings if f["severity"] == s) for s in ("error", "warning", "info")}
    by_disp = {d: sum(1 for x in dispositions if x["disposition"] == d)
               for d in ("hold", "duplicate", "01", "86", "11")}
    n_lines = sum(len(mf.lines) for mf in files)
    print(f"oracle: {len(files)} file(s), {n_lines} line(s), {len(dispositions)} shipment(s); "
          f"findings: " + ", ".join(f"{v} {k}" for k, v in by_sev.items()) +
          "; dispositions: " + ", ".join(f"{k} {v}" for k, v in by_disp.items()))
    return 1 if any(mf.unreadable for mf in files) else 0


def write_csv(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in columns})


if __name__ == "__main__":
    sys.exit(main())
