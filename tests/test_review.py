"""Pure logic of the review and replay: the digest, the items, grouping by session, word timing."""

from __future__ import annotations

import click
import pytest

from companion.errors import CompanionError
from companion.review.digest import (
    Digest,
    build_digest,
    digest_sentences,
    practices_done,
    review_items,
    states_sentence,
)
from companion.review.periods import group_by_session, group_by_week, week_start
from companion.review.replay import (
    corrected_words,
    current_word,
    highlighted,
    start_time,
    window,
    words_to_show,
    wrap_words,
)
from companion.store.database import Store

WORDS = [{"word": "I", "start": 0.2, "end": 0.4}, {"word": "felt", "start": 0.4, "end": 0.8},
         {"word": "heard", "start": 0.9, "end": 1.4}, {"word": "today.", "start": 1.5, "end": 2.0}]  # fmt: skip


def entry(id: int, kind: str, at: str, text: str = "", prompt: str | None = None) -> dict:
    return {"id": id, "kind": kind, "started_at": at, "text": text, "prompt": prompt, "reflection_id": None}


def test_digest_counts_plainly():
    entries = [entry(1, "reflection", "2026-11-20T10:00:00+00:00"), entry(2, "reflection", "2026-11-20T10:01:00+00:00"),
               entry(3, "ripple", "2026-11-21T10:00:00+00:00"), entry(4, "checkin", "2026-11-22T10:00:00+00:00")]
    digest = build_digest(entries, [("tired", 3), ("calm", 1)], ["Five senses", "Breathing", "Five senses"],
                          "2026-11-19T17:00:00+00:00", "2026-11-19T17:00:00+00:00")
    assert (digest.reflections, digest.ripples, digest.checkins) == (2, 1, 1)
    assert digest.practices == ["Five senses", "Breathing"]
    assert digest_sentences(digest) == [
        "Since your session on Thursday 19 November 2026, you kept 2 reflection answers, one ripple and one body check-in.",
        "You named tired most often, and also calm.",
        "Practices you did: Five senses and Breathing.",
    ]


def test_an_empty_period_is_okay():
    sentences = digest_sentences(Digest(None, None))
    assert sentences == ["So far, nothing has been recorded, and that is okay."]
    for word in ("streak", "score", "only", "should", "missed", "%"):
        assert word not in " ".join(sentences).lower()


def test_items_are_the_digest_then_each_answer_question_first():
    entries = [entry(1, "reflection", "2026-11-20T10:00:00+00:00", "Talking about my sister.", "What felt important today?"),
               entry(2, "ripple", "2026-11-21T10:00:00+00:00", "a breath"),
               entry(3, "reflection", "2026-11-22T10:00:00+00:00", "", "What do I want to notice?")]
    items = review_items(build_digest(entries, [], [], None, None), entries)
    assert len(items) == 4 and items[0].entry is None and items[0].spoken.startswith("So far, you kept")
    assert items[1].spoken == "What felt important today? You said: Talking about my sister."
    assert items[1].shown.endswith("— What felt important today?\n  Talking about my sister.")
    assert items[2].entry["id"] == 3 and "your voice is kept" in items[2].spoken
    # then the ripples (and check-ins), briefly, as one item each
    assert items[3].entry is None and items[3].shown.startswith("Ripples you noticed\n")
    assert "Sat 21 Nov" in items[3].shown and items[3].spoken == "The ripples you noticed. On Saturday: a breath."


def test_ripples_and_checkins_are_grouped_and_the_most_recent_read():
    entries = [entry(i, "checkin", f"2026-11-{i:02d}T09:00:00+00:00", f"tired {i}") for i in range(1, 12)]
    entries.append(entry(20, "ripple", "2026-11-20T10:00:00+00:00", "I took a deeper breath."))
    items = review_items(build_digest(entries, [], [], None, None), entries)
    assert [i.shown.splitlines()[0] for i in items[1:]] == ["Ripples you noticed", "Body check-ins"]
    checkins = items[2]
    assert "tired 11" in checkins.shown and "tired 3" not in checkins.shown  # the last eight
    assert "and 3 earlier ones" in checkins.shown and checkins.spoken.endswith("And 3 earlier ones.")
    assert items[1].spoken == "The ripples you noticed. On Friday: I took a deeper breath."


@pytest.mark.parametrize("states, sentence", [
    ([("calm", 1), ("heavy", 1), ("light", 1)], "The body states you named: calm, heavy and light."),
    ([("tired", 1)], "The body state you named: tired."),
    ([("tired", 3), ("calm", 1), ("open", 1)], "You named tired most often, and also calm and open."),
    ([("tired", 2), ("tense", 2), ("calm", 1)], "You named tired and tense most often, and also calm."),
])  # fmt: skip
def test_most_is_said_only_when_some_state_was_named_more_often(states, sentence):
    assert states_sentence(states) == sentence


