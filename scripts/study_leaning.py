"""Follow-ups without a pronoun: records, for conversations made from a SQuAD-format set, what the search finds for
the second question asked alone and after the first one, so the rule that decides when a question leans on the
conversation is chosen on one set and reported on another (README, step 34). No model call unless `--answerer auto`.

    python scripts/study_leaning.py --dataset ../shared/datasets/cmrc2018_dev.json --skip 740 --paragraphs 150 \
        --answerer extractive --out artifacts/r28/lean-cmrc.jsonl

Each paragraph's first question is the first turn (answered by its gold answer). Its other questions make the second
turns, of three kinds:
- "followup": the question with the subject the two questions share taken out (`新西兰鸲鹟分布在什么地方？` after
  `新西兰鸲鹟属于什么科目？` becomes `分布在什么地方？`), as asked bare and after 那 ("then"), the way people go on in
  a chat; only where the subject is in the paragraph and the question keeps at least 4 characters without it;
- "same": the question unchanged (it names its subject; leaning on the first turn is harmless or not: measured);
- "other": a question of another paragraph, unchanged (a new topic: leaning on the first turn is noise);
- "pronoun" (with `--pronouns`, README step 36): the question with that subject replaced by 他 (a person's name, as
  jieba tags it) or 它 (`它分布在什么地方？`), which the product's words lean on the first turn.
With `--unanswerable` (README step 54), three kinds the documents do not answer, where the right outcome is a refusal:
- "absent": a question of a paragraph that is not indexed, asked as a new topic (--absent-dataset's paragraphs from
  --absent-skip on; one whose gold answer an indexed paragraph holds is left out);
- "swap": a made follow-up (as "followup", bare) with a year, number or name swapped for one its paragraph lacks
  (scripts/study_model.py's swap);
- "noun": a made follow-up with its longest noun the paragraph holds swapped for one it lacks (study_model's noun_swap).
They draw from their own random generator, so the answerable rows stay those made without the option.
Every row records whether the product's lexical rule (rag.answering.question.followup_context) leans, the top dense
cosine of the question alone and after the first one, and whether the second question's paragraph is among the top-k
hits of the search each way. scripts/choose_leaning.py reads the rows.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_model import NOUN_FLAGS, load_paragraphs, noun_swap, swap  # noqa: E402

from rag.answering.question import followup_context  # noqa: E402
from rag.chat import Engine  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.documents import make_document  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.evaluation.metrics import fair_match  # noqa: E402
from rag.indexer import empty_index  # noqa: E402
from rag.retrieval import retrieve  # noqa: E402
from rag.tokenize import tokenize  # noqa: E402

MIN_LEFT = 4  # characters a follow-up keeps without its subject
OPENERS = ("", "那")  # how the generated follow-ups begin: bare, and after 那 ("then")


def shared_subject(first: str, second: str, context: str) -> str:
    """The longest stretch (2+ characters) both questions hold that the paragraph holds too: what they are about."""
    best = ""
    for i in range(len(second)):
        for j in range(len(second), i + 1, -1):
            piece = second[i:j]
            if len(piece) <= len(best):
                break
            if piece in first and piece in context and not any(c in piece for c in "？?，,。"):
                best = piece
                break
    return best


def without_subject(question: str, subject: str) -> str:
    return question.replace(subject, "", 1).lstrip("的之，, ")


def with_pronoun(question: str, subject: str) -> str:
    """The question with its subject replaced by 他 where jieba tags the subject a person's name, else by 它."""
    import jieba.posseg  # loaded on first use

    person = any(w.flag == "nr" for w in jieba.posseg.cut(subject))
    return question.replace(subject, "他" if person else "它", 1)


def made_follow_ups(paragraphs: list):  # noqa: ANN201 - a generator of tuples
    """Each paragraph with two questions or more whose first is answered: (its position, source, context, the
    conversation's first turn, and for each of its other questions (qa, subject, left)), where subject is what the
    question shares with the first (shared_subject) and left the question without it ("" with no subject of 2+
    characters)."""
    for n, (source, context, qas) in enumerate(paragraphs):
        if len(qas) < 2 or not qas[0]["answers"]:
            continue
        first = qas[0]
        history = [{"role": "user", "content": first["question"]},
                   {"role": "assistant", "content": first["answers"][0]}]
        made = []
        for qa in qas[1:]:
            subject = shared_subject(first["question"], qa["question"], context)
            made.append((qa, subject, without_subject(qa["question"], subject) if len(subject) >= 2 else ""))
        yield n, source, context, history, made


