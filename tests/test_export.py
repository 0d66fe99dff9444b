"""Exports: Markdown by week and session, JSON round trip through `import-json`, the self-contained
HTML page opened in headless Chromium (its audio elements load), and captions for one answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from companion.events import Word
from companion.notice.flow import save_checkin
from companion.practice.records import HeardCommand, RunRecord, finish_run, start_run
from companion.review.export import (
    caption_cues,
    entry_captions,
    export_json,
    to_srt,
    to_vtt,
)
from companion.review.page_build import page_html
from companion.store.database import Store

WORDS = [Word("I", 0.2, 0.35, 0.9), Word("noticed", 0.35, 0.8, 0.9), Word("my", 0.8, 0.95, 0.9),
         Word("breath.", 0.95, 1.5, 0.9), Word("Then", 2.6, 2.9, 0.9), Word("it", 2.9, 3.0, 0.9),
         Word("slowed", 3.0, 3.6, 0.9)]  # fmt: skip


def companion(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def tone(path: Path, seconds: float = 1.0, freq: float = 220.0) -> Path:
    t = np.arange(int(16000 * seconds)) / 16000
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000, subtype="PCM_16")
    return path


def fill(store: Store) -> None:
    """Two sessions, a sitting with two answers (one recorded), a ripple, a check-in, an edit."""
    now = datetime.now().astimezone().replace(microsecond=0)
    first = store.add_session(now - timedelta(days=9), note="talked about work")
    sitting = store.start_reflection(first, "whisper", "tiny.en", started_at=now - timedelta(days=9, minutes=-30))
    audio = tone(store.root / "audio" / "2026-01" / "reflection-1-1.wav", 3.7)
    store.add_entry("reflection", "I noticed my breath. Then it slowed", prompt="What felt important today?",
                    words=WORDS, audio=audio, duration=3.7, started_at=now - timedelta(days=9, minutes=-31),
                    reflection_id=sitting, session_id=first, engine="whisper", model="tiny.en")
    store.add_entry("reflection", "", prompt="What do I want to notice?", reflection_id=sitting, session_id=first,
                    started_at=now - timedelta(days=9, minutes=-33))
    store.finish_reflection(sitting, now - timedelta(days=9, minutes=-35))
    ripple = store.add_entry("ripple", "a deeper breth on the stairs", started_at=now - timedelta(days=5),
                             audio=tone(store.root / "audio" / "2026-01" / "ripple-1.wav", 1.2, 330), duration=1.2)
    store.edit_entry(ripple, "a deeper breath on the stairs")
    store.add_session(now - timedelta(days=2))
    save_checkin(store, "heavy and a bit restless")
    record = RunRecord("box-breathing", "Box breathing", "both", "whisper", [HeardCommand("pause", 12.5, "pause")])
    finish_run(store, start_run(store, record), record, finished=False, duration=40.0)


def test_json_round_trip_through_import_json(companion_home, tmp_path, monkeypatch):
    with Store.open() as store:
        fill(store)
        before = export_json(store)
        old_root = store.root
    exported = tmp_path / "everything.json"
    assert companion("export", "--format", "json", "-o", str(exported)).returncode == 0

    new_home = tmp_path / "restored-home"
    env = {**os.environ, "COMPANION_HOME": str(new_home)}
    result = companion("import-json", str(exported), env=env)
    assert result.returncode == 0, result.stderr
    assert "Restored 4 entries" in result.stdout
    monkeypatch.setenv("COMPANION_HOME", str(new_home))
    with Store.open() as store:
        after = export_json(store)
        restored = store.get_entry(3)
        assert store.entry_states(4) == ["heavy", "restless"]
    # equal, apart from where the data folder is
    assert json.loads(json.dumps(after).replace(str(new_home), str(old_root))) == before
    assert restored["original_text"] == "a deeper breth on the stairs" and restored["edited_at"]
    assert after["practice_runs"][0]["commands"] == [{"command": "pause", "at": 12.5, "text": "pause"}]
    for entry in after["entries"]:
        if entry["audio"]:
            path = Path(entry["audio"])
            assert path.is_relative_to(new_home) and (path.stat().st_mode & 0o777) == 0o600
            assert path.read_bytes() == Path(entry["audio"].replace(str(new_home), str(old_root))).read_bytes()

    # only into an empty data folder: a second import is refused, and nothing stored changes
    again = companion("import-json", str(exported), env=env)
    assert again.returncode == 5 and "empty data folder" in again.stderr and "Traceback" not in again.stderr
    with Store.open() as store:
        assert export_json(store) == after


def test_import_json_bad_input_stores_nothing(companion_home, tmp_path):
    not_json = tmp_path / "notes.json"
    not_json.write_text("this is not json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    missing_audio = tmp_path / "missing.json"
    missing_audio.write_text(json.dumps({"format": "companion-export", "version": 1, "sessions": [], "reflections": [],
                                         "entries": [{"id": 1, "kind": "ripple", "text": "x", "audio": "/nowhere/audio/a.wav",
                                                      "started_at": "2026-01-01T10:00:00+00:00"}]}))
    for path, phrase in ((not_json, "is not JSON"), (other, "not a Companion JSON export"),
                         (missing_audio, "is missing"), (tmp_path / "absent.json", "does not exist")):
        result = companion("import-json", str(path))
        message = result.stderr.strip()
        assert result.returncode != 0 and phrase in message, message
        assert message.startswith("Error: ") and "Hint: " in message and "\n" not in message
    with Store.open() as store:
        assert store.is_empty()


def test_markdown_is_grouped_by_session_and_week(companion_home):
    with Store.open() as store:
        fill(store)
    result = companion("export", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.count("## Since the session on") == 2
    assert "_Session note: talked about work_" in text
    assert text.count("### Week of ") >= 2
    assert "**What felt important today?**\n\nI noticed my breath. Then it slowed" in text
    assert "_Body: heavy, restless_" in text
    assert text.index("I noticed my breath") < text.index("a deeper breath on the stairs") < text.index("heavy and a bit")


CHECK_AUDIO = """
<script>
(async () => {
  const audios = [...document.querySelectorAll('audio')];
  const results = await Promise.all(audios.map(a => new Promise(resolve => {
    const done = () => resolve(`${a.dataset.entry}:${a.duration.toFixed(2)}`);
    if (a.readyState >= 1) return done();
    a.addEventListener('loadedmetadata', done);
    a.addEventListener('error', () => resolve(`${a.dataset.entry}:error`));
    a.load();
  })));
  const out = document.createElement('pre');
  out.id = 'audio-check';
  out.textContent = 'AUDIO ' + results.join(' ') + ' END';
  document.body.appendChild(out);
})();
</script>
"""


def test_html_page_opens_in_chromium_and_its_audio_loads(companion_home, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed (scripts/setup.sh --test installs it)", pytrace=False)
    with Store.open() as store:
        fill(store)
    page = companion_home / "for-my-therapist.html"
    result = companion("export", "--format", "html", "-o", str(page))
    assert result.returncode == 0, result.stderr
    assert (page.stat().st_mode & 0o777) == 0o600
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # self-contained: nothing fetched
    assert html.count("<audio ") == 2 and "a deeper breath on the stairs" in html and "Body: heavy, restless" in html
    assert "data:audio/ogg;codecs=opus;base64," in html and "data:audio/wav" not in html

    checked = tmp_path / "checked.html"
    checked.write_text(html.replace("</body>", CHECK_AUDIO + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", checked.as_uri()],
            capture_output=True, text=True, timeout=90,
        )
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert '<pre id="audio-check">' in dom, dom[-2000:]
    found = dom.split('<pre id="audio-check">AUDIO ', 1)[1].split(" END", 1)[0].split()
    durations = {entry: float(seconds) for entry, seconds in (item.split(":") for item in found)}
    assert durations.keys() == {"1", "3"} and abs(durations["1"] - 3.7) < 0.1 and abs(durations["3"] - 1.2) < 0.1, found


def test_captions_for_one_answer(companion_home):
    with Store.open() as store:
        fill(store)
    srt = companion("export", "--format", "srt", "--id", "1")
    vtt = companion("export", "--format", "vtt", "--id", "1")
    assert srt.returncode == 0 and vtt.returncode == 0, srt.stderr + vtt.stderr
    assert srt.stdout == (
        "1\n00:00:00,200 --> 00:00:01,500\nI noticed my breath.\n\n"
        "2\n00:00:02,600 --> 00:00:03,600\nThen it slowed\n"
    )
    assert vtt.stdout.startswith("WEBVTT\n\n00:00:00.200 --> 00:00:01.500\nI noticed my breath.\n")
    missing = companion("export", "--format", "vtt", "--id", "99")
    assert missing.returncode == 5 and "no entry with id 99" in missing.stderr


def test_caption_cues_break_at_pauses_and_length():
    words = [{"word": f"w{i}", "start": i * 0.3, "end": i * 0.3 + 0.25} for i in range(20)]
    cues = caption_cues(words, max_words=8)
    assert [len(c.text.split()) for c in cues] == [8, 8, 4]
    assert cues[1].start == pytest.approx(2.4)
    assert to_srt(cues).startswith("1\n00:00:00,000 --> 00:00:02,350\nw0 w1")
    assert to_vtt([]) == "WEBVTT\n\n"
    typed = entry_captions({"text": "typed words", "duration": None, "words": []}, "srt")
    assert typed == "1\n00:00:00,000 --> 00:00:02,000\ntyped words\n"
    long = caption_cues([{"word": "a", "start": 3723.5, "end": 3724.0}])
    assert to_srt(long).splitlines()[1] == "01:02:03,500 --> 01:02:04,000"


def test_html_escapes_what_was_said(companion_home):
    with Store.open() as store:
        store.add_entry("ripple", "<script>alert(1)</script> & more")
        page = page_html(store, everything=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
