"""The model answerer ("model", and the default "auto"): a language model reads the best sentences, and
every sentence it writes is checked against them before anyone sees it cited.

1. The extractive answerer ranks the sentences of the hits (its fitted sentence model). Summaries stay
   extractive (the summary's sentences stand for the document; five passages do not).
2. The best sentences, with their neighbours, become numbered excerpts (context.py), the prompt
   (prompt.py) asks for a brief cited answer, and a `Generator` writes it (bundled.py in-process, or an
   OpenAI-compatible endpoint in llm.py), streaming to `control.on_token`, stoppable by `control.stop`.
3. Each sentence of the reply is checked (support.py): supported by an excerpt sentence (overlap/meaning,
   the claim's numbers and names), and — read with the question — the question's numbers, Latin words and
   quoted titles stand beside that sentence, and enough of the question's words do (`Policy`; where they do
   not, a Chinese factoid may still stand when the model, asked apart, reads that sentence as answering the
   question: the reading check, `ModelAnswerer.read`). Sentences
   that fail are left out of the answer and named in the notice. No sentence left, or the model saying in
   its own words that the excerpts do not say: the answer is refused ("auto") or, where the policy says
   so, the extractive answer is given if it passes the same question checks. A factoid the model answered
   but was unsure of (`Policy.prefer_extractive_below`) is answered by the extractive answerer where that
   answer passes the same checks (`ModelAnswerer.checked_extractive`).
4. No model, a failed load, a crash, a timeout, a full queue: the extractive answer, with a notice saying
   why, and `answerer` says which one wrote it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answering import decide
from rag.answering.base import Evidence, refuse
from rag.answering.change import change_for_level, level_for_change
from rag.answering.claim import (  # noqa: F401 - context_sentences re-exported (scripts, tests)
    cited_context,
    claim_share,
    context_of,
    context_sentences,
    sentences_before,
)
from rag.answering.compose import (
    Generated,
    compose_generated,
    compose_quotes,
    fallback_notice,
    refuse_with_closest,
)
from rag.answering.confidence import STATISTICS, question_gain, question_surprise, token_confidence
from rag.answering.context import Excerpt, select_excerpts, whole_sentences
from rag.answering.contrast import contrast_swap
from rag.answering.english import ENGLISH_SYSTEM, ENGLISH_TOKENS, check_line, english_messages, with_line
from rag.answering.extractive import OPEN_CHARS, Analysis, ExtractiveAnswerer
from rag.answering.features import coverage, question_terms
from rag.answering.generation import Control, Generation, GenerationFailed, Generator
from rag.answering.meaning import SCOPES, as_asked, weakest_in, words_of
from rag.answering.own_meaning import cut_embedder
from rag.answering.prompt import (
    PICK_SYSTEMS,
    READING,
    READING_FORMS,
    READING_WORDS,
    TRANSLATE_SYSTEM,
    TRANSLATE_TOKENS,
    build_messages,
    pick_messages,
    pick_words,
    reading_messages,
    system_language_of,
    system_message,
    translate_messages,
    translation_of,
)
from rag.answering.question import Question, missing_answer_type, only_value_for_name
from rag.answering.respectively import other_slot
from rag.answering.rival import rival_subject, shown_text
from rag.answering.routing import route_for, text_language
from rag.answering.support import (
    DEFAULT_BAR,
    SupportBar,
    anchors_missing,
    best_support,
    document_lead,
    document_scope,
    passage_lacks_anchors,
    passage_text,
    question_checks,
    says_not_found,
    says_something,
    strip_markers,
)
from rag.answering.total import part_of_total
from rag.answering.waiver import LearnedWaiver, WaiverError
from rag.answering.waiver import from_json as waiver_from_json
from rag.errors import ModelError
from rag.schema import Answer, Citation, Hit, Sentence
from rag.tokenize import token_set

if TYPE_CHECKING:
    from rag.store import Index

EXCERPT_RANKERS = ("excerpt", "sentence")  # Policy.excerpt_ranker
PICK_MAX = 9  # the pick reads its answer from one first token: the digits 0-9


@dataclass(frozen=True)
class Policy:
    """How the model is used and when its answer is believed. Fitted values name their data (README)."""

    # Best candidate sentences sent, each with one neighbour on each side, within an excerpt budget (~1 token
    # per CJK character). 2 and 240 against 3 and 420, on DRCD dev + article dev (README, round 3): prompt p50
    # 309-326 tokens instead of 365-400, first token p50 3.4-3.6 s instead of 4.7-4.9 s, for 0.4 points of the
    # claim cut's balanced rate (one article dev question).
    top_sentences: int = 2
    max_excerpt_chars: int = 240
    # the budget for an English question over English text (README step 76; None: max_excerpt_chars). The same
    # content takes 4.3 times the characters in English (the 30 DRCD paragraphs of eval/en_drcd_dev.json against their
    # Chinese originals; 3.8 times the model's tokens), so 240 characters are a sentence or two of English
    english_text_excerpt_chars: int | None = None
    # whether an English question over English text hands the model's unsure answer to the extractive answerer as a
    # Chinese factoid does (prefer_extractive_below); routes.json's text_routes.hand_over (README step 77: the extractive
    # answerer's models were fitted on Chinese, and on English text its stand-ins were wrong half the time)
    english_text_hand_over: bool = True
    # how that budget is spent (context.FILLS): "neighbours", each best sentence with the sentences beside it (a run
    # that does not fit whole is left out), or "sentences", the best sentences first and then their neighbours where
    # they still fit (README step 37)
    excerpt_fill: str = "neighbours"
    # whose order picks the excerpts' best sentences (not the English pick's, which reads the sentence model's): "excerpt",
    # the excerpt ranker's (extractive.Analysis.excerpt_order, README
    # step 43: fitted on DRCD dev, the answer inside the excerpts 92.8 -> 94.9 and its sentence among the two best
    # 89.3 -> 92.2 on its held-out part), or "sentence", the extractive answerer's own sentence model's (before step 43)
    excerpt_ranker: str = "excerpt"
    # worked examples in the system message (prompt.EXAMPLES key; "" none)
    prompt_examples: str = ""
    # the answer prompt's system message (prompt.SYSTEM_LANGUAGES): "en", English for every question (every cut was
    # fitted on its replies), or "question", a Chinese question's in Chinese (README step 73: measured, not taken)
    system_language: str = "en"
    factoid_tokens: int = 64  # reply cap for factoid questions
    open_tokens: int = 160  # reply cap for open / entity questions
    # Refusal (decided in rag/answering/decide.py, fitted by scripts/choose_policy.py on DRCD dev, see README):
    min_question_coverage: float = 0.0  # idf share of the question's known words in the supporting passage
    min_extractive_score: float = -math.inf  # the extractive answerer's answer-or-refuse logit for the question
    # when the model's answer fails, the extractive answer is given instead if its answer logit is at least this
    # and it passes the same question checks (inf: never; refuse)
    extractive_fallback_score: float = math.inf
    # A factoid's answer is believed only where this share of the question's whole word weight (words the
    # index never saw count as missing) stands beside its supporting sentence (the sentence, its neighbours,
    # the title): a value from the right sentence answering another noun's question (员工薪酬 asked, 净利润's
    # figure given) leaves the asked noun out. Applies on every model route. Fitted by
    # scripts/choose_policy.py --claim-cut (README).
    min_claim_coverage: float = 0.0
    # How sure the model was of a factoid's reply (rag/answering/confidence.py, `confidence_statistic` of its
    # content tokens' probabilities): below `min_confidence` it is refused; at `waive_claim_confidence` or above
    # the claim cut is waived (a paraphrased question's words are not beside its answer). Fitted by
    # scripts/choose_policy.py --confidence and saved in routes.json. A generator that gives no token
    # probabilities (an endpoint) is judged by the claim cut alone.
    min_confidence: float = 0.0
    waive_claim_confidence: float = math.inf
    confidence_statistic: str = "min"
    # The reading check (prompt.reading_messages): where the claim cut would refuse a Chinese factoid, the model is
    # asked apart whether the supporting sentence answers the question; at `waive_claim_reading` or above (its
    # P("是") against P("不是")) the claim cut is waived (inf: no waiver). Fitted by scripts/choose_policy.py
    # --reading and saved in routes.json. A generator without logits (an endpoint) is never asked.
    waive_claim_reading: float = math.inf
    # What the reading check shows the model: "sentence" (round 11) or "context", the passage around it (the title,
    # the sentence and one neighbour each side, context_of; round 14). Saved in routes.json with the cuts.
    reading_form: str = "sentence"
    # ... and a factoid the other cuts would answer is refused when that reading is below `min_reading` (0: never,
    # and then the model is asked only where the claim cut would refuse; round 12, same script, not taken). Where
    # no reading is made (an endpoint, English, Stop, the deadline, a failed reading, a busy serving queue), this
    # cut cannot refuse: the other cuts decide alone.
    min_reading: float = 0.0
    # README step 71: where set, a learned waiver (rag/answering/waiver.py: a logistic over the reading, the claim share,
    # the confidence, the extractive logit, the missing words' meaning and the question's surprise) decides whether a
    # Chinese factoid below the claim cut keeps its answer, in place of `waive_claim_reading` (the reading is asked as
    # for that waiver; without a reading nothing is waived). Fitted by scripts/choose_policy.py --learned-waiver and
    # saved in routes.json (learned_waiver; null: the reading waiver decides).
    learned_waiver: LearnedWaiver | None = None
    # A factoid the model answered but was unsure of (its `confidence` below this) is answered by the extractive
    # answerer instead, where that answer passes the same question checks as a fallback does (its question's
    # anchors in its passage, the claim cut beside its sentence); otherwise the model's answer stands (0: never).
    # Any language on a model route; with routes.json's routes that is Chinese factoids (English ones are extractive).
    # Off the article the extractive sentence finder is right more often than the model's unsure reading (README,
    # "How auto was chosen", step 16). Fitted by scripts/choose_policy.py --prefer-extractive, saved in routes.json.
    prefer_extractive_below: float = 0.0
    # A factoid whose reply has no kept sentence (none supported with the question's anchors in its passage: the model
    # misread the excerpt, 333.2% for 233.2%, another list item's figure), not stopped and not refused by the model in
    # words, is answered by the extractive answerer instead where
    # its answer logit is at least this and its answer passes the same question checks as a fallback (inf: never,
    # refuse). Any route; "auto" already falls back at `extractive_fallback_score` for any failed check. Fitted by
    # scripts/choose_policy.py --unsupported-fallback and saved in routes.json (README, step 21: logit 1; step 22's
    # refit with questions about values their paragraph never states: never; step 25's, with the extractive answerer's
    # answer-type check in place and five fitting sets: logit 0 with the reading gate below at 0.8).
    unsupported_fallback_score: float = math.inf
    # ... and only where the model, asked apart (the reading check, in `reading_form`), reads the extractive answer's
    # sentence as answering the question with at least this probability (0: no reading asked). Only this fallback is
    # gated, not "auto"'s own at `extractive_fallback_score`. Where no reading can be made (an endpoint without
    # logits, a question not in Chinese, Stop, the deadline, a busy serving queue, a failed read) a set gate is not
    # passed: the reply is refused. Fitted with the logit by the same script (README step 22, not taken there; step
    # 25: 0.8).
    unsupported_fallback_reading: float = 0.0
    # The model's own answer to a factoid (one the cuts above kept, not handed over, not a fallback) is refused where the
    # extractive answerer's answer logit for the question is below this (-inf: never): there the passages do not look
    # like they hold an answer at all, and the model's kept answer is mostly a value of something else (README, "How auto
    # was chosen", step 27: on five fitting sets, with a guard that no set loses more than 2 points of answerable right,
    # -3 gained 0.45 balanced points, short of the 0.5 asked: not taken, routes.json saves null). Any route; "auto" has
    # its own `min_extractive_score` before the model's answer is read. Fitted by scripts/choose_policy.py
    # --model-score-cut and saved in routes.json.
    model_min_extractive_score: float = -math.inf
    # The model's own answer to a Chinese factoid (as above) is refused where a token of the question is this unexpected
    # after the excerpts: its natural log-probability, read in the answer's prompt (Generation.question_logprobs,
    # confidence.question_surprise), below this (-inf: never). A noun swapped in from another passage is; a paraphrase
    # mostly is not. Only the bundled model gives it. Fitted by scripts/choose_policy.py --question-surprise-cut (README
    # step 38) and saved in routes.json (question_surprise_cut).
    min_question_logprob: float = -math.inf
    # The claim cut is waived for the model's own Chinese factoid answer where the question's least expected token after
    # the excerpts (as above) has a log-probability at least this (inf: never): a paraphrase whose words the passage does
    # not use, but whose every token the model expected there, keeps its answer without the reading check. Fitted by
    # scripts/choose_policy.py --question-surprise-waiver (README step 39) and saved in routes.json
    # (question_surprise_waiver).
    waive_claim_surprise: float = math.inf
    # The model's own answer to a Chinese factoid (as above) asked outside a conversation is refused where the excerpts
    # make the question hardly more expected than the same prompt without them: the mean gain in log-probability per
    # question token (confidence.question_gain; the prompt without excerpts read once more after the answer, ~0.4 s
    # here) below this (-inf: never). A follow-up's question line leans on the conversation, which both readings hold,
    # so it is not cut (那它的净利润呢？ gains little). Only the bundled model gives it. Fitted by
    # scripts/choose_policy.py --question-gain-cut (README step 46) and saved in routes.json (question_gain_cut).
    min_question_gain: float = -math.inf
    # README step 47: the two question cuts above (surprise, gain) also refuse an extractive answer standing in for the
    # model's Chinese factoid answer (the hand-over below prefer_extractive_below, the misread fallback): they judge
    # whether the question fits the excerpts, which the stand-in's sentence comes from too. Chosen by
    # scripts/choose_policy.py --stand-in-question-cuts and saved in routes.json (stand_in_question_cuts).
    question_cuts_stand_in: bool = False
    # The model's own answer to a Chinese factoid (one the cuts above kept, not handed over, not a fallback) is refused
    # where a question word that is missing beside its support has no word of like meaning there: the lowest such
    # word's best e5 cosine with a word of the support's context (rag/answering/meaning.py) below this (-inf: never). A
    # swapped-in noun finds no near word; a paraphrase's synonym does. The cosines are `meaning_embedder`'s: with
    # another embedder the cut is not applied. Fitted by scripts/choose_policy.py --meaning-cut (README step 30) and
    # saved in routes.json.
    min_missing_meaning: float = -math.inf
    meaning_embedder: str = ""  # the embedder's name; with none the cut is never applied
    meaning_fingerprint: str = ""  # ... and its weights' fingerprint, where saved (the same name with other weights: not applied)
    # Where a question word counts as missing for that cut and the waiver below: "window", not in the support's context
    # (round 25), or "passage", not anywhere in its passage either (a subject named once, at the top of an encyclopedia
    # paragraph, is not missing; README step 31). Its meaning is read against the context's words either way.
    meaning_scope: str = "window"
    # The claim cut is waived for a Chinese factoid where every question word missing beside the support has a word of
    # like meaning there: the lowest best cosine (1.0 when none is missing) at least this (inf: never). A paraphrase
    # (首席财务官 asked, CFO written) keeps its answer; a swapped-in noun finds no near word. Same embedder rule as the
    # cut. Fitted by scripts/choose_policy.py --meaning-waiver (README step 31) and saved in routes.json.
    waive_claim_meaning: float = math.inf
    # The extractive answer to a Chinese factoid may stand in for the model's (the hand-over of an unsure answer, the
    # fallback after a withheld or misread one: checked_extractive) only where the same meaning feature, measured on
    # its first cited sentence (its context, and its passage for the scope), is at least this (-inf: never refused
    # so). Below it, a hand-over leaves the model's own answer standing (which meets the cut above) and a fallback is
    # refused. Same embedder and scope as the cut above. Fitted by scripts/choose_policy.py --extractive-meaning-cut
    # (README step 32) and saved in routes.json.
    min_extractive_meaning: float = -math.inf
    # A Chinese open question whose model answer stands is answered with the passage sentences its kept sentences stand
    # on, verbatim and cited, the model's own words in the notice (README step 33): the document's words hold a
    # clause-long answer the small model's restatement loses. Refusals are unchanged. Chosen by scripts/choose_policy.py
    # --open-quotes and saved in routes.json (open_quotes).
    quote_open: bool = False
    # The model's own Chinese factoid answer must show what its question asks for (question.missing_answer_type: a
    # number for 多少, a date for 哪一年, a count of 家 for 多少家), as the extractive answerer's must since step 24;
    # where it does not, it is withheld like any cut's refusal (README step 82; routes.json's model_answer_type).
    model_answer_type: bool = False
    # The model's own Chinese factoid answer is withheld where the sentence it stands on names a rival of the question's
    # subject: the same head noun after another modifier, the question's phrase written elsewhere in what the model
    # read (rival.rival_subject; README step 83; routes.json's model_rival).
    model_rival: bool = False
    # The model's own Chinese factoid answer to a question that asks a person, place or thing (and no time or quantity)
    # is withheld where what it says beyond its question is a time or number alone (question.only_value_for_name:
    # 自由印度临时政府是1945年建立的。 asked 何人建立的; README step 84; routes.json's model_answer_name).
    model_answer_name: bool = False
    # The pick (prompt.pick_messages): an English question over Chinese text (the extractive answerer's
    # `cross_language`), on the extractive route, is answered with whichever of the extractive answerer's
    # `pick_sentences` best sentences the model picks (its first-token probabilities over "0".."K"), and refused where
    # it gives "0" (none of them) `pick_none_at` or more. The extractive answerer's own refusal rules (its standing
    # bar, the question's numbers in the passage) still apply to the picked sentence. 0 sentences: no pick. Fitted by
    # scripts/choose_policy.py --pick on scripts/study_pick.py's rows and saved in routes.json. A generator without
    # logits (an endpoint): the extractive answer, as without the pick; a busy serving queue or a failed read: the
    # same, with a notice saying so.
    pick_sentences: int = 0
    pick_none_at: float = math.inf
    pick_system: str = "pick"  # its system message (prompt.PICK_SYSTEMS): its own, or the answer prompt's
    # ... and before the search, the model translates such a question into Chinese (prompt.translate_messages) and
    # the search reads the translation (ModelAnswerer.search_query; the answer path reads the question as asked with
    # its own vector, while the hits' dense and BM25 scores are the translation's). Where it cannot (an endpoint, Stop,
    # the deadline, others wanting the model, a failed or non-Chinese reply) the search reads the question as asked.
    # Chosen by README step 23's rule (not taken) and saved in routes.json's pick section.
    translate_for_search: bool = False
    # README step 65: an English factoid the English route answers with a Chinese sentence is shown as the answer's
    # words copied from that sentence with their English in brackets (`27亿元 (2.7 billion yuan)`), written by the model
    # from that one sentence (english.english_messages) and checked (english.check_line: the words stand in the
    # sentence, the English holds only its numbers); a line that fails keeps the sentence answer, with a notice.
    # Where it cannot (Stop, the deadline, others wanting the model, a failed reply) the sentence answer stands.
    # Chosen by step 65's rule and saved in routes.json's pick section (`english_line`).
    english_line: bool = False
    # README step 53: for a Chinese question whose search is fused with its earlier question's (step 52), the
    # model's excerpts are chosen as for the question read after that earlier one (its sentence candidates and
    # excerpt order, with the joined text's vector); the answer's checks still read the question as asked.
    # Config.fused_excerpts sets it (make_answerer).
    fused_excerpts: bool = False
    # README step 55: the extractive answer given when the model gives none (busy, missing, failing) checks a Chinese
    # question's anchors in its passage (ExtractiveAnswerer.check_anchors); Config.extractive_anchors sets it.
    fallback_anchors: bool = False
    # "shape/language" (factoid/zh, open/en, …) -> which answerer writes that kind of answer: "auto" (these
    # cuts), "model" (none but the claim cut) or "extractive" (no model). Chosen on the article's dev split by
    # scripts/choose_routing.py (the Chinese factoid route since by choose_policy.py --claim-cut) and saved in
    # routes.json; a kind not listed takes its language's route ("*/en"), else "auto" (route_for).
    routes: Mapping[str, str] = field(default_factory=dict)
    bar: SupportBar = field(default=DEFAULT_BAR)

    def __post_init__(self) -> None:
        system_message(self.prompt_examples)  # an unknown set of worked examples fails here, not per question
        system_language_of("zh", self.system_language)  # so does an unknown system language
        if self.reading_form not in READING_FORMS:
            raise ModelError(f"unknown reading form {self.reading_form!r}: use one of {', '.join(READING_FORMS)}")
        if not 0 <= self.pick_sentences <= PICK_MAX:
            raise ModelError(f"pick_sentences {self.pick_sentences!r}: the pick reads one digit, so 0 (no pick) to "
                             f"{PICK_MAX}")
        if self.pick_system not in PICK_SYSTEMS:
            raise ModelError(f"unknown pick system message {self.pick_system!r}: use one of {', '.join(PICK_SYSTEMS)}")
        if self.excerpt_ranker not in EXCERPT_RANKERS:
            raise ModelError(f"unknown excerpt ranker {self.excerpt_ranker!r}: use one of {', '.join(EXCERPT_RANKERS)}")
        if not self.pick_none_at > 0.0:  # NaN too
            raise ModelError(f"pick_none_at {self.pick_none_at!r}: the pick's refusal cut must be above 0 (inf: never)")


DEFAULT_POLICY = Policy()  # "model": the model alone; only its sentences' checks refuse
# "auto", the default: the model's answer stands only where the question's words are in the passage that
# supports it and the extractive answerer's answer logit agrees the passages hold an answer; when it fails, a
# confident extractive answer that passes the same checks is given instead. The three cuts were chosen by
# scripts/choose_policy.py on DRCD dev (paragraphs 401+, 36 answerable / 28 absent / 28 adversarial questions):
# the best mean of the three rates among the policies refusing <= 3% of answerable ones.
ROUTES_FILE = Path(__file__).with_name("routes.json")


def load_routes(path: Path = ROUTES_FILE) -> dict[str, str]:
    """The saved routes (empty when there is no file: every kind is answered as "auto"), with the routes of questions
    over text in another language (`text_routes`, README step 76: "*/en/en"), kept in their own section so that
    scripts/choose_routing.py --write, which rewrites "routes", leaves them."""
    if not path.is_file():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    routes = dict(saved["routes"])
    text_routes = (saved.get("text_routes") or {}).get("routes", {})
    bad_keys = sorted(k for k in text_routes if k.count("/") != 2)
    if bad_keys:
        raise ModelError(f"{path}'s text_routes name {bad_keys}; a text route is shape/language/text, e.g. */en/en. "
                         "Fix or remove the text_routes section.")
    routes.update(text_routes)
    unknown = sorted(set(routes.values()) - {"auto", "model", "extractive"})
    if unknown:
        raise ModelError(f"{path} routes questions to {unknown}; only auto, model and extractive are known. "
                         "Rerun scripts/choose_routing.py --write.")
    return routes


def load_english_text(path: Path = ROUTES_FILE) -> dict:
    """The saved excerpt budget of an English question over English text (Policy.english_text_excerpt_chars, README
    step 76) and whether its unsure answer is handed over (Policy.english_text_hand_over, step 77); {} where neither is
    saved."""
    section = _saved(path, "text_routes") or {}
    out: dict = {}
    chars = section.get("english_text_excerpt_chars")
    if chars is not None:
        if not isinstance(chars, int) or isinstance(chars, bool) or not 40 <= chars <= 4000:
            raise ModelError(f"{path} has text_routes.english_text_excerpt_chars={chars!r}; give a whole number of "
                             "characters from 40 to 4000 (README step 76 chose 960).")
        out["english_text_excerpt_chars"] = chars
    hand_over = section.get("hand_over")
    if hand_over is not None:
        if not isinstance(hand_over, bool):
            raise ModelError(f"{path} has text_routes.hand_over={hand_over!r}; give true or false (README step 77 "
                             "chose false).")
        out["english_text_hand_over"] = hand_over
    return out


def load_claim_cut(path: Path = ROUTES_FILE) -> float:
    """The saved factoid claim cut (Policy.min_claim_coverage; 0.0 when none was fitted)."""
    if not path.is_file():
        return 0.0
    cut = json.loads(path.read_text(encoding="utf-8")).get("claim", {}).get("min_claim_coverage", 0.0)
    if not 0.0 <= cut <= 1.0:
        raise ModelError(f"{path} has min_claim_coverage={cut}, outside 0..1. Rerun scripts/choose_policy.py "
                         "--claim-cut --write.")
    return float(cut)


def _saved(path: Path, key: str) -> object:
    """routes.json's `key` section as saved (None where the file or the section is missing)."""
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(key)


