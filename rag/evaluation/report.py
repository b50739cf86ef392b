"""Evaluation report: the summary table, plots and failing cases, written as report.md, one
self-contained report.html (plots inlined as base64) and PNGs. Everything is built in memory by
pure functions (strings and PNG bytes); only `write_reports` touches the disk, and only after all
of it is built, so a failure leaves no half-written report behind.

Text from documents, questions and answers is untrusted: every cell goes through `html.escape`
in HTML and through `_md_cell` in Markdown.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tabulate import tabulate

from rag.errors import InputError
from rag.evaluation.metrics import NEAR_MIN_F1, mean_ignoring_nan, percentile
from rag.schema import EvalRow

DASH = "–"  # shown for NaN and missing values
MAX_CASES = 25
MAX_CELL = 300  # characters of an answer or question shown in the cases table

QUALITY_KEYS = ("n", "n_answerable", "n_unanswerable", "hit@1", "hit@3", "hit@5", "recall@k", "mrr",
                "ndcg@5", "answer_contains", "fair", "near", "answered_contains", "em", "f1", "answer_len_median", "citation_precision",
                "citation_recall", "markers_ok", "refused_unanswerable", "wrongly_refused")
STAGES = ("embed", "search", "answer", "total")
LATENCY_KEYS = tuple(f"{stage}_p{p}_ms" for stage in STAGES for p in (50, 95))
PLOT_METRICS = ("hit@5", "mrr", "answer_contains", "f1", "citation_precision", "refused_unanswerable")
# (key, short label) for the terminal, where the full names would not fit on one line
TERMINAL_COLUMNS = (("n", "n"), ("hit@5", "hit@5"), ("mrr", "mrr"), ("answer_contains", "contains"),
                    ("answered_contains", "ans_prec"),
                    ("f1", "f1"), ("citation_precision", "cite_p"), ("refused_unanswerable", "refused_unans"),
                    ("wrongly_refused", "wrong_refused"), ("total_p50_ms", "p50_ms"),
                    ("total_p95_ms", "p95_ms"))

METRICS_NOTE = (
    "Retrieval: a passage is relevant when its character span overlaps an occurrence of an evidence "
    "string in the source; hit@k = a relevant passage in the top k, recall@k = share of evidence "
    "strings found in the top k passages (k = the passages retrieved: --k, 4 for the tutorial pipeline), mrr = mean 1/rank of the first relevant passage, ndcg@5 with binary "
    "gains. Answers: answer_contains = some gold answer is contained in the answer after normalization "
    "(NFKC, lowercase, punctuation dropped), over all answerable questions; fair = that, or the answer is a substantial piece of a gold with its numbers (fair to concise answers; correct reads it); near = fair, or what the answer says beyond restating the question overlaps the gold's own words with a character F1 of at least "
    f"{NEAR_MIN_F1:g}, with the gold's numbers and no others (checked against labels, README step 26); answered_contains = answer_contains over the answerable questions that were answered (not refused); em and f1 are CMRC 2018 exact match and F1; "
    "answer_len_median in characters. Citations: citation_precision = share of cited passages that "
    "overlap evidence, citation_recall = share of evidence strings covered by a cited passage, "
    "markers_ok = every [n] marker resolves and every citation is used. Refusal: refused_unanswerable = "
    "share of unanswerable questions refused (higher is better), wrongly_refused = share of answerable "
    "questions refused (lower is better). Rates are percentages over the cases where they are defined; "
    f"{DASH} means not defined or not measured."
)


@dataclass(frozen=True)
class ReportSection:
    """One part of the report, rendered the same way to Markdown and HTML."""

    heading: str
    text: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    image: str = ""  # key into the plots dict; "" for none


# --- Values ------------------------------------------------------------------------------------
def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def format_value(value: Any, key: str) -> str:
    """Rates (0..1) as percentages with one decimal (Python's format rounding of 100*value, so the
    exact tie 0.8125 -> "81.2%"), ``*_ms`` and the median length with one decimal, counts as ints,
    NaN or missing as "–"."""
    if isinstance(value, str):
        return value
    x = _num(value)
    if math.isnan(x):
        return DASH
    if key in ("n", "n_answerable", "n_unanswerable"):
        return str(round(x))
    if key.endswith("_ms") or key == "answer_len_median":
        return f"{x:.1f}"
    return f"{100 * x:.1f}%"


def _recall_keys(summaries: Sequence[dict]) -> list[str]:
    """The recall@k keys the summaries hold (summarize names them by their k), smallest k first."""
    keys = {key for s in summaries for key in s if re.fullmatch(r"recall@\d+", key)}
    return sorted(keys, key=lambda key: int(key.split("@")[1]))


def _quality_keys(summaries: Sequence[dict]) -> list[str]:
    """QUALITY_KEYS with "recall@k" replaced by the recall@k columns present: one per k retrieved."""
    keys: list[str] = []
    for key in QUALITY_KEYS:
        keys += _recall_keys(summaries) if key == "recall@k" else [key]
    return keys


def _table(summaries: Sequence[dict], keys: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return tuple((str(s["config"]), *(format_value(s.get(k), k) for k in keys)) for s in summaries)


def format_summary_table(summaries: list[dict]) -> str:
    """Fixed-width plain-text table: a header line, then one line per configuration (CJK characters
    count two columns). The header goes in as a row: tabulate pads real headers by two more spaces."""
    keys = [k for k, _ in TERMINAL_COLUMNS]
    lines = [("config", *(label for _, label in TERMINAL_COLUMNS)), *_table(summaries, keys)]
    return tabulate(lines, tablefmt="plain", disable_numparse=True,
                    colalign=("left", *["right"] * len(keys)))


# --- Per-question analysis (primary configuration) ---------------------------------------------
def _correct(row: EvalRow) -> float:
    """The row's "correct", as evaluate scored it (metrics.correctness): never decided again here."""
    return _num(row.metrics.get("correct"))


