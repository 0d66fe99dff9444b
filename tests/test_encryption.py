"""Encryption at rest, with real SQLCipher and real ChaCha20-Poly1305: without the passphrase nothing
is readable, a wrong or missing one is one clear line, the right one gives everything back (list,
full-text search, replay, export, backup), a recording cut by kill -9 is readable up to its last
complete second, and `companion encrypt` converts an existing folder, losing nothing and leaving no
plaintext behind, even when it is interrupted."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from companion.audio import files as audio_files
from companion.audio.wavfile import GrowingWav
from companion.conversation.recovery import recover
from companion.errors import PassphraseError, StorageError
from companion.review.export import export_json
from companion.review.page_build import page_html
from companion.review.replay import Replay
from companion.store import crypto, encrypt, sealed
from companion.store import pending as recovery
from companion.store.database import Store

PASSPHRASE = "a quiet harbour at dusk"
SECRET = "I told my sister about the dream with the lighthouse"
FAST = 12  # scrypt cost for tests that call encrypt_folder directly (the command uses the real cost)


def companion(*args: str, passphrase: str | None = PASSPHRASE, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop(crypto.ENV_PASSPHRASE, None)
    if passphrase is not None:
        env[crypto.ENV_PASSPHRASE] = passphrase
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def assert_clear_error(result: subprocess.CompletedProcess, code: int, *phrases: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith("Error: ") and ". Hint: " in message, message
    for phrase in phrases:
        assert phrase in message, message


def signal_samples(seconds: float, seed: int = 0) -> np.ndarray:
    """A voice-like test signal whose every second differs (so any run of its bytes is recognisable)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * (180 + 40 * t) * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def pcm_bytes(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def assert_no_plaintext(data: bytes, *texts: str, pcm: bytes = b"") -> None:
    for text in texts:
        for word in re.findall(r"\w{5,}", text):
            assert word.encode() not in data, word
    # a WAV's header holds "WAVEfmt " (8 bytes; any 4 bytes turn up by chance in ciphertext now and then)
    assert not data.startswith(b"RIFF") and b"WAVEfmt " not in data and b"SQLite format 3" not in data
    for start in range(0, max(0, len(pcm) - 64), 16000):  # no 64-byte run of the recording's PCM
        assert pcm[start : start + 64] not in data


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def encrypted_home(companion_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder with encryption on and the passphrase in the environment."""
    encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE)
    return companion_home


def record(store: Store, name: str, samples: np.ndarray, text: str = SECRET) -> int:
    folder = store.root / "audio" / "2026-11"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with GrowingWav(folder / name) as wav:
        for i in range(0, len(samples), 1600):
            wav.write(samples[i : i + 1600])
    return store.add_entry("reflection", text, prompt="What felt important today?", audio=folder / name,
                           duration=len(samples) / 16000)


# The database


def test_database_is_unreadable_without_the_passphrase_and_whole_with_it(encrypted_home):
    with Store.open() as store:
        entry_id = store.add_entry("reflection", SECRET, prompt="What felt important today?")
        store.add_entry("ripple", "breathing slowly before the meeting")
        store.add_session(note="we talked about my mother")
        for suffix in ("", "-wal"):  # while it is open too: the WAL holds the newest pages
            path = store.path.with_name(store.path.name + suffix)
            if path.exists():
                assert_no_plaintext(path.read_bytes(), SECRET, "breathing slowly", "mother")
    db = encrypted_home / "companion.db"
    assert_no_plaintext(db.read_bytes(), SECRET, "breathing slowly", "mother")
    with sqlite3.connect(db) as plain, pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT count(*) FROM entries").fetchone()
    with Store.open() as store:
        assert store.get_entry(entry_id)["text"] == SECRET
        assert [r["id"] for r in store.search("breathe")] == [entry_id + 1]  # stemmed full-text search
        assert [r["id"] for r in store.search("lighthouse")] == [entry_id]
        assert store.list_sessions()[0]["note"] == "we talked about my mother"
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_database_file_alone_opens_with_the_passphrase_in_sqlcipher(encrypted_home):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    conn = crypto.connect(encrypted_home / "companion.db", crypto.Keys(PASSPHRASE, None))
    assert conn.execute("SELECT text FROM entries").fetchone()[0] == SECRET
    assert conn.execute("PRAGMA cipher_version").fetchone()[0].startswith("4.")
    conn.close()


def test_sqlcipher_errors_are_caught_as_sqlite3_errors(encrypted_home):
    module = crypto.sqlcipher()
    assert issubclass(module.OperationalError, sqlite3.OperationalError)
    assert issubclass(module.IntegrityError, sqlite3.IntegrityError)
    with Store.open() as store:
        with pytest.raises(sqlite3.OperationalError):
            store.db.execute("SELECT * FROM no_such_table")
        store.db["no_such_table"].drop(ignore=True)  # sqlite-utils' own handler still works


def test_wrong_or_missing_passphrase_is_one_clear_line(encrypted_home):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    assert_clear_error(companion("list", passphrase="a quiet harbour at dawn"), 7, "passphrase does not unlock",
                       "case-sensitive")
    assert_clear_error(companion("list", passphrase=None), 7, "encrypted and no passphrase was given",
                       crypto.ENV_PASSPHRASE)
    assert_clear_error(companion("search", "lighthouse", passphrase="wrong"), 7)
    assert_clear_error(companion("backup", passphrase="wrong"), 7)
    listed = companion("list")
    assert listed.returncode == 0 and SECRET[:40] in listed.stdout, listed.stderr
    found = companion("search", "lighthouse")
    assert found.returncode == 0 and "lighthouse" in found.stdout


def test_wrong_passphrase_in_process_after_a_right_one(encrypted_home, monkeypatch):
    Store.open().close()  # the right passphrase is derived (and cached) first
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE.upper())
    with pytest.raises(PassphraseError):
        Store.open()


# Recordings


def test_recording_is_sealed_while_it_grows_and_reads_back(encrypted_home):
    samples = signal_samples(3.4)
    path = encrypted_home / "audio" / "2026-11" / "reflection-1-1.wav"
    path.parent.mkdir(parents=True, mode=0o700)
    wav = GrowingWav(path)
    assert wav.encrypted
    wav.write(samples[: 16000 * 2 + 500])
    assert_no_plaintext(path.read_bytes(), pcm=pcm_bytes(samples))  # mid-recording: two sealed seconds
    assert audio_files.read_growing(path).size == 32000  # both complete seconds are on disk already
    wav.write(samples[16000 * 2 + 500 :])
    wav.close()
    data = path.read_bytes()
    assert_no_plaintext(data, pcm=pcm_bytes(samples))
    assert (path.stat().st_mode & 0o777) == 0o600
    back, rate = audio_files.read_samples(path)
    assert rate == 16000 and len(back) == len(samples)
    assert np.max(np.abs(back - samples)) < 1e-4


def test_trimming_a_recording_rewrites_it_under_a_fresh_key(encrypted_home):
    samples = signal_samples(5.5, seed=1)
    path = encrypted_home / "audio" / "a.wav"
    path.parent.mkdir(mode=0o700)
    wav = GrowingWav(path)
    wav.write(samples)
    first_header = path.read_bytes()[: sealed.SEAL_HEADER_SIZE]
    wav.truncate(2.25)  # back into sealed seconds: never re-sealed under the same nonce
    assert path.read_bytes()[: sealed.SEAL_HEADER_SIZE] != first_header
    wav.write(samples[:8000])  # still writable after the cut
    wav.close()
    back, _ = audio_files.read_samples(path)
    expected = np.concatenate([samples[:36000], samples[:8000]])
    assert len(back) == len(expected) and np.max(np.abs(back - expected)) < 1e-4
    assert not list(path.parent.glob("*.rewrite"))


def test_the_marker_of_an_answer_being_recorded_is_sealed_and_recovered(encrypted_home):
    """The marker beside an answer being recorded holds its question: sealed like the recording, and
    the next start reads it and stores the answer under that question."""
    from companion.speech import models

    audio = encrypted_home / "audio" / "2026-11" / "reflection-1-1.wav"
    audio.parent.mkdir(parents=True, mode=0o700)
    prompt = "What do I want to notice in the coming days?"
    marker = recovery.mark_pending(audio, recovery.Pending("reflection", prompt, "2026-11-25T10:00:00+00:00"))
    recovery.release(audio)  # as if the recording process had stopped
    assert sealed.is_sealed(marker) and marker.stat().st_mode & 0o777 == 0o600
    assert_no_plaintext(marker.read_bytes(), prompt)
    with GrowingWav(audio) as wav:
        wav.write(signal_samples(1.0))
    with Store.open() as store:
        (entry_id,) = recover(store, models.load(models.embedded_model()))
        assert store.get_entry(entry_id)["prompt"] == prompt
    assert not marker.exists()


def test_recordings_outside_the_data_folder_are_not_encrypted(encrypted_home, tmp_path):
    with GrowingWav(tmp_path / "mine.wav") as wav:
        wav.write(signal_samples(0.5))
    assert sf.info(str(tmp_path / "mine.wav")).frames == 8000


def test_damaged_or_foreign_recordings_are_refused_clearly(encrypted_home, monkeypatch):
    path = encrypted_home / "audio" / "a.wav"
    path.parent.mkdir(mode=0o700)
    with GrowingWav(path) as wav:
        wav.write(signal_samples(3.5))
    data = bytearray(path.read_bytes())
    damaged = path.with_name("damaged.wav")
    data[sealed.SEAL_HEADER_SIZE + 32016 + 100] ^= 1  # one bit in the second chunk
    damaged.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="damaged"):
        audio_files.read_samples(damaged)
    other = crypto.Keys("another passphrase altogether", crypto.Kdf(os.urandom(16), FAST))
    foreign = path.with_name("foreign.wav")
    sealed.write_sealed(foreign, other, sealed.KIND_PCM16, pcm_bytes(signal_samples(1.0)), 16000)
    with pytest.raises(PassphraseError, match="another passphrase"):
        audio_files.read_samples(foreign)


def test_kill_9_while_recording_keeps_every_complete_second(encrypted_home):
    samples = signal_samples(8.0, seed=2)
    source = encrypted_home.parent / "source.npy"
    np.save(source, samples)
    target = encrypted_home / "audio" / "2026-11" / "reflection-1-1.wav"
    target.parent.mkdir(parents=True, mode=0o700)
    recorder = (
        "import sys, time\nimport numpy as np\nfrom pathlib import Path\n"
        "from companion.audio.wavfile import GrowingWav\n"
        "samples = np.load(sys.argv[1])\nwav = GrowingWav(Path(sys.argv[2]))\nassert wav.encrypted\n"
        "for i in range(0, len(samples), 800):\n"
        "    wav.write(samples[i:i + 800])\n    print(wav.frames, flush=True)\n    time.sleep(0.05)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", recorder, str(source), str(target)],
                             stdout=subprocess.PIPE, text=True)
    written = 0
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        written = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    written = max([written, *(int(line) for line in child.stdout.read().split())])  # lines still in the pipe
    assert_no_plaintext(target.read_bytes(), pcm=pcm_bytes(samples))
    kept = recovery.read_growing_wav(target)
    # every complete second is kept (at most one second lost); the last write may not have been printed
    assert written - 16000 < len(kept) <= written + 800 and len(kept) % 16000 == 0, (written, len(kept))
    assert np.max(np.abs(kept - samples[: len(kept)])) < 1e-4
    assert audio_files.repair(target) == len(kept)  # ends at its last complete chunk, still encrypted
    back, rate = audio_files.read_samples(target)
    assert rate == 16000 and len(back) == len(kept)
    assert sealed.is_sealed(target)


# Replay, export, backup, import


def test_replay_and_exports_read_encrypted_recordings(encrypted_home):
    samples = signal_samples(2.5, seed=3)
    with Store.open() as store:
        entry_id = record(store, "reflection-1-1.wav", samples)
        entry = store.get_entry(entry_id)
        loaded, rate = Replay(store, None, live=False).load(entry)
        assert rate == 16000 and np.max(np.abs(loaded - samples)) < 1e-4
        page = page_html(store, everything=True)
        exported = export_json(store)
    [embedded] = re.findall(r'src="data:audio/ogg;codecs=opus;base64,([^"]+)"', page)
    ogg = base64.b64decode(embedded)
    assert ogg.startswith(b"OggS")
    played, played_rate = sf.read(io.BytesIO(ogg), dtype="float32")
    assert played_rate == 16000 and abs(len(played) - len(samples)) <= 160
    assert SECRET in page
    assert exported["entries"][0]["audio"].endswith("reflection-1-1.wav")
    shown = companion("show", str(entry_id))
    assert shown.returncode == 0 and "(encrypted)" in shown.stdout


def test_page_of_an_encrypted_folder_is_written_only_where_asked_and_says_so(encrypted_home, tmp_path):
    with Store.open() as store:
        record(store, "reflection-1-1.wav", signal_samples(1.5, seed=4))
    target = tmp_path / "for-my-session.html"
    result = companion("page", "--all", "--no-open", "-o", str(target))
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if "folder is encrypted" in line]
    assert len(said) == 1 and str(target) in said[0] and "this page is not" in said[0]
    assert SECRET in target.read_text(encoding="utf-8") and (target.stat().st_mode & 0o777) == 0o600
    assert not (encrypted_home / "page.html").exists()  # nowhere else
    unasked = companion("page", "--all", "--no-open")  # not beside the encrypted data either, unless asked
    assert unasked.returncode != 0 and unasked.stderr.startswith("Error: your data folder is encrypted") and "-o" in unasked.stderr
    assert not (encrypted_home / "page.html").exists()


def test_backup_of_an_encrypted_store_stays_encrypted(encrypted_home):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    result = companion("backup", str(encrypted_home / "copy.db"))
    assert result.returncode == 0, result.stderr
    copy = encrypted_home / "copy.db"
    assert_no_plaintext(copy.read_bytes(), SECRET)
    assert (copy.stat().st_mode & 0o777) == 0o600
    conn = crypto.connect(copy, crypto.Keys(PASSPHRASE, None))
    assert conn.execute("SELECT text FROM entries").fetchone()[0] == SECRET
    conn.close()
    wrong = crypto.connect(copy, crypto.Keys("not the passphrase", None))
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        wrong.execute("SELECT count(*) FROM entries")
    wrong.close()


def test_imported_and_restored_audio_is_sealed(encrypted_home, tmp_path):
    memo = tmp_path / "memo.wav"
    samples = signal_samples(1.5, seed=4)
    sf.write(str(memo), samples, 16000, subtype="PCM_16")
    inside = encrypted_home / "audio" / "imported" / "memo.wav"
    inside.parent.mkdir(parents=True, mode=0o700)
    audio_files.copy_in(memo, inside)
    assert_no_plaintext(inside.read_bytes(), pcm=memo.read_bytes()[44:])
    back, rate = audio_files.read_samples(inside)
    assert rate == 16000 and np.max(np.abs(back - samples)) < 1e-3
    outside = tmp_path / "out" / "memo.wav"  # leaving the data folder: the person's own, plain
    outside.parent.mkdir()
    audio_files.copy_in(inside, outside)
    assert outside.read_bytes() == memo.read_bytes()


# `companion encrypt`


def plain_folder(home: Path) -> dict:
    """A plain store with recordings, a backup and an interrupted recording; returns what to look for."""
    samples = [signal_samples(2.0, seed=10), signal_samples(1.2, seed=11)]
    with Store.open() as store:
        ids = [record(store, "reflection-1-1.wav", samples[0]),
               record(store, "ripple-2.wav", samples[1], "breathing slowly before the meeting")]
        store.add_session(note="we talked about my mother")
    result = companion("backup", passphrase=None)
    assert result.returncode == 0, result.stderr
    pending = home / "audio" / "2026-11" / "reflection-3-1.wav"
    crash = GrowingWav(pending)  # an answer cut off by a crash, not yet recovered
    crash.write(samples[0][:20000])
    crash._file.flush()
    recovery.mark_pending(pending, recovery.Pending("reflection", "What felt important today?", "2026-11-25T10:00:00+00:00"))
    recovery.release(pending)  # the recording process stopped
    pcm = b"".join(pcm_bytes(s) for s in samples)
    return {"ids": ids, "samples": samples, "pcm": pcm, "pending": pending}


def test_companion_encrypt_converts_an_existing_folder(companion_home, monkeypatch):
    made = plain_folder(companion_home)
    result = companion("encrypt")
    assert result.returncode == 0, result.stderr
    assert "the database, 3 recording(s), 1 backup(s)" in result.stdout and "cannot be recovered" in result.stdout
    names = [p.relative_to(companion_home).as_posix() for p in files_in(companion_home)]
    assert not [n for n in names if n.endswith((".encrypted", ".encrypting", ".partial", "-wal", "-journal"))]
    assert "encrypting.json" not in names and "encryption.json" in names
    for path in files_in(companion_home):
        if path.name in ("encryption.json",):
            continue
        assert_no_plaintext(path.read_bytes(), SECRET, "breathing slowly", "mother", "What felt important", pcm=made["pcm"])
    assert_clear_error(companion("list", passphrase="wrong passphrase"), 7)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE)
    with Store.open() as store:
        entries = store.list_entries()
        assert [e["id"] for e in entries] == made["ids"]
        assert [r["id"] for r in store.search("breathe")] == [made["ids"][1]]
        for entry, samples in zip(entries, made["samples"]):
            back, rate = Replay(store, None, live=False).load(entry)
            assert rate == 16000 and np.max(np.abs(back - samples)) < 1e-3
    assert len(recovery.read_growing_wav(made["pending"])) == 20000  # recovery still finds it
    assert recovery.read_pending(recovery.marker_for(made["pending"])).prompt == "What felt important today?"
    backups = sorted((companion_home / "backups").glob("*.db"))  # the manual one, and the daily one
    assert backups
    for backup in backups:
        conn = crypto.connect(backup, crypto.Keys(PASSPHRASE, None))
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 2
        conn.close()
    again = companion("encrypt")
    assert again.returncode == 0 and "nothing more" in again.stdout, again.stderr


def test_encrypt_refuses_a_short_passphrase_and_changes_nothing(companion_home):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    before = {p: p.read_bytes() for p in files_in(companion_home)}
    assert_clear_error(companion("encrypt", passphrase="short"), 7, "too short")
    assert_clear_error(companion("encrypt", passphrase=None), 7, crypto.ENV_PASSPHRASE)
    assert {p: p.read_bytes() for p in files_in(companion_home)} == before


def test_encrypt_refuses_while_companion_is_in_use(companion_home):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    holder_script = ("import time\nfrom companion.store.database import Store\n"
                     "s = Store.open()\ns.list_entries()\nprint('open', flush=True)\ntime.sleep(30)")
    holder = subprocess.Popen([sys.executable, "-c", holder_script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StorageError, match="in use"):
            encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)
    finally:
        holder.kill()
        holder.wait()
    assert not crypto.is_enabled(companion_home)
    assert not [p for p in files_in(companion_home) if p.name.endswith((".encrypted", ".encrypting"))]
    with Store.open() as store:
        assert store.list_entries()[0]["text"] == SECRET


def test_encrypt_interrupted_before_turning_on_leaves_the_plain_folder(companion_home, monkeypatch):
    made = plain_folder(companion_home)

    def power_cut(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(crypto, "write_settings", power_cut)
        with pytest.raises(KeyboardInterrupt):
            encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)
    assert not crypto.is_enabled(companion_home)
    with Store.open() as store:  # still plain and whole
        assert [e["id"] for e in store.list_entries()] == made["ids"]
    encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)  # the next run starts afresh
    assert not [p for p in files_in(companion_home) if p.name.endswith((".encrypted", ".encrypting", "encrypting.json"))]
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE)
    with Store.open() as store:
        assert [e["id"] for e in store.list_entries()] == made["ids"]


def test_encrypt_interrupted_after_turning_on_is_finished_on_next_start(companion_home, monkeypatch):
    made = plain_folder(companion_home)
    with monkeypatch.context() as m:
        m.setattr(encrypt, "finish_interrupted", lambda folder: None)  # stopped right after encryption.json
        encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)
    assert (companion_home / encrypt.JOURNAL).exists()
    assert (companion_home / "companion.db").read_bytes().startswith(b"SQLite format 3")
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE)
    with Store.open() as store:  # finishes the swap first, then opens the encrypted database
        assert [e["id"] for e in store.list_entries()] == made["ids"]
        back, _ = Replay(store, None, live=False).load(store.list_entries()[0])
        assert np.max(np.abs(back - made["samples"][0])) < 1e-3
    assert not (companion_home / encrypt.JOURNAL).exists()
    for path in files_in(companion_home):
        assert not path.name.endswith((".encrypted", ".encrypting"))
        if path.suffix in (".db", ".wav"):
            assert_no_plaintext(path.read_bytes(), SECRET, pcm=made["pcm"])


def test_settings_file_holds_no_secret(encrypted_home):
    settings = json.loads((encrypted_home / "encryption.json").read_text())
    assert PASSPHRASE not in json.dumps(settings)
    assert set(settings["scrypt"]) == {"salt", "log2n", "r", "p"}
    assert (encrypted_home / "encryption.json").stat().st_mode & 0o777 == 0o600


# Changing the passphrase

NEW_PASSPHRASE = "a lantern on the north pier"


def change(old: str | None, new: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (crypto.ENV_PASSPHRASE, crypto.ENV_NEW_PASSPHRASE)}
    env.update({k: v for k, v in ((crypto.ENV_PASSPHRASE, old), (crypto.ENV_NEW_PASSPHRASE, new)) if v is not None})
    return subprocess.run([sys.executable, "-m", "companion", "encrypt", "--change-passphrase"], env=env,
                          capture_output=True, text=True, timeout=120)


def assert_whole(made: dict, passphrase: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything `plain_folder` made opens with `passphrase`: entries, search, recordings, backups."""
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, passphrase)
    with Store.open() as store:
        entries = store.list_entries()
        assert [e["id"] for e in entries] == made["ids"]
        assert [r["id"] for r in store.search("breathe")] == [made["ids"][1]]
        for entry, samples in zip(entries, made["samples"]):
            back, _ = Replay(store, None, live=False).load(entry)
            assert np.max(np.abs(back - samples)) < 1e-3
        home = store.root
    assert len(recovery.read_growing_wav(made["pending"])) == 20000
    assert recovery.read_pending(recovery.marker_for(made["pending"])).prompt == "What felt important today?"
    backups = sorted((home / "backups").glob("*.db"))
    assert backups
    for backup in backups:
        conn = crypto.connect(backup, crypto.Keys(passphrase, None))
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 2
        conn.close()
    assert not [p for p in files_in(home) if p.name.endswith((".encrypted", ".encrypting", "encrypting.json"))]


def test_change_passphrase_re_encrypts_everything(companion_home, monkeypatch):
    made = plain_folder(companion_home)
    assert companion("encrypt").returncode == 0
    result = change(PASSPHRASE, NEW_PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert "the database, 3 recording(s), 1 backup(s)" in result.stdout and "old one no longer does" in result.stdout
    assert_clear_error(companion("list"), 7, "does not unlock")  # the old passphrase
    for path in files_in(companion_home):
        if path.name != "encryption.json":
            assert_no_plaintext(path.read_bytes(), SECRET, "breathing slowly", "mother", "What felt important", pcm=made["pcm"])
            if path.suffix == ".wav":  # every recording opens with the new passphrase only
                with pytest.raises(PassphraseError):
                    sealed.read_sealed(path, crypto.Keys(PASSPHRASE, None))
    assert_whole(made, NEW_PASSPHRASE, monkeypatch)
    listed = companion("list", passphrase=NEW_PASSPHRASE)
    assert listed.returncode == 0 and "breathing slowly" in listed.stdout
    assert "cut off before it was saved" in listed.stderr  # the re-encrypted interrupted answer, stored now


def test_change_passphrase_refuses_clearly_and_changes_nothing(companion_home):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    assert_clear_error(change(PASSPHRASE, NEW_PASSPHRASE), 5, "is not encrypted", "companion encrypt")
    assert companion("encrypt").returncode == 0
    before = {p: p.read_bytes() for p in files_in(companion_home)}
    assert_clear_error(change("not the passphrase", NEW_PASSPHRASE), 7, "does not unlock")
    assert_clear_error(change(PASSPHRASE, "short"), 7, "too short")
    assert_clear_error(change(PASSPHRASE, None), 7, crypto.ENV_NEW_PASSPHRASE)
    assert {p: p.read_bytes() for p in files_in(companion_home)} == before


def test_change_passphrase_interrupted_before_the_new_settings_keeps_the_old(companion_home, monkeypatch):
    made = plain_folder(companion_home)
    encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE)

    def power_cut(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(crypto, "write_settings", power_cut)
        with pytest.raises(KeyboardInterrupt):
            encrypt.change_passphrase(companion_home, NEW_PASSPHRASE, log2n=FAST)
    assert (companion_home / encrypt.JOURNAL).exists()  # the copies were listed, then the power went
    assert_whole(made, PASSPHRASE, monkeypatch)  # the next start drops the copies; the old passphrase opens all
    assert not (companion_home / encrypt.JOURNAL).exists()


def test_change_passphrase_interrupted_after_the_new_settings_is_finished_on_next_start(companion_home, monkeypatch):
    made = plain_folder(companion_home)
    encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE)
    real_finish, calls = encrypt.finish_interrupted, []

    def only_the_first(folder: Path, **options) -> None:  # the one before the change runs; the one after it never comes
        calls.append(folder)
        if len(calls) == 1:
            real_finish(folder, **options)

    with monkeypatch.context() as m:
        m.setattr(encrypt, "finish_interrupted", only_the_first)
        encrypt.change_passphrase(companion_home, NEW_PASSPHRASE, log2n=FAST)  # stops right after the new settings
    assert (companion_home / encrypt.JOURNAL).exists()
    assert_clear_error(companion("list"), 7, "does not unlock")  # the old passphrase no longer opens the folder
    assert_whole(made, NEW_PASSPHRASE, monkeypatch)  # the next start puts the copies in place


def test_a_reader_during_a_passphrase_change_leaves_its_copies_alone(companion_home, monkeypatch):
    """Another Companion window starting while the copies are listed but not yet switched to must not
    take them for the leftovers of a stopped change (that would leave nothing opening the folder)."""
    made = plain_folder(companion_home)
    encrypt.encrypt_folder(companion_home, PASSPHRASE, log2n=FAST)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, PASSPHRASE)
    real_write_settings, readers = crypto.write_settings, []

    def reader_first(folder, keys):
        readers.append(companion("list"))  # with the old passphrase, in the window before the switch
        assert (companion_home / encrypt.JOURNAL).exists() and list(companion_home.rglob("*.encrypted"))
        return real_write_settings(folder, keys)

    with monkeypatch.context() as m:
        m.setattr(crypto, "write_settings", reader_first)
        encrypt.change_passphrase(companion_home, NEW_PASSPHRASE, log2n=FAST)
    assert_clear_error(readers[0], 5, "held by another Companion window", "try again")  # it waited, then said so
    assert_whole(made, NEW_PASSPHRASE, monkeypatch)


def test_a_second_passphrase_change_at_once_is_refused(encrypted_home):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    held = encrypt._change_lock(encrypted_home)
    try:
        assert_clear_error(change(PASSPHRASE, NEW_PASSPHRASE), 5, "being changed in another window")
    finally:
        os.close(held)
    assert companion("list").returncode == 0  # still the old passphrase


def test_a_backup_under_another_passphrase_is_left_and_named(encrypted_home, monkeypatch):
    with Store.open() as store:
        store.add_entry("ripple", SECRET)
    foreign = encrypted_home / "backups" / "companion-20260101-000000-manual.db"
    foreign.parent.mkdir(mode=0o700, exist_ok=True)
    conn = crypto.connect(foreign, crypto.Keys("someone else's passphrase", None))
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    result = change(PASSPHRASE, NEW_PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert f"Left as it was (the old passphrase did not open it): {foreign}" in result.stdout
    conn = crypto.connect(foreign, crypto.Keys("someone else's passphrase", None))
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    conn.close()
    assert companion("list", passphrase=NEW_PASSPHRASE).returncode == 0