def load_confidence(path: Path = ROUTES_FILE) -> dict:
    """The saved confidence cuts as Policy fields (none when none were fitted: the claim cut alone)."""
    saved = _saved(path, "confidence")
    if not saved:
        return {}
    fix = "Rerun scripts/choose_policy.py --confidence --write."
    try:
        waive = saved["waive_claim_confidence"]
        out = {"min_confidence": float(saved["min_confidence"]),
               "waive_claim_confidence": math.inf if waive is None else float(waive),
               "confidence_statistic": saved["statistic"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path} has confidence {saved}, which lacks or garbles {exc}. {fix}") from None
    if (out["confidence_statistic"] not in STATISTICS or not 0.0 <= out["min_confidence"] <= 1.0
            or not 0.0 < out["waive_claim_confidence"]):
        raise ModelError(f"{path} has confidence {saved}: the statistic must be one of {', '.join(STATISTICS)}, "
                         f"min_confidence within 0..1 and waive_claim_confidence above 0 (or null). {fix}")
    return out


def _is_number(value: object) -> bool:
    """A JSON number (not a boolean, which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_reading(path: Path = ROUTES_FILE) -> dict:
    """The saved reading-check cuts as Policy fields (none when none was fitted: never asked)."""
    saved = _saved(path, "reading")
    if not saved:
        return {}
    fix = "Rerun scripts/choose_policy.py --reading --write."
    if not isinstance(saved, dict) or "waive_claim_reading" not in saved:
        raise ModelError(f"{path} has reading {saved!r}, without waive_claim_reading (a number in (0, 1], or null). {fix}")
    waive, low = saved["waive_claim_reading"], saved.get("min_reading", 0.0)
    if not (waive is None or (_is_number(waive) and 0.0 < waive <= 1.0)):
        raise ModelError(f"{path} has waive_claim_reading {waive!r}: it must be a number in (0, 1], or null. {fix}")
    if not (_is_number(low) and 0.0 <= low < 1.0):
        raise ModelError(f"{path} has min_reading {low!r}: it must be a number in [0, 1). {fix}")
    if waive is None and low == 0.0:
        raise ModelError(f"{path} has a reading check with neither cut (waive_claim_reading null, min_reading 0); "
                         f"write reading: null instead. {fix}")
    if waive is not None and low >= waive:
        raise ModelError(f"{path} has min_reading {low!r} at or above waive_claim_reading {waive!r}: a reading cannot "
                         f"both waive the claim cut and refuse. {fix}")
    form = saved.get("form", "sentence")
    if form not in READING_FORMS:
        raise ModelError(f"{path} has reading form {form!r}: it must be one of {', '.join(READING_FORMS)}. {fix}")
    return {"waive_claim_reading": math.inf if waive is None else float(waive), "min_reading": float(low),
            "reading_form": form}


def load_prefer_extractive(path: Path = ROUTES_FILE) -> dict:
    """The saved confidence below which an answered factoid is handed to the extractive answerer, as a Policy
    field (none when none was fitted: never)."""
    saved = _saved(path, "prefer_extractive")
    if saved is None:
        return {}
    below = saved.get("below") if isinstance(saved, dict) else None
    if not _is_number(below) or not 0.0 < below <= 1.0:
        raise ModelError(f"{path} has prefer_extractive {saved!r}: its `below` must be a number in (0, 1] (or write "
                         "prefer_extractive: null). Rerun scripts/choose_policy.py --prefer-extractive --write.")
    return {"prefer_extractive_below": float(below)}


def _saved_logit(path: Path, section: str, key: str, option: str) -> tuple[dict, float] | None:
    """routes.json's `section` and its number `key` (an extractive logit, or a cosine for the meaning sections; None when
    the section is absent or null); a value that is not a number names the script option (`option`) that writes it."""
    saved = _saved(path, section)
    if saved is None:
        return None
    value = saved.get(key) if isinstance(saved, dict) else None
    if not _is_number(value) or math.isnan(value):
        raise ModelError(f"{path} has {section} {saved!r}: its `{key}` must be a number (or write {section}: null). "
                         f"Rerun scripts/choose_policy.py {option} --write.")
    return saved, float(value)


def load_unsupported_fallback(path: Path = ROUTES_FILE) -> dict:
    """The saved extractive logit at which a factoid reply with no supported sentence falls back to the extractive
    answer, as a Policy field (none when none was fitted: never)."""
    found = _saved_logit(path, "unsupported_fallback", "min_extractive_score", "--unsupported-fallback")
    if found is None:
        return {}
    saved, at = found
    reading = saved.get("min_reading", 0.0)
    if not _is_number(reading) or not 0.0 <= reading <= 1.0:
        raise ModelError(f"{path} has unsupported_fallback min_reading {reading!r}: it must be a number from 0 (no "
                         "reading) to 1. Rerun scripts/choose_policy.py --unsupported-fallback --write.")
    return {"unsupported_fallback_score": float(at), "unsupported_fallback_reading": float(reading)}


def load_model_score_cut(path: Path = ROUTES_FILE) -> dict:
    """The saved extractive logit below which the model's own factoid answer is refused, as a Policy field (none when
    none was fitted: never)."""
    found = _saved_logit(path, "model_score_cut", "below", "--model-score-cut")
    return {} if found is None else {"model_min_extractive_score": found[1]}


def _saved_logprob(path: Path, section: str, key: str, option: str) -> float | None:
    """routes.json's `section` and its log-probability `key` (None when the section is absent or null); a value that is
    not a number at most 0 names the script option (`option`) that writes it."""
    saved = _saved(path, section)
    if saved is None:
        return None
    value = saved.get(key) if isinstance(saved, dict) else None
    if not _is_number(value) or math.isnan(value) or value > 0:
        raise ModelError(f"{path} has {section} {saved!r}: its `{key}` must be a log-probability (a number at most 0), "
                         f"or write {section}: null. Rerun scripts/choose_policy.py {option} --write.")
    return float(value)


def load_question_surprise(path: Path = ROUTES_FILE) -> dict:
    """The saved question-token log-probabilities (README steps 38 and 39): below `question_surprise_cut`'s the model's own
    Chinese factoid answer is refused, at `question_surprise_waiver`'s or above its claim cut is waived; as Policy fields
    (none when a section is absent or null: never)."""
    below = _saved_logprob(path, "question_surprise_cut", "below", "--question-surprise-cut")
    at = _saved_logprob(path, "question_surprise_waiver", "at", "--question-surprise-waiver")
    return {**({} if below is None else {"min_question_logprob": below}),
            **({} if at is None else {"waive_claim_surprise": at})}


def load_learned_waiver(path: Path = ROUTES_FILE) -> dict:
    """The saved learned waiver of the claim cut (README step 71) as a Policy field (none when absent or null)."""
    try:
        waiver = waiver_from_json(_saved(path, "learned_waiver"), str(path))
    except WaiverError as exc:
        raise ModelError(str(exc)) from None
    return {} if waiver is None else {"learned_waiver": waiver}


def load_question_gain(path: Path = ROUTES_FILE) -> dict:
    """The saved cut on the question's gain from the excerpts (README step 46: `question_gain_cut`'s `below`, a mean
    gain in natural log-probability per token), as a Policy field (none when the section is absent or null: never)."""
    saved = _saved(path, "question_gain_cut")
    if saved is None:
        return {}
    value = saved.get("below") if isinstance(saved, dict) else None
    if not _is_number(value) or not math.isfinite(value):
        raise ModelError(f"{path} has question_gain_cut {saved!r}: its `below` must be a finite number (a mean gain in "
                         "log-probability per question token), or write question_gain_cut: null. Rerun "
                         "scripts/choose_policy.py --question-gain-cut --write.")
    return {"min_question_gain": float(value)}


def _saved_bool(path: Path, section: str, key: str, rerun: str) -> bool | None:
    """routes.json's `section` and its true/false `key` (None when the section is absent or null); anything else names
    how to write it again (`rerun`)."""
    saved = _saved(path, section)
    if saved is None:
        return None
    value = saved.get(key) if isinstance(saved, dict) else None
    if not isinstance(value, bool):
        raise ModelError(f"{path} has {section} {saved!r}: its `{key}` must be true or false. {rerun}, or write "
                         f"{section}: null.")
    return value


def load_stand_in_cuts(path: Path = ROUTES_FILE) -> dict:
    """Whether the question cuts also refuse an extractive stand-in (README step 47: `stand_in_question_cuts`'s
    `apply`), as a Policy field (none when not saved or null: they do not)."""
    apply = _saved_bool(path, "stand_in_question_cuts", "apply",
                        "Rerun scripts/choose_policy.py --stand-in-question-cuts --write")
    return {} if apply is None else {"question_cuts_stand_in": apply}


def load_echoed_names(path: Path = ROUTES_FILE) -> dict:
    """Whether a name the model's reply repeats from its question must stand in the passage (README step 41), as the
    Policy's support bar (none when not saved or null: required, DEFAULT_BAR)."""
    required = _saved_bool(path, "echoed_names", "required", "Rerun README step 41's measurement")
    return {} if required is None else {"bar": replace(DEFAULT_BAR, echoed_names_required=required)}


