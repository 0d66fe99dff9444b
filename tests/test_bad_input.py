"""Bad input, all of it: every kind a person can give Companion, tried with the real `companion`
command, and answered with one clear line and a hint, a non-zero exit, no traceback, and nothing stored lost.

docs/bad-input.md lists each case with what the person sees; the cases already covered elsewhere
(tests/test_cli.py, test_notice.py, test_export.py, test_practice.py, test_storage.py) are named there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from speech_fixtures import espeak_wav, librivox_utterances

from companion.harness.drive import drive_command
from companion.store.database import Store
from companion.textnorm import normalize_words, word_error_rate

FAST = ["--silence", "2", "--wait", "8"]
NOBODY = 65534


def companion(*args: str, env: dict | None = None, timeout: float = 180, prefix: tuple[str, ...] = (),
              cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "companion", *args], env=env or dict(os.environ),
                          capture_output=True, timeout=timeout, cwd=cwd, check=False)


def text_of(result: subprocess.CompletedProcess) -> tuple[str, str]:
    return (result.stdout.decode("utf-8", "backslashreplace"), result.stderr.decode("utf-8", "backslashreplace"))


def assert_clear_error(result: subprocess.CompletedProcess, code: int, *phrases: str) -> str:
    """Exit `code`, one line `Error: ... Hint: ...` on stderr holding every phrase, no traceback."""
    stdout, stderr = text_of(result)
    assert result.returncode == code, (result.returncode, stdout, stderr)
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    message = stderr.strip()
    assert "\n" not in message, message
    assert message.startswith("Error: ") and " Hint: " in message, message
    for phrase in phrases:
        assert phrase in message, message
    return message


def entries() -> list[dict]:
    with Store.open() as store:
        return [store.get_entry(e["id"]) for e in store.list_entries()]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def utterance(number: str) -> tuple[Path, str]:
    return next((w, t) for w, t in librivox_utterances() if w.stem.endswith(number))


# --- devices ---------------------------------------------------------------------------------------------


def _alsa_config_without_devices(tmp_path: Path) -> Path:
    """ALSA's own configuration without the plugin files (no PulseAudio, no JACK...): on a machine with no
    sound card this is a computer with no audio device at all."""
    stock = Path("/usr/share/alsa/alsa.conf")
    if not stock.is_file():
        pytest.skip("/usr/share/alsa/alsa.conf is missing (libasound2-data): cannot describe a machine without devices")
    text = stock.read_text()
    start = text.find("\n@hooks [")
    end = text.find("\n]\n", start)
    assert start >= 0 and end > start, "the layout of alsa.conf changed: update this test"
    conf = tmp_path / "alsa-no-devices.conf"
    conf.write_text(text[:start] + text[end + 3 :])
    return conf


def test_no_audio_devices_at_all(companion_home, tmp_path):
    if Path("/proc/asound/cards").is_file() and "no soundcards" not in Path("/proc/asound/cards").read_text():
        pytest.skip("this machine has a sound card: 'no devices at all' cannot be made with an ALSA configuration")
    env = dict(os.environ, ALSA_CONFIG_PATH=str(_alsa_config_without_devices(tmp_path)), PULSE_SERVER="unix:/nonexistent")
    assert companion("ripple", "--text", "kept before", env=env).returncode == 0
    assert_clear_error(companion("reflect", env=env), 3, "no microphone found", "companion doctor")
    assert_clear_error(companion("ripple", env=env), 3, "no speaker found", "companion doctor")
    assert_clear_error(companion("review", env=env), 3, "no speaker found")
    assert_clear_error(companion("ground", "hand-on-chest", "--no-listen", env=env), 3, "no speaker found")
    doctor = companion("doctor", env=env)
    stdout, stderr = text_of(doctor)
    assert doctor.returncode == 1 and "Traceback" not in stderr, stderr
    assert any(line.startswith("fix") and "microphone" in line and "no microphone found" in line for line in stdout.splitlines()), stdout
    assert any(line.startswith("fix") and "speaker" in line and "no speaker found" in line for line in stdout.splitlines()), stdout
    assert [e["text"] for e in entries()] == ["kept before"]


@pytest.mark.audio
def test_unknown_device_index_and_unknown_device_in_the_config_file(companion_env, companion_home):
    assert_clear_error(companion("reflect", "--input-device", "99", env=companion_env), 3,
                       "there is no microphone with index 99", "--input-device")
    assert_clear_error(companion("ripple", "--output-device", "99", env=companion_env), 3,
                       "there is no speaker with index 99", "--output-device")
    (companion_home / "config.toml").write_text('[audio]\ninput_device = "USB headset"\n')
    assert_clear_error(companion("reflect", env=companion_env), 3, "no microphone matches 'USB headset'", "companion doctor")
    assert entries() == []


ODD_ASOUNDRC = """
pcm.oddmic {
  type pulse
  device "odd_mic.monitor"
  hint { show on description "Odd microphone, 11025 Hz, 6 channels" }
}
pcm.oddspeaker {
  type pulse
  device "odd_speaker"
  hint { show on description "Odd speaker, 11025 Hz, 6 channels" }
}
"""


class _OddMicrophone:
    """Speaks into the 11025 Hz, 6-channel sink behind `oddmic` (what drive_command needs of the audio)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def play_into_mic(self, wav: Path) -> tuple[float, float]:
        start = time.monotonic()
        subprocess.run(["paplay", "-d", "odd_mic", str(wav)], env=self.env, check=True, timeout=60, capture_output=True)
        return start, time.monotonic()


