"""Option groups shared by the commands (speech engine, audio devices, voice, listening)."""

from __future__ import annotations

import click


def engine_options(f):
    f = click.option("--model", type=click.Path(), help="A speech model folder (vosk or Whisper).")(f)
    f = click.option("--engine", type=click.Choice(["vosk", "whisper"]), help="Force a speech engine.")(f)
    return f


def audio_options(f):
    f = click.option("--output-device", help="Speaker, by name or index (see `companion doctor`).")(f)
    f = click.option("--input-device", help="Microphone, by name or index (see `companion doctor`).")(f)
    return f


def voice_options(f):
    f = click.option("--volume", type=click.FloatRange(0, 1), help="Voice volume, 0 to 1.")(f)
    f = click.option("--rate", type=click.IntRange(60, 300), help="Voice speed in words a minute (default 140).")(f)
    f = click.option("--voice", help="Voice id or language, e.g. en-us, en-gb.")(f)
    return f


def listening_options(f):
    f = click.option("--wait", type=click.FloatRange(1, 600), help="Seconds to wait for an answer to begin (default 15).")(f)
    f = click.option("--silence", type=click.FloatRange(1, 60), help="Seconds of quiet that end an answer (default 4).")(f)
    return f


MAX_TEXT_CHARS = 100_000
"""Typed text longer than this (two hours of speech or more) is refused: a ripple, a note or a correction
is a few sentences, and a text this long would make search slow for everything else."""


def typed_text(text: str, what: str, *, limit: int | None = MAX_TEXT_CHARS, nothing: str = "nothing was stored") -> str:
    """Text the person typed, refused in one clear line when it is not UTF-8 or far too long."""
    from companion.errors import CompanionError

    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # bytes that were not UTF-8 arrive as lone surrogates (surrogateescape)
        code = ord(text[e.start])
        byte = f" (the byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else " (a stray character"
        after = text[: e.start][-20:]
        where = f" after '{after}')" if after.strip() else " at the start)"
        raise CompanionError(f"{what} is not valid UTF-8 text{byte}{where}",
                             f"set your terminal to UTF-8 (for example LANG=C.UTF-8) and type it again; {nothing}") from None
    if limit is not None and len(text) > limit:
        raise CompanionError(f"{what} is too long ({len(text):,} characters; at most {limit:,})",
                             f"keep it to a few sentences, or split it; {nothing}")
    return text


class _BadValue(click.BadParameter):
    """A bad option or argument value, with Companion's own hint (see cli.main)."""

    def __init__(self, message: str, hint: str, ctx: click.Context | None, param: click.Parameter | None) -> None:
        super().__init__(message, ctx, param)
        self.hint = hint


class EntryId(click.ParamType):
    """An entry id as `companion list` shows it: 12 or #12."""

    name = "entry_id"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().removeprefix("#")
        if not (text.isascii() and text.isdigit()):
            raise _BadValue(f"'{value}' is not an entry id", "ids are whole numbers; `companion list` shows them", ctx, param)
        number = int(text)
        if number > 2**63 - 1:  # larger than SQLite can hold: there is no such entry
            from companion.errors import StorageError

            raise StorageError(f"no entry with id {number}", "`companion list` shows the ids")
        return number


ENTRY_ID = EntryId()
