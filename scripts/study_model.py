"""Runs the bundled model over a SQuAD-format set and records everything its answer is decided from, so the
support thresholds and the combination with the extractive answerer are chosen on one set and reported on
another (README, "The model answer").

    python scripts/study_model.py --dataset ../shared/datasets/drcd_dev.json --t2s --skip 400 --questions 60 \
        --absent 40 --adversarial 40 --out artifacts/study-drcd-dev.jsonl

Three kinds of question, each a line of the output with the extractive answer, the model's reply, every
checked sentence (supported?, the question's coverage beside it, question anchors missing) and timings:
- answerable: the question with its paragraph indexed;
- absent: the question with its paragraph left out of the index (its neighbours stay);
- adversarial: an answerable question with a year, number or name swapped for one its paragraph lacks
  (the paragraph stays indexed): it looks answerable and is not.
- noun swap (`--noun-swaps N`): an answerable question with its longest noun that the paragraph holds
  replaced by a noun of another paragraph that this one lacks (员工薪酬 asked where only 净利润 is given).
- unstated (`--unstated F`, round 18): written questions about a thing an indexed paragraph names, asking for a
  value it never states (美图投资燧原科技的金额是多少？ where only the year and the company are given); kind
  "adversarial", tagged "unstated". With `--unstated` only these cases are studied, over the same index, so their
  rows join the sample's own rows (`cat`) as one set.
Paragraphs are taken in file order after `--skip` (DRCD dev's first 400 fitted the extractive answerer).

`--qa eval/qa_article.jsonl --split dev` studies our own set instead, over the project's index: its
answerable factoids (kind "answerable") and unanswerable questions (kind "unanswerable").
Generations are cached by prompt in `--cache`, so a rerun with other thresholds costs no model time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.answering import support
from rag.answering.base import Evidence
from rag.answering.bundled import LlamaCppGenerator
from rag.answering.confidence import STATISTICS, token_confidence
from rag.answering.context import FILLS
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.features import coverage, question_terms
from rag.answering.generation import Control, Generation
from rag.answering.meaning import weakest_in, words_of
from rag.answering.model import (
    DEFAULT_POLICY,
    EXCERPT_RANKERS,
    ModelAnswerer,
    Policy,
    auto_policy,
    claim_share,
    context_of,
    context_sentences,
    extractive_reading_of,
    quote_support,
    reading_of,
)
from rag.answering.prompt import (
    EXAMPLES,
    READING,
    READING_FORMS,
    READING_WORDS,
    SYSTEM_LANGUAGES,
    build_messages,
)
from rag.answering.question import Question
from rag.answering.support import (
    document_scope,
    passage_lacks_anchors,
    passage_text,
    question_numbers_missing,
    strip_markers,
)
from rag.chat import Engine
from rag.config import PROJECT_ROOT, Config
from rag.documents import make_document
from rag.embedding import load_embedder
from rag.errors import RagError
from rag.evaluation.datasets import load_jsonl_cases, select_split
from rag.indexer import empty_index
from rag.tokenize import token_set, tokenize

YEAR = re.compile(r"(\d{3,4})(?=年)")
NUMBER = re.compile(r"\d+")


# A second look (measured, not shipped; README "How auto was chosen", step 6): where the claim cut would refuse
# a factoid, ask the model in the same conversation whether the excerpts answer exactly what was asked.
JUDGE = {
    "zh": "问题问的是：{question}\n上面的摘录有没有明确写出这个问题所问的那一项的答案？如果摘录里的数字或信息属于别的事物，回答“否”。只回答“是”或“否”。",
    "en": ("The question asks: {question}\nDo the excerpts above state the answer to exactly what this question "
           "asks? If the figure or fact belongs to something else, answer No. Answer only Yes or No."),
}
JUDGE_WORDS = {"zh": ("是", "否"), "en": ("Yes", "No")}


def judge_messages(messages: list[dict], reply: str, question: Question) -> list[dict]:
    """The answer's conversation, its reply, and the question whether the excerpts answer what was asked."""
    return [*messages, {"role": "assistant", "content": reply},
            {"role": "user", "content": JUDGE[question.language].format(question=question.text)}]


def p_yes(generator: LlamaCppGenerator, messages: list[dict], language: str) -> float:
    """P(yes) against P(no) for the judge's first token, from the logits after its prompt (ChatML)."""
    return generator.yes_probability(messages, *JUDGE_WORDS[language])


