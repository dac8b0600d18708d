"""Do the scores predict? The default rules backtested on real lead data with outcomes.

    .venv/bin/python bench/validity.py                     # data from ../shared/data
    .venv/bin/python bench/validity.py --data /some/where
    .venv/bin/python bench/validity.py --only bank        # the data sets named so
    .venv/bin/python bench/validity.py --trends           # fitted with trend candidates
    .venv/bin/python bench/validity.py --time-folds       # time-ordered sets: time-ordered CV

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

Then, for X Education and UCI Bank Marketing, the calibration table (`--no-calibrate`
skips it): rule files fitted by `leadscore calibrate`'s own code (`calibrate_rules`, at
most 30 rules, seed 0) on all folds but one, scored by the engine on the held-out fold,
beside the best plain logistic regression on the same raw columns (categories one-hot,
numbers standardized with missing indicators, C by inner cross-validation) and the
default rules, all as ROC AUC on the held-out contacts (mean over folds); and the share
of held-out contacts, and of (converted, not converted) pairs, the calibrated files tie,
beside two bounds on those ties: the distinct whole-point scores among the held-out
contacts (K distinct scores of N contacts leave at least 1 - K/N of them tied), and the
share of held-out contacts whose columns and activities all equal another's (every rule
file ties them, exact scores too).
X Education: 5 shuffled stratified folds; its `Lead Number` (an identifier) is left
out, and the sales-action values of `Last Activity` are blanked in the contacts file
too. UCI Bank Marketing is in time order: the first 80 % fit, the last 20 % held out.
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
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = ROOT / "scoring" / "rulesets" / "default.yaml"
AS_OF = "2026-01-01T12:00:00Z"
SEED = 0
FOLDS = 5
MAX_RULES = 30
HELD_OUT = 0.2
MIN_FIT = 200
"""Fewer contacts than this: no calibration columns (a toy file)."""
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
X_SALES_ACTIONS = frozenset(
    {"SMS Sent", "Had a Phone Conversation", "Approached upfront", "Unreachable", "Email Received"}
)
"""`Last Activity` values that are sales actions: blanked in the contacts file too."""
X_IDENTIFIERS = ("Prospect ID", "Lead Number")
"""Identifiers, not signals: `Prospect ID` becomes `id`, `Lead Number` is left out."""
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
    kept = [c for c in rows[0] if c not in (*dropped, *X_IDENTIFIERS, "Converted")]
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
            if not keep_sales_filled and row["Last Activity"] in X_SALES_ACTIONS:
                row["Last Activity"] = ""
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


class Validity(NamedTuple):
    """Held-out ROC AUC (mean over the folds) of the three ways to score one data set."""

    folds: str
    calibrated: float
    logistic: float
    default: float
    rules: tuple[int, int]
    """Fewest and most rules of the folds' calibrated files."""
    tied: float
    """Mean share of held-out contacts tied with another under the calibrated files, in
    whole points (as the backtest reads scores, and as they are written back)..."""
    tied_exact: float
    """... and in the exact fitted sum (two decimals in `leadscore score`'s output)."""
    pairs_tied: float
    """Mean share of (converted, not converted) pairs the calibrated files score alike."""
    distinct: tuple[float, float]
    """Mean distinct whole-point scores of the held-out contacts, and mean held-out contacts:
    at most that many contacts can hold a score of their own (the pigeonhole bound)."""
    same_inputs: float
    """Mean share of held-out contacts whose columns and activities all equal another's:
    any rule file ties them, so no file's exact ties fall below this."""


MAPPED = ("id", "converted", "country", "job_function", "seniority")
"""Columns of the contacts file the mapping made for the default rules (from the raw
columns, which the logistic regression reads instead)."""