def _load_meaning_section(path: Path, section: str, key: str, option: str, field: str) -> dict:
    """routes.json's `section` of step 30's meaning feature (a cosine at `key`, the embedder its cosines are from and
    the scope of its missing words) as Policy fields, `field` taking the cosine (none when absent or null)."""
    found = _saved_logit(path, section, key, option)
    if found is None:
        return {}
    saved, value = found
    fix = f"Rerun scripts/choose_policy.py {option} --write, or write {section}: null."
    embedder, fingerprint = cut_embedder(path, section, key, value, saved, fix)
    scope = saved.get("scope", "window")
    if scope not in SCOPES:
        raise ModelError(f"{path} has {section} scope {scope!r}: it must be one of {', '.join(SCOPES)}. {fix}")
    return {field: value, "meaning_embedder": embedder, "meaning_fingerprint": fingerprint, "meaning_scope": scope}


def load_meaning_cut(path: Path = ROUTES_FILE) -> dict:
    """The saved meaning cut, the embedder its cosines are from and the scope of its missing words, as Policy fields
    (none when none was fitted: never)."""
    return _load_meaning_section(path, "meaning_cut", "below", "--meaning-cut", "min_missing_meaning")


def load_meaning_waiver(path: Path = ROUTES_FILE) -> dict:
    """The saved meaning waiver of the claim cut (README step 31) as Policy fields, as load_meaning_cut."""
    return _load_meaning_section(path, "meaning_waiver", "at", "--meaning-waiver", "waive_claim_meaning")


