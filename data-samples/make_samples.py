#!/usr/bin/env python3
"""Write the hand-made credit-recon sample data root (see README.md beside this file).

Deterministic: running it twice gives byte-identical files (for one pyarrow version).
Needs the standard library and pyarrow (`pip install pyarrow`).

    python3 data-samples/make_samples.py            # writes next to this script
    python3 data-samples/make_samples.py OUT_DIR    # writes elsewhere
"""

import hashlib
import json
import os
import sys
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

NBSP = "\u00a0"


def dec(x):
    """Decimal string with exactly 4 fractional digits, or None."""
    if x is None:
        return None
    return str(Decimal(str(x)).quantize(Decimal("0.0001")))


def sha(name):
    return hashlib.sha256(("credit-recon sample file " + name).encode()).hexdigest()


# --------------------------------------------------------------------------- writers

def csv_field(v):
    """RFC 4180 field. None -> empty field (null). Strings that could be mangled
    (separator, quote, line break, leading/trailing white space) are quoted."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        v = "|".join(v)
    s = str(v)
    if s == "":
        raise ValueError("empty string cannot be written to CSV (it would read as null)")
    if any(c in s for c in ',"\r\n') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def write_csv(path, columns, rows):
    full = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(columns) + "\n")
        for r in rows:
            assert set(r) == set(columns), (path, r)
            f.write(",".join(csv_field(r[c]) for c in columns) + "\n")


def write_ndjson(path, columns, rows):
    full = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8", newline="") as f:
        for r in rows:
            assert set(r) == set(columns), (path, r)
            f.write(json.dumps({c: r[c] for c in columns}, ensure_ascii=False) + "\n")


def write_cells_parquet(path, rows):
    full = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    schema = pa.schema([
        pa.field("upload_id", pa.string(), nullable=False),
        pa.field("column", pa.string(), nullable=False),
        pa.field("row_index", pa.int64(), nullable=False),
        pa.field("value", pa.string(), nullable=True),
    ])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, full, row_group_size=1_000_000, compression="snappy")


# --------------------------------------------------------------------------- reference

PLANS_COLS = ["plan_id", "free_reruns", "free_smart_column_runs", "translation_credits_per_cell"]
PLANS = [
    dict(plan_id="basic", free_reruns=dec("1"), free_smart_column_runs=2, translation_credits_per_cell=dec("0.1")),
    dict(plan_id="pro", free_reruns=dec("2"), free_smart_column_runs=3, translation_credits_per_cell=dec("0.05")),
]

ACCOUNTS_COLS = ["account_id", "name", "plan_id", "support_email"]
ACCOUNTS = [
    dict(account_id="acc-1", name="Northwind Research", plan_id="basic", support_email="support@northwind.example"),
    dict(account_id="acc-2", name="Blue Harbor Insights", plan_id="pro", support_email=None),
    dict(account_id="acc-3", name="Cedar Labs", plan_id="basic", support_email="ops@cedarlabs.example"),
]

PROJECTS_COLS = ["project_id", "account_id", "name", "is_demo", "created_at"]
PROJECTS = [
    dict(project_id="prj-1", account_id="acc-1", name="Customer survey Q4", is_demo=False, created_at="2026-10-05T08:00:00Z"),
    dict(project_id="prj-2", account_id="acc-1", name="Onboarding demo", is_demo=True, created_at="2026-10-05T08:05:00Z"),
    dict(project_id="prj-3", account_id="acc-2", name="Employee pulse", is_demo=False, created_at="2026-10-12T09:00:00Z"),
    dict(project_id="prj-4", account_id="acc-2", name="Product reviews", is_demo=False, created_at="2026-10-20T10:00:00Z"),
    dict(project_id="prj-5", account_id="acc-3", name="Support tickets", is_demo=False, created_at="2026-10-28T12:00:00Z"),
]

# --------------------------------------------------------------------------- events

EVENT_COLS = ["event_id", "account_id", "project_id", "occurred_at", "event_type", "upload_id",
              "tta_columns", "dummy_values", "file_sha256", "cells_reported", "rerun_scope",
              "rerun_fraction", "rows_computed", "cells_translated", "confirmed"]


def ev(event_id, account, project, at, etype, **kw):
    row = {c: None for c in EVENT_COLS}
    row.update(event_id=event_id, account_id=account, project_id=project, occurred_at=at, event_type=etype)
    for k, v in kw.items():
        assert k in row, k
        row[k] = dec(v) if k == "rerun_fraction" else v
    return row


def upload(event_id, account, project, at, upload_id, tta, dummies, file_name, cells_reported=None):
    return ev(event_id, account, project, at, "upload", upload_id=upload_id, tta_columns=tta,
              dummy_values=dummies, file_sha256=sha(file_name), cells_reported=cells_reported)


def rerun(event_id, account, project, at, fraction, confirmed):
    scope = "full" if Decimal(str(fraction)) == 1 else "partial"
    return ev(event_id, account, project, at, "rerun", rerun_scope=scope, rerun_fraction=fraction,
              confirmed=confirmed)


def smart(event_id, account, project, at, rows, confirmed):
    return ev(event_id, account, project, at, "smart_column_run", rows_computed=rows, confirmed=confirmed)


def translation(event_id, account, project, at, upload_id, cells):
    return ev(event_id, account, project, at, "translation", upload_id=upload_id, cells_translated=cells)


D1 = "2026-11-01T"
D2 = "2026-11-02T"

EVENTS_1101 = [  # usage/date=2026-11-01/events.ndjson
    upload("ev-101", "acc-1", "prj-1", D1 + "08:00:00Z", "up-1", ["comment", "suggestion"], None, "survey_week44.xlsx"),
    smart("ev-102", "acc-1", "prj-1", D1 + "09:00:00Z", 40, False),
    rerun("ev-103", "acc-1", "prj-1", D1 + "10:00:00Z", "0.6", False),
    upload("ev-104", "acc-2", "prj-3", D1 + "11:00:00Z", "up-2", ["answer"], ["none"], "pulse_october.csv"),
    upload("ev-105", "acc-3", "prj-5", D1 + "08:00:00Z", "up-3", ["ticket_text"], ["-"], "tickets_2026-10.csv"),
    rerun("ev-106", "acc-3", "prj-5", D1 + "12:00:00Z", "1", False),
    upload("ev-107", "acc-3", "prj-5", D1 + "15:00:00Z", "up-4", ["ticket_text"], None, "tickets_escalated.csv"),
]

EVENTS_1102_CSV = [  # usage/date=2026-11-02/events.csv
    # acc-1 / prj-1 (basic plan) and prj-2 (demo)
    upload("ev-201", "acc-1", "prj-1", D2 + "08:00:00Z", "up-10", ["comment", "suggestion"], ["n/a", "None "], "survey_week45.xlsx"),
    rerun("ev-202", "acc-1", "prj-1", D2 + "09:00:00Z", "0.5", True),
    smart("ev-203", "acc-1", "prj-2", D2 + "09:30:00Z", 200, False),
    smart("ev-204", "acc-1", "prj-1", D2 + "10:00:00Z", 48, False),
    smart("ev-205", "acc-1", "prj-1", D2 + "10:30:00Z", 60, True),
    smart("ev-206", "acc-1", "prj-1", D2 + "11:00:00Z", 32, False),
    smart("ev-207", "acc-1", "prj-1", D2 + "11:30:00Z", 20, False),
    translation("ev-208", "acc-1", "prj-1", D2 + "12:00:00Z", "up-10", 25),
    upload("ev-209", "acc-1", "prj-1", D2 + "13:00:00Z", "up-11", ["comment"], None, "survey_paper_forms.xlsx", cells_reported=18),
    upload("ev-210", "acc-1", "prj-2", D2 + "14:00:00Z", "up-12", ["comment"], None, "demo_sample_a.csv", cells_reported=15),
    upload("ev-211", "acc-1", "prj-2", D2 + "14:30:00Z", "up-13", ["comment"], None, "demo_sample_b.csv"),
    ev("ev-212", "acc-1", "prj-1", D2 + "15:00:00Z", "export", upload_id="up-10"),  # reject: unknown event_type
    # acc-2 / prj-3 (pro plan)
    upload("ev-220", "acc-2", "prj-3", D2 + "08:30:00Z", "up-20", ["answer"], ["none"], "pulse_october.csv"),  # same file as up-2
    rerun("ev-221", "acc-2", "prj-3", D2 + "09:30:00Z", "1", False),
    translation("ev-222", "acc-2", "prj-3", D2 + "10:00:00Z", "up-20", 40),
    upload("ev-223", "acc-2", "prj-3", D2 + "10:30:00Z", "up-21", ["answer"], ["none"], "pulse_november.csv"),
    translation("ev-224", "acc-2", "prj-3", D2 + "12:00:00Z", "up-21", 60),
    upload("ev-225", "acc-2", "prj-3", D2 + "13:00:00Z", "up-22", ["answer"], ["none"], "pulse_managers.csv"),
]

EVENTS_1102_NDJSON = [  # usage/date=2026-11-02/events.part-0002.ndjson
    # acc-2 / prj-4 (pro plan)
    upload("ev-230", "acc-2", "prj-4", D2 + "11:00:00Z", "up-30", ["review"], None, "reviews_shop_a.json"),
    upload("ev-231", "acc-2", "prj-4", D2 + "11:30:00Z", "up-31", ["review"], None, "reviews_shop_b.json"),
    translation("ev-232", "acc-2", "prj-4", D2 + "12:30:00Z", "up-31", 100),
    # acc-3 / prj-5 (basic plan)
    ev("ev-240", "acc-3", "prj-5", D2 + "09:00:00Z", "upload_deleted", upload_id="up-4"),
    rerun("ev-241", "acc-3", "prj-5", D2 + "10:00:00Z", "0.5", True),
]

# --------------------------------------------------------------------------- cells

CELLS_COLS = ["upload_id", "column", "row_index", "value"]


def cells(upload_id, column, values):
    return [dict(upload_id=upload_id, column=column, row_index=i, value=v) for i, v in enumerate(values)]


CELLS_1101 = (  # usage/date=2026-11-01/cells.csv
    # up-1: tta comment+suggestion, dummy_values null -> defaults N/A and -      => 3 + 4 = 7 billable
    cells("up-1", "comment", ['Staff said "see you soon", nice', "N/A", "Checkout kept failing on mobile",
                              " n/a ", "-", "Friendly staff, long queue"])
    + cells("up-1", "suggestion", ["Open earlier on Saturdays", None, "Fix the card reader", "   ",
                                   "More vegan options", "--"])
    + cells("up-1", "respondent", ["R-001", "R-002", "R-003"])  # not a TTA column: free
    # up-2: tta answer, dummy_values [none]                                      => 5 billable
    + cells("up-2", "answer", ["The new manager listens", "More remote days please", "None ",
                               "Parking is a nightmare", "Great onboarding", "Salary bands are unclear"])
    # up-3: tta ticket_text, dummy_values [-]                                    => 4 billable
    + cells("up-3", "ticket_text", ["Cannot reset my password", "-", "Invoice shows wrong VAT",
                                    "Export to Excel times out", "Please add SSO"])
    # up-4: tta ticket_text, dummy_values null                                   => 3 billable
    + cells("up-4", "ticket_text", ["Duplicate of ticket 4411", None, "App logs me out",
                                    "Refund request for October"])
)

_up10_suggestion = cells("up-10", "suggestion", ["Longer opening hours", "\t", "none of the above", "Add Apple Pay",
                                                  "More parking", "Better Wi-Fi", " None ", "Keep the loyalty card"])
CELLS_1102 = (  # usage/date=2026-11-02/cells.parquet
    # up-10: tta comment+suggestion, dummy_values [n/a, "None "]                 => 4 + 6 = 10 billable
    cells("up-10", "comment", ["Staff were helpful", " N/A ", "NONE", "-", NBSP + NBSP, None,
                               "App crashed twice", "Prices went up again"])
    + _up10_suggestion
    + [dict(_up10_suggestion[7])]  # extra copy of (up-10, suggestion, 7): counted once, copy is a reject
    + cells("up-10", "respondent", ["R-101", "N/A"])  # not a TTA column: free
    # up-20: the same file as up-2 (same cells)                                  => 5 billable
    + cells("up-20", "answer", ["The new manager listens", "More remote days please", "None ",
                                "Parking is a nightmare", "Great onboarding", "Salary bands are unclear"])
    # up-21: tta answer, dummy_values [none]                                     => 4 billable
    + cells("up-21", "answer", ["Too many meetings", "  ", "Clear goals this quarter", "Need better laptops",
                                "Team lunches are great"])
    # up-22                                                                      => 3 billable
    + cells("up-22", "answer", ["Hybrid works well", "Onboarding buddy helped", "More training budget"])
    # up-31: tta review, dummy_values null -> defaults                           => 5 billable
    + cells("up-31", "review", ["Battery lasts two days", "N/A", "Stopped charging after a week", "-", None,
                                "Great value", "Screen scratches easily", "Would buy again"])
    + cells("up-31", "stars", ["5", "4"])  # not a TTA column: free
)

# --------------------------------------------------------------------------- ledger

LEDGER_COLS = ["entry_id", "posted_at", "account_id", "project_id", "entry_type", "category", "amount",
               "reference_id", "balance_after"]


def le(entry_id, at, account, project, etype, category, amount, ref, balance):
    return dict(entry_id=entry_id, posted_at=at, account_id=account, project_id=project, entry_type=etype,
                category=category, amount=amount if isinstance(amount, str) and not _is_num(amount) else dec(amount),
                reference_id=ref, balance_after=dec(balance))


def _is_num(s):
    try:
        Decimal(s)
        return True
    except Exception:
        return False


LEDGER_1101 = [
    le("le-101", D1 + "07:00:00Z", "acc-1", None, "purchase", None, "200", None, "200"),
    le("le-102", D1 + "08:02:00Z", "acc-1", "prj-1", "charge", "import", "-7", "ev-101", "193"),
    le("le-103", D1 + "07:00:00Z", "acc-2", None, "grant", None, "50", None, "50"),
    le("le-104", D1 + "07:05:00Z", "acc-2", None, "purchase", None, "100", None, "150"),
    le("le-105", D1 + "11:02:00Z", "acc-2", "prj-3", "charge", "import", "-5", "ev-104", "145"),
    le("le-106", D1 + "07:30:00Z", "acc-3", None, "purchase", None, "50", None, "50"),
    le("le-107", D1 + "08:02:00Z", "acc-3", "prj-5", "charge", "import", "-4", "ev-105", "46"),
    le("le-108", D1 + "15:02:00Z", "acc-3", "prj-5", "charge", "import", "-3", "ev-107", "43"),
]

LEDGER_1102 = [
    # acc-1
    le("le-201", D2 + "08:02:00Z", "acc-1", "prj-1", "charge", "import", "-10", "ev-201", "183"),
    le("le-202", D2 + "09:02:00Z", "acc-1", "prj-1", "charge", "rerun", "-0.85", "ev-202", "182.15"),
    le("le-203", D2 + "10:32:00Z", "acc-1", "prj-1", "charge", "smart_column", "-15", "ev-205", "167.15"),
    le("le-204", D2 + "11:02:00Z", "acc-1", "prj-1", "charge", "smart_column", "-8", "ev-206", "159.15"),
    le("le-205", D2 + "13:02:00Z", "acc-1", "prj-1", "charge", "import", "-18", "ev-209", "141.15"),
    le("le-206", D2 + "14:02:00Z", "acc-1", "prj-2", "charge", "import", "-15", "ev-210", "126.15"),
    le("le-207", D2 + "16:00:00Z", "acc-1", "prj-1", "charge", "smart_column", "-7.5", "ev-999", "118.65"),
    le("le-208", D2 + "17:00:00Z", "acc-1", None, "purchase", None, "1O0.0000", None, None),  # reject: amount
    # acc-2
    le("le-210", D2 + "08:32:00Z", "acc-2", "prj-3", "charge", "import", "-5", "ev-220", "140"),
    le("le-211", D2 + "09:32:00Z", "acc-2", "prj-3", "charge", "rerun", "-5", "ev-221", "135"),
    le("le-212", D2 + "10:02:00Z", "acc-2", "prj-3", "charge", "import", "-2", "ev-222", "133"),
    le("le-213", D2 + "10:32:00Z", "acc-2", "prj-3", "charge", "import", "-4", "ev-223", "129"),
    le("le-214", D2 + "10:33:00Z", "acc-2", "prj-3", "charge", "import", "-4", "ev-223", "125"),
    le("le-215", D2 + "11:32:00Z", "acc-2", "prj-4", "charge", "import", "-8", "ev-231", "117"),
    le("le-216", D2 + "12:32:00Z", "acc-2", "prj-4", "charge", "translation", "-2.5", "ev-232", "114.5"),
    le("le-217", D2 + "14:00:00Z", "acc-2", "prj-3", "refund", "import", "1.5", "le-214", "116"),
    le("le-218", D2 + "15:00:00Z", "acc-2", "prj-3", "charge", "translation", "-3", "ev-224", "113"),
    le("le-219", D2 + "16:30:00Z", "acc-2", None, "grant", None, "20", None, "123"),  # BALANCE_BREAK: 133 due
    # acc-3
    le("le-220", D2 + "10:02:00Z", "acc-3", "prj-5", "charge", "rerun", "-1", "ev-241", "42"),
    le("le-221", D2 + "10:05:00Z", "acc-3", "prj-5", "charge", "rerun", "1", "ev-241", None),  # reject: charge > 0
    le("le-222", D2 + "16:10:00Z", "acc-3", "prj-5", "charge", "import", "-4", None, "38"),
]

LEDGER_1104 = [
    le("le-401", "2026-11-04T06:00:00Z", "acc-2", "prj-3", "charge", "import", "-3", "ev-225", "120"),
]


def main():
    write_csv("reference/plans.csv", PLANS_COLS, PLANS)
    write_csv("reference/accounts.csv", ACCOUNTS_COLS, ACCOUNTS)
    write_csv("reference/projects.csv", PROJECTS_COLS, PROJECTS)

    write_ndjson("usage/date=2026-11-01/events.ndjson", EVENT_COLS, EVENTS_1101)
    write_csv("usage/date=2026-11-01/cells.csv", CELLS_COLS, CELLS_1101)
    write_csv("usage/date=2026-11-02/events.csv", EVENT_COLS, EVENTS_1102_CSV)
    write_ndjson("usage/date=2026-11-02/events.part-0002.ndjson", EVENT_COLS, EVENTS_1102_NDJSON)
    write_cells_parquet("usage/date=2026-11-02/cells.parquet", CELLS_1102)

    write_csv("ledger/date=2026-11-01/entries.csv", LEDGER_COLS, LEDGER_1101)
    write_csv("ledger/date=2026-11-02/entries.csv", LEDGER_COLS, LEDGER_1102)
    write_csv("ledger/date=2026-11-04/entries.csv", LEDGER_COLS, LEDGER_1104)


if __name__ == "__main__":
    main()
