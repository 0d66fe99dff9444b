"""The private page (`companion page`, `companion export --format html`) opened in a real headless
Chromium: built from real recordings imported with `companion import` (LibriVox clips) spread over
three weeks, with check-ins, ripples, practices, sessions and a corrected answer. Also the body
states as a text chart in `companion review --print`."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from browser import Chromium, chromium_path
from speech_fixtures import LIBRIVOX

from companion.notice.flow import save_checkin
from companion.practice.records import RunRecord, finish_run, start_run
from companion.review.chart import local_day, state_days, states_text
from companion.store.database import Store

KB = 1024
GOAL_KB_PER_MINUTE = 250  # the page, audio and all, per minute of speech
CHECKINS = [  # (days ago, words): the body states come from companion's own vocabulary
    (17, "tight shoulders and tired"), (16, "tired but calm after breathing slowly"), (10, "heavy and tense"),
    (3, "calm and warm, breathing easily"), (3, "calm again in the evening"),
]  # fmt: skip
RIPPLES = [(15, "I took a breath before answering my sister"), (11, "I noticed my jaw and let it go"),
           (2, "I asked for what I needed")]  # fmt: skip
ANSWER_DAYS = [18, 16, 12, 9, 3]  # one imported recording on each of these days ago
EDITED = 5


def companion(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True, timeout=300)


def days_ago(days: int, hour: int = 20) -> datetime:
    return (datetime.now().astimezone() - timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def move(store: Store, table: str, row_id: int, at: datetime, seconds: float = 0) -> None:
    """Place a stored row on another day (the recordings themselves stay as they are)."""
    column = "held_at" if table == "sessions" else "started_at"
    store.db.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", [at.isoformat(timespec="seconds"), row_id])
    if table != "sessions":
        end = (at + timedelta(seconds=seconds)).isoformat(timespec="seconds")
        store.db.execute(f"UPDATE {table} SET ended_at = ? WHERE id = ?", [end, row_id])


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A data folder with real imported answers spread over three weeks, and the rest of a life around them."""
    folder = tmp_path_factory.mktemp("page") / "companion-home"
    folder.mkdir(mode=0o700)
    saved = os.environ.get("COMPANION_HOME")
    os.environ["COMPANION_HOME"] = str(folder)
    try:
        clips = sorted(LIBRIVOX.glob("*.wav"))
        assert len(clips) == 5, "install pocketsphinx-testdata (scripts/setup.sh --test)"
        result = companion("import", *map(str, clips))
        assert result.returncode == 0, result.stderr
        with Store.open() as store:
            for entry, days in zip(sorted(store.list_entries(), key=lambda e: e["id"]), ANSWER_DAYS):
                move(store, "entries", entry["id"], days_ago(days), entry["duration"])
            for days, text in CHECKINS:
                move(store, "entries", save_checkin(store, text).entry_id, days_ago(days, 8 + len(text) % 10))
            for days, text in RIPPLES:
                move(store, "entries", store.add_entry("ripple", text), days_ago(days, 12))
            for days in (16, 4):
                record = RunRecord("box-breathing", "Box breathing", "both", "whisper")
                run = start_run(store, record)
                finish_run(store, run, record, finished=True, duration=120.0)
                move(store, "practice_runs", run, days_ago(days, 7), 120)
            move(store, "sessions", store.add_session(note="talked about my family"), days_ago(20, 10))
            move(store, "sessions", store.add_session(), days_ago(8, 10))
        edited = companion("edit", str(EDITED), "--text", "He might even have been made kind himself.")
        assert edited.returncode == 0, edited.stderr
        yield folder
    finally:
        if saved is None:
            os.environ.pop("COMPANION_HOME", None)
        else:
            os.environ["COMPANION_HOME"] = saved


@pytest.fixture(scope="module")
def stored(home):
    with Store.open() as store:
        entries = [store.get_entry(e["id"]) for e in store.list_entries()]
        for entry in entries:
            entry["states"] = store.entry_states(entry["id"])
    return entries