def load_extractive_meaning_cut(path: Path = ROUTES_FILE) -> dict:
    """The saved meaning cut of an extractive answer standing in for the model's (README step 32) as Policy fields,
    as load_meaning_cut."""
    return _load_meaning_section(path, "extractive_meaning_cut", "below", "--extractive-meaning-cut",
                                 "min_extractive_meaning")


MEANING_SECTIONS = {"meaning_cut": ("--meaning-cut", load_meaning_cut),
                    "meaning_waiver": ("--meaning-waiver", load_meaning_waiver),
                    "extractive_meaning_cut": ("--extractive-meaning-cut", load_extractive_meaning_cut)}


def load_meaning(path: Path = ROUTES_FILE) -> dict:
    """The meaning cut, its waiver and the stand-in's cut together: one feature, so where more than one is saved they
    must read it from the same embedder and scope (the later ones are fitted after the cut, with its scope)."""
    saved = {name: load(path) for name, (_, load) in MEANING_SECTIONS.items()}
    shared = ("meaning_embedder", "meaning_fingerprint", "meaning_scope")
    found = [(name, fields) for name, fields in saved.items() if fields]
    for name, fields in found[1:]:
        first, base = found[0]
        if any(fields[k] != base[k] for k in shared):
            raise ModelError(f"{path} has {first} and {name} read from different features "
                             f"({', '.join(f'{base[k]!r}/{fields[k]!r}' for k in shared if fields[k] != base[k])}): "
                             f"write {name}: null, or rerun scripts/choose_policy.py {MEANING_SECTIONS[name][0]} "
                             f"--write after {MEANING_SECTIONS[first][0]}.")
    return {k: v for _, fields in found for k, v in fields.items()}


def load_open_quotes(path: Path = ROUTES_FILE) -> dict:
    """Whether a Chinese open answer quotes the sentences the model's answer stands on (README step 33), as a Policy
    field (none when not saved or null: the model's words)."""
    quote = _saved_bool(path, "open_quotes", "quote", "Rerun scripts/choose_policy.py --open-quotes --write")
    return {} if quote is None else {"quote_open": quote}


def load_model_answer_type(path: Path = ROUTES_FILE) -> dict:
    """Whether the model's own Chinese factoid answers are type-checked (README step 82: `model_answer_type`'s
    `check`), as a Policy field (none when not saved or null: they are not)."""
    check = _saved_bool(path, "model_answer_type", "check", "Rerun README step 82's measurement")
    return {} if check is None else {"model_answer_type": check}


def load_model_answer_name(path: Path = ROUTES_FILE) -> dict:
    """Whether the model's own Chinese factoid answers giving a time or number alone to a question that asks a name are
    withheld (README step 84: `model_answer_name`'s `check`), as a Policy field (none when not saved or null: not)."""
    check = _saved_bool(path, "model_answer_name", "check", "Rerun README step 84's measurement")
    return {} if check is None else {"model_answer_name": check}


def load_model_rival(path: Path = ROUTES_FILE) -> dict:
    """Whether the model's own Chinese factoid answers are withheld where their sentence names a rival of the question's
    subject (README step 83: `model_rival`'s `check`), as a Policy field (none when not saved or null: they are not)."""
    check = _saved_bool(path, "model_rival", "check", "Rerun README step 83's measurement")
    return {} if check is None else {"model_rival": check}


def load_pick(path: Path = ROUTES_FILE) -> dict:
    """The saved pick of an English question's sentence as Policy fields (none when none was fitted: no pick)."""
    saved = _saved(path, "pick")
    if saved is None:
        return {}
    fix = "Rerun scripts/choose_policy.py --pick --write, or write pick: null."
    count = saved.get("sentences") if isinstance(saved, dict) else None
    none_at = saved.get("refuse_none_at") if isinstance(saved, dict) else None
    if not (isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= PICK_MAX):
        raise ModelError(f"{path} has pick {saved!r}: its `sentences` must be a whole number from 1 to {PICK_MAX}. {fix}")
    if not (none_at is None or (_is_number(none_at) and 0.0 < none_at <= 1.0)):
        raise ModelError(f"{path} has pick refuse_none_at {none_at!r}: it must be a number in (0, 1], or null. {fix}")
    system = saved.get("system", "pick")
    if system not in PICK_SYSTEMS:
        raise ModelError(f"{path} has pick system {system!r}: it must be one of {', '.join(PICK_SYSTEMS)}. {fix}")
    translate = saved.get("translate", False)
    if not isinstance(translate, bool):
        raise ModelError(f"{path} has pick translate {translate!r}: it must be true or false. {fix}")
    line = saved.get("english_line", False)
    if not isinstance(line, bool):
        raise ModelError(f"{path} has pick english_line {line!r}: it must be true or false. {fix}")
    return {"pick_sentences": count, "pick_none_at": math.inf if none_at is None else float(none_at),
            "pick_system": system, "translate_for_search": translate, "english_line": line}


def meaning_applies(embedder, policy: Policy) -> bool:  # noqa: ANN001 - any Embedder, or None
    """Whether `policy`'s meaning cut was fitted with `embedder`'s cosines: its name, and its weights' fingerprint where
    the cut saved one (a cut fitted with one embedder means nothing with another)."""
    return (bool(policy.meaning_embedder) and getattr(embedder, "name", None) == policy.meaning_embedder
            and (not policy.meaning_fingerprint or getattr(embedder, "fingerprint", None) == policy.meaning_fingerprint))


def auto_policy(path: Path = ROUTES_FILE) -> Policy:
    """The default ("auto") answerer's policy with the choices saved in `path` (routes.json: AUTO_POLICY; another
    file where scripts/refit_cuts.py weighs a refit before it is kept)."""
    return Policy(min_question_coverage=0.4, min_extractive_score=-1.0, extractive_fallback_score=1.0,
                  routes=load_routes(path), min_claim_coverage=load_claim_cut(path), **load_confidence(path),
                  **load_reading(path), **load_prefer_extractive(path), **load_unsupported_fallback(path),
                  **load_pick(path), **load_model_score_cut(path), **load_meaning(path), **load_open_quotes(path),
                  **load_question_surprise(path), **load_question_gain(path), **load_stand_in_cuts(path),
                  **load_echoed_names(path), **load_learned_waiver(path), **load_english_text(path),
                  **load_model_answer_type(path), **load_model_rival(path), **load_model_answer_name(path))


AUTO_POLICY = auto_policy()


@dataclass(frozen=True)
class Checked:
    """One sentence of the reply and what the check found."""

    text: str
    markers: tuple[int, ...]
    support: object | None  # support.Support of the excerpt that supports it, or None
    origin: Hit | None
    question_coverage: float  # idf share of the question's known words in the supporting sentence and neighbours
    missing: tuple[str, ...]  # question anchors absent from the passage of the support
    passage_coverage: float = 0.0  # the same share over the whole passage of the support
    claim_coverage: float = 1.0  # share of the question's whole word weight (unseen words missing) beside the support

    @property
    def kept(self) -> bool:
        return self.support is not None and not self.missing


@dataclass(frozen=True)
class Outcome:
    """Everything one model answer was decided from (the evaluation and the fitting script read it)."""

    answer: Answer
    analysis: Analysis | None = None
    excerpts: tuple[Excerpt, ...] = ()
    generation: Generation | None = None
    checked: tuple[Checked, ...] = ()
    model_refused: bool = False  # the model said the excerpts do not answer
    failure: str = ""  # why no generation (fallback)
    confidence: float | None = None  # how sure the model was of a factoid's reply (confidence.py), if known
    reading: float | None = None  # the reading check's P("是"), where it was asked (Policy.waive_claim_reading, min_reading)
    pick: tuple[float, ...] = ()  # the pick's probabilities of "none of them", 1, 2, … where it was read (Policy.pick_sentences)
    english_reply: str = ""  # step 65: the model's English line as written, where it was asked (Policy.english_line)
    english_why: str = ""  # why that line was not shown ("": shown, or not asked)


