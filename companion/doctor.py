"""`companion doctor`: check devices, voice, speech engine and database, and say what to fix."""

from __future__ import annotations

from dataclasses import dataclass

from companion import paths
from companion.config import Settings
from companion.errors import CompanionError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _devices(settings: Settings) -> list[Check]:
    from companion.audio import devices

    checks = []
    for kind, spec, label in (("input", settings.input_device, "microphone"), ("output", settings.output_device, "speaker")):
        try:
            index = devices.resolve(spec, kind)
            info = devices.describe(index)
            checks.append(Check(label, True, f"{info['name']} (#{index}, {int(info['default_samplerate'])} Hz)"))
        except CompanionError as e:
            checks.append(Check(label, False, e.message, e.hint))
    return checks


def _voice(settings: Settings) -> Check:
    from companion.voice import Voice, VoiceSettings

    try:
        voice = Voice(VoiceSettings(settings.voice, settings.rate, settings.volume))
        samples, rate = voice.render("Hello.")
        return Check("voice", True, f"{settings.voice} at {settings.rate} words a minute ({len(voice.voices())} voices available)")
    except CompanionError as e:
        return Check("voice", False, e.message, e.hint)


def _speech(settings: Settings) -> Check:
    from companion.speech import models

    try:
        info = models.choose(settings.engine, settings.model)
        engine = models.load(info)
        return Check("speech", True, f"{engine.name}: {engine.model_name} (loaded in {engine.load_seconds:.1f} s)")
    except CompanionError as e:
        return Check("speech", False, e.message, e.hint)


def _database() -> Check:
    from companion.storage import Store

    try:
        with Store.open() as store:
            count = len(store.list_entries())
        return Check("database", True, f"{paths.database_path()} ({count} entries)")
    except CompanionError as e:
        return Check("database", False, e.message, e.hint)


def run_checks(settings: Settings) -> list[Check]:
    return [*_devices(settings), _voice(settings), _speech(settings), _database()]