@pytest.fixture(scope="module")
def page(home):
    target = home.parent / "my page.html"
    result = companion("page", "--all", "--no-open", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert f"Your page is at {target}" in result.stdout and "encrypted" not in result.stdout
    return target


@pytest.fixture(scope="module")
def browser(page):
    executable = chromium_path()
    if executable is None:
        pytest.fail("chromium is not installed (scripts/setup.sh --test installs it)", pytrace=False)
    with Chromium(executable) as chromium:
        chromium.open(page.as_uri())
        yield chromium


def test_the_page_is_private_self_contained_and_small(page, stored):
    assert (page.stat().st_mode & 0o777) == 0o600
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(?!data:|#)", html) and "http://" not in html and "https://" not in html
    assert "default-src 'none'" in html  # the page itself forbids loading anything from outside
    recorded = [e for e in stored if e["audio"]]
    minutes = sum(e["duration"] for e in recorded) / 60
    embedded = re.findall(r'data-entry="(\d+)"[^>]*src="data:audio/ogg;codecs=opus;base64,([^"]+)"', html)
    assert {int(i) for i, _ in embedded} == {e["id"] for e in recorded}
    audio_bytes = sum(len(base64.b64decode(data)) for _, data in embedded)
    page_kb_per_minute = page.stat().st_size / KB / minutes
    print(f"\n{minutes * 60:.1f} s of speech: Opus {audio_bytes / KB / minutes:.0f} KB/min, "
          f"page {page.stat().st_size / KB:.0f} KB = {page_kb_per_minute:.0f} KB/min")
    assert page_kb_per_minute <= GOAL_KB_PER_MINUTE


def test_no_console_errors_and_every_recording_decodes_at_its_length(browser, stored):
    durations = browser.run("""Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(done => {
        const report = () => done([a.dataset.entry, a.duration]);
        if (a.readyState >= 1) return report();
        a.addEventListener('loadedmetadata', report);
        a.addEventListener('error', () => done([a.dataset.entry, -1]));
    })))""")
    expected = {e["id"]: e["duration"] for e in stored if e["audio"]}
    assert {int(i) for i, _ in durations} == set(expected)
    for entry_id, seconds in durations:
        assert abs(seconds - expected[int(entry_id)]) < 0.1, (entry_id, seconds, expected[int(entry_id)])
    assert browser.errors() == []


def test_the_chart_has_one_mark_per_state_named_each_day(browser, stored):
    named = {f"{state} {local_day(e['started_at']).isoformat()}" for e in stored for state in e["states"]}
    for drawing in ("w640", "w360"):  # drawn for a screen, and for a phone
        marks = browser.run(f"[...document.querySelectorAll('svg.states-chart.{drawing} .mark')]"
                            ".map(m => m.dataset.state + ' ' + m.dataset.day)")
        assert len(marks) == len(set(marks)) and set(marks) == named
    assert len(named) < sum(len(e["states"]) for e in stored)  # calm, named twice on one day, has one mark
    weeks = browser.run("[...document.querySelectorAll('svg.weeks-chart.w640 .bar')].map(b => b.dataset.kind + ' ' + b.dataset.week)")
    assert sum(kind == "practices" for kind in (w.split()[0] for w in weeks)) == 2
    assert browser.run("document.querySelector('svg.states-chart.w640').getBoundingClientRect().height") > 50


def test_every_word_carries_its_time_and_edits_keep_the_original(browser, stored):
    for entry in (e for e in stored if e["audio"]):
        words = browser.run(f"[...document.querySelectorAll('#entry-{entry['id']} .w')]"
                            ".map(w => [w.textContent, +w.dataset.start, +w.dataset.end])")
        assert len(words) == len(entry["words"]) > 0
        for (text, start, end), stored_word in zip(words, entry["words"]):
            assert text == stored_word["word"].strip()
            assert abs(start - stored_word["start"]) < 0.006 and abs(end - stored_word["end"]) < 0.006
    edited = browser.run(f"(() => {{ const e = document.getElementById('entry-{EDITED}');"
                         "return [e.querySelector('.said').textContent, !!e.querySelector('details:not([open]) .w')]; })()")
    assert edited == ["He might even have been made kind himself.", True]


LIT_SAMPLES = """(async () => {
  const entry = document.getElementById('entry-ID');
  const audio = entry.querySelector('audio');
  const words = [...entry.querySelectorAll('.w')];
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  audio.muted = true;
  await audio.play();
  const samples = [];
  for (const at of MOMENTS) {
    while (audio.currentTime < at) await sleep(10);
    for (let tries = 0; tries < 200; tries++) {
      await frame(); await frame();
      const t = audio.currentTime;
      const inside = words.find(w => +w.dataset.start + 0.06 <= t && t < +w.dataset.end - 0.06);
      if (!inside) { await sleep(5); continue; }
      const lit = [...entry.querySelectorAll('.w.lit')].map(w => words.indexOf(w));
      samples.push([t, words.indexOf(inside), lit]);
      break;
    }
  }
  audio.pause();
  return samples;
})()"""


def test_while_an_answer_plays_the_word_spoken_is_lit(browser, stored):
    answer = max((e for e in stored if e["audio"] and e["id"] != EDITED), key=lambda e: e["duration"])
    moments = [round(answer["duration"] * part, 2) for part in (0.2, 0.45, 0.7)]
    samples = browser.run(LIT_SAMPLES.replace("ID", str(answer["id"])).replace("MOMENTS", str(moments)), timeout=60)
    assert len(samples) == 3, samples
    assert len({word for _, word, _ in samples}) == 3  # three different words, as the recording went on
    for t, word, lit in samples:
        assert lit == [word], (t, answer["words"][word], [answer["words"][i] for i in lit])

    # a word clicked plays from its start
    chosen = len(answer["words"]) // 2
    started = browser.run(f"""(async () => {{
        const entry = document.getElementById('entry-{answer['id']}');
        const audio = entry.querySelector('audio');
        entry.querySelectorAll('.w')[{chosen}].click();
        await new Promise(r => audio.addEventListener('playing', r, {{once: true}}));
        const at = audio.currentTime; audio.pause(); return at; }})()""")
    assert answer["words"][chosen]["start"] - 0.05 <= started <= answer["words"][chosen]["start"] + 0.5


def test_keys_alone_reach_a_word_and_play_from_it(browser, stored):
    answer = next(e for e in stored if e["audio"] and e["id"] != EDITED)
    browser.run(f"document.querySelector('#entry-{answer['id']} .w').focus()")
    for _ in range(3):
        browser.press("ArrowRight", 39)
    focused = browser.run("[document.activeElement.textContent, +document.activeElement.dataset.start]")
    assert focused == [answer["words"][3]["word"].strip(), round(answer["words"][3]["start"], 2)]
    browser.press("Enter", 13)
    started = browser.run(f"""new Promise(done => {{
        const audio = document.querySelector('#entry-{answer['id']} audio');
        const report = () => {{ const at = audio.currentTime; audio.pause(); done(at); }};
        if (!audio.paused) return report();
        audio.addEventListener('playing', report, {{once: true}}); }})""")
    assert answer["words"][3]["start"] - 0.05 <= started <= answer["words"][3]["start"] + 0.5


def test_dark_mode_reduced_motion_and_print_follow_the_system(browser):
    def emulate(media: str = "", **features: str) -> None:
        browser.send("Emulation.setEmulatedMedia", page=True, media=media,
                     features=[{"name": k.replace("_", "-"), "value": v} for k, v in features.items()])

    background = "getComputedStyle(document.body).backgroundColor"
    emulate(prefers_color_scheme="light")
    light = browser.run(background)
    emulate(prefers_color_scheme="dark")
    assert browser.run(background) != light and browser.run(background) == "rgb(29, 31, 34)"
    emulate(prefers_reduced_motion="reduce")
    assert browser.run("getComputedStyle(document.querySelector('.w')).transitionDuration") == "0s"
    emulate(media="print")
    shown = "(s) => [...document.querySelectorAll(s)].filter(e => getComputedStyle(e).display !== 'none').length"
    assert browser.run(f"({shown})('audio') + ({shown})('.finder')") == 0
    assert browser.run(f"({shown})('.prompt')") > 0 and browser.run(f"({shown})('svg.states-chart')") == 1
    emulate()
    assert browser.run(f"({shown})('audio')") > 0


def visible_entries(browser: Chromium) -> set[int]:
    return set(browser.run("[...document.querySelectorAll('.entry')].filter(e => e.offsetParent !== null)"
                           ".map(e => +e.id.split('-')[1])"))


def test_search_as_you_type_keeps_stemmed_matches(browser, stored):
    everyone = visible_entries(browser)
    assert everyone == {e["id"] for e in stored}
    browser.run("document.getElementById('find-text').focus()")
    browser.type("breathe")  # written "breathing" and "breath" in what was kept
    breathing = {e["id"] for e in stored if re.search(r"\bbreath", (e["text"] or "").lower())}
    assert len(breathing) >= 3 and visible_entries(browser) == breathing
    browser.run("document.getElementById('find-text').select()")
    browser.type("considering")  # the answer says "consider"
    assert visible_entries(browser) == {e["id"] for e in stored if "consider" in (e["text"] or "").lower().split()}
    shown = browser.run("document.getElementById('find-count').textContent")
    assert shown == f"1 of {len(stored)} entries shown."

    choose(browser, "find-text", "")
    choose(browser, "find-state", "calm")
    assert visible_entries(browser) == {e["id"] for e in stored if "calm" in e["states"]}
    choose(browser, "find-state", "")
    choose(browser, "find-kind", "ripple")
    assert visible_entries(browser) == {e["id"] for e in stored if e["kind"] == "ripple"}
    choose(browser, "find-kind", "")
    assert visible_entries(browser) == everyone and browser.errors() == []


def choose(browser: Chromium, control: str, value: str) -> None:
    """Set a filter as a person would (its input event fires)."""
    browser.run(f"{{ const c = document.getElementById('{control}'); c.value = '{value}'; "
                "c.dispatchEvent(new Event('input')); }")


SPREAD = """(async src => {
  const image = new Image(); image.src = src; await image.decode();
  const canvas = document.createElement('canvas'); canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext('2d'); context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  const counts = new Map();
  for (let i = 0; i < pixels.length; i += 4) {
    const key = (pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2];
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const most = Math.max(...counts.values());
  return [image.width, image.height, 1 - most / (pixels.length / 4), counts.size];
})"""


@pytest.mark.parametrize("name, width, height, mobile", [
    ("phone", 390, 844, True), ("desktop", 1280, 900, False),
    ("desktop-at-200-percent", 640, 450, False),  # what a 1280 x 900 window shows at 200 % zoom
])  # fmt: skip
def test_screenshots_at_phone_and_desktop_width(browser, tmp_path, name, width, height, mobile):
    browser.run("document.activeElement.blur(); window.scrollTo({top: 0, behavior: 'instant'})")
    shot = browser.screenshot(tmp_path / f"page-{name}.png", width, height, mobile)
    data = base64.b64encode(shot.read_bytes()).decode()
    shown_width, shown_height, not_background, colours = browser.run(f"({SPREAD})('data:image/png;base64,{data}')")
    assert (shown_width, shown_height) == (width, height)
    assert not_background > 0.02 and colours > 50, (not_background, colours)  # text and chart, not a blank page
    assert browser.run("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    print(f"\n{name}: {shot}")


def test_export_html_is_the_same_page_and_the_default_period_is_since_the_last_session(home, tmp_path):
    since = days_ago(8, 0).date().isoformat()
    exported, made = tmp_path / "export.html", tmp_path / "page.html"
    assert companion("export", "--format", "html", "--since", since, "-o", str(exported)).returncode == 0
    assert companion("page", "--since", since, "--no-open", "-o", str(made)).returncode == 0
    without_audio = [re.sub(r'base64,[^"]+"', 'base64,"', path.read_text(encoding="utf-8")) for path in (exported, made)]
    assert without_audio[0] == without_audio[1] and without_audio[0].count("<audio ") == 1  # Ogg serials differ

    result = companion("page", "--no-open")
    assert result.returncode == 0, result.stderr
    default = home / "page.html"
    assert (default.stat().st_mode & 0o777) == 0o600
    html = default.read_text(encoding="utf-8")
    assert "Since your session on " in html
    assert "He might even have been made kind himself." in html and "consider how much" not in html
    both = companion("page", "--all", "--since", since, "--no-open")
    assert both.returncode != 0 and "Traceback" not in both.stderr and both.stderr.startswith("Error: ")


def test_review_print_shows_the_body_states_as_a_text_chart(home, stored):
    result = companion("review", "--print", "--since", days_ago(18, 0).date().isoformat())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Body states, day by day"))
    rows = {line.split()[0]: line.split(None, 1)[1] for line in lines[start + 1:] if line.startswith("  ") and "●" in line}
    named = {state for e in stored for state in e["states"]}
    assert set(rows) == named
    assert sum(row.count("●") for row in rows.values()) == len({(s, local_day(e["started_at"])) for e in stored for s in e["states"]})


def test_states_text_marks_each_day_and_falls_back_to_weeks():
    monday = date(2026, 11, 2)
    entries = [{"started_at": f"{monday + timedelta(days=d)}T12:00:00", "states": states}  # local times
               for d, states in ((0, ["calm"]), (2, ["tense", "calm"]), (2, ["calm"]), (8, ["tense"]))]
    marks = state_days(entries, monday, monday + timedelta(days=13))
    assert states_text(marks) == [
        "Body states, day by day from Mon 2 Nov to Sun 15 Nov:",
        "  calm   ●·●···· ·······",
        "  tense  ··●···· ·●·····",
    ]
    long = state_days(entries, monday, monday + timedelta(days=70))
    assert states_text(long)[0] == "Body states, week by week from the week of 2 Nov:"
    assert states_text(long)[1:] == ["  calm   ●···· ···· ··", "  tense  ●●··· ···· ··"]  # a space as a month begins
    assert states_text(state_days([], monday, monday)) == []


def test_the_page_and_cached_phrases_go_with_what_they_hold(companion_home):
    """The page is a plain copy of what is kept: deleting an entry removes it (it is made again on
    asking), forgetting everything removes it and the voice's cached phrases, and so does encrypting."""
    import os

    for text in ("A quiet morning, tea by the window.", "I laughed with my sister on the phone."):
        assert companion("ripple", "--text", text).returncode == 0
    page = companion_home / "page.html"
    cached = companion_home / "cache" / "voice" / "phrase.wav"

    def make_both() -> None:
        assert companion("page", "--all", "--no-open").returncode == 0 and page.is_file()
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(b"RIFF")

    make_both()
    deleted = companion("delete", "1", "--yes")
    assert deleted.returncode == 0 and not page.exists(), deleted.stderr
    make_both()
    forgot = companion("forget", "--all", "--confirm", "forget everything")
    assert forgot.returncode == 0 and not page.exists() and not cached.exists(), forgot.stderr
    assert companion("ripple", "--text", "Kept again.").returncode == 0
    make_both()
    env = dict(os.environ, COMPANION_PASSPHRASE="a long quiet walk by the river")
    run = subprocess.run([sys.executable, "-m", "companion", "encrypt"], env=env, capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
    assert run.returncode == 0 and not page.exists() and not cached.exists(), run.stderr