def conversations(paragraphs: list, rng: random.Random, pronouns: bool = False) -> list[dict]:
    """The second turns of the sample's conversations (see the module docstring)."""
    out: list[dict] = []
    for n, source, _context, history, made in made_follow_ups(paragraphs):
        for qa, subject, left in made:
            if len(left.rstrip("？?")) >= MIN_LEFT:
                for opener in OPENERS:
                    out.append({"kind": "followup", "id": f"{qa['id']}-f{len(opener)}", "question": opener + left,
                                "original": qa["question"], "subject": subject, "history": history, "source": source,
                                "answers": qa["answers"]})
            if pronouns and len(subject) >= 2 and len(left.rstrip("？?")) >= MIN_LEFT:
                out.append({"kind": "pronoun", "id": f"{qa['id']}-p", "question": with_pronoun(qa["question"], subject),
                            "original": qa["question"], "subject": subject, "history": history, "source": source,
                            "answers": qa["answers"]})
            out.append({"kind": "same", "id": f"{qa['id']}-s", "question": qa["question"], "history": history,
                        "source": source, "answers": qa["answers"]})
        others = [p for m, p in enumerate(paragraphs) if m != n and p[2]]
        if not others:
            raise SystemExit("study_leaning.py needs two paragraphs with questions or more: raise --paragraphs")
        o_source, _, o_qas = rng.choice(others)
        qa = rng.choice(o_qas)
        out.append({"kind": "other", "id": f"{qa['id']}-o{n}", "question": qa["question"], "history": history,
                    "source": o_source, "answers": qa["answers"]})
    return out


def unanswerable(paragraphs: list, absent: list, rng: random.Random) -> list[dict]:
    """Step 54's second turns the documents do not answer (see the module docstring), after each paragraph's first
    question: a question of one of the `absent` (not indexed) paragraphs, and the paragraph's made follow-ups with a
    year, number or name swapped, or a noun, for one the paragraph lacks."""
    import jieba.posseg  # loaded on first use

    heads = [c[:300] for _, c, _ in paragraphs]
    names = sorted({w.word for c in heads for w in jieba.posseg.cut(c) if w.flag in ("nr", "nrfg") and len(w.word) >= 2})
    nouns = sorted({w.word for c in heads for w in jieba.posseg.cut(c) if w.flag in NOUN_FLAGS and len(w.word) >= 2})
    # an absent question whose gold answer an indexed paragraph holds may be answered there: left out
    asked = [(s, qa) for s, _, qas in absent for qa in qas
             if qa["answers"] and not any(a in c for a in qa["answers"] for _, c, _ in paragraphs)]
    out: list[dict] = []
    for n, source, context, history, made in made_follow_ups(paragraphs):
        for qa, subject, left in made:
            if len(left.rstrip("？?")) < MIN_LEFT:
                continue
            for kind, changed in (("swap", swap(left, context, names, rng)),
                                  ("noun", noun_swap(left, context, nouns, rng))):
                if changed and changed != left:
                    out.append({"kind": kind, "id": f"{qa['id']}-{kind}", "question": changed, "original": qa["question"],
                                "subject": subject, "history": history, "source": source, "answers": []})
        if asked:
            a_source, qa = rng.choice(asked)
            out.append({"kind": "absent", "id": f"{qa['id']}-a{n}", "question": qa["question"], "history": history,
                        "source": a_source, "answers": []})
    return out


