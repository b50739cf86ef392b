"""Issue 14's "Done when" targets, read from evaluation runs and studies: one table, each figure with its split.

No model call. It reads `rag eval`'s summary.json (and results.jsonl) of the runs named, the shipped cascade on the
CMRC studies (scripts/choose_policy.py's `shipped`, as `rag eval` answers), and the peak RSS from a
`/usr/bin/time -v` log, and prints the table the closing notes used to build by hand:

    python scripts/targets.py --article eval/out/r36-article-live --cmrc eval/out/r36-cmrc300-live \\
        --half-absent eval/out/r36-cmrc300-absent-live --studies artifacts/r35/surprise47 \\
        --time-log artifacts/r36-article-live.log \\
        --baseline article=eval/out/X-ext --baseline cmrc=eval/out/Y-ext --baseline half-absent=eval/out/Z-ext

Every argument is optional; a target whose run was not given is left out. A run directory holds one summary row per
answerer (`rag eval --answerer auto,extractive`); `--answerer` names the one judged (default "auto"); the baseline
(the extractive answerer) is read from the same run where it is there, else from `--baseline SPLIT=DIR`.
The targets' thresholds are the issue's (TARGETS); a figure that sits on its line meets it. Latency targets were set
on a machine that reads ~150 prompt tokens/s and writes 35-39 (../shared/ENVIRONMENT.md): compare them with
scripts/prefill_bench.py's figures for the machine the run was made on.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

SPLITS = ("article", "cmrc", "half-absent")
# the beats-the-baseline target's figure per split: correct counts a refusal of a question without an answer as right
BASELINE_METRIC = "correct"
MAX_LOSS = 2.0  # points: "never loses more than 2 points on any"
DIGITS = {"%": 1, "s": 2, "GB": 2}  # the table's digits per unit
RSS_LINE = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")


@dataclass(frozen=True)
class Target:
    name: str
    split: str  # which run it reads: article, cmrc, half-absent, studies, time-log
    key: str  # the summary.json key (percent figures are stored as shares), or a special reader's name
    at_least: bool  # True: the figure must be >= bound; False: <= bound
    bound: float
    unit: str = "%"  # "%": shares shown in percent; "s": milliseconds shown in seconds; "GB": KiB (time -v) in GB


TARGETS = (
    Target("article correct", "article", "correct", True, 85.0),
    Target("article unanswerable refused", "article", "refused_unanswerable", True, 85.0),
    Target("paraphrase", "article", "correct[paraphrase]", True, 85.0),
    Target("English", "article", "correct[en]", True, 80.0),
    Target("every displayed sentence supported", "article", "supported_sentence_rate", True, 100.0),
    Target("every [n] resolves", "article", "markers_ok", True, 100.0),
    Target("first token p50", "article", "first_token_p50_ms", False, 2.5, "s"),
    # from the question's arrival to the last word, as first_token is timed (`total`; `answer` leaves out the search)
    Target("whole answer p50", "article", "total_p50_ms", False, 4.0, "s"),
    Target("whole answer p95", "article", "total_p95_ms", False, 8.0, "s"),
    Target("CMRC fair", "cmrc", "fair", True, 85.0),
    Target("CMRC answerable refused", "cmrc", "wrongly_refused", False, 5.0),
    Target("half absent: absent refused", "half-absent", "refused_unanswerable", True, 90.0),
    Target("half absent: answerable refused", "half-absent", "wrongly_refused", False, 5.0),
    Target("year/number/name swaps refused", "studies", "swap", True, 80.0),
    Target("serving RSS", "time-log", "rss", False, 3.0, "GB"),
)


class TargetsError(Exception):
    """A run, study folder or log that cannot be read; the message names it and the fix."""


def summary_rows(run: Path) -> list[dict]:
    path = run / "summary.json"
    if not path.is_file():
        raise TargetsError(f"{run}: no summary.json there; give the --out folder of a finished `rag eval` run")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TargetsError(f"{path} is not JSON ({exc}); rerun `rag eval` into that folder") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "config" in r for r in rows):
        raise TargetsError(f"{path} is not a rag eval summary (a list of rows with a config)")
    return rows


def pick(rows: list[dict], answerer: str) -> dict | None:
    """The summary row of `answerer` (its config starts with the answerer's name: "auto, hybrid (chunk 300)")."""
    found = [r for r in rows if str(r["config"]).split(",")[0].strip() == answerer]
    return found[0] if found else None


def judged(rows: list[dict], run: Path, answerer: str) -> dict:
    """The summary row of `answerer` among `rows` (run's summary.json), or an error naming the answerers it has."""
    row = pick(rows, answerer)
    if row is None:
        have = ", ".join(str(r["config"]).split(",")[0] for r in rows)
        raise TargetsError(f"{run}: no {answerer!r} row in its summary (it has: {have}); pass --answerer or rerun "
                           f"`rag eval --answerer {answerer}`")
    return row


def swaps_refused(studies: Path) -> tuple[float, int]:
    """Share (percent) of the CMRC studies' year/number/name swaps (ids ending "-swap") the shipped default refuses,
    and how many there are."""
    files = sorted(studies.glob("study-cmrc-*.jsonl"))
    if not files:
        raise TargetsError(f"{studies}: no study-cmrc-*.jsonl there; give the surprise/ folder of "
                           "scripts/rebuild_studies.sh")
    sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
    import choose_policy

    refused = []
    for path in files:
        for row in choose_policy.load_rows(path):
            if row["kind"] == "adversarial" and str(row["id"]).endswith("-swap"):
                refused.append(choose_policy.shipped(row)[0])
    if not refused:
        raise TargetsError(f"{studies}: its CMRC studies hold no year/number/name swap (ids ending -swap)")
    return 100.0 * sum(refused) / len(refused), len(refused)


def peak_rss_kb(log: Path) -> float:
    if not log.is_file():
        raise TargetsError(f"--time-log {log}: no such file; run the evaluation under `/usr/bin/time -v` into it")
    found = RSS_LINE.findall(log.read_text(encoding="utf-8", errors="replace"))
    if not found:
        raise TargetsError(f"--time-log {log}: no 'Maximum resident set size' line; it must be `/usr/bin/time -v`'s "
                           "output")
    return float(found[-1])


def shown(value: float, unit: str) -> float:
    """A summary figure in the table's unit: shares in percent, milliseconds in seconds, kilobytes in GB."""
    return {"%": value * 100.0, "s": value / 1000.0, "GB": value * 1024 / 1e9}[unit]


def met(target: Target, value: float) -> bool:
    """Whether `value`, as the table shows it (rounded to its digits), meets the target: on the line meets it."""
    value = round(value, DIGITS[target.unit])
    return value >= target.bound if target.at_least else value <= target.bound


def rows_of(runs: dict[str, Path], loaded: dict[str, list[dict]], answerer: str, studies: Path | None,
            time_log: Path | None) -> list[tuple]:
    """(target, figure in its unit or NaN, where it comes from) for each target whose source was given (`loaded`: each
    run's summary rows)."""
    summaries = {split: judged(loaded[split], run, answerer) for split, run in runs.items()}
    swap = swaps_refused(studies) if studies is not None else None
    out = []
    for t in TARGETS:
        if t.split in summaries:
            value = summaries[t.split].get(t.key)
            figure = math.nan if value is None else shown(float(value), t.unit)
            out.append((t, figure, f"{t.split}: {runs[t.split]}"))
        elif t.split == "studies" and swap is not None:
            out.append((t, swap[0], f"{swap[1]} swaps of the CMRC studies in {studies} (held out)"))
        elif t.split == "time-log" and time_log is not None:
            out.append((t, shown(peak_rss_kb(time_log), t.unit), f"{time_log}"))
    return out


def baseline_rows(runs: dict[str, Path], loaded: dict[str, list[dict]], baselines: dict[str, Path],
                  answerer: str) -> list[tuple[str, float, float]]:
    """(split, default's figure, extractive's figure) in percent for each split with both."""
    out = []
    for split, run in runs.items():
        rows = loaded[split]
        base = pick(rows, "extractive")
        if base is None and split in baselines:
            base = pick(summary_rows(baselines[split]), "extractive")
            if base is None:
                raise TargetsError(f"--baseline {split}={baselines[split]}: no 'extractive' row in its summary; "
                                   "rerun `rag eval --answerer extractive` into it")
        if base is None:
            continue
        mine = judged(rows, run, answerer)
        if mine.get(BASELINE_METRIC) is None or base.get(BASELINE_METRIC) is None:
            raise TargetsError(f"{split}: a summary without {BASELINE_METRIC!r}; rerun `rag eval` with this version")
        out.append((split, 100.0 * mine[BASELINE_METRIC], 100.0 * base[BASELINE_METRIC]))
    return out


def table(rows: list[tuple], versus: list[tuple[str, float, float]]) -> str:
    lines = ["| target | required | now | met | from |", "|---|---|---|---|---|"]
    for t, figure, source in rows:
        sign = ">=" if t.at_least else "<="
        unit = "" if t.unit == "%" else f" {t.unit}"
        now = "–" if math.isnan(figure) else f"{figure:.{DIGITS[t.unit]}f}{unit}"
        verdict = "–" if math.isnan(figure) else "yes" if met(t, figure) else "no"
        lines.append(f"| {t.name} | {sign} {t.bound:g}{unit} | {now} | {verdict} | {source} |")
    for split, mine, base in versus:
        diff = mine - base
        verdict = "yes" if diff > 0 else "no" if diff < -MAX_LOSS else "no (within 2 points)"
        lines.append(f"| beats the extractive answerer ({BASELINE_METRIC}) | > extractive, never 2 points under | "
                     f"{mine:.1f} against {base:.1f} | {verdict} | {split} |")
    return "\n".join(lines)


def split_path(text: str) -> tuple[str, Path]:
    split, sep, folder = text.partition("=")
    if not sep or split not in SPLITS or not folder:
        raise argparse.ArgumentTypeError(f"{text!r}: write SPLIT=DIR with SPLIT one of {', '.join(SPLITS)}")
    return split, Path(folder)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--article", type=Path, help="rag eval --split test over the bundled article")
    ap.add_argument("--cmrc", type=Path, help="rag eval --dataset cmrc2018_dev.json --limit 300")
    ap.add_argument("--half-absent", type=Path, help="the same with --absent 0.5")
    ap.add_argument("--studies", type=Path, help="a studies' surprise/ folder (scripts/rebuild_studies.sh)")
    ap.add_argument("--time-log", type=Path, help="/usr/bin/time -v output of the article run (peak RSS)")
    ap.add_argument("--baseline", type=split_path, action="append", default=[], metavar="SPLIT=DIR",
                    help="a run of the extractive answerer for SPLIT, where the judged run has none")
    ap.add_argument("--answerer", default="auto", help="the answerer judged (default: auto)")
    args = ap.parse_args(argv)
    runs = {s: p for s, p in (("article", args.article), ("cmrc", args.cmrc), ("half-absent", args.half_absent))
            if p is not None}
    if not runs and args.studies is None and args.time_log is None:
        ap.error("name at least one run (--article, --cmrc, --half-absent), --studies or --time-log")
    unjudged = sorted(set(dict(args.baseline)) - set(runs))
    if unjudged:
        ap.error(f"--baseline {', '.join(unjudged)}: no run of the default for that split to compare with; add "
                 f"--{unjudged[0]} DIR")
    try:
        loaded = {split: summary_rows(run) for split, run in runs.items()}  # each summary read once
        rows = rows_of(runs, loaded, args.answerer, args.studies, args.time_log)
        versus = baseline_rows(runs, loaded, dict(args.baseline), args.answerer)
    except TargetsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(rows, versus))
    measured = [(t, figure) for t, figure, _ in rows if not math.isnan(figure)]
    unmet = [t.name for t, figure in measured if not met(t, figure)]
    unmet += [f"beats the extractive answerer ({split})" for split, mine, base in versus if mine <= base]
    total = len(measured) + len(versus)
    unread = [t.name for t, figure, _ in rows if math.isnan(figure)]
    print(f"\n{total - len(unmet)} of {total} targets met" + (f"; unmet: {', '.join(unmet)}" if unmet else "")
          + (f"; not in the runs (–): {', '.join(unread)}" if unread else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