class CachedGenerator:
    """A generator whose replies are kept by prompt (the study reruns thresholds without the model)."""

    def __init__(self, inner: LlamaCppGenerator, path: Path, token_probs: bool = False) -> None:
        self.inner, self.path, self.name = inner, path, inner.name
        self.token_probs = token_probs  # a kept reply without its token probabilities is generated again
        self.cache: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self.cache[row["key"]] = row

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        key = hashlib.sha1(json.dumps([messages, max_tokens], ensure_ascii=False).encode()).hexdigest()
        if key not in self.cache or (self.token_probs and "token_probs" not in self.cache[key]):
            g = self.inner.generate(messages, max_tokens, control)
            row = {"key": key, "text": g.text, "tokens": g.tokens, "prompt_tokens": g.prompt_tokens,
                   "first_token_s": g.first_token_s, "seconds": g.seconds,
                   "token_probs": [list(tp) for tp in g.token_probs],
                   "question_logprobs": [list(q) for q in g.question_logprobs]}  # README step 38
            self.cache[key] = row
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        r = self.cache[key]
        return Generation(r["text"], tokens=r["tokens"], prompt_tokens=r["prompt_tokens"],
                          first_token_s=r["first_token_s"], seconds=r["seconds"],
                          token_probs=tuple((t, p) for t, p in r.get("token_probs", ())),
                          question_logprobs=tuple((t, q) for t, q in r.get("question_logprobs", ())))

    def cached_yes(self, messages, yes: str, no: str) -> float:  # noqa: ANN001
        """The inner model's P(yes) against P(no) after `messages` (LlamaCppGenerator.yes_probability), kept by prompt
        like the replies. Named apart so that ModelAnswerer.run, which reads only where its generator has
        yes_probability, does not start reading inside the study."""
        key = hashlib.sha1(json.dumps(["yes", messages, yes, no], ensure_ascii=False).encode()).hexdigest()
        if key not in self.cache:
            row = {"key": key, "p_yes": self.inner.yes_probability(messages, yes, no)}
            self.cache[key] = row
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return self.cache[key]["p_yes"]


def may_stand_in(kept: bool, stands: bool, confidence: float | None, read_below: float) -> bool:
    """Whether the extractive answer may stand in for the model's, so that its sentence's reading is worth recording:
    the reply kept no sentence, or its answer did not stand (a fallback gate reads it), or (`read_below` above 0,
    --read-extractive-below) it stands with a confidence below `read_below` (step 16's hand-over may give it away)."""
    return not kept or not stands or (confidence is not None and confidence < read_below)


def swap(question: str, context: str, names: list[str], rng: random.Random) -> str | None:
    """The question with one year, number or name replaced by one the paragraph does not hold."""
    import jieba.posseg

    for m in YEAR.finditer(question):
        for delta in (7, -6, 11, -13):
            y = str(int(m.group(1)) + delta)
            if y not in context:
                return question[:m.start(1)] + y + question[m.end(1):]
    people = [w.word for w in jieba.posseg.cut(question) if w.flag in ("nr", "nrfg", "nrt") and len(w.word) >= 2]
    for p in people:
        others = [n for n in names if n not in context and n != p]
        if others:
            return question.replace(p, rng.choice(others), 1)
    for m in NUMBER.finditer(question):
        n = int(m.group(0))
        for candidate in (n + 3, n * 2 + 1, n + 17):
            if str(candidate) not in context:
                return question[:m.start()] + str(candidate) + question[m.end():]
    return None


NOUN_FLAGS = ("n", "nz", "vn", "nt", "ns")


def noun_swap(question: str, context: str, nouns: list[str], rng: random.Random) -> str | None:
    """The question with its longest noun that `context` holds replaced by one of `nouns` it lacks."""
    import jieba.posseg

    own = sorted({w.word for w in jieba.posseg.cut(question) if w.flag in NOUN_FLAGS and len(w.word) >= 2
                  and w.word in context}, key=lambda w: (-len(w), w))
    others = [n for n in nouns if n not in context and n not in question]
    if not own or not others:
        return None
    return question.replace(own[0], rng.choice(others), 1)


