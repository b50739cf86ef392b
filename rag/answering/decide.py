"""Answer or refuse, and why: every refusal rule of the extractive and sentence answerers.

Each answerer measures (its features, scores and standings live with it); the rule that turns the
measures into "not in the documents" lives here, one function per answerer, and a refusal names the rule
and its numbers (`Decision.reason`, carried on the refused `Answer`). A rule of a new answerer is added
here too, so that "when do we refuse" has one place to read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    answer: bool
    reason: str = ""  # why it refused, in words, with the numbers that decided ("" when it answers)


ANSWER = Decision(True)
NO_HITS = "no passage was retrieved for the question"


def refuse_because(reason: str) -> Decision:
    return Decision(False, reason)


def no_hits() -> Decision:
    return refuse_because(NO_HITS)


# --- The extractive answerer (rag/answering/extractive.py) ------------------------------------------------


def extractive(has_sentences: bool, score: float, threshold: float, cross_language: bool, standing: float,
               cross_language_standing: float) -> Decision:
    """The fitted answer-or-refuse model's score against its threshold (both in model.json). An English
    question over text it shares no words with (Chinese documents) is judged by the best sentence's
    standing alone: the model, fitted on Chinese questions, has no lexical signal there, so the cosine's
    standing is compared with a bar chosen on the article's dev split (model.json meta,
    cross_language_standing)."""
    if not has_sentences:
        return refuse_because("no indexed sentence lies inside the retrieved passages")
    if cross_language:
        if standing < cross_language_standing:
            return refuse_because(f"English question over Chinese text: the best sentence stands {standing:.2f} "
                                  f"standard deviations above the rest, below {cross_language_standing:.2f}")
        return ANSWER
    if score < threshold:
        return refuse_because(f"the answer model scores {score:.2f}, below its threshold {threshold:.2f}")
    return ANSWER


def cross_language_numbers(missing: list[str]) -> Decision:
    """An English question over Chinese text is refused when the numbers it asks about (a year, a count) are not
    in the passage of the answer's sentence: the same anchor rule the model's answers obey (support.py), and the
    one signal such a question has that is not relative to the index (README, "How auto was chosen", step 15)."""
    if missing:
        return refuse_because(f"English question over Chinese text: the question's {', '.join(missing)} is not in "
                              "the passage of the answer's sentence")
    return ANSWER


def question_anchors(missing: list[str]) -> Decision:
    """A Chinese question's extractive answer is refused when what the question pins it to (its numbers, years,
    Latin-script names, quoted titles, people's names: support.question_anchors) is not in the passage of the
    answer's sentence or its document's lead: the rule the model's answers obey (README step 55)."""
    if missing:
        return refuse_because(f"the question's {', '.join(missing)} is not in the passage of the answer's sentence")
    return ANSWER


def answer_type(missing: str, whose: str = "the answer's sentence") -> Decision:
    """A Chinese factoid's answer sentence must show what the question asks for (question.missing_answer_type): an
    amount of money for 多少钱, a date for 哪一年, a count of 家 for 多少家. Round 20 (README step 24) for the extractive
    answerer; since step 82 for the model's own answer too (`whose`: "the model's answer", withheld for
    `美图在AI上投入了真金白银的投入` asked 投入了多少研发费用？)."""
    if missing:
        return refuse_because(f"the question asks for {missing}, and {whose} gives none")
    return ANSWER


def rival_subject(rival: tuple[str, str] | None) -> Decision:
    """The model's Chinese factoid answer is withheld where the sentence it stands on names a rival of what the question
    asks about (rival.rival_subject: the question's 解决方案业务, the sentence's 产品业务; README step 83)."""
    if rival:
        asked, named = rival
        return refuse_because(f"the question asks about {asked}, and the sentence the model's answer stands on speaks "
                              f"of {named}: the value may belong to that instead")
    return ANSWER


def contrast_swap(swap: tuple[str, str] | None, whose: str = "the answer's sentence") -> Decision:
    """A Chinese answer of any kind is refused where `whose` speaks of the other side of a contrast the question asks
    about (contrast.contrast_swap: the question's 日活, the sentence's 月活; README step 89)."""
    if swap:
        asked, said = swap
        return refuse_because(f"the question asks about {asked}, and {whose} speaks of {said} instead")
    return ANSWER


