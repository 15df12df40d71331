#!/usr/bin/env python3
"""The benchmark's baseline: the rules of contract sections 4-7 as plain DuckDB SQL.

    python3 duckdb_rules.py --out DIR --job J.toml [--job ...] [--policy P.toml] FILE...

Reads each FILE with the first job whose pattern matches its name, evaluates
every rule and the routing in SQL (DuckDB's own threads do the work; Python
only reads the TOML files and builds the SQL), and writes findings.csv and
dispositions.csv with the contract's columns. No history (like --no-history).

Where DuckDB cannot do what the contract says, it does the closest thing:
- norm(): nfc_normalize + lower instead of NFKC + case-fold (full-width
  letters and ligatures are not folded);
- F003 record numbers: DuckDB skips rejected CSV rows without numbering them,
  so F003 rows carry the line DuckDB reports;
- money is DECIMAL(38,12), FX products rounded to 12 places like s321d.
It is a fair, competent implementation for timing, not a second reference.
"""

import argparse
import fnmatch
import os
import sys
import time
import tomllib

import duckdb

CANONICAL = [
    "carrier", "master_bill", "house_bill", "line_no", "arrival_date", "port_of_entry",
    "shipper_name", "shipper_country", "consignee_name", "consignee_address", "consignee_city",
    "consignee_state", "consignee_zip", "description", "hts_code", "country_of_origin", "quantity",
    "declared_value", "currency", "weight_kg", "seller_name",
]
REQUIRED = ["house_bill", "consignee_name", "consignee_address", "description", "declared_value",
            "country_of_origin", "hts_code", "arrival_date", "port_of_entry"]
ABBREV = [("street", "st"), ("avenue", "ave"), ("road", "rd"), ("boulevard", "blvd"), ("drive", "dr"),
          ("lane", "ln"), ("apartment", "apt"), ("suite", "ste"), ("north", "n"), ("south", "s"),
          ("east", "e"), ("west", "w")]
ISO = ("AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
       "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR "
       "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO "
       "JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR "
       "MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO "
       "RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV "
       "TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW").split()


def q(s):
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def ident(s):
    return '"' + s.replace('"', '""') + '"'


def lst(values):
    return "[" + ", ".join(q(v) for v in values) + "]" if values else "[]::VARCHAR[]"


def norm(expr):
    """norm() of contract section 4, as DuckDB can: see the module docstring.
    Abbreviations map word by word (one pass), not one regex pass per word."""
    cleaned = f"trim(regexp_replace(lower(nfc_normalize(coalesce({expr}, ''))), '[^\\p{{L}}\\p{{N}}]+', ' ', 'g'))"
    cases = " ".join(f"WHEN '{long}' THEN '{short}'" for long, short in ABBREV)
    return f"array_to_string(list_transform(string_split({cleaned}, ' '), lambda w: CASE w {cases} ELSE w END), ' ')"


def load_policy(path):
    base = tomllib.load(open(os.path.join(os.path.dirname(__file__), "../../config/policy.toml"), "rb"))
    if path:
        top = tomllib.load(open(path, "rb"))
        for k, v in top.items():
            if k in ("lists", "risk") and isinstance(v, dict):
                base.setdefault(k, {}).update(v)
            else:
                base[k] = v
    return base


