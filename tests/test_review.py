"""Pure logic of the review and replay: the digest, the items, grouping by session, word timing."""

from __future__ import annotations

import click
import pytest

from companion.errors import CompanionError
from companion.replay import current_word, highlighted, start_time
from companion.review import Digest, build_digest, digest_sentences, practices_done, review_items
from companion.sessions import group_by_session, group_by_week, week_start
from companion.storage import Store

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
        "The body states you named most: tired and calm.",
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
    assert len(items) == 3 and items[0].entry is None and items[0].spoken.startswith("So far, you kept")
    assert items[1].spoken == "What felt important today? You said: Talking about my sister."
    assert items[1].shown.endswith("— What felt important today?\n  Talking about my sister.")
    assert items[2].entry["id"] == 3 and "your voice is kept" in items[2].spoken


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
    many = [{"word": f"word{i}", "start": i, "end": i + 0.5} for i in range(40)]
    window = click.unstyle(highlighted(many, 20, width=40))
    assert len(window) <= 40 and "word20" in window and "word0 " not in window


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