@pytest.fixture
def odd_devices(virtual_audio):
    """A microphone and a speaker on the private sound server that run at 11025 Hz with 6 channels (null sinks
    at that rate and channel count, each kept near real time like a sound card by a low-latency reader)."""
    modules = []
    try:
        for name in ("odd_mic", "odd_speaker"):
            modules.append(virtual_audio.pactl("load-module", "module-null-sink", f"sink_name={name}", "rate=11025",
                                               "channels=6", f"sink_properties=device.description={name}").strip())
            modules.append(virtual_audio.pactl("load-module", "module-loopback", f"source={name}.monitor",
                                               "sink=companion_void", "latency_msec=20", "source_dont_move=1",
                                               "sink_dont_move=1").strip())
        yield virtual_audio.pactl("list", "short", "sources")
    finally:
        for module in reversed(modules):
            virtual_audio.pactl("unload-module", module)


@pytest.mark.audio
def test_devices_at_an_odd_rate_and_channel_count(odd_devices, companion_env, companion_home, tmp_path):
    """A microphone and a speaker at 11025 Hz with 6 channels, reached as ALSA devices of the sound server
    (as a desktop reaches a USB headset): doctor finds them, and a spoken ripple is heard and kept."""
    assert any("odd_mic.monitor" in line and "6ch 11025Hz" in line for line in odd_devices.splitlines()), odd_devices
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(ODD_ASOUNDRC)
    env = dict(companion_env, HOME=str(home))
    odd = ["--input-device", "oddmic", "--output-device", "oddspeaker"]

    doctor = companion("doctor", *odd, env=env)
    stdout, stderr = text_of(doctor)
    assert doctor.returncode == 0 and "Traceback" not in stderr, stdout + stderr
    assert any(line.startswith("ok") and "microphone" in line and "oddmic" in line for line in stdout.splitlines()), stdout
    assert any(line.startswith("ok") and "speaker" in line and "oddspeaker" in line for line in stdout.splitlines()), stdout

    said = "I took a deeper breath before the meeting."
    wav = espeak_wav(said, tmp_path / "ripple.wav")
    run = drive_command(_OddMicrophone(env), ["ripple", *FAST, *odd], [("(listening", wav)], env,
                        pause_before=0.6, timeout=120)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout + run.stderr
    assert "Your ripple is kept" in run.stdout
    [entry] = entries()
    # heard whole through the odd devices (Whisper may write espeak-ng's "deeper breath" as "deep breath")
    assert word_error_rate(said, entry["text"]) <= 0.2, entry["text"]
    assert {"breath", "before", "meeting"} <= set(normalize_words(entry["text"])), entry["text"]
    with Store.open() as store:
        assert store.audio_path(entry).is_file() and entry["duration"] > 1.5


def test_a_recording_at_an_odd_rate_and_channel_count(companion_home, tmp_path):
    wav, text = utterance("0870")
    odd = tmp_path / "six-channels-11025.wav"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), "-ac", "6", "-ar", "11025", str(odd)], check=True)
    result = companion("import", str(odd))
    assert result.returncode == 0, text_of(result)
    [entry] = entries()
    assert word_error_rate(text, entry["text"]) <= 0.15, entry["text"]
    assert entry["duration"] == pytest.approx(7.1, abs=0.1)


