"""Which voice speaks: a Piper voice by name (the default, "joe"), or an espeak-ng voice
("espeak:en-gb", or a plain espeak name such as "en-gb"). A Piper voice that is missing or damaged
falls back to espeak-ng with one note; a name that is no voice at all is an error with a hint."""

from __future__ import annotations

from dataclasses import replace

from companion.errors import CompanionError
from companion.voice import piper
from companion.voice.base import Notify, Voice, VoiceSettings
from companion.voice.espeak import PREFIX as ESPEAK, EspeakVoice

FALLBACK = "en-us"  # the espeak-ng voice that stands in for a Piper voice


def _named(chosen: str) -> tuple[str, piper.PiperVoiceInfo | None]:
    """What a voice setting names: ("piper", its voice), ("no-piper", None) for a Piper name that is no
    voice here, or ("espeak", None)."""
    wanted = chosen.strip().lower()
    info = piper.VOICES.get(wanted.removeprefix(piper.PREFIX))
    if info is not None:
        return "piper", info
    return ("no-piper" if wanted.startswith(piper.PREFIX) else "espeak"), None


def open_voice(settings: VoiceSettings, notify: Notify | None = None) -> Voice:
    """The voice the settings name, checked to be able to start (before any device is opened)."""
    kind, info = _named(settings.voice)
    if info is not None:
        fallback = EspeakVoice(replace(settings, voice=ESPEAK + FALLBACK))
        try:
            voice = piper.PiperVoice(info, settings)
        except CompanionError as e:
            if notify is not None:
                notify(f"{e.message}, so Companion speaks with espeak-ng ({fallback.name}) instead; {e.hint}")
            return fallback
        voice.fallback, voice.notify = fallback, notify
        return voice
    if kind == "no-piper":
        raise CompanionError(f"there is no Piper voice called '{settings.voice}'",
                             f"Piper voices here: {', '.join(piper.VOICES)} (`companion voices` lists every voice)")
    voice = EspeakVoice(settings)
    voice.check()
    return voice


def speaking_voice(chosen: str) -> tuple[str, CompanionError | None]:
    """The name of the voice that speaks when `chosen` is the voice setting (as `all_voices` names
    it), and why that is not the chosen one (None when it is): `open_voice`'s choice, checking a
    Piper voice's files without loading its model."""
    kind, info = _named(chosen)
    wanted = chosen.strip().lower()
    if info is not None:
        try:
            piper.voice_files(info)
        except CompanionError as e:
            return ESPEAK + FALLBACK, e
        return info.name, None
    if kind == "no-piper":
        return wanted, None  # no such voice: nothing listed speaks
    return ESPEAK + (wanted.removeprefix(ESPEAK) or FALLBACK), None


def all_voices() -> list[tuple[str, str, str]]:
    """(name to choose it by, what it is, where it comes from) for every voice on this computer:
    the Piper voices first, then espeak-ng's English voices, then its others."""
    rows = []
    for info in piper.VOICES.values():
        try:
            piper.voice_files(info)
            where = f"Piper neural voice, package {info.package.replace('_', '-')}"
        except CompanionError as e:
            where = f"Piper neural voice, not usable: {e.message}"
        rows.append((info.name, f"{info.full_name} ({info.licence})", where))
    try:
        listed = sorted(EspeakVoice(VoiceSettings(ESPEAK + FALLBACK)).voices(), key=lambda v: (not v[2], v[0]))
    except CompanionError as e:
        return rows + [("espeak:*", "espeak-ng voices", f"not usable: {e.message}")]
    rows += [(ESPEAK + short, name, "espeak-ng through pyttsx3" + ("" if english else ", not English"))
             for short, name, english in listed]
    return rows
