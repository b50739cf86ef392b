"""README step 48 (measured, not taken): the question cuts of steps 38 and 46 on the model's own answer to a Chinese
open or entity question, as scripts/choose_policy.py --open-question-cuts simulates them and
scripts/annotate_surprise.py --open chooses the rows to read."""

from __future__ import annotations

import pytest

from tests.answering.test_model_answerer import _script
from tests.answering.test_question_gain import row


def shaped(kind: str, gain_of_the_noun: float, shape: str = "open") -> dict:
    """A study row of a Chinese open (or entity) question the "auto" route answers with the model's own kept sentence
    (passage coverage 1.0, extractive logit 0.5), with both readings of its question."""
    return {**row(kind, gain_of_the_noun, kind == "answerable"), "shape": shape, "question": "项目什么时候完工？"}


def test_the_simulation_cuts_only_the_shapes_asked_for():
    cp = _script("choose_policy")
    unexplained, explained = shaped("unanswerable", -1.0), shaped("answerable", 4.0)  # gains 0.33 and 2
    assert cp.shipped(unexplained) == (False, "2017年")  # the shipped default reads no open question
    assert cp.open_question_cut(unexplained, ()) == (False, "2017年")
    assert cp.open_question_cut(unexplained, ("open",)) == (True, "")  # 0.33 below routes.json's 0.75
    assert cp.open_question_cut(explained, ("open",)) == (False, "2018年")
    surprising = {**explained, "question_logprobs": [["项目", -20.0], ["什么时候", -1.0], ["完工", 2.0], ["？", 0.0]]}
    assert cp.open_question_cut(surprising, ("open",)) == (True, "")  # -20 below routes.json's -16
    follow_up = {**unexplained, "history": [{"role": "user", "content": "项目在哪里？"}]}
    assert cp.open_question_cut(follow_up, ("open",)) == (False, "2017年")  # no gain cut in a conversation
    entity = shaped("unanswerable", -1.0, "entity")
    assert cp.open_question_cut(entity, ("open",)) == (False, "2017年")
    assert cp.open_question_cut(entity, ("open", "entity")) == (True, "")
    unread = {**unexplained, "question_logprobs": None, "question_prior_logprobs": None}
    assert cp.open_question_cut(unread, ("open",)) == (False, "2017年")  # nothing read: not refused
    english = {**unexplained, "tags": ["en"]}
    assert cp.open_question_cut(english, ("open",)) == cp.shipped(english)


def test_annotate_surprise_open_reads_the_models_own_open_answers():
    annotate = _script("annotate_surprise")
    bare = {**shaped("unanswerable", -1.0), "question_logprobs": None, "question_prior_logprobs": None,
            "excerpts": ["项目于2018年完工。"]}
    assert annotate.wanted_open(bare) and not annotate.wanted(bare)  # --open only
    assert annotate.wanted_open({**bare, "shape": "entity"})
    assert not annotate.wanted_open({**bare, "shape": "factoid"})
    assert not annotate.wanted_open({**bare, "tags": ["en"]})
    assert not annotate.wanted_open({**bare, "excerpts": []})
    assert not annotate.wanted_open({**bare, "model_refused": True, "extractive_refused": True})  # nothing answered


def test_the_choice_is_reported_and_nothing_saved(tmp_path, capsys):
    from tests.answering.test_english_standing import write_rows

    cp = _script("choose_policy")
    a = [shaped("answerable", 4.0), shaped("unanswerable", -1.0), shaped("unanswerable", 0.0)]
    b = [shaped("answerable", 4.0), shaped("answerable", 1.0), shaped("unanswerable", 2.0)]
    fits = [str(write_rows(tmp_path / f"{name}.jsonl", rows)) for name, rows in (("a", a), ("b", b))]
    assert cp.main([*fits, "--open-question-cuts"]) == 0
    out = capsys.readouterr().out
    # a: both unanswerable open answers refused (gains 0.33, 0.67): 50 -> 100; b unchanged: (100 + 0) / 2
    assert "| factoids only (shipped) | 50.00 | yes |" in out and "| + open | 75.00 | yes |" in out
    assert "best: + open, balanced 75.00 against 50.00 (needs 0.5, no set losing > 2): would be taken" in out
    assert "| fitting: a.jsonl | shipped | 100.0 | 0.0 | 0.0 | 0 |" in out
    assert "| fitting: a.jsonl | + open (best) | 100.0 | 100.0 | 0.0 | 2 |" in out
    with pytest.raises(SystemExit):
        cp.main([*fits, "--open-question-cuts", "--write", str(tmp_path / "routes.json")])
    assert "saves nothing" in capsys.readouterr().err
    # open rows without their readings (annotate_surprise.py --open not run): said, not a silent "not taken"
    unread = [{**r, "question_logprobs": None} if r["shape"] == "open" else r
              for r in [*a, {**shaped("answerable", 4.0), "shape": "factoid"}]]
    bare = write_rows(tmp_path / "c.jsonl", unread)
    with pytest.raises(SystemExit, match="annotate_surprise.py --open"):
        cp.main([str(bare), "--open-question-cuts"])
