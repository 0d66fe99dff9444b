"""`companion serve wyoming` as Home Assistant reaches it: the server in the test process on a unix
socket, driven by the `wyoming` package's own AsyncClient, keeping entries in a real SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

pytest.importorskip("wyoming")

from wyoming.asr import Transcript  # noqa: E402
from wyoming.client import AsyncClient  # noqa: E402
from wyoming.event import Event  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402

from companion.assistants.actions import REFLECTION_CLOSING  # noqa: E402
from companion.assistants.wyoming.address import parse_address  # noqa: E402
from companion.assistants.wyoming.server import start  # noqa: E402
from companion.assistants.wyoming.service import CANNOT_KEEP, Companion  # noqa: E402
from companion.config import DEFAULT_PROMPTS  # noqa: E402
from companion.store import crypto, encrypt  # noqa: E402
from companion.store.database import Store  # noqa: E402

UNKNOWN = "I'm not sure I understood. I can guide a short practice, note a ripple, or begin a reflection."


def with_server(tmp_path: Path, scenario) -> list[str]:
    """Run `scenario(uri)` against a server listening on a unix socket under tmp_path; the server's notes."""
    uri = f"unix://{tmp_path / 'companion.sock'}"
    notes: list[str] = []

    async def main():
        server = await start(parse_address(uri), Companion(list(DEFAULT_PROMPTS), note=notes.append), notes.append)
        try:
            await asyncio.wait_for(scenario(uri), 20)
        finally:
            await server.stop()

    asyncio.run(main())
    return notes


async def ask(uri: str, text: str, conversation: str | None = "c1") -> dict:
    """One transcript on its own connection, as Home Assistant sends it; the `handled` data."""
    context = {"conversation_id": conversation} if conversation else None
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Transcript(text, context=context, language="en").event())
        event = await client.read_event()
    assert event is not None and event.type == "handled"
    return event.data


async def raw(uri: str, data: bytes, *, replies: int = 1) -> list[dict]:
    """Bytes written as they are; the events read back (until the server closes or `replies` came)."""
    reader, writer = await asyncio.open_unix_connection(uri.removeprefix("unix://"))
    writer.write(data)
    writer.write_eof()  # all that is sent: a cut-off event stays cut off
    await writer.drain()
    events = []
    while len(events) < replies and (line := await reader.readline()):
        header = json.loads(line)
        if header.get("data_length"):
            header.setdefault("data", {}).update(json.loads(await reader.readexactly(header["data_length"])))
        events.append(header)
    writer.close()
    return events


def test_describe_names_companion_as_a_handle_program(tmp_path, companion_home):
    async def scenario(uri):
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            info = Info.from_event(await client.read_event())
        [program] = info.handle
        assert (program.name, program.installed, program.models[0].languages) == ("Companion", True, ["en"])
        assert not info.asr and not info.tts
        assert stat.S_IMODE(os.stat(uri.removeprefix("unix://")).st_mode) == 0o600

    with_server(tmp_path, scenario)


def test_a_ripple_said_in_one_sentence_is_kept(tmp_path, companion_home):
    async def scenario(uri):
        said = await ask(uri, "I noticed I didn't apologise today")
        assert said == {"text": "Thank you. Your ripple is kept.", "context": {"conversation_id": "c1"}}

    with_server(tmp_path, scenario)
    with Store.open() as store:
        [kept] = store.list_entries()
        assert (kept["kind"], kept["text"], kept["engine"], kept["audio"]) == ("ripple", "I didn't apologise today", "wyoming", None)


def test_a_three_turn_reflection_is_kept_as_one_sitting(tmp_path, companion_home):
    answers = ["Being listened to.", "Some tiredness in my shoulders.", "When I hold my breath."]

    async def scenario(uri):
        opening = await ask(uri, "I'm back from therapy", "r1")
        assert opening["text"].endswith(DEFAULT_PROMPTS[0])
        replies = [(await ask(uri, answer, "r1"))["text"] for answer in answers]
        assert replies == [DEFAULT_PROMPTS[1], DEFAULT_PROMPTS[2], REFLECTION_CLOSING]

    with_server(tmp_path, scenario)
    with Store.open() as store:
        [sitting] = store.list_reflections()
        assert sitting["engine"] == "wyoming" and sitting["ended_at"]
        kept = sorted(store.list_entries(kind="reflection"), key=lambda e: e["id"])
        assert [(e["prompt"], e["text"]) for e in kept] == list(zip(DEFAULT_PROMPTS, answers))