def part_of_total(part) -> Decision:  # noqa: ANN001 - a total.Part, or None
    """A Chinese answer of any kind is refused where it gives the total its sentence writes for the parts listed before
    it, and the question asks one of those parts (total.part_of_total: 以太币, the 总价 of both coins; README step 102)."""
    if part:
        return refuse_because(f"the question asks about {part.part}, and the sentence the model's answer stands on gives "
                              f"the {part.total} ({part.value}) of a list {part.part} is one part of")
    return ANSWER


def change_for_level(change: str | None) -> Decision:
    """A Chinese answer is refused where the question asks a level (no word of change) and every number it gives is a
    change its sentence writes (change.change_for_level: 62.3% for 美图的付费率是多少？; README step 105)."""
    if change:
        return refuse_because(f"the question asks for a level, and the model's answer gives {change}, which its sentence "
                              f"writes as a change")
    return ANSWER


def slot_note(said: str, slip) -> str:  # noqa: ANN001 - a respectively.Slip
    """The notice of the value given in place of the model's answer where the sentence it stands on pairs items with
    values by 分别 and the answer gives another item's value (respectively.other_slot: the question's 比特币, the value
    of 以太币; README step 91)."""
    return (f"The model answered “{said}”, the value its sentence gives for {slip.given}; the sentence pairs "
            f"{slip.asked} with {slip.value} (分别, respectively), which is given instead.")


def level_note(said: str, level) -> str:  # noqa: ANN001 - a change.Level
    """The notice of the change given in place of the model's answer where the question asks how much something changed
    and the answer gives a level its sentence writes (change.level_for_change: 超911万 for 同比增长62.3%; README step
    94)."""
    return (f"The model answered “{said}”, a level its sentence gives; the question asks how much it changed, and the "
            f"sentence gives {level.change}, which is given instead.")


def value_for_name(asked: str) -> Decision:
    """The model's Chinese factoid answer is withheld where its question asks `asked` (a person, a name) and it gives a
    time or number alone (question.only_value_for_name; README step 84)."""
    if asked:
        return refuse_because(f"the question asks for {asked}, and the model's answer gives only a time or a number")
    return ANSWER


def summary(sentences: int) -> Decision:
    """A summary needs at least one sentence that stands for the documents and lies in a passage."""
    if sentences == 0:
        return refuse_because("no sentence of the documents can stand in a summary (15 to 160 characters, "
                              "inside a passage)")
    return ANSWER


# --- The one-sentence baseline (rag/answering/sentence.py) ------------------------------------------------


@dataclass(frozen=True)
class RefusalPolicy:
    """When the baseline says "not in the documents". The engine passes Config's refuse_* fields."""

    min_coverage: float = 0.30  # a question with Chinese words: share of its word weight near the answer
    min_cosine: float = 0.87  # ... and the question-sentence cosine
    # Where word overlap cannot speak (an English question about Chinese text): how far the best sentence's
    # cosine stands above the cosines of all indexed sentences, in standard deviations. e5 cosines are
    # bunched (unrelated text scores 0.8+), so only a relative signal like this separates answerable ones.
    min_z: float = 2.2


def sentence(found: bool, coverage: float, cosine: float, standing: float, policy: RefusalPolicy) -> Decision:
    """No eligible sentence (none holds what the question asks for, or its years), or too little of the
    question found around the best one; with no word to match (`coverage` NaN), its meaning alone."""
    if not found:
        return refuse_because("no sentence of the passages holds the kind of answer asked for (and its years)")
    if math.isnan(coverage):
        if standing < policy.min_z:
            return refuse_because(f"no question word can match: the best sentence stands {standing:.2f} "
                                  f"standard deviations above the rest, below {policy.min_z:.2f}")
        return ANSWER
    if coverage < policy.min_coverage:
        return refuse_because(f"{coverage:.0%} of the question's word weight is found around the best sentence, "
                              f"below {policy.min_coverage:.0%}")
    if cosine < policy.min_cosine:
        return refuse_because(f"the best sentence's cosine {cosine:.3f} is below {policy.min_cosine:.3f}")
    return ANSWER


