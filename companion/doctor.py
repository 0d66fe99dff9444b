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
    from companion.voice.base import VoiceSettings
    from companion.voice.choose import open_voice

    notes: list[str] = []
    try:
        voice = open_voice(VoiceSettings(settings.voice, settings.rate, settings.volume), notify=notes.append)
        samples, rate = voice.render("Hello. I am here with you.")
        note = voice.language_note()
        if note:
            return Check("voice", False, note, "choose an English voice with --voice or [voice] voice")
        detail = (f"{voice.speaking.describe()} at {settings.rate} words a minute; "
                  f"a test phrase rendered ({len(samples) / rate:.1f} s)")
        if notes:
            return Check("voice", False, f"{notes[0]}; {detail}", "reinstall the voice with scripts/setup.sh")
        return Check("voice", True, detail)
    except CompanionError as e:
        return Check("voice", False, e.message, e.hint)


def _speech(settings: Settings) -> Check:
    from companion.speech import models
    from companion.speech.whisper_base import final_model

    try:
        info = models.choose(settings.engine, settings.model)
        final = final_model(settings.final_model, chosen="final_model" in settings.given) if info.engine == "whisper" else None
        engine = models.load(info, final)
        return Check("speech", True, f"{engine.name}: {engine.model_name} (loaded in {engine.load_seconds:.1f} s)")
    except CompanionError as e:
        return Check("speech", False, e.message, e.hint)


def _database() -> Check:
    from companion.store.database import Store

    try:
        with Store.open() as store:
            count = store.count_entries()
        return Check("database", True, f"{paths.database_path()} ({count} entries)")
    except CompanionError as e:
        return Check("database", False, e.message, e.hint)


def _config(settings: Settings) -> list[Check]:
    """The config file: fine, or each setting whose value is set aside (its default is used)."""
    path = paths.config_file()
    if not settings.problems:
        left_out = f"; {len(settings.notes)} unknown name(s) left out" if settings.notes else ""
        return [Check("config", True, (str(path) if path.exists() else "no config file (the defaults)") + left_out)]
    return [Check("config", False, f"{problem.message} (the default is used meanwhile)", problem.hint)
            for problem in settings.problems.values()]


def run_checks(settings: Settings) -> list[Check]:
    return [*_config(settings), *_devices(settings), _voice(settings), _speech(settings), _database()]