def test_entries_are_grouped_after_the_session_before_them():
    sessions = [{"id": 1, "held_at": "2026-11-10T17:00:00+01:00", "note": None},
                {"id": 2, "held_at": "2026-11-17T17:00:00+01:00", "note": None}]
    entries = [entry(1, "ripple", "2026-11-09T08:00:00+01:00"), entry(2, "ripple", "2026-11-10T16:30:00+00:00"),
               entry(3, "ripple", "2026-11-17T17:00:00+01:00"), entry(4, "ripple", "2026-11-12T08:00:00+01:00")]
    periods = group_by_session(sessions, entries)
    assert [(p.session and p.session["id"], [e["id"] for e in p.entries]) for p in periods] == [
        (None, [1]), (1, [2, 4]), (2, [3])]  # 16:30 UTC is after 17:00 at +01:00
    assert group_by_session(sessions[:1], [])[0].session["id"] == 1  # the last session shows, even if empty
    assert week_start("2026-11-22T23:30:00+00:00").isoformat() in ("2026-11-16", "2026-11-23")
    weeks = group_by_week([entry(1, "ripple", "2026-11-16T12:00:00"), entry(2, "ripple", "2026-11-23T12:00:00")])
    assert [w.isoformat() for w, _ in weeks] == ["2026-11-16", "2026-11-23"]


def test_replay_starts_from_a_word_or_a_second():
    assert start_time(WORDS) == 0.0
    assert start_time(WORDS, from_word="heard") == pytest.approx(0.75)
    assert start_time(WORDS, from_word="Felt heard") == pytest.approx(0.25)
    assert start_time(WORDS, from_word="TODAY") == pytest.approx(1.35)
    assert start_time(WORDS, at=1.2, duration=2.5) == 1.2
    with pytest.raises(CompanionError, match="not found"):
        start_time(WORDS, from_word="sister")
    with pytest.raises(CompanionError, match="outside the recording"):
        start_time(WORDS, at=9, duration=2.5)


def test_the_word_being_said():
    assert [current_word(WORDS, t) for t in (0.0, 0.3, 0.85, 1.45, 5.0)] == [None, 0, 1, 2, 3]
    line = highlighted(WORDS, 2)
    assert click.unstyle(line) == "I felt heard today."
    assert click.style("heard", reverse=True, bold=True) in line


def test_a_replay_shows_the_whole_answer_wrapped_with_the_word_lit_in_place():
    many = [{"word": f"word{i}", "start": i, "end": i + 0.5} for i in range(40)]
    lines = wrap_words(many, 40)
    assert all(len(" ".join(many[i]["word"] for i in line)) <= 40 for line in lines)
    assert [i for line in lines for i in line] == list(range(40))  # every word, in order, none cut
    assert window(lines, 20, height=100) == (0, len(lines))  # all of it when it fits
    first, end = window(lines, 39, height=3)
    assert end - first == 3 and 39 in lines[end - 1]
    shown = [click.unstyle(highlighted(many, 20, line)) for line in lines]
    assert " ".join(shown) == " ".join(w["word"] for w in many)


def test_a_corrected_answer_plays_with_its_corrected_words_on_the_recording_times():
    recognised = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate("I felt hurt by my sister".split())]
    words = corrected_words(recognised, "I felt heard by my sister today")
    assert [w["word"] for w in words] == "I felt heard by my sister today".split()
    assert words[0]["start"] == 0.0 and words[3]["start"] == 1.5 and words[5]["start"] == 2.5  # aligned words keep theirs
    assert words[2]["start"] == 1.0 and words[2]["end"] == 1.4  # a changed word takes the time of the one it replaced
    assert words[6]["start"] == words[5]["end"]  # an added word sits where it was added
    entry = {"words": recognised, "text": "I felt heard by my sister today", "original_text": "I felt hurt by my sister"}
    assert [w["word"] for w in words_to_show(entry)][2] == "heard"
    assert words_to_show({"words": recognised, "text": "I felt hurt by my sister", "original_text": None}) == recognised


def test_practices_done_reads_the_practice_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path / "home"))
    with Store.open() as store:
        if not store.db["practice_runs"].exists():
            pytest.skip("the practices feature (migration 2) is not in this tree")
        store.db["practice_runs"].insert_all([
            {"practice": "five-senses", "title": "Five senses", "started_at": "2026-11-20T10:00:00+00:00", "outcome": "finished"},
            {"practice": "breath", "title": "Slow breathing", "started_at": "2026-11-01T10:00:00+00:00", "outcome": "finished"},
        ])  # fmt: skip
        assert practices_done(store, "2026-11-10T00:00:00+00:00") == ["Five senses"]
        assert practices_done(store) == ["Slow breathing", "Five senses"]