# Each way of answering a second turn, as the Config settings that make it (every one named, so that a changed default
# does not change a mode): the words alone ("lexical", a pronoun leaning the answer too, as before step 36); always
# leaning for the search only ("search") or for the answer too ("whole", step 34); the words alone with a pronoun
# leaning the search only ("pronoun", step 36); that, and a question no word leans searched both ways and fused
# ("fused", step 52), a pronoun's search fused too ("fusedpron"), the model's excerpts chosen with the earlier question
# ("fusedexc", step 53), the fused hits scored by the search as asked ("fusedasked", step 54), and fused with the
# extractive answerer checking the question's anchors ("fusedanchors", step 55: the product since round 40), and
# that with the fused hits scored as asked ("fusedaskedanchors", step 57).
# The extractive answerer as steps 34-54 measured it, without step 55's question-anchor check ("fusedanchors" has it).
_OFF = {"followup_fused": False, "pronoun_fused": False, "fused_excerpts": False, "fused_scores_asked": False,
        "extractive_anchors": False}
MODE_SETTINGS: dict[str, dict] = {
    "lexical": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": False, **_OFF},
    "search": {"followup_dense_gain": -math.inf, "followup_search_only": True, "pronoun_search_only": False, **_OFF},
    "whole": {"followup_dense_gain": -math.inf, "followup_search_only": False, "pronoun_search_only": False, **_OFF},
    "pronoun": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": True, **_OFF},
    "fused": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": True,
              **_OFF, "followup_fused": True},
    "fusedpron": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": True,
                  **_OFF, "followup_fused": True, "pronoun_fused": True},
    "fusedexc": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": True,
                 **_OFF, "followup_fused": True, "fused_excerpts": True},
    "fusedasked": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": True,
                   **_OFF, "followup_fused": True, "fused_scores_asked": True},
    "fusedanchors": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": True,
                     **_OFF, "followup_fused": True, "extractive_anchors": True},
    "fusedaskedanchors": {"followup_dense_gain": math.inf, "followup_search_only": True, "pronoun_search_only": True,
                          **_OFF, "followup_fused": True, "fused_scores_asked": True, "extractive_anchors": True},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", type=Path, required=True, help="a SQuAD-format set (CMRC 2018, DRCD)")
    ap.add_argument("--t2s", action="store_true", help="convert traditional to simplified Chinese (DRCD)")
    ap.add_argument("--skip", type=int, default=0, help="paragraphs to skip first")
    ap.add_argument("--paragraphs", type=int, default=120, help="paragraphs to index and make conversations of")
    ap.add_argument("--answerer", choices=("extractive", "auto"), default=None,
                    help="also answer each second turn through Engine.ask, leaning by the words alone, always for the "
                         "search only, and always for the search and the answer (auto calls the bundled model: slow)")
    ap.add_argument("--limit", type=int, default=None, help="study only the first N second turns")
    ap.add_argument("--kinds", default=None,
                    help="study only these kinds of second turn (comma-separated: followup,same,other,pronoun; "
                         "absent,swap,noun with --unanswerable), before "
                         "--limit; e.g. the pronoun follow-ups alone with the slow default answerer")
    ap.add_argument("--modes", default="search,whole",
                    help="the always-leaning ways to answer besides the words alone (search: for the search only; "
                         "whole: for the answer too; pronoun: the words alone, a pronoun leaning for the search only, "
                         "README step 36; fused: as pronoun, and a question no word leans searched as asked and after "
                         "the earlier question, fused, step 52; fusedpron: as fused, a pronoun's search fused too; fusedexc: as "
                         "fused, the model's excerpts chosen with the earlier question, step 53; fusedasked: as fused, each "
                         "hit's scores those of the search as asked, step 54; fusedanchors: as fused, the extractive answerer "
                         "checking the question's anchors, step 55, as shipped since round 40; "
                         "fusedaskedanchors: fusedasked with step 55's check, step 57); "
                         "fewer saves model time")
    ap.add_argument("--pronouns", action="store_true",
                    help="also make follow-ups with the subject replaced by a pronoun (kind 'pronoun', step 36)")
    ap.add_argument("--per-kind", type=int, default=None,
                    help="study at most the first N second turns of each kind (after --kinds, before --limit): a sample "
                         "of every kind for the slow default answerer")
    ap.add_argument("--unanswerable", action="store_true",
                    help="also make second turns the documents do not answer (kinds absent, swap, noun; README step 54)")
    ap.add_argument("--absent-dataset", type=Path, default=None,
                    help="with --unanswerable: the set whose paragraphs (not indexed) the absent questions come from "
                         "(default --dataset)")
    ap.add_argument("--absent-skip", type=int, default=None,
                    help="with --unanswerable: its paragraphs to skip first (default: those --skip and --paragraphs "
                         "take); at most --paragraphs are read")
    ap.add_argument("--absent-t2s", action="store_true", help="convert the absent set to simplified Chinese (DRCD)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    paragraphs = load_paragraphs(args.dataset, args.t2s, args.skip)[:args.paragraphs]
    if not paragraphs:
        raise SystemExit(f"{args.dataset} has no paragraphs after --skip {args.skip}")
    config = Config.from_env()  # RAG_* settings apply (RAG_LLM_REPLY_FILE keeps the model's replies)
    embedder = load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
    engine = Engine(config, Path(tempfile.mkdtemp(prefix="followups-index-")), embedder, empty_index(embedder))
    engine.add_documents([make_document(source, context) for source, context, _ in paragraphs])
    index = engine.index
    rows = conversations(paragraphs, random.Random(0), args.pronouns)
    if args.unanswerable:
        absent_skip = args.skip + args.paragraphs if args.absent_skip is None else args.absent_skip
        same = args.absent_dataset is None or args.absent_dataset.resolve() == args.dataset.resolve()
        if same and absent_skip < args.skip + len(paragraphs) and args.skip < absent_skip + args.paragraphs:
            raise SystemExit(f"--absent-skip {absent_skip} reads paragraphs {absent_skip}..{absent_skip + args.paragraphs - 1}"
                             f", which overlap the indexed {args.skip}..{args.skip + len(paragraphs) - 1}: give a "
                             "--absent-skip outside them, or --absent-dataset")
        absent = load_paragraphs(args.absent_dataset or args.dataset, args.absent_t2s or (same and args.t2s),
                                 absent_skip)[:args.paragraphs]
        if not absent:
            raise SystemExit(f"no absent paragraphs after --absent-skip {absent_skip}: give --absent-dataset (another "
                             "set, not indexed) or a smaller --absent-skip")
        rows += unanswerable(paragraphs, absent, random.Random(54))
    if args.kinds:
        rows = [r for r in rows if r["kind"] in args.kinds.split(",")]
    if args.per_kind is not None:
        seen: Counter[str] = Counter()
        kept = []
        for r in rows:
            seen[r["kind"]] += 1
            if seen[r["kind"]] <= args.per_kind:
                kept.append(r)
        rows = kept
    rows = rows[:args.limit]
    # the same index answered in each mode asked for (MODE_SETTINGS)
    engines = {name: Engine(config.with_(**MODE_SETTINGS[name]), engine.index_dir, embedder, index)
               for name in MODE_SETTINGS if name == "lexical" or name in args.modes.split(",")}
    print(f"{len(rows)} second turns over {len(paragraphs)} paragraphs", file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        for i, row in enumerate(rows, 1):
            earlier = row["history"][0]["content"]
            joined = f"{earlier} {row['question']}"
            alone_v, joined_v = embedder.embed_queries([row["question"], joined])
            found = {}
            for name, text, vector in (("alone", row["question"], alone_v), ("joined", joined, joined_v)):
                hits = retrieve(index, vector, tokenize(text), config.k, config.mode, config.rrf_k, config.fusion_depth)
                top = retrieve(index, vector, tokenize(text), 1, "dense")
                found[name] = {"hit": any(h.chunk.source == row["source"] for h in hits),
                               "top_dense": round(float(top[0].dense), 4) if top else None}
            row.update(lexical=bool(followup_context(row["question"], row["history"])), **{
                f"{k}_{name}": v for name, d in found.items() for k, v in d.items()})
            if args.answerer:
                for name, eng in engines.items():
                    answer = eng.ask(row["question"], row["history"], answerer=args.answerer)
                    row[f"answer_{name}"] = answer.text
                    row[f"refused_{name}"] = answer.refused
                    row[f"right_{name}"] = (answer.refused if not row["answers"]  # unanswerable: a refusal is right
                                            else (not answer.refused) and fair_match(answer.text, row["answers"]))
                    row[f"hit_{name}"] = any(h.chunk.source == row["source"] for h in answer.hits)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i % 100 == 0:
                print(f"{i}/{len(rows)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