# --- speech models ---------------------------------------------------------------------------------------


def _embedded_whisper() -> Path:
    from companion.speech.models import embedded_model

    found = embedded_model()
    if found is None:
        pytest.fail("the embedded Whisper model is not installed: run scripts/test.sh", pytrace=False)
    return found.path


def test_incompatible_and_corrupt_models(companion_home, tmp_path):
    wav, _ = utterance("0880")
    whisper = _embedded_whisper()
    assert_clear_error(companion("import", str(wav), "--model", str(whisper), "--engine", "vosk"), 4,
                       "is a whisper model, not a vosk one", "--engine whisper")
    vosk_shaped = tmp_path / "vosk-shaped"
    for name in ("am/final.mdl", "conf/mfcc.conf", "graph/HCLG.fst"):
        (vosk_shaped / name).parent.mkdir(parents=True, exist_ok=True)
        (vosk_shaped / name).write_bytes(b"\0" * 64)
    assert_clear_error(companion("import", str(wav), "--model", str(vosk_shaped), "--engine", "whisper"), 4,
                       "is a vosk model, not a whisper one")
    corrupt = tmp_path / "corrupt-whisper"
    corrupt.mkdir()
    shutil.copy(whisper / "config.json", corrupt / "config.json")
    (corrupt / "model.bin").write_bytes(os.urandom(100_000))
    assert_clear_error(companion("import", str(wav), "--model", str(corrupt)), 4,
                       f"the whisper model at {corrupt} could not be loaded", "choose another with --model")
    neither = tmp_path / "photos"
    neither.mkdir()
    (neither / "holiday.jpg").write_bytes(b"\xff\xd8\xff")
    assert_clear_error(companion("import", str(wav), "--model", str(neither)), 4, "does not look like a vosk or Whisper model")
    assert_clear_error(companion("import", str(wav), "--model", str(wav)), 4, "no model folder at")
    (companion_home / "config.toml").write_text('[speech]\nengine = "kaldi"\n')
    assert_clear_error(companion("import", str(wav)), 1, "'engine' in [speech]", "is 'kaldi', not one of vosk, whisper")
    assert entries() == []


# --- files -----------------------------------------------------------------------------------------------


@pytest.fixture
def as_a_person(tmp_path):
    """A folder and a way to run `companion` as an ordinary user (root reads any file, so as root the
    command runs as `nobody`): (folder, run)."""
    if os.geteuid() != 0:
        folder = tmp_path / "person"
        folder.mkdir()
        yield folder, lambda *args, env: companion(*args, env=env)
        return
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a file the person may not read")
    folder = Path(tempfile.mkdtemp(prefix="companion-person-", dir="/tmp"))
    os.chown(folder, NOBODY, NOBODY)
    prefix = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
    try:
        yield folder, lambda *args, env: companion(*args, env=env, prefix=prefix, cwd="/")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _owned(path: Path) -> Path:
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    return path


def test_files_the_person_may_not_read(as_a_person):
    folder, run = as_a_person
    home = folder / "companion"
    home.mkdir()
    _owned(home)
    env = dict(os.environ, COMPANION_HOME=str(home), HOME=str(folder))
    assert run("ripple", "--text", "kept before", env=env).returncode == 0

    wav, _ = utterance("0880")
    memo = folder / "memo.wav"
    shutil.copy(wav, memo)
    _owned(memo).chmod(0)
    assert_clear_error(run("import", str(memo), env=env), 6, f"{memo} cannot be read (permission denied)")
    export = folder / "export.json"
    export.write_text('{"format": "companion-export", "entries": []}')
    _owned(export).chmod(0)
    assert_clear_error(run("import-json", str(export), env=env), 6, f"{export} cannot be read (Permission denied)")
    config = home / "config.toml"
    config.write_text("[voice]\nrate = 130\n")
    _owned(config).chmod(0)
    assert_clear_error(run("models", env=env), 1, f"the config file {config} cannot be read: Permission denied")
    config.unlink()
    practices = home / "practices"
    practices.mkdir()
    _owned(practices)
    mine = practices / "mine.toml"
    mine.write_text('name = "mine"\ndescription = "x"\n[[steps]]\nsay = "Hello."\n')
    _owned(mine).chmod(0)
    listing = run("practices", env=env)
    stdout, stderr = text_of(listing)
    assert listing.returncode == 0 and "hand-on-chest" in stdout and "Traceback" not in stderr, stderr
    assert "mine.toml: cannot be read" in stderr and "Permission denied" in stderr, stderr
    assert_clear_error(run("ground", "mine", "--no-listen", env=env), 6, "mine.toml: cannot be read")

    with Store.open(home / "companion.db") as store:
        assert [e["text"] for e in store.list_entries()] == ["kept before"]