def load_paragraphs(path: Path, t2s: bool, skip: int) -> list[tuple[str, str, list[dict]]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    conv = None
    if t2s:
        from rag.script import to_simplified

        conv = to_simplified
    out = []
    for article in data:
        for p_no, paragraph in enumerate(article.get("paragraphs", [])):
            source = f"{article.get('id') or article.get('title', 'doc')}#{p_no}"
            context = conv(paragraph["context"]) if conv else paragraph["context"]
            qas = [{"id": str(q["id"]), "question": conv(q["question"]) if conv else q["question"],
                    "answers": [conv(a["text"]) if conv else a["text"] for a in q.get("answers", [])]}
                   for q in paragraph.get("qas", [])]
            out.append((source, context, qas))
    return out[skip:]


def indexed_paragraphs(paragraphs: list, questions: int) -> list:
    """The sample's indexed ("kept") paragraphs: one question per paragraph, and paragraphs alternate between the kept
    and the absent roles, so every other one of the first 2 * `questions`."""
    return paragraphs[0: 2 * questions: 2][:questions]


def swapped(kept: list, limit: int, skip: int, change, suffix: str) -> list[dict]:  # noqa: ANN001
    """Up to `limit` adversarial cases, one per kept paragraph: its first question after the first `skip`
    that `change(question, context)` can turn into one the paragraph does not answer."""
    out: list[dict] = []
    for source, context, qas in kept:
        if len(out) >= limit:
            break
        for qa in qas[skip:]:
            changed = change(qa["question"], context)
            if changed:
                out.append({"kind": "adversarial", "id": qa["id"] + suffix, "question": changed,
                            "original": qa["question"], "answers": [], "source": source})
                break
    return out


def dataset_cases(args: argparse.Namespace, rng: random.Random) -> tuple[list[dict], list]:
    """Answerable, adversarial, noun-swapped and absent cases of a SQuAD-format set, and the documents to
    index (the answerable questions' paragraphs and distractors; the absent ones' left out)."""
    paragraphs = load_paragraphs(args.dataset, args.t2s, args.skip)
    kept = indexed_paragraphs(paragraphs, args.questions)
    absent = paragraphs[1: 2 * args.absent: 2][: args.absent]
    distractors = paragraphs[2 * max(args.questions, args.absent): 2 * max(args.questions, args.absent) + 100]
    import jieba.posseg

    names = sorted({w.word for _, c, _ in kept + distractors for w in jieba.posseg.cut(c[:300])
                    if w.flag in ("nr", "nrfg") and len(w.word) >= 2})
    cases = []
    for source, _context, qas in kept:
        qa = next((q for q in qas if q["answers"]), None)
        if qa:
            cases.append({"kind": "answerable", "id": qa["id"], "question": qa["question"], "answers": qa["answers"],
                          "source": source})
    cases += swapped(kept, args.adversarial, 1, lambda q, c: swap(q, c, names, rng), "-swap")
    for source, _context, qas in absent:
        if qas:
            cases.append({"kind": "absent", "id": qas[0]["id"], "question": qas[0]["question"], "answers": [],
                          "source": source})
    nouns = sorted({w.word for _, c, _ in kept + distractors for w in jieba.posseg.cut(c[:300])
                    if w.flag in NOUN_FLAGS and len(w.word) >= 2})
    cases += swapped(kept, args.noun_swaps, 2, lambda q, c: noun_swap(q, c, nouns, rng), "-noun")
    return cases, [make_document(s, c) for s, c, _ in kept + distractors]


def translated(cases: list[dict], path: Path, option: str = "--translations", tags: tuple[str, ...] = ("en",),
               kept_as: str = "question_zh") -> list[dict]:
    """The cases `path` (JSONL of {id, question}) rewrites, asked in its words over the same paragraphs and gold
    answers, tagged `tags`; the original question is kept as `kept_as`. `option` names the file in messages."""
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        english = {r["id"]: r["question"] for r in rows}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{option} {path}: cannot read it as JSONL of {{id, question}} ({exc})") from None
    unknown = sorted(set(english) - {c["id"] for c in cases})
    if unknown:
        raise SystemExit(f"{option} {path}: {len(unknown)} ids are not cases of this sample (e.g. {unknown[0]}); "
                         "give the same --dataset/--skip/--questions/--absent/--adversarial as when it was made")
    return [{**c, kept_as: c["question"], "question": english[c["id"]], "tags": list(tags)}
            for c in cases if c["id"] in english]


def paraphrased(cases: list[dict], path: Path) -> list[dict]:
    """The cases `path` (JSONL of {id, question}) paraphrases in Chinese (round 17: in words other than the
    paragraph's, as a user who has not read it asks), tagged paraphrase; the original kept as `question_original`."""
    return translated(cases, path, "--paraphrases", ("paraphrase",), "question_original")


def unstated_cases(path: Path, sources: set[str]) -> list[dict]:
    """The questions `path` (JSONL of {id, source, question}; eval/drcd_*_unstated.jsonl) asks of the sample's
    indexed paragraphs (`sources`), each asking for a value its paragraph never states: kind "adversarial", tagged
    "unstated"."""
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        cases = [{"kind": "adversarial", "id": r["id"], "question": r["question"], "answers": [],
                  "source": r["source"], "tags": ["unstated"], "asks": r.get("asks", "")} for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"--unstated {path}: cannot read it as JSONL of {{id, source, question}} ({exc})") from None
    unknown = sorted({c["source"] for c in cases} - sources)
    if unknown:
        raise SystemExit(f"--unstated {path}: {len(unknown)} sources are not indexed paragraphs of this sample (e.g. "
                         f"{unknown[0]}); give the same --dataset/--skip/--questions/--absent as when it was made")
    return cases


def own_cases(path: Path, split: str) -> list[dict]:
    """Our QA set's answerable factoids (with gold answers) and unanswerable questions of one split."""
    cases = []
    for case in select_split(load_jsonl_cases(path), split):
        if "unanswerable" in case.tags:
            kind = "unanswerable"
        elif case.answers and "factoid" in case.tags:
            kind = "answerable"
        else:
            continue
        cases.append({"kind": kind, "id": case.id, "question": case.question, "answers": list(case.answers),
                      "history": list(case.history), "source": "", "tags": list(case.tags)})
    return cases


def soft_claim_share(question: Question, index, context: str) -> float:  # noqa: ANN001
    """A variant of model.claim_share measured for choosing (not used by the answerer): a question word
    absent from the context as a word still earns the share of its character pairs found in the context
    text (月活跃用户数 beside 月活用户: 2 of 5), and words the index never saw are weighed like the rarest
    word and credited the same way instead of counting as wholly missing."""
    have = token_set(context)
    weights: dict[str, float] = {}
    for tokens, factor in ((tokenize(question.text), 1.0), (tokenize(question.previous), 0.5)):
        for t in tokens:
            if t not in weights:
                idf = index.bm25.idf(t)
                weights[t] = factor * (idf if idf > 0 else index.max_idf)
    total = sum(weights.values())
    if total <= 0:
        return 1.0

    def credit(word: str) -> float:
        if word in have:
            return 1.0
        pairs = [word[i:i + 2] for i in range(len(word) - 1)] if len(word) > 1 else []
        return sum(p in context for p in pairs) / len(pairs) if pairs else 0.0

    return sum(w * credit(t) for t, w in weights.items()) / total


def claim_words(question: Question, index, context: str) -> list[list]:  # noqa: ANN001
    """The question's words as model.claim_share weighs them, each with its weight (idf; a word the index
    never saw weighs as the rarest; a follow-up's earlier words half) and whether it stands beside the
    support: what a paraphrase check would have to find said in other words (README, step 12)."""
    have = token_set(context)
    out: dict[str, list] = {}
    own = tokenize(question.text)
    for tokens, factor in ((own, 1.0), ([t for t in tokenize(question.previous) if t not in own], 0.5)):
        for t in tokens:
            if t not in out:
                idf = index.bm25.idf(t)
                out[t] = [t, round(factor * (idf if idf > 0 else index.max_idf), 3), idf > 0, t in have]
    return list(out.values())


def standings(sims: np.ndarray) -> np.ndarray:
    """Every indexed sentence's e5 cosine with the question (`sims`), in standard deviations above their mean."""
    return (sims - float(sims.mean())) / (float(sims.std()) or 1.0)


def question_standing(index, standing: np.ndarray, origin, sentence, neighbours: bool) -> float:  # noqa: ANN001
    """How far the supporting sentence (with its neighbours) stands out in meaning for this question: the
    best of its sentences' `standings` (measured for choosing, not used by the answerer)."""
    from rag.answering.support import row_of

    rows = [r for r in (row_of(index, x) for x in context_sentences(index, origin, sentence, neighbours))
            if r is not None]
    return round(max((float(standing[r]) for r in rows), default=float("nan")), 3)


def local_margin(index, sims: np.ndarray, among: Sequence, origin, sentence) -> tuple[float, int]:  # noqa: ANN001
    """How the supporting sentence's e5 cosine with the question compares with the other sentences of the
    hits `among` (the excerpts shown, or the passages retrieved): its cosine minus the best other one, and its
    rank (1 = the closest). Local, so it does not depend on the size of the index (round 4's standing did)."""
    from rag.answering.support import passage_sentences, row_of

    own = {r for r in (row_of(index, x) for x in context_sentences(index, origin, sentence, False)) if r is not None}
    rows = {r for hit in among for r in (row_of(index, x) for x in passage_sentences(index, hit)) if r is not None}
    if not own:
        return float("nan"), 0
    mine = max(float(sims[r]) for r in own)
    others = [float(sims[r]) for r in rows - own]
    if not others:
        return 1.0, 1
    return round(mine - max(others), 4), 1 + sum(o > mine for o in others)


def variants(q: Question, index, standing: np.ndarray, c, sims: np.ndarray | None = None,  # noqa: ANN001
             shown: Sequence = (), retrieved: Sequence = (), words=None) -> dict:  # noqa: ANN001
    """The measures of one checked sentence that were tried and not taken (README, steps 5 and 11), and with `words`
    (a WordVectors) step 30's `missing_meaning` and step 31's `missing_meaning_passage` (a word counts as missing only
    where the whole passage lacks it), with the word each is of."""
    if c.support is None or c.origin is None:
        return {"claim_coverage_soft": 0.0, "q_standing": None, "q_standing_ctx": None}
    context = context_of(index, c.origin, c.support.sentence)
    out = {"claim_coverage_soft": round(soft_claim_share(q, index, context), 3),
           "claim_context": context, "claim_sentence": c.support.sentence.text,
           "claim_words": claim_words(q, index, context),
           "q_standing": question_standing(index, standing, c.origin, c.support.sentence, False),
           "q_standing_ctx": question_standing(index, standing, c.origin, c.support.sentence, True)}
    if words is not None:  # README step 30 (scripts/annotate_meaning.py adds it to rows made before)
        out["claim_passage"] = passage = document_scope(index, c.origin)  # the passage and its lead (step 35)
        for key, scope in (("", "window"), ("_passage", "passage")):  # step 31: a word missing from the whole passage
            word, cosine = weakest_in(q.text, context, passage, words, scope)
            out[f"missing_meaning{key}"], out[f"missing_word{key}"] = round(cosine, 4), word
    if sims is not None:
        out["q_margin_shown"], out["q_rank_shown"] = local_margin(index, sims, shown, c.origin, c.support.sentence)
        out["q_margin_hits"], out["q_rank_hits"] = local_margin(index, sims, retrieved, c.origin, c.support.sentence)
    return out


def extractive_meaning(q: Question, context: str, passage: str, words) -> dict:  # noqa: ANN001 - a WordVectors
    """The extractive answer's sentence context and passage, and steps 30-31's meaning feature measured on them in
    both scopes, with the word each is of (README step 32: what ModelAnswerer.checked_extractive compares with
    Policy.min_extractive_meaning)."""
    out: dict = {"extractive_context": context, "extractive_passage": passage}
    for key, scope in (("", "window"), ("_passage", "passage")):
        word, cosine = weakest_in(q.text, context, passage, words, scope)
        out[f"extractive_meaning{key}"], out[f"extractive_word{key}"] = round(cosine, 4), word
    return out


def open_quote(q: Question, outcome, hits: Sequence, name: str) -> str | None:  # noqa: ANN001 - an Outcome
    """README step 33: the text (without its [n]) the default shows for an open answer in the model's words, its
    supports quoted by the product's own quote_support; None for another shape or where nothing is kept."""
    if not outcome.analysis or outcome.analysis.shape != "open":
        return None
    quoted = quote_support(q, outcome.checked, hits, name, "open")
    return strip_markers(quoted.text) if quoted is not None else None


def study_policy(args: argparse.Namespace) -> Policy:
    """The policy the rows' answers are recorded under: the "model" answerer's (DEFAULT_POLICY), or with
    `--auto-routes` the default's as that routes.json saves it (README step 83), with the excerpt and prompt options."""
    base = DEFAULT_POLICY if args.auto_routes is None else auto_policy(args.auto_routes)
    return replace(base, top_sentences=args.top_sentences, max_excerpt_chars=args.excerpt_chars,
                   excerpt_fill=args.excerpt_fill, excerpt_ranker=args.excerpt_ranker,
                   prompt_examples=args.examples, system_language=args.system_language,
                   bar=replace(base.bar, echoed_names_required=not args.echoed_names_free))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, help="a SQuAD-format set (or --qa)")
    ap.add_argument("--t2s", action="store_true", help="convert traditional to simplified Chinese (DRCD)")
    ap.add_argument("--skip", type=int, default=0, help="paragraphs to skip first")
    ap.add_argument("--questions", type=int, default=60, help="answerable questions (one per paragraph)")
    ap.add_argument("--absent", type=int, default=40)
    ap.add_argument("--adversarial", type=int, default=40)
    ap.add_argument("--noun-swaps", type=int, default=0, help="noun-swapped adversarial questions")
    ap.add_argument("--qa", type=Path, help="study this QA file (ours) over the project's index instead")
    ap.add_argument("--split", default="dev", help="with --qa: the split to study")
    ap.add_argument("--index-dir", type=Path, default=None, help="with --qa: the index to read (default: index/)")
    ap.add_argument("--top-sentences", type=int, default=DEFAULT_POLICY.top_sentences,
                    help="candidate sentences sent to the model (Policy.top_sentences)")
    ap.add_argument("--excerpt-chars", type=int, default=DEFAULT_POLICY.max_excerpt_chars,
                    help="excerpt budget in characters (Policy.max_excerpt_chars)")
    ap.add_argument("--excerpt-fill", choices=FILLS, default=DEFAULT_POLICY.excerpt_fill,
                    help="how the excerpt budget is spent (Policy.excerpt_fill, README step 37)")
    ap.add_argument("--excerpt-ranker", choices=EXCERPT_RANKERS, default=DEFAULT_POLICY.excerpt_ranker,
                    help="whose order picks the excerpts' sentences (Policy.excerpt_ranker, README step 43)")
    ap.add_argument("--division-stems", action="store_true",
                    help="a place named with its administrative division (修水县) stands where the passage holds its "
                         "stem (修水), in the claim's names and the question's places (support.DIVISION_STEMS, README "
                         "step 74); recorded as `division_stems`")
    ap.add_argument("--division-stems-asked", action=argparse.BooleanOptionalAction, default=None,
                    help="the same stem reading only for places the question writes: its places and the claim's names "
                         "it holds; a place the claim adds stands whole (support.ASKED_DIVISION_STEMS, README step 100; "
                         "default as shipped, on); recorded as `division_stems_asked`")
    ap.add_argument("--unit-kinds", action=argparse.BooleanOptionalAction, default=None,
                    help="a claim's number must keep its unit's kind: 10人 does not stand on 10米 (support.UNIT_KINDS, "
                         "README step 97; default as shipped, on); recorded as `unit_kinds`")
    ap.add_argument("--currency-kinds", action=argparse.BooleanOptionalAction, default=None,
                    help="within the unit check, an amount of money keeps its currency: 1亿元 does not stand on 1亿美元 "
                         "(support.CURRENCY_KINDS, README step 101; default as shipped, on); recorded as `currency_kinds`")
    ap.add_argument("--names-beside", action=argparse.BooleanOptionalAction, default=None,
                    help="a name the claim adds stands beside its supporting sentence, not only elsewhere in the passage "
                         "(support.NAMES_BESIDE, README step 97; default as shipped, on); recorded as `names_beside`")
    ap.add_argument("--echoed-names-free", action="store_true",
                    help="a name the reply repeats from its question need not stand in the passage "
                         "(SupportBar.echoed_names_required off, README step 41)")
    ap.add_argument("--judge-below", type=float, default=0.0,
                    help="ask the model whether the excerpts answer what was asked (judge_messages), for factoids "
                         "whose best kept sentence has claim coverage below this (0: never)")
    ap.add_argument("--reading-below", type=float, default=0.0,
                    help="ask the reading check (prompt.reading_messages) of Chinese factoids whose best kept sentence "
                         "has claim coverage below this, recorded as `reading` (0: never; above 1: every one, which "
                         "choose_policy.py --reading needs to fit a refusal cut; README steps 12-13)")
    ap.add_argument("--read-extractive-below", type=float, default=0.0,
                    help="with --reading-below: also read the extractive answer's sentence where the model's answer "
                         "stands but its confidence (Policy.confidence_statistic) is below this, the answers "
                         "Policy.prefer_extractive_below may hand over (a gate on that hand-over; 0: only where the "
                         "model's answer does not stand, as a fallback gate reads). The confidence is known only with "
                         "--token-probs; without it this reads nothing more")
    ap.add_argument("--reading-form", default="sentence", choices=READING_FORMS,
                    help="what the reading check shows the model: the supporting sentence, or its passage's context "
                         "(title, sentence, one neighbour each side; Policy.reading_form, README step 17), "
                         "recorded as `reading_form`")
    ap.add_argument("--examples", default=DEFAULT_POLICY.prompt_examples, choices=["", *EXAMPLES],
                    help="worked examples in the system message (rag/answering/prompt.py EXAMPLES; '' none)")
    ap.add_argument("--system-language", default=DEFAULT_POLICY.system_language, choices=SYSTEM_LANGUAGES,
                    help="the answer prompt's system message: English for every question, or a Chinese question's in "
                         "Chinese (Policy.system_language, README step 73), recorded as `system_language`")
    ap.add_argument("--token-probs", action="store_true",
                    help="record how sure the model was of its reply (rag/answering/confidence.py); replies kept "
                         "without token probabilities are generated again")
    ap.add_argument("--translations", type=Path, default=None,
                    help="with --dataset: a JSONL file of {id, question} giving each case's question in English; only "
                         "the cases it lists are asked, in English, over the same Chinese paragraphs (tagged en)")
    ap.add_argument("--paraphrases", type=Path, default=None,
                    help="with --dataset: a JSONL file of {id, question} giving each case's question reworded in "
                         "Chinese (eval/drcd_*_para.jsonl); only the cases it lists are asked, tagged paraphrase")
    ap.add_argument("--unstated", type=Path, default=None,
                    help="JSONL of {id, source, question}: study only these questions, each asking an indexed "
                         "paragraph for a value it never states (eval/drcd_dev_a_unstated.jsonl)")
    ap.add_argument("--auto-routes", type=Path, default=None,
                    help="record each row's answer as the default (\"auto\") gives it with this routes.json's cuts and "
                         "fallbacks (rag/answering/routes.json: the product), not as the \"model\" answerer's: to check "
                         "a verdict scripts/choose_policy.py simulated against what the product does (README step 83)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=PROJECT_ROOT / "artifacts" / "generations.jsonl")
    args = ap.parse_args(argv)
    if not args.dataset and not args.qa:
        ap.error("give --dataset (a SQuAD-format set) or --qa (our QA file)")
    rng = random.Random(0)
    if args.division_stems:  # read by every check at call time (support.DIVISION_STEMS), as a shipped True would be
        support.DIVISION_STEMS = True
    if args.division_stems_asked is not None:  # README step 100, read at call time like DIVISION_STEMS
        support.ASKED_DIVISION_STEMS = args.division_stems_asked
    if args.unit_kinds is not None:  # README step 97, read at call time like DIVISION_STEMS
        support.UNIT_KINDS = args.unit_kinds
    if args.names_beside is not None:
        support.NAMES_BESIDE = args.names_beside
    if args.currency_kinds is not None:  # README step 101
        support.CURRENCY_KINDS = args.currency_kinds
    config = Config()
    generator = CachedGenerator(LlamaCppGenerator(Path(config.llm_model_path), "qwen", 0, 120.0), args.cache,
                                args.token_probs)
    if args.qa:
        cases = own_cases(args.qa, args.split)
        try:
            engine = Engine.open(config, args.index_dir)
        except RagError as exc:  # no index yet, or a damaged one: the message names the fix
            raise SystemExit(f"study_model.py --qa reads the project's index: {exc}") from None
        embedder = engine.embedder
    else:
        cases, documents = dataset_cases(args, rng)
        if args.translations and args.paraphrases:
            ap.error("give --translations or --paraphrases, not both")
        if args.translations:
            cases = translated(cases, args.translations)
        if args.paraphrases:
            cases = paraphrased(cases, args.paraphrases)
        if args.unstated:
            if args.translations or args.paraphrases:
                ap.error("--unstated studies its own questions: give it without --translations or --paraphrases")
            cases = unstated_cases(args.unstated, {c["source"] for c in cases if c["kind"] == "answerable"})
        embedder = load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
        index_dir = Path(tempfile.mkdtemp(prefix="study-index-"))
        engine = Engine(config, index_dir, embedder, empty_index(embedder))
        engine.add_documents(documents)
    extractive = ExtractiveAnswerer(config.max_answer_chars)
    # the same answerer without the cross-language bar and number check, so that scripts/choose_policy.py
    # --english-standing can try a lower bar than the saved one, with or without the check (a refused answer has
    # no text to score)
    unbarred = ExtractiveAnswerer(config.max_answer_chars, replace(
        extractive.models, meta={**extractive.models.meta, "cross_language_standing": -math.inf}), check_numbers=False)
    policy = study_policy(args)
    answerer = ModelAnswerer(generator, extractive, policy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for i, case in enumerate(cases):
            # as Engine.ask: the search reads the retrieval query (and, fused, the question after the earlier one:
            # README step 52), the answer the question as asked (different where a pronoun leans for the search only,
            # step 36)
            q, _ = engine.resolve(case["question"], case.get("history") or None, engine.index, config)
            found = engine.search(q, engine.index, config)
            hits = list(found.hits)
            evidence = Evidence(engine.index, found.answer_vector, embedder)
            t0 = time.perf_counter()
            ex = extractive.answer(q, hits, evidence)
            ex_missing, ex_cov, ex_claim = [], None, None
            ex_meaning: dict = {}  # README step 32: steps 30-31's meaning feature of the extractive answer's sentence
            terms = question_terms(q.text, q.previous, engine.index)
            if not ex.refused and ex.citations:
                first = ex.citations[0]
                context = context_of(engine.index, first.hit, first.sentence)
                ex_missing = passage_lacks_anchors(q.text, engine.index, first.hit)
                ex_cov = coverage(terms.known, token_set(context)) if terms.known else 1.0
                ex_claim = claim_share(terms, context, q.text)
                ex_meaning = extractive_meaning(q, context, document_scope(engine.index, first.hit), words_of(embedder))
            outcome = answerer.run(q, hits, evidence, Control())
            sims = engine.index.sentence_vectors @ found.answer_vector.astype("float32")  # every indexed sentence's cosine
            standing = standings(sims)
            shown = [e.hit for e in outcome.excerpts]
            g = outcome.generation
            judge = None
            kept_claims = [c.claim_coverage for c in outcome.checked if c.kept]
            if (args.judge_below and g is not None and kept_claims and not outcome.model_refused
                    and max(kept_claims) < args.judge_below and outcome.analysis.shape == "factoid"):
                asked = judge_messages(build_messages(q, outcome.excerpts, False, args.examples,
                                                      args.system_language), g.text, q)
                judge = {"text": generator.generate(asked, 4).text,
                         "p_yes": round(p_yes(generator.inner, asked, q.language), 3)}
            reading = None
            kept = [c for c in outcome.checked if c.kept]
            if (args.reading_below and g is not None and kept and not outcome.model_refused
                    and outcome.analysis.shape == "factoid" and q.language in READING
                    and max(c.claim_coverage for c in kept) < args.reading_below):
                best = max(kept, key=lambda c: c.claim_coverage)
                reading = round(generator.cached_yes(
                    reading_of(q, best, args.reading_form, engine.index), *READING_WORDS[q.language]), 4)
            # the same reading check of the extractive answer's sentence, where that answer may stand in for the
            # model's (the model's reply has no kept sentence, or its answer did not stand: what a fallback gate reads;
            # with --read-extractive-below, also an answer that stands but that the hand-over may give away)
            extractive_reading = None
            stands = not outcome.answer.refused and outcome.answer.answerer == answerer.name
            if (args.reading_below and not ex.refused and ex.citations and ex.citations[0].sentence is not None
                    and outcome.analysis and outcome.analysis.shape == "factoid" and q.language in READING
                    and may_stand_in(bool(kept), stands, outcome.confidence, args.read_extractive_below)):
                extractive_reading = round(generator.cached_yes(
                    extractive_reading_of(q, ex.citations[0], args.reading_form, engine.index),
                    *READING_WORDS[q.language]), 4)
            unbarred_answer = None
            if outcome.analysis and outcome.analysis.cross_language:
                plain = unbarred.answer_from(q, hits, evidence, outcome.analysis)
                unbarred_answer = {"text": plain.text, "refused": plain.refused}
                if not plain.refused and plain.citations:  # the question's numbers its passage lacks
                    unbarred_answer["numbers_missing"] = question_numbers_missing(
                        q.text, passage_text(plain.citations[0].hit))
            row = {**case, "extractive": ex.text, "extractive_refused": ex.refused,
                   "open_quote": open_quote(q, outcome, hits, answerer.name),
                   "extractive_span": ex.span.text if ex.span is not None else None,
                   "extractive_missing": ex_missing, "extractive_coverage": ex_cov,
                   "extractive_claim_coverage": ex_claim, **ex_meaning, "unseen_share": round(terms.unseen_share, 3),
                   "extractive_score": outcome.analysis.score if outcome.analysis else None,
                   # the best sentence's cosine standing, and whether the extractive answerer read the question
                   # as crossing languages (then that standing alone decides: model.json cross_language_standing)
                   "extractive_standing": round(outcome.analysis.standing, 4) if outcome.analysis else None,
                   "cross_language": outcome.analysis.cross_language if outcome.analysis else None,
                   "extractive_unbarred": unbarred_answer,
                   "shape": outcome.analysis.shape if outcome.analysis else "",
                   "reply": g.text if g else None, "model_refused": outcome.model_refused,
                   "answer": outcome.answer.text, "refused": outcome.answer.refused,
                   "excerpts": [e.hit.chunk.text for e in outcome.excerpts],
                   "paragraph_in_excerpts": any(e.hit.chunk.source == case["source"] for e in outcome.excerpts),
                   "checked": [{"text": c.text, "supported": c.support is not None, "kept": c.kept,
                                "coverage": round(c.question_coverage, 3), "missing": list(c.missing),
                                "passage_coverage": round(c.passage_coverage, 3),
                                "claim_coverage": round(c.claim_coverage, 3),
                                **variants(q, engine.index, standing, c, sims, shown, hits, words_of(embedder)),
                                "overlap": round(c.support.overlap, 3) if c.support else None,
                                "standing": round(c.support.standing, 3) if c.support else None}
                               for c in outcome.checked],
                   "meaning_embedder": {"name": embedder.name, "fingerprint": embedder.fingerprint},  # step 30
                   "judge": judge, "reading": reading, "extractive_reading": extractive_reading,
                   "reading_below": args.reading_below,
                   "reading_form": args.reading_form,
                   "system_language": args.system_language,  # step 73: the answer prompt's system message
                   "division_stems": support.DIVISION_STEMS,  # step 74
                   "division_stems_asked": support.ASKED_DIVISION_STEMS,  # step 100
                   "unit_kinds": support.UNIT_KINDS, "names_beside": support.NAMES_BESIDE,  # step 97
                   "currency_kinds": support.CURRENCY_KINDS,  # step 101
                   "confidence": ({name: token_confidence(g.token_probs, q.text, name) for name in STATISTICS}
                                  if g is not None and g.token_probs else None),
                   "token_probs": [list(tp) for tp in g.token_probs] if g is not None else [],
                   # README step 38 (replies kept before round 30 have none: scripts/annotate_surprise.py reads them)
                   "question_logprobs": [list(q) for q in g.question_logprobs] if g is not None else [],
                   "prompt_tokens": g.prompt_tokens if g else 0, "first_token_s": g.first_token_s if g else None,
                   "gen_s": g.seconds if g else None, "wall_s": time.perf_counter() - t0}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"[{i + 1}/{len(cases)}] {case['kind']:11s} {case['question'][:30]} -> {(g.text if g else '')[:50]!r}",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
