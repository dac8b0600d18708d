"""Do the scores predict? The default rules backtested on real lead data with outcomes.

    .venv/bin/python bench/validity.py                     # data from ../shared/data
    .venv/bin/python bench/validity.py --data /some/where

Reads public data sets from a folder (default `../shared/data`, beside the project;
`--data` to move it: not a `LEADSCORE_` variable, which the product would refuse as an
unknown setting) and skips each one that is absent,
so a clone without the folder runs it to the end. Each set is mapped onto the default
rules' fields and activity types by the mapping below (committed here, so that a
figure can be traced to it), written as contacts and activities files, and backtested
by `leadscore backtest` itself. Printed: contacts, conversion rate, ROC AUC with its
bootstrap interval, average precision, the share of tied scores, and the columns the
leakage check names.

- X Education leads (`x-education-leads/Leads.csv`, outcome `Converted`): the columns
  its README says sales fills in after contact (`Tags`, `Lead Quality`, `Lead Profile`,
  the `Asymmetrique *` columns, `Last Notable Activity`) are dropped, and so are
  `Last Activity` values that are sales actions (SMS Sent, Had a Phone Conversation,
  Approached upfront, Unreachable, Email Received). A second line keeps the
  sales-filled columns to show the leakage check naming them. The file has no dates:
  everyone is scored as of one moment, `TotalVisits` is that many page views (at most
  20) a day before it, and the last activity one activity then.
- UCI Bank Marketing (`uci-bank-marketing/bank-additional-full.csv`, outcome `y`):
  `duration` is dropped (known only after the call). `previous` contacts of earlier
  campaigns become that many connected sales touches `pdays` days before the moment
  (none where `pdays` is 999, never contacted).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = ROOT / "scoring" / "rulesets" / "default.yaml"
AS_OF = "2026-01-01T12:00:00Z"
BEFORE = "2025-12-31T12:00:00Z"
"""The day before the moment: when the X Education leads' activity is dated."""

X_SALES_FILLED = (
    "Tags",
    "Lead Quality",
    "Lead Profile",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
    "Last Notable Activity",
)
X_LAST_ACTIVITY = {
    "Email Opened": ("email_open", {}),
    "Email Link Clicked": ("email_click", {}),
    "View in browser link Clicked": ("email_open", {}),
    "Page Visited on Website": ("page_view", {}),
    "Form Submitted on Website": ("form_submission", {}),
    "Converted to Lead": ("form_submission", {}),
    "Olark Chat Conversation": ("question", {}),
    "Unsubscribed": ("email_unsubscribe", {}),
    "Email Bounced": ("email_bounce", {"bounce_type": "hard"}),
    "Email Marked Spam": ("email_spam_report", {}),
    "Resubscribed to emails": ("newsletter_signup", {}),
    "Visited Booth in Tradeshow": ("meeting", {}),
}
"""`Last Activity` as the default rules' activity types; sales actions are left out."""
X_OCCUPATION = {"Student": "Student", "Unemployed": "Job seeker"}
"""`What is your current occupation` as `job_function` (a guess: the rules' own words)."""
X_SENIORITY = {"Businessman": "C-level"}
COUNTRIES = {
    "India": "IN", "United States": "US", "United Arab Emirates": "AE", "Singapore": "SG",
    "Saudi Arabia": "SA", "United Kingdom": "GB", "Australia": "AU", "Qatar": "QA",
    "Bahrain": "BH", "Hong Kong": "HK", "Oman": "OM", "France": "FR", "Kuwait": "KW",
    "Canada": "CA", "Nigeria": "NG", "Germany": "DE", "South Africa": "ZA", "Sweden": "SE",
}  # fmt: skip
"""`Country` as ISO codes, as the default rules write markets (others: left blank)."""
BANK_JOB_FUNCTION = {"student": "Student", "unemployed": "Job seeker"}
BANK_SENIORITY = {"management": "Manager", "entrepreneur": "C-level"}