def test_a_recording_whose_name_is_not_utf8(companion_home, tmp_path):
    wav, text = utterance("0870")
    memo = Path(os.fsdecode(bytes(tmp_path) + b"/m\xe9mo-from-an-old-phone.wav"))
    shutil.copy(wav, memo)
    result = companion("import", str(memo))
    stdout, stderr = text_of(result)
    assert result.returncode == 0 and "Traceback" not in stderr, stderr
    assert "#1  m\\xe9mo-from-an-old-phone.wav  (7 s)" in stdout, stdout
    [entry] = entries()
    assert word_error_rate(text, entry["text"]) <= 0.15
    assert entry["extra"]["imported_from"] == "m\\xe9mo-from-an-old-phone.wav"
    with Store.open() as store:
        copy = store.audio_path(entry)
    assert copy.name.endswith("-m_mo-from-an-old-phone.wav") and copy.read_bytes() == wav.read_bytes()
    exported = companion("export", "--format", "json")
    assert exported.returncode == 0 and b"m_mo-from-an-old-phone.wav" in exported.stdout


def test_import_json_that_is_not_utf8_or_not_shaped_like_an_export(companion_home, tmp_path):
    assert companion("ripple", "--text", "kept before").returncode == 0
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"format": "companion-export", "entries": [{"text": "café"}]}'.encode("latin-1"))
    assert_clear_error(companion("import-json", str(latin1)), 6, "is not UTF-8 text", "byte 0xe9")
    numbers = tmp_path / "numbers.json"
    numbers.write_text('{"format": "companion-export", "entries": [1, 2]}')
    assert_clear_error(companion("import-json", str(numbers)), 6, "not a Companion JSON export", '"entries" are not a list of objects')
    sessions = tmp_path / "sessions.json"
    sessions.write_text('{"format": "companion-export", "entries": [], "sessions": "yesterday"}')
    assert_clear_error(companion("import-json", str(sessions)), 6, '"sessions" are not a list of objects')
    assert [e["text"] for e in entries()] == ["kept before"]


# --- practice, config and body-state files ---------------------------------------------------------------


def test_a_practice_file_that_is_not_utf8(companion_home):
    folder = companion_home / "practices"
    folder.mkdir()
    (folder / "latin.toml").write_bytes('name = "latin"\ndescription = "Café breath."\n[[steps]]\nsay = "Hi."\n'.encode("latin-1"))
    (folder / "folder.toml").mkdir()
    listing = companion("practices")
    stdout, stderr = text_of(listing)
    assert listing.returncode == 0 and "box-breathing" in stdout and "Traceback" not in stderr, stderr
    assert "latin.toml: cannot be read" in stderr and "can't decode byte 0xe9" in stderr, stderr
    assert "folder.toml: cannot be read" in stderr and "Is a directory" in stderr, stderr
    assert_clear_error(companion("ground", "latin", "--no-listen"), 6, "latin.toml: cannot be read", "fix the file")
    assert_clear_error(companion("practices", "show", "latin"), 6, "latin.toml: cannot be read")


@pytest.mark.parametrize("content, phrases", [
    (b"[voice\nrate = 130\n", ["is not valid TOML", "Expected ']'"]),
    ('[voice]\nvoice = "en-gb"\n# café\n'.encode("latin-1"), ["is not UTF-8 text", "byte 0xe9"]),
])  # fmt: skip
def test_a_config_file_that_cannot_be_read_as_toml(companion_home, content, phrases):
    config = companion_home / "config.toml"
    config.write_bytes(content)
    message = assert_clear_error(companion("models"), 1, *phrases)
    assert str(config) in message
    assert config.read_bytes() == content  # never rewritten