def tag_breakdown(results: Sequence[EvalRow]) -> list[dict]:
    """Per tag: n, mean hit@5 and mean correctness (NaN skipped); "(all)" first, then tags sorted,
    rows without tags under "(untagged)". A row counts once for each of its tags."""
    groups: dict[str, list[EvalRow]] = {}
    for row in results:
        for tag in row.tags or ["(untagged)"]:
            groups.setdefault(str(tag), []).append(row)
    ordered = [("(all)", list(results)), *sorted(groups.items())]
    return [{"tag": tag, "n": len(rows),
             "hit@5": mean_ignoring_nan([_num(r.metrics.get("hit@5")) for r in rows]),
             "correct": mean_ignoring_nan([_correct(r) for r in rows])} for tag, rows in ordered]


def failing_cases(results: Sequence[EvalRow]) -> list[EvalRow]:
    """Rows judged wrong (correct = 0): answerable and refused, or without the gold answer (factoids) or the
    required facts (open, summary, list, entity cases); or unanswerable and answered."""
    return [r for r in results if _correct(r) == 0.0]


def _cut(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _case_row(row: EvalRow) -> tuple[str, ...]:
    gold = " / ".join(row.answers) if row.answerable else "(unanswerable)"
    missing = "required facts not in answer" if row.has_facts else "gold not in answer"
    why = ("refused" if row.refused else missing) if row.answerable else "should refuse"
    cited = "; ".join(f"{'closest, not an answer: ' if row.refused else ''}[{c.n}] {c.hit.chunk.source}: "
                      f"{_cut(c.sentence.text or c.hit.chunk.text, 80)}" for c in row.answer.citations)
    return (row.id, _cut(row.question), gold, _cut(row.answer.text), cited, why)


def build_sections(summaries: Sequence[dict], results: Sequence[EvalRow]) -> list[ReportSection]:
    primary = str(summaries[0]["config"])
    quality = _quality_keys(summaries)
    tags = tag_breakdown(results)
    fails = failing_cases(results)
    shown = f"the first {MAX_CASES}" if len(fails) > MAX_CASES else "all"
    tag_rows = tuple((t["tag"], str(t["n"]), format_value(t["hit@5"], "hit@5"),
                      format_value(t["correct"], "correct")) for t in tags)
    return [
        ReportSection("Summary", METRICS_NOTE, ("config", *quality), _table(summaries, quality), "metrics"),
        ReportSection(f"Per tag ({primary})", "correct (as in the summary) = the required facts in the answer "
                "for open, summary, list and entity cases, the gold contained in it for factoids, refused for "
                "unanswerable ones.", ("tag", "n", "hit@5", "correct"), tag_rows,
                "tags"),
        ReportSection("Latency", f"Per-stage p50/p95 in ms; histogram: total ms per question for {primary}.",
                ("config", *LATENCY_KEYS), _table(summaries, LATENCY_KEYS), "latency"),
        ReportSection("Cases to look at", f"{len(fails)} of {len(results)} questions judged wrong ({primary}); "
                f"{shown} shown.", ("id", "question", "gold", "answer", "cited", "why"),
                tuple(_case_row(r) for r in fails[:MAX_CASES])),
    ]


# --- Plots (labels kept ASCII: the default font has no CJK glyphs) -----------------------------
def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def _bars(ax: Any, labels: Sequence[str], series: dict[str, list[float]]) -> None:
    """Grouped bars of percentages, each labelled with its value so that 0 and NaN ("–", no bar)
    can be told apart."""
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [j - 0.4 + width * (i + 0.5) for j in range(len(labels))]
        bars = ax.bar(xs, [0.0 if math.isnan(v) else 100 * v for v in values], width, label=name)
        ax.bar_label(bars, [DASH if math.isnan(v) else f"{100 * v:.0f}" for v in values], fontsize=7)
    crowded = len(labels) > 4
    ax.set_xticks(range(len(labels)), labels, rotation=20 if crowded else 0, ha="right" if crowded else "center")
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)