# what the reading check showed the model beside the supporting sentence, by Policy.reading_form (for the notices)
READ_WITH = {"sentence": "", "context": " with its neighbours and title"}


def with_notes(*notes: str) -> str:
    """An answer's notice: the non-empty notes, in order, one space apart."""
    return " ".join(n for n in notes if n)


def waiver_note(waived: decide.Waiver, claim: float, min_claim: float, question: Question, missing: str,
                read_with: str) -> str:
    """The notice of a factoid answer kept below the claim cut (`claim` of the question's word weight, below
    `min_claim`) by the question's surprise, the meaning of its missing words (`missing`: the least close one, "" when
    none is missing) or the reading check (`read_with`: what the sentence was shown with, READ_WITH)."""
    few = (f"Few of the question's words stand beside the sentence this answer stands on ({claim:.2f} of their weight, "
           f"below {min_claim:.2f})")
    if waived.kind == "surprise":
        return (f"{few}, but the model expected every word of the question after the passages it read (the least "
                f"expected: log-probability {waived.value:.1f}, at least {waived.at:.1f}).")
    if waived.kind == "meaning":
        closest = (f"the least close: “{as_asked(missing, question.text)}”, cosine {waived.value:.3f}, at least "
                   f"{waived.at:.3f}" if missing else "none is missing")
        return f"{few}, but each one missing there has a word of like meaning there ({closest})."
    if waived.kind == "reading":
        return (f"{few}; asked apart, the model read that sentence{read_with} as answering the question "
                f"({waived.value:.2f}, at least {waived.at:.2f}).")
    if waived.kind == "learned":
        return (f"{few}; read together, the model's reading of that sentence{read_with}, its confidence, the extractive "
                f"answerer's score, the question's surprise and the meaning of its missing words put the chance that "
                f"this answers the question at {waived.value:.2f} (at least {waived.at:.2f}).")
    raise ValueError(f"no notice for the {waived.kind!r} waiver: the confidence waiver keeps an answer silently")


def pick_candidates(analysis: Analysis, count: int) -> list[int]:
    """The extractive answerer's `count` best candidates (indices into analysis.candidates), best first, one per
    distinct sentence text (an article's repeated sentence counts once)."""
    seen: set[str] = set()
    out: list[int] = []
    for i in analysis.order:
        text = analysis.candidates[i].sentence.text.strip()
        if text not in seen and len(out) < count:
            seen.add(text)
            out.append(i)
    return out


def picked(analysis: Analysis, chosen: int) -> Analysis:
    """The analysis with candidate `chosen` as the extractive answerer's own choice: unchanged when its answer quotes
    that sentence already (a factoid's span sentence, which may rank below the best; an open answer's first), else
    with `chosen` first in the order and no span (the whole sentence is a factoid's answer)."""
    own = analysis.span_index if analysis.shape == "factoid" else analysis.order[0]
    if chosen == own:
        return analysis
    return replace(analysis, order=[chosen, *(i for i in analysis.order if i != chosen)], span=None, span_index=chosen)


def weakest_beside(question: Question, best: Checked, evidence: Evidence, scope: str) -> tuple[str, float]:
    """Step 30's meaning feature of the kept sentence `best`: the question word missing beside its support (`scope`
    "window": from its context; "passage": from its whole passage too, README step 31) with the least close word
    there, and that cosine (meaning.weakest_word; ("", 1.0) when none is missing)."""
    context = context_of(evidence.index, best.origin, best.support.sentence)  # type: ignore[arg-type,union-attr]
    return weakest_in(question.text, context, document_scope(evidence.index, best.origin),  # type: ignore[arg-type]
                      words_of(evidence.embedder), scope)


def sentence_reading(question: Question, hit: Hit, sentence: Sentence, form: str, index) -> list[dict[str, str]]:  # noqa: ANN001
    """The reading check's messages for one passage sentence of `hit`, in `form`: the sentence alone, or in its
    passage's context (context_of)."""
    context = context_of(index, hit, sentence) if form == "context" else None
    return reading_messages(question.text, sentence.text, question.language, context)


def reading_of(question: Question, best: Checked, form: str, index) -> list[dict[str, str]]:  # noqa: ANN001
    """The reading check's messages for the kept sentence `best` (one with a support), in `form`.
    ModelAnswerer.read and scripts/study_model.py ask these."""
    return sentence_reading(question, best.origin, best.support.sentence, form, index)  # type: ignore[arg-type,union-attr]


def extractive_reading_of(question: Question, citation: Citation, form: str, index) -> list[dict[str, str]]:  # noqa: ANN001
    """The reading check's messages for the sentence an extractive answer cites first (`citation`), in `form`, as
    reading_of asks them for a sentence of the model's reply."""
    return sentence_reading(question, citation.hit, citation.sentence, form, index)


def check_reply(reply: str, question: Question, excerpts: Sequence[Excerpt], evidence: Evidence,
                bar: SupportBar) -> list[Checked]:
    """Each sentence of the reply against the excerpts it cites (or all of them when it cites none)."""
    from rag.answering.llm import split_claims

    claims = split_claims(reply)
    if not claims:
        return []
    vectors = evidence.embedder.embed_passages([c.text for c in claims]) if evidence.embedder is not None else None
    anchors, places, glued = question_checks(question.text)  # README steps 18, 58 and 60
    terms = question_terms(question.text, question.previous, evidence.index)
    shown = [whole_sentences(e, evidence.index) for e in excerpts]  # a sentence cut by max_chars, whole
    out: list[Checked] = []
    for i, claim in enumerate(claims):
        vector = None if vectors is None else vectors[i]
        # the excerpts it cites first; a small model's [n] is often off by one, so then the others: the
        # sentence must still be supported by real text, only the number it wrote is not trusted
        cited = [n for n in claim.markers if 1 <= n <= len(excerpts)]
        found: list = []
        for group in (cited, [n for n in range(1, len(excerpts) + 1) if n not in cited]):
            for n in group:
                origin = excerpts[n - 1].origin
                # among the sentences that support it, the one that carries the question (claim_share)
                prefer = lambda sentence, origin=origin: claim_share(  # noqa: E731
                    terms, context_of(evidence.index, origin, sentence), question.text)
                s = best_support(claim.text, vector, shown[n - 1], evidence.index, bar, prefer, question.text)
                if s is not None and s.supported:
                    found.append((s, excerpts[n - 1], prefer(s.sentence)))
            if found:
                break
        if not found:
            out.append(Checked(claim.text, claim.markers, None, None, 0.0, ()))
            continue
        support, excerpt, share = max(found, key=lambda f: (f[2], f[0].score))
        context = context_of(evidence.index, excerpt.origin, support.sentence)
        lead = document_lead(evidence.index, excerpt.origin)  # README step 35: where the question's names may stand too
        cov = coverage(terms.known, token_set(context)) if terms.known else 1.0
        wide = coverage(terms.known, token_set(document_scope(evidence.index, excerpt.origin))) if terms.known else 1.0
        out.append(Checked(claim.text, claim.markers, support, excerpt.origin, cov,
                           tuple(anchors_missing(anchors, passage_text(excerpt.origin), lead, places, glued)), wide, share))
    return out


def compose_checked(question: Question, checked: Sequence[Checked], hits: Sequence[Hit], name: str,
                    kind: str) -> Answer | None:
    """The answer of the kept sentences, each citing the passage sentence that supports it; None if none."""
    kept = [Generated(c.text, ((c.origin, c.support.sentence),)) for c in checked if c.kept]  # type: ignore[union-attr]
    return compose_generated(question.text, kept, hits, name, kind, keep_unsupported=False)


def quote_support(question: Question, checked: Sequence[Checked], hits: Sequence[Hit], name: str,
                  kind: str) -> Answer | None:
    """The answer of the passage sentences the kept sentences of `checked` stand on (README step 33), verbatim and
    cited, each text once, within OPEN_CHARS (250, the extractive answerer's bound on an open answer) after the first
    quote (compose.compose_quotes); None when none is kept."""
    supports = [(c.origin, c.support.sentence) for c in checked if c.kept]  # type: ignore[union-attr]
    return compose_quotes(question.text, supports, hits, name, kind, OPEN_CHARS)  # type: ignore[arg-type]


def left_out_notice(checked: Sequence[Checked]) -> str:
    """The notice naming the model's sentences left out of its answer, and why. A fragment that claims nothing (a stray
    list number such as `1.` after `1.7%[1]`, a lone 是) is left out silently: it is no sentence a reader misses."""
    dropped = [c for c in checked if not c.kept and says_something(c.text)]
    if not dropped:
        return ""
    why = []
    for c in dropped:
        reason = (f"the passages do not state {', '.join(c.missing)} beside it" if c.missing
                  else "no passage sentence supports it")
        why.append(f"“{c.text[:60]}” ({reason})")
    return f"Left out of the model's answer: {'; '.join(why)}."