@pytest.mark.parametrize("content, phrases", [
    (b"[colour]\nscheme = 'dark'\n", ["the section [colour]", "known sections: speech, audio, voice, reflect"]),
    (b"[voice]\nspeed = 130\n", ["the setting 'speed' in [voice]", "known in [voice]: voice, rate, volume"]),
])  # fmt: skip
def test_an_unknown_name_in_the_config_file_is_a_note(companion_home, content, phrases):
    config = companion_home / "config.toml"
    config.write_bytes(content)
    result = companion("models")
    stdout, stderr = text_of(result)
    assert result.returncode == 0 and "In use: whisper" in stdout, stderr
    assert stderr.startswith("Note: ") and stderr.count("\n") == 1 and str(config) in stderr, stderr
    for phrase in phrases:
        assert phrase in stderr, stderr
    assert config.read_bytes() == content


@pytest.mark.parametrize("content, phrases", [
    (b"[voice]\nrate = 'fast'\n", ["'rate' in [voice]", "should be a whole number"]),
    (b"[voice]\nrate = 5000\n", ["'rate' in [voice]", "is 5000, outside 60 to 300"]),
    (b"[voice]\nvolume = 3.5\n", ["'volume' in [voice]", "outside 0 to 1"]),
    (b"[reflect]\nsilence = -3\n", ["'silence' in [reflect]", "outside 1 to 60"]),
    (b"[reflect]\nprompts = []\n", ["'prompts' in [reflect]", "holds no question"]),
    (b"[reflect]\nprompts = 'What felt important?'\n", ["'prompts' in [reflect]", "should be a list of texts"]),
])  # fmt: skip
def test_a_bad_value_in_the_config_file_stops_only_the_commands_that_use_it(companion_home, content, phrases):
    config = companion_home / "config.toml"
    config.write_bytes(content)
    message = assert_clear_error(companion("reflect"), 1, *phrases)  # reflect uses every setting
    assert str(config) in message
    assert companion("models").returncode == 0  # models uses only the speech settings
    assert config.read_bytes() == content  # never rewritten


def test_a_config_file_that_is_a_folder(companion_home):
    (companion_home / "config.toml").mkdir()
    assert_clear_error(companion("models"), 1, "cannot be read: Is a directory", "remove it")


@pytest.mark.parametrize("content, phrase", [
    ('[states.warm]\nwords = ["cosy", "café"]\n'.encode("latin-1"), "is not UTF-8 text"),
    (b"[states\n", "is not valid TOML"),
    (b"states = 3\n", "[states] should be a table of states"),
    (b"[states]\nwarm = 5\n", "the state 'warm' should have words"),
    (b"[states.warm]\nwords = 'cosy'\n", "the state 'warm' should have words"),
])  # fmt: skip
def test_a_body_states_file_with_a_mistake(companion_home, content, phrase):
    assert companion("checkin", "--text", "tired").returncode == 0
    (companion_home / "body_states.toml").write_bytes(content)
    assert_clear_error(companion("checkin", "--text", "calm and warm"), 1, phrase, "body_states.toml")
    assert [e["text"] for e in entries()] == ["tired"]


# --- text ------------------------------------------------------------------------------------------------


def test_typed_text_that_is_not_utf8(companion_home, tmp_path):
    assert companion("ripple", "--text", "kept before").returncode == 0
    latin1 = os.fsdecode(b"caf\xe9 with a friend")
    for args, what, nothing in [
        (("ripple", "--text", latin1), "the text after --text", "nothing was stored"),
        (("checkin", "--text", latin1), "the text after --text", "nothing was stored"),
        (("session", "--note", latin1), "the note after --note", "nothing was stored"),
        (("edit", "1", "--text", latin1), "the text after --text", "nothing was changed"),
        (("search", latin1), "what you searched for", "nothing was searched"),
    ]:
        assert_clear_error(companion(*args), 1, f"{what} is not valid UTF-8 text (the byte 0xe9 after 'caf')",
                           "LANG=C.UTF-8", nothing)
    assert_clear_error(companion("reflect", "--prompt", latin1), 1, "the question given with --prompt is not valid UTF-8")
    editor = tmp_path / "latin1-editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'caf\\351' > \"$1\"\n")
    editor.chmod(0o755)
    assert_clear_error(companion("edit", "1", env=dict(os.environ, EDITOR=str(editor))), 1,
                       "the editor saved the text in another encoding than UTF-8 (the byte 0xe9)", "nothing was changed")
    [entry] = entries()
    assert entry["text"] == "kept before" and entry["original_text"] is None
    with Store.open() as store:
        assert store.list_sessions() == []