def build_plots(summaries: Sequence[dict], results: Sequence[EvalRow]) -> dict[str, bytes]:
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    ax = fig.subplots()
    _bars(ax, PLOT_METRICS, {str(s["config"]): [_num(s.get(k)) for k in PLOT_METRICS] for s in summaries})
    ax.set_title("Main metrics per configuration")
    plots = {"metrics": _png(fig)}

    tags = tag_breakdown(results)
    fig = Figure(figsize=(max(6, 1.1 * len(tags)), 4.4), layout="constrained")
    ax = fig.subplots()
    _bars(ax, [f"{t['tag']} (n={t['n']})" for t in tags],
          {"hit@5": [t["hit@5"] for t in tags], "correct": [t["correct"] for t in tags]})
    ax.set_title(f"Per tag: {summaries[0]['config']}")
    plots["tags"] = _png(fig)

    totals = [x for x in (_num(r.answer.timings_ms.get("total")) for r in results) if not math.isnan(x)]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    if totals:
        ax.hist(totals, bins=30, color="#7a9cc6")
        for p, style in ((50, "--"), (95, ":")):
            value = percentile(totals, p)
            ax.axvline(value, color="black", linestyle=style, label=f"p{p} = {value:.1f} ms")
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no timings", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("total ms per question")
    ax.set_ylabel("questions")
    ax.set_title(f"Latency: {summaries[0]['config']}")
    plots["latency"] = _png(fig)
    return plots


# --- Rendering ---------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    """Backslash-escape what would break a GFM table cell or turn into raw HTML; newlines -> space."""
    for ch in "\\|<>`":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())


def render_markdown(title: str, command: str, generated: str, sections: Sequence[ReportSection]) -> str:
    out = [f"# {_md_cell(title)}", "", f"Generated {generated}."]
    if command:
        out += ["", "```", command.replace("```", "'''"), "```"]
    for s in sections:
        out += ["", f"## {_md_cell(s.heading)}", ""] + ([_md_cell(s.text), ""] if s.text else [])
        if s.rows:
            out.append(tabulate([[_md_cell(c) for c in row] for row in s.rows], [_md_cell(h) for h in s.headers],
                                tablefmt="github", disable_numparse=True))
        if s.image:
            out += ["", f"![{s.image}]({s.image}.png)"]
    return "\n".join(out) + "\n"


# Wide tables (the summary has 20+ columns) scroll inside their own box instead of running off the page.
_CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        ".table-scroll{overflow-x:auto;max-width:100%}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;"
        "text-align:left;vertical-align:top}img{max-width:100%}pre{background:#f4f4f4;padding:.5em}")


def render_html(title: str, command: str, generated: str, sections: Sequence[ReportSection],
                plots: dict[str, bytes]) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="zh"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{e(title)}</h1>",
           f"<p>Generated {e(generated)}.</p>"]
    if command:
        out.append(f"<pre>{e(command)}</pre>")
    for s in sections:
        out.append(f"<h2>{e(s.heading)}</h2>" + (f"<p>{e(s.text)}</p>" if s.text else ""))
        if s.rows:
            out.append('<div class="table-scroll"><table><tr>' + "".join(f"<th>{e(h)}</th>" for h in s.headers)
                       + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in s.rows]
            out.append("</table></div>")
        if s.image:
            data = base64.b64encode(plots[s.image]).decode("ascii")
            out.append(f'<p><img alt="{e(s.image)}" src="data:image/png;base64,{data}"></p>')
    return "\n".join(out + ["</body></html>"]) + "\n"


def write_reports(out_dir: Path, title: str, summaries: list[dict], results: Sequence[EvalRow],
                  command: str = "") -> dict[str, Path]:
    """Write report.md, report.html and the PNG plots into out_dir (created); return the paths by
    file name. `summaries[0]` is the primary configuration, the one `results` belong to."""
    if not summaries:
        raise InputError("summaries is empty: pass one summary dict per configuration evaluated")
    for i, s in enumerate(summaries):
        if "config" not in s:
            raise InputError(f"summaries[{i}] has no 'config' key (it has {sorted(s)}); "
                             "give each configuration a name under 'config'")
    sections = build_sections(summaries, results)
    plots = build_plots(summaries, results)
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    texts = {"report.md": render_markdown(title, command, generated, sections),
             "report.html": render_html(title, command, generated, sections, plots)}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, png in plots.items():
        paths[f"{name}.png"] = out_dir / f"{name}.png"
        paths[f"{name}.png"].write_bytes(png)
    for name, text in texts.items():
        paths[name] = out_dir / name
        paths[name].write_text(text, encoding="utf-8")
    return paths