def validity(
    contacts: Path,
    activities: Path,
    time_ordered: bool,
    trends: bool = False,
    time_folds: bool = False,
) -> Validity | str:
    """Calibrate on all folds but one with the product's own fit, score the held-out fold
    with the engine, beside the best plain logistic regression and the default rules.
    `time_folds`: on a time-ordered set, the fit cross-validates in time order too (the
    rows' order as their times), as `leadscore calibrate --as-of-column` does."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    from scoring import (
        backtest_of,
        calibrate_rules,
        fitted_text,
        load_rules,
        parse_rules,
        score,
        take_activities,
        take_contacts,
    )  # fmt: skip
    from scoring.backtest import tied_share
    from scoring.errors import InputError
    from sync.backtest_command import read_known_outcomes

    default = load_rules(RULES)
    known = read_known_outcomes(
        contacts, activities, "converted", None, AS_OF, default.activity_fields()
    )
    outcome, n = known.converted, len(known.converted)
    if n < MIN_FIT or min(outcome.sum(), n - outcome.sum()) < 4 * FOLDS:
        return f"too few contacts ({n}) to cross-validate a fit"
    frame = known.frame(leaving=("converted",))
    raw = raw_columns(contacts)
    if time_ordered:  # the file's order is time's: fit on the past, score what came next
        cut = round(n * (1 - HELD_OUT))
        splits = [(np.arange(cut), np.arange(cut, n))]
        folds = f"the first {(1 - HELD_OUT) * 100:.0f} %, the last {HELD_OUT * 100:.0f} % held out"
    else:
        shuffled = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
        splits = list(shuffled.split(np.zeros(n), outcome))
        folds = f"{FOLDS} shuffled folds"
    found: dict[str, list[float]] = {
        k: [] for k in ("cal", "log", "def", "tied", "exact", "pairs", "n", "k", "size", "same")
    }
    inputs = input_groups(contacts, activities)
    for train, test in splits:
        # a user with dated rows fits with `--as-of-column`: folds in time order (here the
        # file's order); by default the fit's own shuffled folds, as with one moment for all
        times = train.astype(np.float64) if time_ordered and time_folds else None
        try:
            fit = calibrate_rules(
                default,
                take_contacts(frame, train),
                take_activities(known.activities, train, n),
                outcome[train],
                known.moments,
                times=times,
                max_rules=MAX_RULES,
                seed=SEED,
                trends=trends,
            )
        except InputError as error:  # calibrate refuses: its reason in the table
            return f"no fit: {error}"
        fitted = parse_rules(fitted_text(default, fit, ["validity bench"]), "fitted.yaml")
        part, acts = take_contacts(frame, test), take_activities(known.activities, test, n)
        for key, rules in (("cal", fitted), ("def", default)):
            batch = score(rules, part, acts, known.moments)
            report = backtest_of(batch, outcome[test], resamples=0)
            found[key].append(report.auc.value)
            if key == "cal":
                found["tied"].append(report.tied_share)
                found["exact"].append(tied_share(np.round(batch.total, 2)))
                found["pairs"].append(pairs_tied(batch.total, outcome[test]))
                found["n"].append(len(fit.rules))
                found["k"].append(len(np.unique(np.floor(batch.total + 0.5))))
                found["size"].append(len(test))
                found["same"].append(tied_share(inputs[test]))
        found["log"].append(logistic_auc(raw, outcome, train, test))
    mean = {k: float(np.mean(v)) for k, v in found.items()}
    return Validity(
        folds,
        mean["cal"],
        mean["log"],
        mean["def"],
        (int(min(found["n"])), int(max(found["n"]))),
        mean["tied"],
        mean["exact"],
        mean["pairs"],
        (mean["k"], mean["size"]),
        mean["same"],
    )


def pairs_tied(total: Any, outcome: Any) -> float:
    """Share of (converted, not converted) pairs with the same whole-point score."""
    import numpy as np

    scores = np.floor(np.asarray(total) + 0.5)
    values, inverse = np.unique(scores, return_inverse=True)
    won = np.bincount(inverse, weights=outcome.astype(float), minlength=len(values))
    lost = np.bincount(inverse, weights=(~outcome).astype(float), minlength=len(values))
    return float((won * lost).sum() / (won.sum() * lost.sum()))


def input_groups(contacts: Path, activities: Path) -> Any:
    """Per contact (in file order), a number shared by exactly the contacts whose every
    column but the id and the outcome, and whose activities, are the same."""
    import numpy as np

    with activities.open(newline="", encoding="utf-8") as f:
        done: dict[str, list[tuple[str, ...]]] = {}
        for row in csv.DictReader(f):
            done.setdefault(row.pop("contact_id"), []).append(tuple(row.values()))
    with contacts.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    keys: dict[tuple[Any, ...], int] = {}
    return np.array(
        [
            keys.setdefault(
                (
                    tuple(v for k, v in row.items() if k not in ("id", "converted")),
                    tuple(sorted(done.get(row["id"], []))),
                ),
                len(keys),
            )
            for row in rows
        ],
        dtype=np.float64,
    )


def raw_columns(contacts: Path) -> dict[str, list[str]]:
    """The contacts file's columns but those the mapping made, as text."""
    with contacts.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {c: [r[c].strip() for r in rows] for c in rows[0] if c not in MAPPED}