def test_very_long_text(companion_home, tmp_path):
    from companion.cli.options import MAX_TEXT_CHARS

    assert companion("ripple", "--text", "kept before").returncode == 0
    long_text = ("I noticed my breathing slowed on the stairs and my shoulders let go a little. " * 2000)[:MAX_TEXT_CHARS].strip()
    started = time.monotonic()
    kept = companion("ripple", "--text", long_text)
    assert kept.returncode == 0 and b"Your ripple is kept" in kept.stdout, text_of(kept)
    listed = companion("list")
    assert listed.returncode == 0 and max(len(line) for line in listed.stdout.splitlines()) < 200
    found = companion("search", "shoulders")
    assert found.returncode == 0 and b"#2" in found.stdout and len(found.stdout) < 2000, text_of(found)
    shown = companion("show", "2")
    assert shown.returncode == 0 and "".join(long_text.split()) in "".join(shown.stdout.decode().split())
    assert time.monotonic() - started < 60  # storing, listing, searching and showing stay quick

    too_long = long_text + " And one more sentence."
    assert_clear_error(companion("ripple", "--text", too_long), 1,
                       f"the text after --text is too long ({len(too_long):,} characters; at most {MAX_TEXT_CHARS:,})",
                       "nothing was stored")
    editor = tmp_path / "megabyte-editor.sh"  # an editor can hand back any amount: a megabyte of text
    editor.write_text("#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' 'a' > \"$1\"\n")
    editor.chmod(0o755)
    assert_clear_error(companion("edit", "1", env=dict(os.environ, EDITOR=str(editor))), 1,
                       "the corrected text is too long (1,048,576 characters", "nothing was changed")
    assert [e["text"] for e in entries()] == ["kept before", long_text]


# --- ids, dates, options ---------------------------------------------------------------------------------


def test_ids_dates_and_options_that_make_no_sense(companion_home):
    assert companion("ripple", "--text", "kept before").returncode == 0
    assert_clear_error(companion("show", "abc"), 2, "'abc' is not an entry id", "`companion list` shows them")
    assert_clear_error(companion("delete", "twelve", "--yes"), 2, "'twelve' is not an entry id")
    assert_clear_error(companion("show", "99999999999999999999"), 5, "no entry with id 99999999999999999999")
    assert_clear_error(companion("play", "99999999999999999999"), 5, "no entry with id 99999999999999999999")
    assert_clear_error(companion("export", "--format", "srt", "--id", "4242"), 5, "no entry with id 4242")
    assert_clear_error(companion("export", "--format", "srt"), 1, "srt captions are for one answer", "--id")
    shown = companion("show", "#1")
    assert shown.returncode == 0 and b"kept before" in shown.stdout
    assert_clear_error(companion("export", "--since", "last week"), 1, "'last week' is not a date", "2026-11-24")
    assert_clear_error(companion("search", "kept", "--until", "2026-13-01"), 1, "'2026-13-01' is not a date")
    assert_clear_error(companion("list", "--kind", "dream"), 2, "--kind takes reflection, ripple or checkin, not 'dream'", "`companion list --help`")
    assert_clear_error(companion("search", "kept", "--limit", "0"), 2, "--limit takes from 1 to 500 results, not 0")
    assert_clear_error(companion("show"), 2, "this command needs an entry id", "`companion show --help`")
    assert_clear_error(companion("lst"), 2, "No such command 'lst'", "`companion --help` lists the commands")
    assert_clear_error(companion("reflect", "--rate", "5000"), 2, "--rate takes from 60 to 300 words a minute, not 5000")
    assert [e["text"] for e in entries()] == ["kept before"]


def test_export_to_a_place_that_cannot_be_written(companion_home, tmp_path):
    assert companion("ripple", "--text", "kept before").returncode == 0
    for target, phrase in [(tmp_path / "no-such-folder" / "for-my-therapist.md", "No such file or directory"),
                           (tmp_path, "Is a directory")]:
        assert_clear_error(companion("export", "-o", str(target)), 1, f"cannot write the export to {target}: {phrase}",
                           "nothing stored was changed")
    assert [e["text"] for e in entries()] == ["kept before"]


# --- a data folder on a read-only filesystem -------------------------------------------------------------