def x_education(source: Path, folder: Path, keep_sales_filled: bool) -> tuple[Path, Path]:
    contacts, activities = folder / "contacts.csv", folder / "activities.csv"
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    dropped = () if keep_sales_filled else X_SALES_FILLED
    kept = [c for c in rows[0] if c not in (*dropped, "Prospect ID", "Converted")]
    with (
        contacts.open("w", newline="", encoding="utf-8") as c_out,
        activities.open("w", newline="", encoding="utf-8") as a_out,
    ):
        people = csv.writer(c_out)
        people.writerow(["id", "country", "job_function", "seniority", "converted", *kept])
        acts = csv.writer(a_out)
        acts.writerow(["contact_id", "type", "occurred_at", "bounce_type"])
        for row in rows:
            ident = row["Prospect ID"]
            people.writerow(
                [
                    ident,
                    COUNTRIES.get(row["Country"], ""),
                    X_OCCUPATION.get(row["What is your current occupation"], ""),
                    X_SENIORITY.get(row["What is your current occupation"], ""),
                    row["Converted"],
                    *(row[c] for c in kept),
                ]
            )
            visits = int(float(row["TotalVisits"] or 0))
            for _ in range(min(visits, 20)):
                acts.writerow([ident, "page_view", BEFORE, ""])
            last = X_LAST_ACTIVITY.get(row["Last Activity"])
            if last is not None:
                acts.writerow([ident, last[0], BEFORE, last[1].get("bounce_type", "")])
            if row["Do Not Email"] == "Yes":
                acts.writerow([ident, "email_unsubscribe", BEFORE, ""])
    return contacts, activities


def bank_marketing(source: Path, folder: Path) -> tuple[Path, Path]:
    from datetime import datetime, timedelta

    moment = datetime.fromisoformat(AS_OF)
    contacts, activities = folder / "contacts.csv", folder / "activities.csv"
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    kept = [c for c in rows[0] if c not in ("duration", "y")]
    with (
        contacts.open("w", newline="", encoding="utf-8") as c_out,
        activities.open("w", newline="", encoding="utf-8") as a_out,
    ):
        people = csv.writer(c_out)
        people.writerow(["id", "job_function", "seniority", "converted", *kept])
        acts = csv.writer(a_out)
        acts.writerow(["contact_id", "type", "occurred_at", "outcome"])
        for index, row in enumerate(rows):
            ident = str(index + 1)
            people.writerow(
                [
                    ident,
                    BANK_JOB_FUNCTION.get(row["job"], ""),
                    BANK_SENIORITY.get(row["job"], ""),
                    "1" if row["y"] == "yes" else "0",
                    *(row[c] for c in kept),
                ]
            )
            if row["pdays"] != "999":
                when = (moment - timedelta(days=int(row["pdays"]))).isoformat()
                for _ in range(int(row["previous"])):
                    acts.writerow([ident, "sales_touch", when.replace("+00:00", "Z"), "connected"])
    return contacts, activities


def backtest(contacts: Path, activities: Path, resamples: int) -> dict[str, Any]:
    """`leadscore backtest ... --json`, run in this process."""
    from sync.cli import app

    args = [
        "backtest", "--rules", str(RULES), "--contacts", str(contacts),
        "--activities", str(activities), "--outcome", "converted", "--as-of", AS_OF,
        "--resamples", str(resamples), "--json",
    ]  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        app(args, standalone_mode=False)
    report: dict[str, Any] = json.loads(printed.getvalue())
    return report


Maker = Callable[[Path], tuple[Path, Path]]


def data_sets(data: Path) -> Iterator[tuple[str, Path, Maker]]:
    x = data / "x-education-leads" / "Leads.csv"
    bank = data / "uci-bank-marketing" / "bank-additional-full.csv"
    yield "X Education", x, lambda folder: x_education(x, folder, keep_sales_filled=False)
    yield (
        "X Education, sales-filled kept",
        x,
        lambda folder: x_education(x, folder, keep_sales_filled=True),
    )
    yield "UCI Bank Marketing", bank, lambda folder: bank_marketing(bank, folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared" / "data",
        help="Folder of the data sets (default: ../shared/data, beside the project).",
    )
    parser.add_argument("--resamples", type=int, default=200, help="Bootstrap resamples.")
    options = parser.parse_args(argv)
    print(f"default rules ({RULES.relative_to(ROOT)}) backtested, as of {AS_OF}")
    print(f"{'data set':<32} {'contacts':>8} {'conv.':>6} {'AUC (95 % interval)':>22}")
    print(f"{'':<32} {'':>8} {'':>6} {'avg prec.':>10} {'tied':>6}")
    for name, path, make in data_sets(options.data):
        if not path.exists():
            print(f"{name:<32} skipped: {path} is absent")
            continue
        with tempfile.TemporaryDirectory() as folder:
            contacts, activities = make(Path(folder))
            report = backtest(contacts, activities, options.resamples)
        auc = report["auc"]
        interval = f"{auc['value']:.3f} ({auc['low']:.3f}-{auc['high']:.3f})"
        print(
            f"{name:<32} {report['contacts']:>8,} {report['base_rate'] * 100:>5.1f}% {interval:>22}"
        )
        print(
            f"{'':<32} {'':>8} {'':>6} {report['average_precision']['value']:>10.3f} "
            f"{report['tied_share'] * 100:>5.1f}%"
        )
        for leak in report["leaks"]:
            print(f"{'':<4}leak: {leak['column']!r}: {leak['reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