def logistic_auc(raw: dict[str, list[str]], outcome: Any, train: Any, test: Any) -> float:
    """Held-out AUC of a plain logistic regression: categories one-hot (a blank one of
    them), numbers standardized with missing indicators, C chosen by inner shuffled
    cross-validation, as calibrate chooses its own when contacts share one moment."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns, numbers, texts = [], [], []
    for index, cells in enumerate(raw.values()):
        parsed = [_number(c) for c in cells]
        present = [v for v in parsed if v is not None]
        if len(present) == sum(1 for c in cells if c) and len(set(present)) > 2:
            columns.append([np.nan if v is None else v for v in parsed])
            numbers.append(index)
        else:  # a category as a code, a blank one of them
            codes: dict[str, int] = {}
            columns.append([float(codes.setdefault(c, len(codes))) for c in cells])
            texts.append(index)
    table = np.array(columns, dtype=np.float64).T
    prepare = ColumnTransformer(
        [
            ("n", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), numbers),
            ("t", OneHotEncoder(handle_unknown="ignore", min_frequency=5), texts),
        ]
    )
    inner = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    model = make_pipeline(
        prepare, LogisticRegressionCV(Cs=10, cv=inner, scoring="roc_auc", max_iter=3000)
    )
    model.fit(table[train], outcome[train])
    return float(roc_auc_score(outcome[test], model.decision_function(table[test])))


def _number(cell: str) -> float | None:
    try:
        return float(cell) if cell else None
    except ValueError:
        return None


Maker = Callable[[Path], tuple[Path, Path]]


def data_sets(data: Path) -> Iterator[tuple[str, Path, Maker, bool | None]]:
    """Each data set: its name, source, maker and whether its folds are time-ordered
    (None: not calibrated)."""
    x = data / "x-education-leads" / "Leads.csv"
    bank = data / "uci-bank-marketing" / "bank-additional-full.csv"
    yield "X Education", x, lambda folder: x_education(x, folder, keep_sales_filled=False), False
    yield (
        "X Education, sales-filled kept",
        x,
        lambda folder: x_education(x, folder, keep_sales_filled=True),
        None,
    )
    yield "UCI Bank Marketing", bank, lambda folder: bank_marketing(bank, folder), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared" / "data",
        help="Folder of the data sets (default: ../shared/data, beside the project).",
    )
    parser.add_argument("--resamples", type=int, default=200, help="Bootstrap resamples.")
    parser.add_argument(
        "--only", default="", help="Only the data sets whose name holds this text (any case)."
    )
    parser.add_argument(
        "--no-calibrate", action="store_true", help="Backtest the default rules only."
    )
    parser.add_argument(
        "--trends", action="store_true", help="Fit as `leadscore calibrate --trends` does."
    )
    parser.add_argument(
        "--time-folds",
        action="store_true",
        help="On time-ordered sets, cross-validate the fit in time order, as "
        "`leadscore calibrate --as-of-column` does.",
    )
    options = parser.parse_args(argv)
    print(f"default rules ({RULES.relative_to(ROOT)}) backtested, as of {AS_OF}")
    print(f"{'data set':<32} {'contacts':>8} {'conv.':>6} {'AUC (95 % interval)':>22}")
    print(f"{'':<32} {'':>8} {'':>6} {'avg prec.':>10} {'tied':>6}")
    fitted: list[tuple[str, Validity | str]] = []
    for name, path, make, time_ordered in data_sets(options.data):
        if options.only.casefold() not in name.casefold():
            continue
        if not path.exists():
            print(f"{name:<32} skipped: {path} is absent")
            continue
        with tempfile.TemporaryDirectory() as folder:
            contacts, activities = make(Path(folder))
            report = backtest(contacts, activities, options.resamples)
            if time_ordered is not None and not options.no_calibrate:
                fitted.append(
                    (
                        name,
                        validity(
                            contacts, activities, time_ordered, options.trends, options.time_folds
                        ),
                    )
                )
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
    if fitted:
        print_validity(fitted)
    return 0


def print_validity(found: list[tuple[str, Validity | str]]) -> None:
    print()
    print(
        f"calibrated rule files (`leadscore calibrate`'s fit, at most {MAX_RULES} fitted terms) "
        "scored by the engine on held-out folds"
    )
    print(
        "| data set | folds | rules | calibrated AUC | logistic AUC | default rules AUC | "
        "tied contacts (whole points) | tied contacts (exact) | tied pairs | "
        "distinct whole scores | same inputs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, result in found:
        if isinstance(result, str):
            print(f"| {name} | {result} | | | | | | | | | |")
            continue
        low, high = result.rules
        rules = str(low) if low == high else f"{low}-{high}"
        print(
            f"| {name} | {result.folds} | {rules} | {result.calibrated:.3f} | "
            f"{result.logistic:.3f} | {result.default:.3f} | {result.tied * 100:.1f} % | "
            f"{result.tied_exact * 100:.1f} % | {result.pairs_tied * 100:.1f} % | "
            f"{result.distinct[0]:,.0f} of {result.distinct[1]:,.0f} | "
            f"{result.same_inputs * 100:.1f} % |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