class ModelAnswerer:
    """Answerer protocol: a generator reads the best sentences; its checked sentences are the answer."""

    def __init__(self, generator: Generator, extractive: ExtractiveAnswerer, policy: Policy = DEFAULT_POLICY,
                 name: str = "model") -> None:
        self.generator = generator
        self.extractive = extractive
        self.policy = policy
        self.name = name

    @property
    def inner(self) -> Generator:
        """The model itself: behind the serving queue (rag/serving.py) where there is one, else the generator."""
        return getattr(self.generator, "generator", self.generator)

    def answer(self, question: Question, hits: Sequence[Hit], evidence: Evidence,
               on_token=None, control: Control | None = None) -> Answer:  # noqa: ANN001
        if control is None:
            control = Control(on_token=on_token)
        elif on_token is not None and control.on_token is None:
            control.on_token = on_token
        return self.run(question, hits, evidence, control).answer

    def warm(self, progress=None) -> str:  # noqa: ANN001
        """Load the generator's model if it has one to load; "" or why it cannot run."""
        inner = self.inner
        load = getattr(inner, "load", None)
        if load is None:
            return ""
        if progress:
            progress(f"loading the language model {self.generator.name}")
        try:
            load()
        except GenerationFailed as exc:
            if progress:
                progress(f"the language model cannot run ({exc}); answers will be extractive")
            return str(exc)
        keep = getattr(inner, "keep_systems", None)
        if keep is not None:
            # read now, not with the first question: the pick's system message (when English questions get one),
            # then the answer prompt's (the reading check's too, without worked examples), which the cache is left
            # holding. A failure here costs only that: each question reads them as before.
            systems = [PICK_SYSTEMS[self.policy.pick_system]] if self.policy.pick_sentences else []
            systems = [TRANSLATE_SYSTEM, *systems] if self.policy.translate_for_search else systems
            systems = [ENGLISH_SYSTEM, *systems] if self.policy.english_line else systems
            try:
                # a Chinese question's own (step 73, where the policy gives it one) before the English one
                chinese = system_language_of("zh", self.policy.system_language) == "zh"
                systems = [*systems, system_message(self.policy.prompt_examples, "zh")] if chinese else systems
                keep([*systems, system_message(self.policy.prompt_examples)])
            except GenerationFailed as exc:
                if progress:
                    progress(f"the language model could not read its system messages ahead ({exc}); each question "
                             "will read them")
        hint = getattr(inner, "build_hint", lambda: "")()
        if progress and hint:
            progress(hint)
        return ""

    def read_after_earlier(self, question: Question, hits: Sequence[Hit], evidence: Evidence) -> Analysis | None:
        """The extractive analysis of `question` read after the earlier question its search was fused with (README
        step 53: the sentence candidates and excerpt order the model's excerpts are chosen from), with the joined
        text's vector; None without an embedder or where it finds no sentence (the question's own analysis stands)."""
        if evidence.embedder is None or not question.fused_after:
            return None
        leaned = replace(question, previous=question.fused_after, fused_after="")
        vector = evidence.embedder.embed_queries([leaned.answer_query])[0]
        found = self.extractive.analyse(leaned, hits, replace(evidence, query_vector=vector))
        return found if found.candidates else None

    def search_query(self, question: Question, index: Index, control: Control) -> tuple[str, str, bool]:
        """What the search should read for `question`: where Policy.translate_for_search is set, the question is
        English and `index` mostly Chinese (Index.mostly_cjk, read only then), the question translated into Chinese
        by the model (after the earlier question a follow-up leans on, kept as it was); else its retrieval query as
        asked. Also a note saying why a wanted translation was not used ("" otherwise), and whether the model was
        asked. Through the serving queue the translation runs apart (ModelQueue.generate_apart): skipped while others
        want the model. Never raises: a failed translation costs only the better search."""
        query = question.retrieval_query
        if not self.policy.translate_for_search or question.language != "en" or not index.mostly_cjk:
            return query, "", False
        inner = self.inner
        if getattr(inner, "first_token_probabilities", None) is None:  # an endpoint: no pick either
            return query, "", False
        if control.stopped or control.overdue():
            return query, "", False
        # the translation is not the answer: nothing of it streams, its question is not read (a Control kept from an
        # earlier answer may still ask: step 42); Stop is shared
        quiet = replace(control, on_token=None, read_question=False)
        generate = getattr(self.generator, "generate_apart", self.generator.generate)
        try:
            generation = generate(translate_messages(question.text), TRANSLATE_TOKENS, quiet)
        except GenerationFailed as exc:
            return query, f"The question was searched as asked: the model could not translate it ({exc}).", True
        translated = None if generation.stopped else translation_of(generation.text)
        if translated is None:
            return query, "", True
        return (f"{question.previous} {translated}" if question.previous else translated), "", True

    def fallback(self, question: Question, hits: Sequence[Hit], evidence: Evidence, why: str,
                 analysis: Analysis) -> Answer:
        answer = self.extractive.answer_from(question, hits, evidence, analysis, check_anchors=self.policy.fallback_anchors)
        note = fallback_notice(f"The model gave no answer ({why})", answer.refused)
        return replace(answer, notice=with_notes(answer.notice, note))

    def run(self, question: Question, hits: Sequence[Hit], evidence: Evidence, control: Control) -> Outcome:
        started = time.perf_counter()
        if not hits:
            return Outcome(refuse(question.text, answerer=self.name, reason=decide.NO_HITS))
        analysis = self.extractive.analyse(question, hits, evidence)
        text_lang = text_language(question.language, analysis.cross_language)  # step 76: "en" for English text
        route = route_for(self.policy.routes, analysis.shape, question.language, text_lang)
        if analysis.shape == "summary" or not analysis.candidates or route == "extractive":
            if route == "extractive" and analysis.cross_language and analysis.candidates and self.policy.pick_sentences:
                return self.in_english(question, self.pick(question, hits, evidence, analysis, self.policy, control),
                                       control)
            outcome = Outcome(self.extractive.answer_from(question, hits, evidence, analysis), analysis)
            return self.in_english(question, outcome, control) if analysis.cross_language else outcome
        p = self.policy if route == "auto" else replace(self.policy, min_question_coverage=0.0,  # "model"
                                                        min_extractive_score=-math.inf,
                                                        extractive_fallback_score=math.inf)
        chooser = (self.read_after_earlier(question, hits, evidence) if p.fused_excerpts and question.fused_after
                   else None) or analysis  # step 53: a fused follow-up's excerpts chosen with its earlier question
        order = chooser.excerpt_order if p.excerpt_ranker == "excerpt" and chooser.excerpt_order else chooser.order
        budget = (p.english_text_excerpt_chars if p.english_text_excerpt_chars is not None and text_lang == "en"
                  else p.max_excerpt_chars)
        excerpts = tuple(select_excerpts(chooser.candidates, order, p.top_sentences, budget,
                                          fill=p.excerpt_fill))
        open_answer = analysis.shape in ("open", "entity")
        messages = build_messages(question, excerpts, open_answer, p.prompt_examples, p.system_language)
        factoid = analysis.shape == "factoid"
        # the question tokens' log-probabilities are asked for (read with the prompt, step 42) only where step 38's cut,
        # step 39's waiver or step 46's gain reads them
        reads_question = factoid and question.language == "zh" and not (
            math.isinf(p.min_question_logprob) and math.isinf(p.waive_claim_surprise)
            and math.isinf(p.min_question_gain))  # step 46's gain reads them too
        control.read_question = reads_question
        before = time.perf_counter() - started
        try:
            generation = self.generator.generate(messages, p.open_tokens if open_answer else p.factoid_tokens,
                                                 control)
        except GenerationFailed as exc:
            return Outcome(self.fallback(question, hits, evidence, str(exc), analysis), analysis, excerpts,
                           failure=str(exc))
        stop_note = "Stopped: this is the part written before Stop, checked like any answer." if generation.stopped else ""
        checked = tuple(check_reply(generation.text, question, excerpts, evidence, p.bar))
        model_refused = says_not_found(generation.text)
        kept = [c for c in checked if c.kept]
        confidence = (token_confidence(generation.token_probs, question.text, p.confidence_statistic)
                      if factoid and not generation.stopped else None)
        best_kept = max(kept, key=lambda c: c.claim_coverage, default=None)  # the sentence the later measures read
        claim = best_kept.claim_coverage if best_kept is not None else 0.0
        reading, read_s, asked = None, 0.0, False  # asked: the model was asked to read (the timings say how long)
        # below the claim cut, the first waiver that holds keeps the answer (decide.WAIVERS, cheapest first: each is
        # measured only where none before it held); the reading is asked only where it can change the decision: the
        # claim cut would refuse and its waiver is set, or the claim cut passes and a refusal cut is set ("auto"'s
        # coverage and extractive-score cuts may still refuse after it)
        below_cut = factoid and claim < p.min_claim_coverage
        waived = decide.waiver("confidence", confidence, p.waive_claim_confidence) if below_cut else None
        # step 30's meaning feature of the best kept sentence: read where its waiver may keep an answer below the claim
        # cut (step 31), and again below only where the meaning cut needs it
        meaning: tuple[str, float] | None = None
        # a factoid reply the later measures can be taken of: something kept, not "not there", not stopped, not below
        # the confidence cut; the reading check reads any such reply, the surprise and meaning a Chinese one only
        readable = (factoid and kept and not model_refused and not generation.stopped
                    and (confidence is None or confidence >= p.min_confidence))
        measurable = readable and question.language == "zh"
        # the question's surprise after the excerpts (read with the answer's prompt where a cut reads it: step 42) is
        # step 39's waiver and step 38's cut below
        surprise = question_surprise(generation.question_logprobs) if reads_question else None
        if below_cut and waived is None and measurable and surprise is not None:
            waived = decide.waiver("surprise", surprise[1], p.waive_claim_surprise)
        if (below_cut and waived is None and measurable and not math.isinf(p.waive_claim_meaning)
                and meaning_applies(evidence.embedder, p)):
            meaning = weakest_beside(question, best_kept, evidence, p.meaning_scope)
            waived = decide.waiver("meaning", meaning[1], p.waive_claim_meaning)
        # step 71: the learned waiver, where set, decides in place of the reading waiver (on the same reading)
        learned = p.learned_waiver if below_cut and waived is None and measurable else None
        if readable and ((not math.isinf(p.waive_claim_reading) or learned is not None) if below_cut and waived is None
                         else p.min_reading > 0.0):
            t_read = time.perf_counter()
            reading = self.read(question, best_kept, p, control, evidence)
            read_s, asked = time.perf_counter() - t_read, reading is not None
            if below_cut and waived is None and learned is not None:
                if reading is not None and meaning is None and meaning_applies(evidence.embedder, p):
                    meaning = weakest_beside(question, best_kept, evidence, p.meaning_scope)
                chance = None if reading is None else learned.probability({
                    "reading": reading, "claim": claim, "confidence": confidence, "score": analysis.score,
                    "meaning": None if meaning is None else meaning[1],
                    "surprise": None if surprise is None else surprise[1]})
                waived = decide.waiver("learned", chance, learned.at)
            elif below_cut and waived is None:
                waived = decide.waiver("reading", reading, p.waive_claim_reading)
        decision = decide.model_answer(model_refused, len(kept), max((c.passage_coverage for c in kept), default=0.0),
                                       analysis.score, p.min_question_coverage, p.min_extractive_score,
                                       claim, p.min_claim_coverage if factoid else 0.0, confidence,
                                       p.min_confidence if factoid else 0.0, waived,
                                       reading, p.min_reading if factoid else 0.0,
                                       f"the answer's supporting sentence{READ_WITH[p.reading_form]}")
        answer = compose_checked(question, checked, hits, self.name, analysis.shape) if decision.answer else None
        unsure = (answer is not None and factoid and confidence is not None and confidence < p.prefer_extractive_below
                  and (p.english_text_hand_over or text_lang != "en"))
        if unsure:
            instead, _ = self.checked_extractive(question, hits, evidence, analysis, p)
            if instead is not None:
                note = (f"The model was unsure of its answer (it gave its least sure token a probability of "
                        f"{confidence:.2f}, below {p.prefer_extractive_below:.2f}); this is the extractive answer, which "
                        "passes the same checks.")
                answer = replace(instead, notice=with_notes(instead.notice, note))
        reason = decision.reason

        def own_zh(a: Answer | None) -> bool:
            """Whether `a` is the model's own Chinese answer, of any kind, still standing (steps 89 and 91 read it)."""
            return a is not None and not a.refused and a.answerer == self.name and question.language == "zh"

        def own_chinese(a: Answer | None) -> bool:
            """Whether `a` is the model's own Chinese factoid answer, still standing: what the cuts below read."""
            return factoid and own_zh(a)

        if (answer is not None and factoid and not answer.refused and answer.answerer == self.name
                and analysis.score < p.model_min_extractive_score):  # README step 27
            answer = None
            reason = decide.low_score(analysis.score, p.model_min_extractive_score)
        if (own_chinese(answer) and kept and not math.isinf(p.min_missing_meaning)
                and meaning_applies(evidence.embedder, p)):  # README step 30
            if meaning is None:
                meaning = weakest_beside(question, best_kept, evidence, p.meaning_scope)
            word, cosine = meaning
            if cosine < p.min_missing_meaning:
                answer = None
                reason = decide.meaning_missing(as_asked(word, question.text), cosine, p.min_missing_meaning)
        if p.model_answer_type and own_chinese(answer):  # README step 82
            typed = decide.answer_type(missing_answer_type(question.text, strip_markers(answer.text)),  # type: ignore[union-attr]
                                       "the model's answer")
            if not typed.answer:
                answer, reason = None, typed.reason
        if p.model_rival and kept and own_chinese(answer):  # README step 83
            read = [e.hit.chunk.text for e in excerpts]
            said = strip_markers(answer.text)  # type: ignore[union-attr]
            rivals = [rival_subject(question.text, c.support.sentence.text,  # type: ignore[union-attr]
                                    shown_text(read, document_scope(evidence.index, c.origin)), said)
                      for c in kept]
            if all(rivals):
                answer, reason = None, decide.rival_subject(rivals[0]).reason
        if p.model_answer_name and own_chinese(answer):  # README step 84
            asked = only_value_for_name(question.text, strip_markers(answer.text))  # type: ignore[union-attr]
            if asked:
                answer, reason = None, decide.value_for_name(asked).reason
        if kept and own_zh(answer):  # README step 89, every kind: each sentence it stands on speaks of the other
            # side of a contrast the question asks about (its 日活, their 月活)
            swaps = [contrast_swap(question.text, c.support.sentence.text) for c in kept]  # type: ignore[union-attr]
            if all(swaps):
                answer, reason = None, decide.contrast_swap(swaps[0], "the sentence the model's answer stands on").reason
        if kept and own_zh(answer):  # README step 102, every kind: each sentence it stands on gives the total of a list
            # standing before it, and the question names one part of that list
            said = strip_markers(answer.text)  # type: ignore[union-attr]
            parts = [part_of_total(question.text, said, c.support.sentence.text,  # type: ignore[union-attr]
                                   sentences_before(evidence.index, c.origin, c.support.sentence, 2))  # type: ignore[union-attr]
                     for c in kept]
            if all(parts):
                answer, reason = None, decide.part_of_total(parts[0]).reason
        replaced_note = ""
        if kept and own_zh(answer):  # README step 91, every kind: each sentence it stands on pairs items with
            # values by 分别, and the answer gives the value of another item than the question names
            said = strip_markers(answer.text)  # type: ignore[union-attr]
            slips = [other_slot(question.text, said, c.support.sentence.text,  # type: ignore[union-attr]
                                sentences_before(evidence.index, c.origin, c.support.sentence, 1))  # type: ignore[union-attr]
                     for c in kept]
            if all(slips):  # the value the sentence pairs with the item asked, in the model's place
                slip = slips[0]
                answer = self.given_instead(question, hits, analysis, slip.value, kept[0])  # type: ignore[union-attr]
                replaced_note = decide.slot_note(said, slip)
        if own_chinese(answer) and kept and not replaced_note:  # README step 94: a change asked, a level answered
            said = strip_markers(answer.text)  # type: ignore[union-attr]
            levels = [level_for_change(question.text, said, c.support.sentence.text) for c in kept]  # type: ignore[union-attr]
            if all(levels):  # the change that sentence writes, in the model's place
                level = levels[0]
                answer = self.given_instead(question, hits, analysis, level.change, kept[0])  # type: ignore[union-attr]
                replaced_note = decide.level_note(said, level)
        if own_chinese(answer) and kept and not replaced_note:  # README step 105: a level asked, a change answered
            said = strip_markers(answer.text)  # type: ignore[union-attr]
            given = [change_for_level(question.text, said, c.support.sentence.text) for c in kept]  # type: ignore[union-attr]
            if all(given):
                answer, reason = None, decide.change_for_level(given[0]).reason  # type: ignore[arg-type]
        prior_s = None  # README step 46: the question read without the excerpts, where the cut needs it
        judged: str | None = None  # steps 38 and 46's verdict on the question, once taken ("": it fits the excerpts)
        if own_chinese(answer):  # README steps 38 and 46
            judged, prior_s = self.question_cut(question, generation, surprise, p, control)
            if judged:
                answer, reason = None, judged
        withheld = answer is None
        if answer is None:
            # nothing it wrote is kept (supported, with the question's anchors in its passage), it did not say the
            # excerpts do not tell, and it was not stopped: it misread them, and the extractive sentence finder may
            # still have found the answer (README step 21)
            misread = factoid and checked and not kept and not model_refused and not generation.stopped
            fallback_at = min(p.extractive_fallback_score, p.unsupported_fallback_score) if misread else None
            answer = self.when_unsupported(question, hits, evidence, analysis, reason, p, fallback_at)
            # the gate reads only this fallback's answer: one "auto"'s own logit would have given anyway is not gated
            if (misread and not answer.refused and p.unsupported_fallback_reading > 0.0
                    and analysis.score < p.extractive_fallback_score):
                answer, fallback_read_s = self.gate_fallback(question, hits, answer, analysis, reason, p,
                                                             control, evidence)
                if fallback_read_s is not None:
                    read_s, asked = read_s + fallback_read_s, True
        if (p.question_cuts_stand_in and factoid and question.language == "zh" and not answer.refused
                and answer.answerer != self.name):
            # README step 47: an extractive answer standing in for the model's (handed over, fallen back) comes from
            # the same passages, so the question cuts that judge whether the question fits them read it too (once:
            # "auto"'s fallback after the model's answer was cut for the question keeps that verdict)
            if judged is None:
                judged, prior_s = self.question_cut(question, generation, surprise, p, control)
            if judged:
                answer, withheld = refuse(question.text, hits, self.name, analysis.shape, reason=judged), True
        if withheld and answer.refused and kept and not model_refused:  # what its answer stood on, said not to answer
            answer = refuse_with_closest(answer, best_kept.origin, best_kept.support.sentence)  # type: ignore[arg-type,union-attr]
        # a handed-over or fallen-back answer is not the model's: what its reply left out is not news about this answer
        theirs = not answer.refused and answer.answerer == self.name
        notes = [answer.notice, left_out_notice(checked) if theirs else "", stop_note,
                 replaced_note if theirs else ""]
        quoted = (quote_support(question, checked, hits, self.name, analysis.shape)
                  if (theirs and p.quote_open and analysis.shape == "open" and question.language == "zh"
                      and not generation.stopped) else None)  # README step 33; a stopped answer stays as written
        if quoted is not None:
            words = strip_markers(answer.text)
            answer = quoted
            notes.append("Quoted: the passage sentences the model's answer stands on. Its own words: "
                         f"“{words[:120]}{'…' if len(words) > 120 else ''}”")
        if answer.refused and not model_refused and checked:
            notes.append(f"The model's answer was withheld: {answer.reason}.")
        elif (not answer.refused and waived is not None and waived.kind != "confidence"
              and answer.answerer == self.name):
            notes.append(waiver_note(waived, claim, p.min_claim_coverage, question,
                                     meaning[0] if meaning is not None else "", READ_WITH[p.reading_form]))
        answer = replace(answer, notice=with_notes(*notes), generated_tokens=generation.tokens,
                         # the model's answer or its refusal, not an extractive answer given in its place
                         confidence=(None if confidence is None or answer.answerer != self.name
                                     else round(confidence, 4)),
                         reading=None if reading is None or answer.answerer != self.name else round(reading, 4),
                         timings_ms={"queue": generation.queued_s * 1000, "first_token": (before + generation.queued_s + generation.first_token_s) * 1000,
                                     "generate": generation.seconds * 1000,
                                     "decode": max(generation.seconds - generation.first_token_s, 0.0) * 1000,
                                     "prompt_tokens": float(generation.prompt_tokens),
                                     **({"reading": read_s * 1000} if asked else {}),
                                     **({"question_prior": prior_s * 1000} if prior_s is not None else {})})
        return Outcome(answer, analysis, excerpts, generation, checked, model_refused, confidence=confidence,
                       reading=reading)

    def pick(self, question: Question, hits: Sequence[Hit], evidence: Evidence, analysis: Analysis, policy: Policy,
             control: Control) -> Outcome:
        """An English question over Chinese text (Policy.pick_sentences): the model is shown the extractive answerer's
        best sentences and asked which answers the question (prompt.pick_messages; one prompt read, no decoding).
        "None of them" read at Policy.pick_none_at or above is a refusal; otherwise the extractive answerer answers
        from the picked sentence (`picked`; its refusal rules still apply; where its standing bar refuses the
        question, the model is not asked). A generator without logits (an endpoint), Stop or a passed deadline: the
        extractive answer, as without the pick; a busy serving queue or a failed read: the same, with a notice."""
        inner = self.inner
        ask = getattr(self.generator, "first_token_probabilities", None)
        # the standing bar refuses whichever sentence is picked (it reads the question's cosines, not the sentence)
        if (ask is None or getattr(inner, "first_token_probabilities", None) is None or control.stopped
                or control.overdue() or not self.extractive.decision(analysis).answer):
            return Outcome(self.extractive.answer_from(question, hits, evidence, analysis), analysis)
        top = pick_candidates(analysis, policy.pick_sentences)
        shown = [analysis.candidates[i].sentence.text.strip() for i in top]
        started = time.perf_counter()
        try:
            probs = ask(pick_messages(question.text, shown, PICK_SYSTEMS[policy.pick_system]), pick_words(len(top)),
                        control)
        except GenerationFailed as exc:
            answer = self.extractive.answer_from(question, hits, evidence, analysis)
            note = fallback_notice(f"The model could not pick among the best sentences ({exc})", answer.refused)
            return Outcome(replace(answer, notice=with_notes(answer.notice, note)), analysis,
                           failure=str(exc))
        seconds = time.perf_counter() - started
        best = max(range(1, len(probs)), key=lambda k: probs[k])
        decision = decide.pick(probs[0], policy.pick_none_at, len(top))
        if not decision.answer:
            answer = refuse(question.text, hits, self.name, analysis.shape, reason=decision.reason)
        else:
            answer = self.extractive.answer_from(question, hits, evidence, picked(analysis, top[best - 1]))
            if not answer.refused:
                note = (f"Among the extractive answerer's {len(top)} best sentences, the model picked “{shown[best - 1][:40]}"
                        f"{'…' if len(shown[best - 1]) > 40 else ''}” as answering the question (probability "
                        f"{probs[best]:.2f}; “none of them” {probs[0]:.2f}).")
                answer = replace(answer, answerer=self.name, notice=with_notes(answer.notice, note))
        # nothing streams: the answer shows whole when the pick is read, so that is its first token's time too
        answer = replace(answer, timings_ms={**answer.timings_ms, "pick": seconds * 1000, "first_token": seconds * 1000})
        return Outcome(answer, analysis, pick=tuple(probs))

    def in_english(self, question: Question, outcome: Outcome, control: Control) -> Outcome:
        """README step 65: `outcome`'s answer to an English factoid over Chinese text, given as a sentence of the
        documents, shown as the words of that sentence that answer it with their English in brackets, where
        Policy.english_line is set and the model's line passes english.check_line; otherwise the answer as it was
        (with a notice saying why, where the model was asked). Through the serving queue the line runs apart
        (skipped while others want the model); nothing of it streams. Never turns an answer into a refusal."""
        answer, analysis = outcome.answer, outcome.analysis
        if (not self.policy.english_line or answer.refused or question.language != "en" or analysis is None
                or analysis.shape != "factoid" or not answer.citations or answer.citations[0].sentence is None
                or control.stopped or control.overdue()):
            return outcome
        citation = answer.citations[0]
        sentence = citation.sentence.text
        quiet = replace(control, on_token=None, read_question=False)  # the line is not streamed; no question read
        apart = getattr(self.generator, "generate_apart", None)
        messages = english_messages(question.text, sentence)
        started = time.perf_counter()
        try:
            generation = (apart(messages, ENGLISH_TOKENS, quiet, what="the English answer") if apart is not None
                          else self.generator.generate(messages, ENGLISH_TOKENS, quiet))
        except GenerationFailed as exc:
            note = f"The answer is the cited sentence as written: the model could not write it in English ({exc})."
            return replace(outcome, answer=replace(answer, notice=with_notes(answer.notice, note)),
                           english_why=f"failed: {exc}")
        seconds = time.perf_counter() - started
        timings = {**answer.timings_ms, "english": seconds * 1000,
                   "first_token": answer.timings_ms.get("first_token", 0.0) + seconds * 1000}
        line, why = (None, "it was stopped") if generation.stopped else check_line(generation.text, sentence)
        if line is None:
            note = (f"The answer is the cited sentence as written: the model's English answer "
                    f"(“{' '.join(generation.text.split())[:80]}”) was not shown, because {why}.")
            return replace(outcome, answer=replace(answer, notice=with_notes(answer.notice, note), timings_ms=timings),
                           english_reply=generation.text, english_why=why)
        note = ("In English: the bold words are the cited sentence's own; the English in brackets is the model's "
                f"translation of them (its numbers checked against the sentence). The sentence: “{sentence.strip()}”")
        shown = replace(with_line(answer, line, citation), notice=with_notes(answer.notice, note), timings_ms=timings,
                        generated_tokens=answer.generated_tokens + generation.tokens)
        return replace(outcome, answer=shown, english_reply=generation.text)

    def read(self, question: Question, best: Checked, policy: Policy, control: Control,
             evidence: Evidence) -> float | None:
        """The reading check of the kept sentence with the most claim coverage (Policy.waive_claim_reading,
        Policy.min_reading, Policy.learned_waiver), shown alone or in its passage's context (Policy.reading_form): None where it is not
        asked (no cut fitted, a question not in Chinese, a generator without logits, a Stop or a passed deadline)
        or the model fails while reading (then the other cuts decide alone: no waiver, and no refusal by the
        reading)."""
        ask = getattr(self.generator, "yes_probability", None)
        if ((math.isinf(policy.waive_claim_reading) and policy.min_reading <= 0.0 and policy.learned_waiver is None)
                or question.language not in READING or ask is None
                or best.support is None or control.stopped or control.overdue()):
            return None
        yes, no = READING_WORDS[question.language]
        try:
            return ask(reading_of(question, best, policy.reading_form, evidence.index), yes, no, control)
        except GenerationFailed:
            return None

    def question_cut(self, question: Question, generation: Generation, surprise: tuple[str, float] | None,
                     policy: Policy, control: Control) -> tuple[str, float | None]:
        """Why the question does not fit the excerpts the model read, or "" where it does: its least expected token
        after them below Policy.min_question_logprob (README step 38; `surprise`, None where it was not read), or,
        outside a conversation (a follow-up's question line leans on the conversation, which both readings hold:
        那它的净利润呢？), its mean gain from them below Policy.min_question_gain (step 46; one more prompt reading).
        Returns the reason and the seconds the reading without the excerpts took (None where none was made)."""
        if surprise is not None and surprise[1] < policy.min_question_logprob:
            return decide.unexpected_question(surprise[0], surprise[1], policy.min_question_logprob), None
        if question.history or math.isinf(policy.min_question_gain) or not generation.question_logprobs:
            return "", None
        started = time.perf_counter()
        prior = self.question_prior(question, policy, control)
        prior_s = time.perf_counter() - started
        gain = None if prior is None else question_gain(generation.question_logprobs, prior)
        if gain is not None and gain < policy.min_question_gain:
            return decide.unexplained_question(gain, policy.min_question_gain), prior_s
        return "", prior_s

    def question_prior(self, question: Question, policy: Policy, control: Control) -> tuple[tuple[str, float], ...] | None:
        """The question tokens' log-probabilities after the answer's prompt with no excerpts (README step 46): None
        where the generator cannot read them (an endpoint, a fake), Stop or the deadline came, or the model failed
        (then the cut is not applied)."""
        read = getattr(self.generator, "question_logprobs_in", None)
        if not callable(read) or control.stopped or control.overdue():
            return None
        try:
            return read(build_messages(question, (), False, policy.prompt_examples, policy.system_language),
                        control) or None
        except GenerationFailed:
            return None

    def given_instead(self, question: Question, hits: Sequence[Hit], analysis: Analysis, value: str,
                      claim: Checked) -> Answer:
        """`value`, as the sentence supporting `claim` writes it, cited to that sentence, in place of the model's answer
        (README steps 91 and 94: the value a 分别 sentence pairs with the item asked; the change a question asks)."""
        support = ((claim.origin, claim.support.sentence),)  # type: ignore[union-attr]
        return compose_generated(question.text, [Generated(value, support)], hits,  # type: ignore[arg-type,return-value]
                                 self.name, analysis.shape, keep_unsupported=False)

    def when_unsupported(self, question: Question, hits: Sequence[Hit], evidence: Evidence, analysis: Analysis,
                         reason: str, policy: Policy, fallback_at: float | None = None) -> Answer:
        """The model's answer failed (`reason`): refuse, or give the extractive answer when its answer logit
        clears `fallback_at` (default Policy.extractive_fallback_score) and it passes the same question checks."""
        refusal = refuse(question.text, hits, self.name, analysis.shape, reason=reason)
        if analysis.score < (policy.extractive_fallback_score if fallback_at is None else fallback_at):
            return refusal
        answer, failed = self.checked_extractive(question, hits, evidence, analysis, policy)
        if answer is None:
            return refuse(question.text, hits, self.name, analysis.shape, reason=f"{reason}; {failed}") if failed else refusal
        note = f"The model's answer was withheld ({reason}); this is the extractive answer, which passes the same checks."
        return replace(answer, notice=with_notes(answer.notice, note))

    def gate_fallback(self, question: Question, hits: Sequence[Hit], fallen: Answer, analysis: Analysis, reason: str,
                      policy: Policy, control: Control, evidence: Evidence) -> tuple[Answer, float | None]:
        """The extractive answer `fallen` given for a misread reply stands only where the model, asked apart, reads its
        first cited sentence as answering the question at Policy.unsupported_fallback_reading or above; otherwise, or
        where no reading can be made, the refusal (`reason`, and why). Returns the answer and the seconds spent asking
        (None when the model was not asked)."""
        inner = self.inner
        ask = getattr(self.generator, "yes_probability", None)
        first = fallen.citations[0] if fallen.citations else None
        why = ""
        if (question.language not in READING or ask is None or getattr(inner, "yes_probability", None) is None
                or first is None or first.sentence is None):
            why = "no reading of the extractive answer's sentence can be made here"
        elif control.stopped:
            why = "Stop was pressed before the extractive answer's sentence was read"
        elif control.overdue():
            why = "no time was left to read the extractive answer's sentence"
        if why:
            return refuse(question.text, hits, self.name, analysis.shape, reason=f"{reason}; {why}"), None
        yes, no = READING_WORDS[question.language]
        started = time.perf_counter()
        try:
            value = ask(extractive_reading_of(question, first, policy.reading_form, evidence.index), yes, no, control)
        except GenerationFailed as exc:  # a busy serving queue, a failed read
            why = f"the extractive answer's sentence could not be read ({exc})"
        seconds = time.perf_counter() - started
        if why:
            return refuse(question.text, hits, self.name, analysis.shape, reason=f"{reason}; {why}"), seconds
        if value >= policy.unsupported_fallback_reading:
            return fallen, seconds
        why = (f"asked apart, the model read the extractive answer's sentence{READ_WITH[policy.reading_form]} as "
               f"answering the question with probability {value:.2f}, below {policy.unsupported_fallback_reading:.2f}")
        return refuse(question.text, hits, self.name, analysis.shape, reason=f"{reason}; {why}"), seconds

    def checked_extractive(self, question: Question, hits: Sequence[Hit], evidence: Evidence, analysis: Analysis,
                           policy: Policy) -> tuple[Answer | None, str]:
        """The extractive answer where it may stand in for the model's: (answer, ""); (None, "") when the
        extractive answerer refuses too; (None, why) when its answer fails the model route's question checks (the
        question's anchors in its passage, the claim cut beside its sentence, the question's words in its passage)."""
        answer = self.extractive.answer_from(question, hits, evidence, analysis)
        if answer.refused or not answer.citations:
            return None, ""
        first = answer.citations[0]
        scope = document_scope(evidence.index, first.hit)  # the passage and its document's lead (README step 35)
        terms = question_terms(question.text, question.previous, evidence.index)
        cov = coverage(terms.known, token_set(scope)) if terms.known else 1.0
        context = cited_context(evidence.index, first)
        beside = claim_share(terms, context, question.text) if context is not None else 0.0
        missing = passage_lacks_anchors(question.text, evidence.index, first.hit)
        checked = decide.extractive_after_model(missing, cov, policy.min_question_coverage, beside,
                                                policy.min_claim_coverage if analysis.shape == "factoid" else 0.0)
        if not checked.answer:
            return None, checked.reason
        if (analysis.shape == "factoid" and question.language == "zh" and context is not None
                and not math.isinf(policy.min_extractive_meaning) and meaning_applies(evidence.embedder, policy)):
            word, cosine = weakest_in(question.text, context, scope, words_of(evidence.embedder),
                                      policy.meaning_scope)  # README step 32
            if cosine < policy.min_extractive_meaning:
                return None, decide.meaning_missing(as_asked(word, question.text), cosine, policy.min_extractive_meaning,
                                                    "the extractive answer's sentence")
        return answer, ""


def tokens_per_second(generation: Generation | None) -> float:
    if generation is None or generation.seconds <= 0 or not generation.tokens:
        return math.nan
    return generation.tokens / max(generation.seconds - generation.first_token_s, 1e-6)
