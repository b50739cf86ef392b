"""rag.evaluation.report: exact formatting, hand-computed per-tag values, hostile text escaped, valid files."""

from __future__ import annotations

import base64
import re
import unicodedata

import pytest

from rag.errors import InputError
from rag.evaluation.metrics import correctness
from rag.evaluation.report import build_sections, format_summary_table, format_value, write_reports
from rag.schema import Answer, Chunk, Citation, EvalRow, Hit, Sentence

NAN = float("nan")

HYBRID = {
    "config": "hybrid", "n": 4, "n_answerable": 2, "n_unanswerable": 2, "hit@1": 0.8125, "hit@3": 0.75,
    "hit@5": 2 / 3, "recall@5": 0.5, "mrr": 0.6, "ndcg@5": NAN, "answer_contains": 0.5, "fair": 0.5, "near": 1.0,
    "answered_contains": 2 / 3, "em": 0.0,
    "f1": 0.45, "answer_len_median": 48.0, "citation_precision": 0.5, "citation_recall": 1.0,
    "markers_ok": 1.0, "refused_unanswerable": 0.5, "wrongly_refused": 0.0,
    "embed_p50_ms": 1.25, "embed_p95_ms": 2.0, "search_p50_ms": 3.0, "search_p95_ms": 4.0,
    "answer_p50_ms": 20.0, "answer_p95_ms": 33.0, "total_p50_ms": 25.0, "total_p95_ms": 38.5,
}  # fmt: skip
# A reference baseline: no refusal, no citations, most keys missing.
BM25 = {"config": "bm25", "n": 4, "hit@5": 0.25, "mrr": NAN, "answer_contains": 0.5, "f1": 0.3,
        "citation_precision": NAN, "total_p50_ms": 3.0, "total_p95_ms": 4.04}

SCRIPT = "<script>alert(1)</script>"


def _row(id_: str, tags: list[str], answerable: bool, refused: bool, hit5: float, contains: float,
         total: float, question: str = "", answer: str = "回答", citations: tuple[Citation, ...] = ()) -> EvalRow:
    metrics = {"hit@1": hit5, "hit@5": hit5, "mrr": hit5, "contains": contains, "em": NAN, "f1": NAN,
               "len": 2.0, "citation_precision": NAN, "citation_recall": NAN, "markers_ok": 1.0,
               "correct": correctness(answerable, refused, contains, NAN)}
    timings = {"embed": 1.0, "search": 2.0, "answer": total - 3.0, "total": total}
    question = question or f"问题 {id_}?"
    return EvalRow(id=id_, question=question, answers=("12亿元",) if answerable else (), evidence=(),
                   tags=tuple(tags), metrics=metrics,
                   answer=Answer(question=question, text=answer, refused=refused, citations=citations,
                                 timings_ms=timings))


HOSTILE_CHUNK = Chunk(id="c1", doc_id="d1", source="a.txt", start=0, end=30, title="t", text=f"{SCRIPT}正文")
HOSTILE_CITATION = Citation(n=1, hit=Hit(chunk=HOSTILE_CHUNK, score=1.0, rank=1), sentence=Sentence("d1", 0, 0, ""))
RESULTS = [
    _row("q1", ["number", "table"], True, False, 1.0, True, 10.0),  # right
    _row("q2", ["number"], True, False, 0.0, False, 20.0,  # gold not in answer, hostile text
         question=f"{SCRIPT} 营收是多少?", answer="营收 <b>12</b> | 亿\n元 [1]", citations=(HOSTILE_CITATION,)),
    _row("q3", ["number", "unanswerable"], False, False, NAN, NAN, 30.0),  # answered, should refuse
    _row("q4", [], True, True, 1.0, False, 60.0),  # wrongly refused
]


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [
        (0.8125, "hit@1", "81.2%"),  # exact binary tie 81.25: format rounds half to even
        (2 / 3, "f1", "66.7%"),
        (1.0, "markers_ok", "100.0%"),
        (True, "markers_ok", "100.0%"),
        (0.0, "wrongly_refused", "0.0%"),
        (NAN, "mrr", "–"),
        (None, "mrr", "–"),
        (4.0, "n", "4"),
        (1.25, "embed_p50_ms", "1.2"),
        (4.04, "total_p95_ms", "4.0"),
        (48.0, "answer_len_median", "48.0"),
    ],
)
def test_format_value(value: object, key: str, expected: str) -> None:
    assert format_value(value, key) == expected


def test_format_summary_table_is_fixed_width_one_line_per_config() -> None:
    assert format_summary_table([HYBRID, BM25]).split("\n") == [
        "config  n  hit@5    mrr  contains  ans_prec     f1  cite_p  refused_unans  wrong_refused  p50_ms  p95_ms",
        "hybrid  4  66.7%  60.0%     50.0%     66.7%  45.0%   50.0%          50.0%           0.0%    25.0    38.5",
        "bm25    4  25.0%      –     50.0%         –  30.0%       –              –              –     3.0     4.0",
    ]


def test_format_summary_table_pads_chinese_names_by_display_width() -> None:
    lines = format_summary_table([{"config": "混合检索", "n": 1}, {"config": "bm25", "n": 22}]).split("\n")
    widths = {sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line) for line in lines}
    assert len(lines) == 3 and len(widths) == 1
    assert lines[1].startswith("混合检索   1  ") and lines[2].startswith("bm25      22  ")


