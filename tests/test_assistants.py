"""The effects every hands-free way in shares, on a real SQLite store."""

from __future__ import annotations

from companion.assistants.actions import (
    NOTHING_HEARD, SESSION_NOTED, keep_checkin, keep_reflection, keep_ripple, guided_words, note_session, since_session,
)
from companion.practice.model import find
from companion.store.database import Store


def test_ripple_and_checkin_from_another_assistant_keep_its_name_and_no_audio(companion_home):
    with Store.open() as store:
        ripple = keep_ripple(store, "I didn't apologise today", source="ovos")
        checkin = keep_checkin(store, "tired and a bit open", source="wyoming")
        assert ripple.text == "Thank you. Your ripple is kept." and checkin.text.startswith("Thank you. I noted")
        kept = store.get_entry(ripple.entry_id)
        assert (kept["kind"], kept["text"], kept["engine"], kept["audio"]) == ("ripple", "I didn't apologise today", "ovos", None)
        assert store.get_entry(checkin.entry_id)["engine"] == "wyoming"
        assert sorted(store.entry_states(checkin.entry_id)) == ["open", "tired"]
        assert keep_ripple(store, "  ", source="ovos") == keep_checkin(store, "", source="ovos")
        assert keep_ripple(store, "", source="ovos").text == NOTHING_HEARD and store.count_entries() == 2


def test_reflection_answers_are_one_sitting_and_the_digest_counts_them(companion_home):
    with Store.open() as store:
        assert note_session(store).text == SESSION_NOTED
        reply = keep_reflection(store, [("What felt important today?", "Being listened to."),
                                        ("What sensations are still with me?", " "),
                                        ("What do I want to notice?", "When I hold my breath.")], source="wyoming")
        [sitting] = store.list_reflections()
        assert reply.entry_id == sitting["id"] and sitting["engine"] == "wyoming" and sitting["ended_at"]
        kept = store.list_entries(kind="reflection")
        assert [(e["prompt"], e["text"]) for e in kept] == [("What felt important today?", "Being listened to."),
                                                             ("What do I want to notice?", "When I hold my breath.")]
        keep_ripple(store, "I breathed more slowly at work", source="ovos")
        said = since_session(store, kind="ripple").text
        assert "2 reflection answers" in said and "one ripple" in said and "I breathed more slowly at work" in said


def test_a_practice_reads_as_its_spoken_steps():
    words = guided_words(find("hand-on-chest"))
    assert words and all(isinstance(w, str) and w for w in words)