def file_select(con, idx, path, job):
    """A SELECT producing the canonical columns of one file, all VARCHAR."""
    fmt = job["format"]
    cols = fmt.get("columns", {})
    consts = fmt.get("constants", {})
    if fmt["kind"] == "csv":
        latin = fmt.get("encoding", "utf-8").lower() in ("windows-1252", "cp1252")
        enc = "latin-1" if latin else "utf-8"
        delim = fmt.get("delimiter", ",")
        # The header names the columns, so DuckDB need not sniff (a broken row would stop it).
        with open(path, "rb") as fh:
            first = fh.readline().decode("latin-1" if latin else "utf-8-sig").rstrip("\r\n")
        present = [h.strip().strip('"') for h in first.split(delim)]
        spec = "{" + ", ".join(f"{q(h)}: 'VARCHAR'" for h in present) + "}"
        src = (f"read_csv({q(path)}, header=true, auto_detect=false, columns={spec}, delim={q(delim)}, quote='\"', "
               f"escape='\"', encoding={q(enc)}, ignore_errors=true, store_rejects=true, "
               f"rejects_table='rej_{idx}', rejects_scan='scan_{idx}', parallel=true)")
    else:
        keys = sorted({cols.get(c, c) for c in CANONICAL if c not in consts})
        spec = "{" + ", ".join(f"{q(k)}: 'VARCHAR'" for k in keys) + "}"
        src = f"read_json({q(path)}, format='newline_delimited', columns={spec}, ignore_errors=true)"
        present = keys
    parts = []
    for c in CANONICAL:
        if c in consts:
            parts.append(f"{q(consts[c])} AS {c}")
        elif cols.get(c, c) in present:
            parts.append(f"coalesce({ident(cols.get(c, c))}, '') AS {c}")
        else:
            parts.append(f"'' AS {c}")
    return (f"SELECT {idx}::INTEGER AS file, (row_number() OVER ())::INTEGER AS record, {', '.join(parts)} FROM {src}",
            fmt.get("date_format", "%Y-%m-%d"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--job", action="append", required=True)
    ap.add_argument("--policy")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    started = time.time()
    jobs = [tomllib.load(open(j, "rb")) for j in a.job]
    pol = load_policy(a.policy)
    os.makedirs(a.out, exist_ok=True)
    con = duckdb.connect()
    names = [os.path.basename(f) for f in a.files]

    # 1. Read every file into one table of canonical text.
    selects, formats = [], []
    for i, f in enumerate(a.files):
        job = next(j for j in jobs if fnmatch.fnmatchcase(names[i], j.get("pattern", "*")))
        sel, fmt = file_select(con, i, f, job)
        selects.append(sel)
        formats.append(fmt)
    con.execute("CREATE TABLE raw AS " + " UNION ALL ".join(selects))
    con.execute("CREATE TABLE files AS SELECT * FROM (VALUES " +
                ", ".join(f"({i}, {q(n)}, {q(formats[i])})" for i, n in enumerate(names)) + ") t(file, name, date_format)")

    # 2. Normalise (contract section 4).
    fx = pol.get("fx", {})
    fx_case = "CASE cur " + " ".join(f"WHEN {q(k)} THEN {v}::DECIMAL(38,12)" for k, v in fx.items()) + \
              " WHEN 'USD' THEN 1::DECIMAL(38,12) END"
    regimes = sorted(pol["regime"], key=lambda r: str(r["from"]))
    regime_case = "CASE " + " ".join(
        f"WHEN d >= DATE {q(str(r['from']))} THEN {i}" for i, r in reversed(list(enumerate(regimes)))) + " END"
    date_case = "CASE " + " ".join(f"WHEN file = {i} THEN try_strptime(trim(arrival_date), {q(f)})::DATE"
                                   for i, f in enumerate(formats)) + " END"
    con.execute(f"""
        CREATE TABLE n AS
        SELECT *, {fx_case} AS rate,
               CASE WHEN val > 0 THEN round(val * ({fx_case}), 12) END AS usd,
               {regime_case} AS regime,
               ckey_name || '|' || ckey_addr || '|' || zip5 AS ckey
        FROM (
          SELECT *, trim(carrier) AS k_carrier, trim(house_bill) AS k_hb, trim(line_no) AS k_line,
                 regexp_replace(trim(hts_code), '[. -]', '', 'g') AS hts,
                 upper(trim(country_of_origin)) AS origin, upper(trim(shipper_country)) AS shipper_c,
                 coalesce(nullif(upper(trim(currency)), ''), 'USD') AS cur, trim(port_of_entry) AS port,
                 {norm('description')} AS ndesc,
                 try_cast(replace(regexp_replace(trim(declared_value), '^\\$', ''), ',', '') AS DECIMAL(38,12)) AS val,
                 try_cast(trim(weight_kg) AS DECIMAL(38,12)) AS weight,
                 {date_case} AS d,
                 {norm('consignee_name')} AS ckey_name, {norm('consignee_address')} AS ckey_addr,
                 left(regexp_replace(consignee_zip, '[^0-9]', '', 'g'), 5) AS zip5,
                 hash({', '.join(CANONICAL)}) AS row_hash
          FROM raw)""")

    # 3. Line rules (V, E, R) as one UNION ALL.
    vague = [v for v in pol["lists"].get("vague_terms", [])]
    vague_sql = lst([con.execute(f"SELECT {norm(q(v))}").fetchone()[0] for v in vague])
    ports, pga, restricted = pol["lists"].get("ports", []), pol["lists"].get("pga_prefixes", []), pol["lists"].get("restricted_prefixes", [])
    def prefix_any(prefixes):
        return "(" + " OR ".join(f"starts_with(hts, {q(p.replace('.', ''))})" for p in prefixes) + ")" if prefixes else "false"
    e001 = "CASE regime " + " ".join(
        f"WHEN {i} THEN {'false' if r.get('de_minimis') and not r.get('suspended_origins') else ('origin IN (' + ', '.join(q(c) for c in r.get('suspended_origins', [])) + ')' if r.get('de_minimis') else 'true')}"
        for i, r in enumerate(regimes)) + " ELSE true END"
    floors = pol.get("risk", {}).get("undervalued_usd_per_kg", {})
    floor_case = "CASE left(hts, 2) " + " ".join(f"WHEN {q(k)} THEN {v}::DECIMAL(38,12)" for k, v in floors.items()) + " END"
    iso = lst(ISO)
    rules = []
    def rule(code, sev, field, cond, msg):
        rules.append(f"SELECT file, record, k_carrier, k_hb, k_line, '{code}' AS rule, '{sev}' AS severity, {field} AS field, {msg} AS message FROM n WHERE {cond}")
    for f in REQUIRED:
        rule("V001", "error", q(f), f"trim({f}) = ''", q(f"{f} is empty"))
    rule("V002", "error", "'hts_code'", "NOT regexp_full_match(hts, '[0-9]{10}')", "'hts_code ''' || hts_code || ''' is not 10 digits'")
    rule("V003", "error", "'country_of_origin'", f"NOT list_contains({iso}, origin)", "'country_of_origin ''' || country_of_origin || ''' is not an ISO code'")
    rule("V003", "error", "'shipper_country'", f"NOT list_contains({iso}, shipper_c)", "'shipper_country ''' || shipper_country || ''' is not an ISO code'")
    rule("V004", "error", "'declared_value'", "val IS NULL OR val <= 0", "'declared_value ''' || declared_value || ''' is not a positive number'")
    rule("V005", "error", "'port_of_entry'", f"NOT list_contains({lst(ports)}, port)", "'port_of_entry ''' || port_of_entry || ''' is not a Schedule D port'")
    rule("V006", "error", "'arrival_date'", "d IS NULL", "'arrival_date ''' || arrival_date || ''' does not parse'")
    rule("V007", "warning", "'description'", f"list_contains({vague_sql}, ndesc) OR length(ndesc) < 3", "'description ''' || description || ''' is vague'")
    rule("V008", "error", "'currency'", "rate IS NULL", "'currency ''' || currency || ''' has no rate'")
    rule("V009", "warning", "'consignee_zip'", "NOT regexp_full_match(trim(consignee_zip), '[0-9]{5}(-?[0-9]{4})?')", "'consignee_zip ''' || consignee_zip || ''' is not 5 or 9 digits'")
    rule("E001", "info", "'arrival_date'", f"d IS NOT NULL AND {e001}", "'de minimis is not available on ' || d")
    rule("E002", "warning", "'hts_code'", prefix_any(pga), "'hts_code ' || hts || ' needs PGA review'")
    rule("E003", "warning", "'hts_code'", prefix_any(restricted), "'hts_code ' || hts || ' is restricted'")
    if floors:
        rule("R001", "warning", "'declared_value'", f"weight > 0 AND usd IS NOT NULL AND usd / weight < {floor_case}", "'USD value ' || usd || ' per kg below the floor'")
    rule("R002", "warning", "'shipper_country'", f"list_contains({iso}, origin) AND list_contains({iso}, shipper_c) AND origin <> shipper_c",
         "'shipper_country ' || shipper_c || ' differs from origin ' || origin")
    con.execute("CREATE TABLE findings AS " + " UNION ALL ".join(rules))

    # 4. File rules: D001 (exact copies), D002 (conflicting lines).
    con.execute("""
        CREATE TABLE flags AS
        SELECT file, record, row_number() OVER (PARTITION BY file, row_hash ORDER BY record) > 1 AS d001,
               count(DISTINCT row_hash) OVER (PARTITION BY file, k_carrier, k_hb, k_line) > 1 AS d002
        FROM n""")
    con.execute("""INSERT INTO findings
        SELECT n.file, n.record, k_carrier, k_hb, k_line, 'D001', 'warning', '', 'the row repeats an earlier row exactly'
        FROM n JOIN flags USING (file, record) WHERE d001
        UNION ALL
        SELECT n.file, n.record, k_carrier, k_hb, k_line, 'D002', 'error', '', 'conflicting content for the same line'
        FROM n JOIN flags USING (file, record) WHERE d002""")

    # 5. Shipments per file, D003, daily groups (L001, L002), D004, L003.
    err_rules = "('V001','V002','V003','V004','V005','V006','V008','D002')"
    con.execute(f"""
        CREATE TABLE line_err AS SELECT file, record, string_agg(DISTINCT rule, ';' ORDER BY rule) AS errs
        FROM findings WHERE rule IN {err_rules} GROUP BY ALL""")
    con.execute(f"""
        CREATE TABLE ship AS
        SELECT n.file, k_carrier, k_hb, min(n.record) AS first_record, count(*) AS lines,
               arg_min(ckey, n.record) AS ckey, coalesce(arg_min(d, n.record), min(d)) AS d,
               coalesce(sum(CASE WHEN NOT d001 THEN usd END), 0) AS total,
               string_agg(DISTINCT errs, ';') AS errs,
               bool_or(d IS NOT NULL AND {e001}) AS e001, bool_or({prefix_any(restricted)}) AS e003
        FROM n JOIN flags USING (file, record) LEFT JOIN line_err USING (file, record)
        GROUP BY n.file, k_carrier, k_hb""")
    con.execute("""
        CREATE TABLE occ AS
        SELECT *, file > min(file) OVER (PARTITION BY k_carrier, k_hb) AS d003,
               first_value(ckey) OVER w AS c_ckey, first_value(d) OVER w AS c_d
        FROM ship WINDOW w AS (PARTITION BY k_carrier, k_hb ORDER BY file)""")
    thr = pol["threshold_usd"]
    informal = pol["informal_limit_usd"]
    con.execute(f"""
        CREATE TABLE daily AS
        SELECT c_ckey, c_d, count(*) AS bills, sum(total) AS day_total
        FROM (SELECT DISTINCT ON (k_carrier, k_hb) k_carrier, k_hb, c_ckey, c_d, total FROM occ ORDER BY k_carrier, k_hb, file)
        WHERE c_d IS NOT NULL GROUP BY ALL""")
    con.execute("""
        CREATE TABLE d004 AS
        SELECT DISTINCT s.file, s.k_carrier, s.k_hb
        FROM n JOIN ship s ON n.file = s.file AND n.k_carrier = s.k_carrier AND n.k_hb = s.k_hb
        JOIN (SELECT s2.ckey, s2.d, n2.hts, coalesce(n2.val::VARCHAR, n2.declared_value) AS v, n2.cur, n2.ndesc
              FROM n n2 JOIN ship s2 ON n2.file = s2.file AND n2.k_carrier = s2.k_carrier AND n2.k_hb = s2.k_hb
              WHERE s2.d IS NOT NULL
              GROUP BY ALL HAVING count(DISTINCT s2.k_carrier || chr(31) || s2.k_hb) > 1) g
          ON g.ckey = s.ckey AND g.d = s.d AND g.hts = n.hts AND g.v = coalesce(n.val::VARCHAR, n.declared_value)
             AND g.cur = n.cur AND g.ndesc = n.ndesc""")
    con.execute(f"""
        CREATE TABLE judged AS
        SELECT o.*, coalesce(dl.bills > 1, false) AS l001, coalesce(dl.day_total > {thr}, false) AS l002,
               o.total > {thr} AS l003, d4.k_hb IS NOT NULL AS d004
        FROM occ o LEFT JOIN daily dl ON dl.c_ckey = o.c_ckey AND dl.c_d = o.c_d
        LEFT JOIN d004 d4 ON d4.file = o.file AND d4.k_carrier = o.k_carrier AND d4.k_hb = o.k_hb""")
    for code, sev, cond, msg in [
        ("D003", "warning", "d003", "'house bill already came in an earlier file'"),
        ("D004", "warning", "d004", "'same line on another house bill of the consignee'"),
        ("L001", "warning", "l001", "'the consignee has several house bills on ' || c_d"),
        ("L002", "warning", "l002", "'the consignee''s day is over the threshold'"),
        ("L003", "info", "l003", "'house bill total ' || total || ' is over the threshold'"),
    ]:
        con.execute(f"INSERT INTO findings SELECT file, first_record, k_carrier, k_hb, '', '{code}', '{sev}', '', {msg} FROM judged WHERE {cond}")

    # F003: rows DuckDB rejected.
    for i, f in enumerate(a.files):
        try:
            con.execute(f"INSERT INTO findings SELECT {i}, line::INTEGER, '', '', '', 'F003', 'error', '', error_message FROM rej_{i}")
        except duckdb.Error:
            pass

    # 6. Routing (section 6) and the outputs.
    con.execute(f"""
        COPY (SELECT name AS source_file, k_carrier AS carrier, k_hb AS house_bill, coalesce(d::VARCHAR, '') AS arrival_date,
                     ckey AS consignee_key, lines, total AS total_usd,
                     CASE WHEN errs IS NOT NULL THEN 'hold' WHEN d003 THEN 'duplicate'
                          WHEN e003 OR total > {informal} THEN '01'
                          WHEN NOT e001 AND NOT l002 AND NOT l003 THEN '86' ELSE '11' END AS disposition,
                     CASE WHEN errs IS NOT NULL THEN errs WHEN d003 THEN 'D003'
                          WHEN e003 OR total > {informal} THEN concat_ws(';', CASE WHEN total > {informal} THEN 'L003' END, CASE WHEN e003 THEN 'E003' END)
                          WHEN NOT e001 AND NOT l002 AND NOT l003 THEN ''
                          ELSE concat_ws(';', CASE WHEN l002 THEN 'L002' END, CASE WHEN l003 THEN 'L003' END, CASE WHEN e001 THEN 'E001' END) END AS reasons
              FROM judged JOIN files USING (file) ORDER BY file, first_record)
        TO {q(os.path.join(a.out, 'dispositions.csv'))} (HEADER, DELIMITER ',')""")
    con.execute(f"""
        COPY (SELECT name AS source_file, record, k_carrier AS carrier, k_hb AS house_bill, k_line AS line_no,
                     rule, severity, field, message FROM findings JOIN files USING (file))
        TO {q(os.path.join(a.out, 'findings.csv'))} (HEADER, DELIMITER ',')""")
    lines = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    nfind = con.execute("SELECT count(*) FROM findings").fetchone()[0]
    ndisp = con.execute("SELECT count(*) FROM judged").fetchone()[0]
    print(f"duckdb baseline: {lines} lines, {nfind} findings, {ndisp} shipments in {time.time() - started:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