# --- The model answerers (rag/answering/model.py: "model", "auto"; rag/answering/llm.py: "llm") ----------
# Their sentences are checked one by one (support.py); what remains decides here.
MODEL_SAID_NOT_FOUND = "the model said the passages do not answer the question"
NOTHING_SUPPORTED = "no sentence of the model's answer is supported by the passages"


@dataclass(frozen=True)
class Waiver:
    """What kept a factoid's answer below the claim cut: `kind`, the measure that reached its mark, its `value` and
    the mark it reached (`at`). Measured in the order the answerer can afford them (WAIVERS), the first that holds."""

    kind: str
    value: float
    at: float


# the claim cut's waivers, cheapest first: the model's confidence in its reply (README step 15) and the question's
# surprise after the excerpts (step 39) come with the reply; the meaning of the question's missing words (step 31)
# takes a few embeddings; the reading check (steps 12, 17) asks the model again (about 2 s); the learned waiver (step
# 71) reads that reading with the others, in its place
WAIVERS = ("confidence", "surprise", "meaning", "reading", "learned")


def waiver(kind: str, value: float | None, at: float) -> Waiver | None:
    """The waiver of `kind` (one of WAIVERS) where its measure (`value`; None: not measured) reaches `at`."""
    if kind not in WAIVERS:
        raise ValueError(f"unknown claim-cut waiver {kind!r}: one of {', '.join(WAIVERS)}")
    return Waiver(kind, value, at) if value is not None and value >= at else None


def model_answer(said_not_found: bool, kept: int, passage_coverage: float, extractive_score: float,
                 min_coverage: float, min_extractive_score: float, claim_coverage: float = 1.0,
                 min_claim_coverage: float = 0.0, confidence: float | None = None, min_confidence: float = 0.0,
                 waived: Waiver | None = None, reading: float | None = None, min_reading: float = 0.0,
                 read_what: str = "the answer's supporting sentence") -> Decision:
    """The model's checked answer stands when the model did not say "not there", at least one of its
    sentences is supported with the question's anchors beside it (`kept`), the question's known words cover
    `min_coverage` of their idf weight in the supporting passage, and the extractive answerer's answer logit
    for the question is at least `min_extractive_score` (the two cuts of "auto" were fitted on DRCD dev by
    scripts/choose_policy.py; "model" uses neither). A factoid's answer also needs `min_claim_coverage` of
    the question's whole word weight (words the documents never use count as missing) beside its best
    supporting sentence (every model route), unless a waiver held (`waived`: the model's confidence, the question's
    surprise, the meaning of its missing words or the reading check reached its mark; `waiver`); and a reply the model
    was less than `min_confidence` sure of is refused (`confidence`: the lowest probability among its content tokens,
    rag/answering/confidence.py; None when the generator cannot tell, and then this rule does not apply). An answer the
    reading check (`reading`: the model's probability, asked apart, that the supporting sentence answers the question;
    None when not asked) read below `min_reading` is refused (`read_what`: what the model was shown, for the reason)."""
    if said_not_found:
        return refuse_because(MODEL_SAID_NOT_FOUND)
    if kept == 0:
        return refuse_because(NOTHING_SUPPORTED)
    if confidence is not None and confidence < min_confidence:
        return refuse_because(f"the model gave its answer's least sure token a probability of {confidence:.3f}, "
                              f"below {min_confidence:.3f}: it was guessing")
    if claim_coverage < min_claim_coverage and waived is None:
        return refuse_because(f"beside the answer's supporting sentence stand {claim_coverage:.2f} of the question's "
                              f"word weight, below {min_claim_coverage:.2f}: the value may belong to something other "
                              "than what was asked")
    if reading is not None and reading < min_reading:
        return refuse_because(f"asked apart whether {read_what} answers the question, the model "
                              f"said yes with probability {reading:.2f}, below {min_reading:.2f}")
    if passage_coverage < min_coverage:
        return refuse_because(f"the question's words cover {passage_coverage:.2f} of their weight in the supporting "
                              f"passage, below {min_coverage:.2f}")
    if extractive_score < min_extractive_score:
        return refuse_because(low_score(extractive_score, min_extractive_score))
    return ANSWER