def test_an_unknown_request_is_answered_kindly(tmp_path, companion_home):
    async def scenario(uri):
        assert (await ask(uri, "what's the weather like in Lisbon"))["text"] == UNKNOWN
        assert (await ask(uri, "", None))["text"] == UNKNOWN

    with_server(tmp_path, scenario)
    with Store.open() as store:
        assert store.count_entries() == 0


def test_bad_and_truncated_events_never_stop_the_server(tmp_path, companion_home):
    async def scenario(uri):
        [error, info] = await raw(uri, b"this is not json\n" + b'{"type": "describe"}\n', replies=2)
        assert error["type"] == "error" and info["type"] == "info"
        [error] = await raw(uri, b"[1, 2, 3]\n")
        assert error["type"] == "error"
        [handled] = await raw(uri, b'{"type": "transcript", "data": {"context": 5}}\n')
        assert handled["type"] == "handled" and handled["data"]["text"] == UNKNOWN
        [handled] = await raw(uri, b'{"type": "transcript", "data": {"text": 12}}\n')
        assert handled["data"]["text"] == UNKNOWN
        [error] = await raw(uri, b'{"type": "transcript", "data_length": 99999999}\n')
        assert error["type"] == "error"
        assert await raw(uri, b'{"type": "transcript", "data_length": 40}\n{"text": "I noticed') == []
        [pong] = await raw(uri, b'{"type": "audio-chunk"}\n{"type": "ping", "data": {"text": "hi"}}\n')
        assert (pong["type"], pong["data"]) == ("pong", {"text": "hi"})
        assert (await ask(uri, "I noticed the kettle sounded kind"))["text"] == "Thank you. Your ripple is kept."

    assert with_server(tmp_path, scenario) == []  # nothing unexpected on the server's side
    with Store.open() as store:
        assert [e["text"] for e in store.list_entries()] == ["the kettle sounded kind"]


def test_two_clients_at_the_same_time(tmp_path, companion_home):
    async def scenario(uri):
        async with AsyncClient.from_uri(uri) as first, AsyncClient.from_uri(uri) as second:
            await first.write_event(Transcript("reflect", context={"conversation_id": "a"}).event())
            await second.write_event(Transcript("I noticed I asked for help", context={"conversation_id": "b"}).event())
            assert (await second.read_event()).data["text"] == "Thank you. Your ripple is kept."
            assert (await first.read_event()).data["text"].endswith(DEFAULT_PROMPTS[0])
            await first.write_event(Transcript("Being heard", context={"conversation_id": "a"}).event())
            await second.write_event(Transcript("Something else", context={"conversation_id": "b"}).event())
            assert (await first.read_event()).data["text"] == DEFAULT_PROMPTS[1]
            assert (await second.read_event()).data["text"] == UNKNOWN
        together = await asyncio.gather(*(ask(uri, f"I noticed thing {n}", f"g{n}") for n in range(6)))
        assert {t["text"] for t in together} == {"Thank you. Your ripple is kept."}

    with_server(tmp_path, scenario)
    with Store.open() as store:
        assert sorted(e["text"] for e in store.list_entries(kind="ripple")) == ["I asked for help", *(f"thing {n}" for n in range(6))]


def test_locked_data_is_a_calm_answer_not_a_crash(tmp_path, companion_home, monkeypatch):
    with Store.open() as store:
        store.add_entry("ripple", "kept before encrypting")
    encrypt.encrypt_folder(companion_home, "a quiet harbour at dusk", log2n=12)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)

    async def scenario(uri):
        assert (await ask(uri, "I noticed the light in the kitchen"))["text"] == CANNOT_KEEP
        assert (await ask(uri, "help me ground"))["text"].startswith("For a minute")  # keeps nothing: still led

    [note] = with_server(tmp_path, scenario)
    assert "encrypted" in note
