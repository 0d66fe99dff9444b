"""The Wyoming protocol side of `companion serve wyoming`: `describe` is answered with an `info` naming
Companion's `handle` program, each `transcript` with `handled` text (service.py decides it), `ping`
with `pong`. Events are read with limits of Companion's own: a line that is not an event is answered
with an `error` event and the connection goes on; one cut off or far too large ends that connection
only, never the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from functools import partial

from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import Attribution, Describe, HandleModel, HandleProgram, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncServer, AsyncTcpServer, AsyncUnixServer

from companion import __version__
from companion.assistants.wyoming.address import Address
from companion.assistants.wyoming.service import TROUBLE, Companion

MAX_DATA = 64 * 1024  # an event's data: a transcript is a few sentences
MAX_PAYLOAD = 1024 * 1024  # payloads (audio) are not used here: read past, up to this
MAX_TEXT = 10_000
TOO_LONG = "That was more than I can keep at once. A few sentences are enough."
DESCRIPTION = "A calm companion for the days between therapy sessions: ripples, check-ins, reflections, practices."


class BadEvent(Exception):
    """What was sent is not a Wyoming event; `resumable` when the next line can still be read."""

    def __init__(self, text: str, resumable: bool) -> None:
        super().__init__(text)
        self.text, self.resumable = text, resumable


def describe() -> Info:
    """Companion as one `handle` program, in English."""
    attribution = Attribution(name="Companion", url="")
    model = HandleModel(name="companion", attribution=attribution, installed=True, description=DESCRIPTION,
                        version=__version__, languages=["en"])
    return Info(handle=[HandleProgram(name="Companion", attribution=attribution, installed=True,
                                      description=DESCRIPTION, version=__version__, models=[model])])


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """The next event, None when the other side is gone (or stopped mid-event); BadEvent otherwise."""
    try:
        line = await reader.readline()
    except ValueError:  # a line longer than the reader's limit
        raise BadEvent("an event header was far too long", resumable=False) from None
    if not line:
        return None
    try:
        header = json.loads(line)
    except ValueError:
        raise BadEvent("that line was not a Wyoming event (JSON)", resumable=True) from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise BadEvent("an event needs a type", resumable=True)
    data = header.get("data") or {}
    data_length, payload_length = header.get("data_length") or 0, header.get("payload_length") or 0
    if not isinstance(data, dict) or not all(isinstance(n, int) and n >= 0 for n in (data_length, payload_length)):
        raise BadEvent("an event's data or lengths could not be read", resumable=False)
    if data_length > MAX_DATA or payload_length > MAX_PAYLOAD:
        raise BadEvent("an event was far too large", resumable=False)
    try:
        if data_length:
            more = json.loads(await reader.readexactly(data_length))
            if not isinstance(more, dict):
                raise BadEvent("an event's data could not be read", resumable=True)
            data.update(more)
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    except ValueError:  # the data was not JSON (or not UTF-8)
        raise BadEvent("an event's data could not be read", resumable=True) from None
    return Event(type=header["type"], data=data, payload=payload)


class Handler(AsyncEventHandler):
    """One connection (Home Assistant opens one for each transcript)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, companion: Companion,
                 info: Info, note: Callable[[str], None]) -> None:
        super().__init__(reader, writer)
        self.companion, self.info, self.note = companion, info, note
        self.connection = f"connection-{id(self)}"  # the conversation when a transcript names none

    async def run(self) -> None:
        try:
            while True:
                try:
                    event = await read_event(self.reader)
                except BadEvent as e:
                    await self.write_event(Error(text=e.text, code="bad-event").event())
                    if e.resumable:
                        continue
                    break
                if event is None or not await self.handle_event(event):
                    break
        except ConnectionError:
            pass
        finally:
            self.writer.close()

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.info.event())
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif Transcript.is_type(event.type):
            await self._transcript(event)
        return True  # anything else is left unanswered

    async def _transcript(self, event: Event) -> None:
        text = event.data.get("text")
        text = text.encode("utf-8", "replace").decode("utf-8") if isinstance(text, str) else ""
        context = event.data.get("context")
        context = context if isinstance(context, dict) else {}
        named = next((context[k] for k in ("conversation_id", "satellite_id", "device_id")
                      if isinstance(context.get(k), (str, int)) and str(context[k])), None)
        if len(text) > MAX_TEXT:
            reply = TOO_LONG
        else:
            try:
                reply = await asyncio.to_thread(self.companion.answer, text, str(named or self.connection)[:200])
            except Exception as e:  # a bug: said calmly, shown on the server's side
                self.note(f"something unexpected went wrong ({type(e).__name__}: {e})")
                reply = TROUBLE
        answer_context = {"conversation_id": context["conversation_id"]} if "conversation_id" in context else None
        await self.write_event(Handled(text=reply, context=answer_context).event())


def server_for(address: Address) -> AsyncServer:
    if address.path is not None:
        return AsyncUnixServer(address.path)
    return AsyncTcpServer(address.host, address.port)


async def start(address: Address, companion: Companion, note: Callable[[str], None] = lambda _: None) -> AsyncServer:
    """The server, listening (a unix socket readable and writable by its owner only)."""
    server = server_for(address)
    await server.start(partial(Handler, companion=companion, info=describe(), note=note))
    if address.path is not None:
        os.chmod(address.path, 0o600)
    return server


async def serve(address: Address, companion: Companion, ready: Callable[[], None],
                note: Callable[[str], None] = lambda _: None) -> None:
    """Listen until stopped (Ctrl-C or SIGTERM); reflections still under way are kept."""
    server = await start(address, companion, note)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    ready()
    try:
        await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await server.stop()
        await asyncio.to_thread(companion.close)