def test_per_tag_breakdown_values() -> None:
    # hit@5 averages the answerable rows (NaN skipped); correct = contains (answerable) or refused.
    # (all): hit@5 [1, 0, 1] -> 2/3; correct [1, 0, 0, 0] -> 1/4.
    # number = q1, q2, q3: hit@5 [1, 0] -> 1/2; correct [1, 0, 0] -> 1/3.
    tags = build_sections([HYBRID, BM25], RESULTS)[1]
    assert tags.headers == ("tag", "n", "hit@5", "correct")
    assert tags.rows == (
        ("(all)", "4", "66.7%", "25.0%"),
        ("(untagged)", "1", "100.0%", "0.0%"),
        ("number", "3", "50.0%", "33.3%"),
        ("table", "1", "100.0%", "100.0%"),
        ("unanswerable", "1", "–", "0.0%"),
    )


def test_write_reports_files_tables_and_escaping(tmp_path) -> None:
    paths = write_reports(tmp_path / "out", "评测 <report>", [HYBRID, BM25], RESULTS, command="rag eval --k 5")
    assert sorted(paths) == ["latency.png", "metrics.png", "report.html", "report.md", "tags.png"]
    for name, path in paths.items():
        assert path == tmp_path / "out" / name and path.is_file()
        if name.endswith(".png"):
            assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    md = paths["report.md"].read_text(encoding="utf-8")
    assert md.startswith("# 评测 \\<report\\>\n")
    assert "rag eval --k 5" in md
    rows = md_rows(md)
    assert ("hybrid", "4", "2", "2", "81.2%", "75.0%", "66.7%", "50.0%", "60.0%", "–", "50.0%", "50.0%", "100.0%", "66.7%",
            "0.0%", "45.0%", "48.0", "50.0%", "100.0%", "100.0%", "50.0%", "0.0%") in rows
    assert ("bm25", "4", "–", "–", "–", "–", "25.0%", "–", "–", "–", "50.0%", "–", "–", "–", "–", "30.0%", "–", "–", "–",
            "–", "–", "–") in rows
    assert ("hybrid", "1.2", "2.0", "3.0", "4.0", "20.0", "33.0", "25.0", "38.5") in rows
    assert ("number", "3", "50.0%", "33.3%") in rows
    assert ("q2", "\\<script\\>alert(1)\\</script\\> 营收是多少?", "12亿元", "营收 \\<b\\>12\\</b\\> \\| 亿 元 [1]",
            "[1] a.txt: \\<script\\>alert(1)\\</script\\>正文", "gold not in answer") in rows
    assert ("q3", "问题 q3?", "(unanswerable)", "回答", "", "should refuse") in rows
    assert ("q4", "问题 q4?", "12亿元", "回答", "", "refused") in rows
    assert "q1" not in md  # answered right: not a case to look at
    assert "3 of 4 questions judged wrong (hybrid); all shown." in md
    assert "<script>" not in md
    for name in ("metrics", "tags", "latency"):
        assert f"![{name}]({name}.png)" in md

    page = paths["report.html"].read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt; 营收是多少?</td>" in page
    assert "[1] a.txt: &lt;script&gt;alert(1)&lt;/script&gt;正文</td>" in page
    assert "<td>营收 &lt;b&gt;12&lt;/b&gt; | 亿\n元 [1]</td>" in page
    assert "<h1>评测 &lt;report&gt;</h1>" in page
    assert page.count('<div class="table-scroll"><table>') == 4  # wide tables scroll instead of overflowing
    assert "<td>81.2%</td>" in page and "<td>bm25</td><td>4</td><td>–</td>" in page
    images = re.findall(r'<img alt="(\w+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert {alt: base64.b64decode(data) for alt, data in images} == {
        name: paths[f"{name}.png"].read_bytes() for name in ("metrics", "tags", "latency")
    }


def md_rows(markdown: str) -> list[tuple[str, ...]]:
    """The cells of every Markdown table line (split on unescaped pipes, padding stripped)."""
    return [tuple(cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1])
            for line in markdown.splitlines() if line.startswith("|")]


def test_recall_columns_follow_the_k_each_configuration_used(tmp_path) -> None:
    # rag eval --k 3 --compare: our configurations report recall@3, the tutorial pipeline recall@4
    ours, tutorial = {"config": "hybrid", "recall@3": 0.5}, {"config": "tutorial", "recall@4": 0.75}
    summary = build_sections([ours, tutorial], [])[0]
    assert summary.headers[6:9] == ("hit@5", "recall@3", "recall@4")
    assert [row[7:9] for row in summary.rows] == [("50.0%", "–"), ("–", "75.0%")]


def test_write_reports_without_results_still_writes_everything(tmp_path) -> None:
    paths = write_reports(tmp_path, "t", [BM25], [])
    assert paths["latency.png"].read_bytes().startswith(b"\x89PNG")
    assert "0 of 0 questions judged wrong" in paths["report.md"].read_text(encoding="utf-8")


def test_write_reports_rejects_bad_summaries_and_writes_nothing(tmp_path) -> None:
    with pytest.raises(InputError, match="summaries is empty"):
        write_reports(tmp_path / "a", "t", [], RESULTS)
    with pytest.raises(InputError, match=r"summaries\[1\] has no 'config'"):
        write_reports(tmp_path / "b", "t", [HYBRID, {"n": 3}], RESULTS)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