def _read_only_runner():
    """Run companion with COMPANION_HOME bind-mounted read-only in a private mount namespace (nothing is
    mounted for anyone else, and the mount goes away with the command)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a read-only mount needs root and unshare (chmod is not enough: it does not stop root)")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o ro,size=64k none /mnt"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount in a private mount namespace here: {probe.stderr.decode().strip()}")
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'

    def run(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return companion(*args, env=env, prefix=("unshare", "-m", "sh", "-c", script, "sh", str(home)))

    return run


def test_a_data_folder_on_a_read_only_filesystem(companion_home, tmp_path):
    """Reading works as it is (list, show, search, export, review --print, backup elsewhere); every
    command that would write refuses with one clear line; nothing in the folder changes."""
    run = _read_only_runner()
    wav, text = utterance("0880")
    assert companion("ripple", "--text", "kept before").returncode == 0
    assert companion("import", str(wav)).returncode == 0
    before = {p.relative_to(companion_home): digest(p) for p in companion_home.rglob("*") if p.is_file()}
    assert not (companion_home / "companion.db-wal").exists()  # closed cleanly: all in the main file

    listed = run(companion_home, "list")
    assert listed.returncode == 0 and "kept before" in text_of(listed)[0], text_of(listed)
    shown = run(companion_home, "show", "2")
    stored = next(e["text"] for e in entries() if e["id"] == 2)
    assert shown.returncode == 0 and stored in text_of(shown)[0] and word_error_rate(text, stored) < 0.3, text_of(shown)
    found = run(companion_home, "search", "kept")
    assert found.returncode == 0 and "kept" in text_of(found)[0]
    exported = run(companion_home, "export", "--format", "json")
    assert exported.returncode == 0
    assert "kept before" in [e["text"] for e in json.loads(exported.stdout)["entries"]]
    reviewed = run(companion_home, "review", "--print")
    assert reviewed.returncode == 0 and stored in text_of(reviewed)[0], text_of(reviewed)
    copied = run(companion_home, "backup", str(tmp_path / "copy.db"))
    assert copied.returncode == 0, text_of(copied)
    with Store.open(tmp_path / "copy.db") as store:
        assert len(store.list_entries()) == 2

    expected = "it is on a read-only filesystem"
    for args in [("ripple", "--text", "more"), ("checkin", "--text", "calm"), ("edit", "1", "--text", "changed"),
                 ("delete", "1", "--yes"), ("session",), ("import", str(wav)), ("backup",)]:
        assert_clear_error(run(companion_home, *args), 5, f"cannot write to the data directory {companion_home}",
                           expected, "remount it read-write", "nothing in it was changed")
    doctor = run(companion_home, "doctor")
    stdout, stderr = text_of(doctor)
    assert doctor.returncode == 1 and "Traceback" not in stderr
    assert any(line.startswith("fix") and "database" in line and expected in line for line in stdout.splitlines()), stdout
    after = {p.relative_to(companion_home): digest(p) for p in companion_home.rglob("*") if p.is_file()}
    assert after == before
    kept = entries()
    assert len(kept) == 2 and "kept before" in [e["text"] for e in kept]


def test_a_read_only_data_folder_left_with_a_wal_file_is_read_whole(companion_home, tmp_path):
    """A process that died mid-write leaves a -wal file: reading on a read-only filesystem still sees it."""
    run = _read_only_runner()
    assert companion("ripple", "--text", "kept before").returncode == 0
    dying = ("import os, sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute('PRAGMA wal_autocheckpoint=0'); "
             "db.execute(\"UPDATE entries SET text = 'only in the wal'\"); db.commit(); os._exit(0)")
    subprocess.run([sys.executable, "-c", dying, str(companion_home / "companion.db")], check=True)
    assert (companion_home / "companion.db-wal").stat().st_size > 0
    listed = run(companion_home, "list")
    assert listed.returncode == 0 and "only in the wal" in text_of(listed)[0], text_of(listed)


def test_an_encrypted_data_folder_on_a_read_only_filesystem_is_read_with_its_passphrase(companion_home):
    run = _read_only_runner()
    env = dict(os.environ, COMPANION_PASSPHRASE="a long enough passphrase")
    assert companion("ripple", "--text", "sealed words", env=env).returncode == 0
    assert companion("encrypt", env=env).returncode == 0
    listed = run(companion_home, "list", env=env)
    assert listed.returncode == 0 and "sealed words" in text_of(listed)[0], text_of(listed)
    assert_clear_error(run(companion_home, "list", env=dict(env, COMPANION_PASSPHRASE="not the one")), 7,
                       "that passphrase does not unlock")