def low_score(extractive_score: float, cut: float) -> str:
    """Why an answer is refused where the extractive answerer's answer-or-refuse logit is below `cut`."""
    return (f"the extractive answer model scores {extractive_score:.2f} for this question, below {cut:.2f}: the "
            "passages do not look like they hold an answer")


def meaning_missing(word: str, cosine: float, cut: float, whose: str = "the answer's supporting sentence") -> str:
    """Why an answer is refused where a question word missing beside its support (`word`) has nothing of like meaning
    there (README step 30; `whose`: "the extractive answer's sentence" where it would have stood in, step 32)."""
    return (f"the question asks about “{word}”, and nothing beside {whose} means anything "
            f"like it (closest word: cosine {cosine:.3f}, below {cut:.3f}): the value may belong to something else")


def unexpected_question(token: str, logprob: float, cut: float) -> str:
    """Why an answer is refused where a token of the question is unexpected after the passages the model read
    (README step 38): they are likely about something other than what was asked."""
    shown = f"“{token.strip()}” " if token.strip() and "\ufffd" not in token else ""
    return (f"a word of the question {shown}is unexpected after the passages the model read (log-probability "
            f"{logprob:.1f}, below {cut:.1f}): they are likely about something else")


def unexplained_question(gain: float, cut: float) -> str:
    """Why an answer is refused where the passages the model read make the question hardly more expected than no
    passage does (README step 46): they are likely about something other than what was asked."""
    return (f"the passages the model read make the question's words hardly more expected than no passage does (a mean "
            f"gain of {gain:.2f} in log-probability per token, below {cut:.2f}): they are likely about something else")


def extractive_claim(claim_coverage: float, min_claim_coverage: float) -> Decision:
    """README step 72: the extractive answerer's own factoid answer (alone, or the default's fallback) is refused where
    less than `min_claim_coverage` of the question's word weight stands beside its cited sentence, the claim cut the
    model route asks of its answers and stand-ins."""
    if claim_coverage < min_claim_coverage:
        return refuse_because(f"beside the extractive answer's sentence stand {claim_coverage:.2f} of the question's "
                              f"word weight, below {min_claim_coverage:.2f}: the value may belong to something other "
                              "than what was asked")
    return ANSWER


def extractive_after_model(anchors_missing: list[str], coverage: float, min_coverage: float,
                           claim_coverage: float = 1.0, min_claim_coverage: float = 0.0) -> Decision:
    """The extractive answer given in place of a model answer, one that failed its checks ("auto" with
    Policy.extractive_fallback_score) or one the model was unsure of (Policy.prefer_extractive_below), must pass
    the same question checks."""
    if anchors_missing:
        return refuse_because(f"the question's {', '.join(anchors_missing)} is not in the extractive answer's passage")
    if claim_coverage < min_claim_coverage:
        return refuse_because(f"beside the extractive answer's sentence stand {claim_coverage:.2f} of the question's "
                              f"word weight, below {min_claim_coverage:.2f}")
    if coverage < min_coverage:
        return refuse_because(f"the question's words cover {coverage:.2f} of the extractive answer's passage, "
                              f"below {min_coverage:.2f}")
    return ANSWER


def pick(none: float, none_at: float, count: int) -> Decision:
    """The pick of an English question's sentence (model.ModelAnswerer.pick): refused when the model gave "none of
    them" (`none`, its first token's probability of "0" against "1".."count") at least `none_at`."""
    if none >= none_at:
        return refuse_because(f"asked which of the {count} best sentences answers the English question, the model said "
                              f"none of them with probability {none:.2f}, at least {none_at:.2f}")
    return ANSWER


def llm_reply(said_refusal: bool, supported: int) -> Decision:
    """The "llm" answerer: its fixed refusal sentence, or no supported sentence, is a refusal."""
    if said_refusal:
        return refuse_because("the model replied with the refusal sentence")
    if supported == 0:
        return refuse_because(NOTHING_SUPPORTED)
    return ANSWER
