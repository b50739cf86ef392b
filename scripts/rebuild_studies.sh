#!/bin/bash
# Rebuild the study sets that the "auto" cuts are fitted on and reported with (README, "How auto was chosen",
# step 29: the eleven pooled files, and the CMRC studies of steps 29, 30 and 31), at the current code, from the committed replies and
# readings in eval/replies/ (no model call where they hold every prompt; a missing one is made live and appended
# to the cache). About 60 minutes on 2 cores (25 on an AVX-512 one). Usage: scripts/rebuild_studies.sh [OUT_DIR] (default artifacts/studies)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-artifacts/studies}
D=${RAG_DATASETS:-../shared/datasets}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
CACHE="$OUT/generations-all.jsonl"
[ -f "$CACHE" ] || cat eval/replies/generations-r*.jsonl > "$CACHE"
# STUDY_EXTRA: more study_model.py options for every study (a variant to measure, e.g. --echoed-names-free)
C="--token-probs --reading-below 2 --reading-form context --read-extractive-below 0.9 --cache $CACHE ${STUDY_EXTRA:-}"
S="--questions 60 --absent 40 --adversarial 40 --noun-swaps 30"
T="--dataset $D/drcd_test.json --t2s --questions 60 --absent 0 --adversarial 60 --noun-swaps 40"
run() {
  local name=$1; shift
  echo "$(date +%T) $name (cache: $(wc -l < "$CACHE") entries)"
  "$PY" scripts/study_model.py "$@" $C --out "$OUT/study-$name.jsonl" > "$OUT/log-$name.txt" 2>&1 \
    || { echo "study $name failed: see $OUT/log-$name.txt"; exit 1; }
}
run article-dev --qa eval/qa_article.jsonl --split dev
run drcd-dev-a --dataset "$D/drcd_dev.json" --t2s --skip 400 $S
run drcd-dev-a-unstated --dataset "$D/drcd_dev.json" --t2s --skip 400 $S --unstated eval/drcd_dev_a_unstated.jsonl
run drcd-dev-a-para --dataset "$D/drcd_dev.json" --t2s --skip 400 $S --paraphrases eval/drcd_dev_a_para.jsonl
run drcd-dev-b --dataset "$D/drcd_dev.json" --t2s --skip 620 $S
run drcd-dev-c --dataset "$D/drcd_dev.json" --t2s --skip 840 $S
run drcd-dev-c-unstated --dataset "$D/drcd_dev.json" --t2s --skip 840 $S --unstated eval/drcd_dev_c_unstated.jsonl
run drcd-dev-c-para --dataset "$D/drcd_dev.json" --t2s --skip 840 $S --paraphrases eval/drcd_dev_c_para.jsonl
run drcd-test $T
run drcd-test-unstated $T --unstated eval/drcd_test_unstated.jsonl
run drcd-test-para $T --paraphrases eval/drcd_test_para.jsonl
run drcd-test-fresh --dataset "$D/drcd_test.json" --t2s --skip 300 --questions 60 --absent 40 --adversarial 60
run drcd-test-d --dataset "$D/drcd_test.json" --t2s --skip 520 $S
run drcd-test-e --dataset "$D/drcd_test.json" --t2s --skip 760 $S
run cmrc-400 --dataset "$D/cmrc2018_dev.json" --skip 400 $S
run cmrc-170 --dataset "$D/cmrc2018_dev.json" --skip 170 --questions 50 --absent 30 --adversarial 30 --noun-swaps 30
run cmrc-620 --dataset "$D/cmrc2018_dev.json" --skip 620 $S
for s in drcd-dev-a drcd-dev-c drcd-test; do
  cat "$OUT/study-$s.jsonl" "$OUT/study-$s-unstated.jsonl" > "$OUT/study-$s-with-unstated.jsonl"
done
# README steps 38-39: the question's log-probabilities after the excerpts, for the rows the model answers (or would
# answer with the claim cut waived) (replies kept
# before round 30 have none): the committed readings of the same prompt replayed (kept by model and prompt digest since
# round 37, so a row whose excerpts changed is read again), a prompt they lack read with the model and appended to
# "$OUT/question-logprobs.jsonl"; the files with them are "$OUT/surprise/" (what the default, steps 38 and 46 included,
# is fitted and reported on); step 46's readings of the same prompts without the excerpts go with them; --open reads
# the model's own open and entity answers too (step 48, measured and not taken: choose_policy.py --open-question-cuts)
"$PY" scripts/annotate_surprise.py "$OUT"/study-{drcd-dev-a-with-unstated,article-dev,drcd-dev-a-para,drcd-dev-c-with-unstated,drcd-dev-c-para,drcd-test-d,drcd-dev-b,drcd-test-with-unstated,drcd-test-para,drcd-test-fresh,drcd-test-e,cmrc-400,cmrc-170,cmrc-620}.jsonl \
  --out-dir "$OUT/surprise" --cache "$OUT/question-logprobs.jsonl" --known eval/replies/question-logprobs-r*.jsonl --open \
  > "$OUT/log-surprise.txt" 2>&1 || { echo "annotate_surprise failed: see $OUT/log-surprise.txt"; exit 1; }
echo "$(date +%T) done. The pool of step 29 (with step 38's readings: $OUT/surprise/, the same names):"
echo "  $OUT/study-{drcd-dev-a-with-unstated,article-dev,drcd-dev-a-para,drcd-dev-c-with-unstated,drcd-dev-c-para,drcd-test-d,drcd-dev-b,drcd-test-with-unstated,drcd-test-para,drcd-test-fresh,drcd-test-e}.jsonl"
echo "  held out: $OUT/study-cmrc-400.jsonl (step 29; reported again in steps 30-31), $OUT/study-cmrc-170.jsonl (step 30),"
echo "  $OUT/study-cmrc-620.jsonl (step 31)"
echo "  (rows made at this code record steps 30-31's missing_meaning and missing_meaning_passage and step 32's extractive_meaning: no scripts/annotate_meaning.py needed)"
