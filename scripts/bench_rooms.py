#!/usr/bin/env python3
"""Speech recognition in real rooms: `companion import` and the live reflection path in noise.

Speech (real human speech, each clip scaled to the same loudness over its voiced part):
  * the five LibriVox clips of Debian's pocketsphinx-testdata (a man reading Austen);
  * when installed (`scripts/setup.sh --bench` installs them), 40 of Asterisk's English prompts
    (Debian's asterisk-core-sounds-en-g722, 16 kHz; transcripts from asterisk-core-sounds-en; a
    woman's voice), the ones of 3 to 10 s with six words or more, chosen with a fixed seed.
Noise (companion/harness/rooms.py): a fan (generated), babble (six other real speakers of
pocketsphinx-testdata summed), music (generated), at a signal-to-noise ratio measured on the
speech's voiced part: fan 10 dB, babble 10 dB, babble 5 dB.

Methods, side by side on the same mixed audio:
  * import: the engine's whole-file transcription, as `companion import` does it;
  * plain: the same faster-whisper model called with its own defaults (the peer);
  * live: `companion reflect` on the private PulseAudio server, one clip per question played into
    the virtual microphone in real time while the noise plays into it all the time (`--live N`
    clips per condition): WER, answers missing, answers split or cut while still speaking, and
    the end of each answer (its last sound to the next question) against the silence setting + 1 s;
  * live with `final_model = "whisper-base"` (`--live-final`): the same, with each answer's final
    text decoded by Whisper base, beside the default;
  * noise alone: `--noise-minutes` of each noise (fan, babble, music) into `companion reflect`
    with no one speaking: the words stored, which must be none;
  * long answers (`--pauses`): three clips with pauses between them (1.2 and 1.6 s: shorter than the
    silence setting) after 1.5 s of the room, fed as a stream to where an answer ends as the
    reflection decides it (the answer's voice detector and the recognizer's words, Whisper base for
    the final text): answers closed before the person's last word, and the worst end (last word to
    closing), beside the answer's detector alone and the same detector without the answer's
    settings (`DetectorConfig()`).
Invented phrases ("Thank you.", "see you next time", "bye", the question itself) are counted over
every transcript: a stock phrase in a transcript that is not in the reference.

    .venv/bin/python scripts/bench_rooms.py --json              # everything (about 30 minutes)
    .venv/bin/python scripts/bench_rooms.py --live 2 --noise-minutes 0.5 --limit 6   # a quick check
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from companion.harness import rooms  # noqa: E402
from companion.textnorm import edit_distance, normalize_words, scoring_words  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
ASTERISK = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
CONDITIONS = [("clean", None, None), ("fan 10 dB", "fan", 10.0), ("babble 10 dB", "babble", 10.0),
              ("babble 5 dB", "babble", 5.0)]
GOALS = {"clean": 0.06, "fan 10 dB": 0.08, "babble 10 dB": 0.20, "babble 5 dB": 0.35}
TARGET_RMS = 0.05  # every clip's voiced part scaled to this
SILENCE = 2.5  # --silence of the live runs
CLOSING = "Your reflection is saved"
LIVE_RUNS = {"whisper-base": ("live_base", 'live reflection, final_model = "whisper-base" (the default)'),
             "same": ("live", 'live reflection, final_model = "same" (tiny.en alone)')}
"""Each final model the live path can run with: (its key in the result, its label in the rows)."""
STOCK = [tuple(normalize_words(p)) for p in ("thank you", "thanks for watching", "see you next time",
                                             "see you in the next one", "bye", "thank you very much")]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read16k(path: Path) -> np.ndarray:
    from companion.audio.resample import resample

    if path.suffix == ".g722":
        raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "g722", "-i", str(path), "-f", "s16le",
                              "-ar", "16000", "-ac", "1", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(samples.mean(axis=1), rate, 16000)


def corpus(limit: int | None) -> list[tuple[str, np.ndarray, str]]:
    """(id, 16 kHz samples at TARGET_RMS, reference) for each clip."""
    clips = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.match(r"^\s*(?:<s>)?\s*(?P<text>.*?)\s*(?:</s>)?\s*\((?P<id>[^()]+)\)\s*$", line)
        if m and (LIBRIVOX / f"{m['id']}.wav").is_file():
            clips.append((m["id"][-4:], read16k(LIBRIVOX / f"{m['id']}.wav"), m["text"]))
    if ASTERISK.is_dir() and ASTERISK_TEXT.is_file():
        texts = {}
        for line in gzip.open(ASTERISK_TEXT, "rt", encoding="utf-8", errors="replace"):
            name, sep, text = line.partition(":")
            if sep and "[" not in text and "..." not in text:
                texts[name.strip()] = text.strip()
        candidates = []
        for name, text in sorted(texts.items()):
            path = ASTERISK / f"{name}.g722"
            if path.is_file() and len(text.split()) >= 6:
                candidates.append((name, path, text))
        random.Random(7).shuffle(candidates)
        for name, path, text in candidates:
            samples = read16k(path)
            if 3.0 <= len(samples) / 16000 <= 10.0:
                clips.append((name, samples, text))
            if len(clips) >= 45:
                break
    clips = clips[:limit] if limit else clips
    return [(cid, (s * (TARGET_RMS / np.sqrt(rooms.voiced_power(s)))).astype(np.float32), text) for cid, s, text in clips]


def noise_for(kind: str, seconds: float) -> np.ndarray:
    return {"fan": rooms.fan, "babble": rooms.babble, "music": rooms.music}[kind](seconds)


def scaled_noise(kind: str, seconds: float, snr_db: float) -> np.ndarray:
    """The noise at the level that puts TARGET_RMS speech `snr_db` above it."""
    noise = noise_for(kind, seconds)
    return (noise * (TARGET_RMS / np.sqrt(np.mean(noise.astype(np.float64) ** 2)) / 10 ** (snr_db / 20))).astype(np.float32)


def wer_of(pairs: list[tuple[str, str]]) -> float:
    edits = sum(edit_distance(scoring_words(r), scoring_words(h)) for r, h in pairs)
    return edits / max(1, sum(len(scoring_words(r)) for r, _ in pairs))


def invented(reference: str, hypothesis: str, question: str | None = None) -> list[str]:
    """Stock phrases (and the question) in the transcript that were not said."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    found = []
    for phrase in STOCK + ([tuple(normalize_words(question))] if question else []):
        n = len(phrase)
        said = sum(tuple(ref[i : i + n]) == phrase for i in range(len(ref) - n + 1))
        heard = sum(tuple(hyp[i : i + n]) == phrase for i in range(len(hyp) - n + 1))
        if heard > said:
            found.append(" ".join(phrase))
    return found


# --------------------------------------------------------------------------- whole files


def whole_files(clips, conditions) -> dict:
    from companion.errors import ModelError
    from companion.speech import models
    from companion.speech.whisper_base import whisper_base

    engine = models.load(models.embedded_model())
    try:  # the second pass, when installed: the same import with Whisper base
        second = models.load(models.embedded_model(), whisper_base())
    except ModelError as e:
        log(f"no second pass: {e.message}")
        second = None
    out = {}
    pad = np.zeros(8000, np.float32)
    for name, kind, snr in conditions:
        noise = scaled_noise(kind, 600, snr) if kind else None
        rows = {"import": [], "plain": [], **({"base": [], "plain_base": []} if second else {})}
        seconds = {method: 0.0 for method in rows}
        audio = 0.0
        inventions: list[str] = []
        for k, (cid, samples, text) in enumerate(clips):
            x = np.concatenate([pad, samples, pad])
            if noise is not None:
                x = x + rooms.fit(noise, len(x), k * 37_111)
            audio += len(x) / 16000
            started = time.perf_counter()
            hyp = " ".join(t.text for t in engine.transcribe(x))
            seconds["import"] += time.perf_counter() - started
            rows["import"].append((text, hyp))
            inventions += invented(text, hyp)
            started = time.perf_counter()
            segments, _ = engine._model.transcribe(x, language="en")
            plain = " ".join(s.text for s in segments)
            seconds["plain"] += time.perf_counter() - started
            rows["plain"].append((text, plain))
            if second is not None:
                started = time.perf_counter()
                hyp = " ".join(t.text for t in second.transcribe(x))
                seconds["base"] += time.perf_counter() - started
                rows["base"].append((text, hyp))
                inventions += invented(text, hyp)
                started = time.perf_counter()
                segments, _ = second._final.transcribe(x, language="en")
                plain = " ".join(s.text for s in segments)  # decoded as the segments are read
                seconds["plain_base"] += time.perf_counter() - started
                rows["plain_base"].append((text, plain))
        out[name] = {method: {"wer": wer_of(pairs), "rtf": seconds[method] / audio, "utterances": len(pairs)}
                     for method, pairs in rows.items()}
        out[name]["import"]["invented"] = inventions
        base = (f"   import with whisper-base {out[name]['base']['wer'] * 100:5.1f} % (RTF {out[name]['base']['rtf']:.2f}),"
                f" plain base {out[name]['plain_base']['wer'] * 100:5.1f} %") if second else ""
        log(f"{name:13} import {out[name]['import']['wer'] * 100:5.1f} %   plain {out[name]['plain']['wer'] * 100:5.1f} %"
            f"   (RTF {out[name]['import']['rtf']:.2f} / {out[name]['plain']['rtf']:.2f}; {len(clips)} clips){base}")
    return out


# --------------------------------------------------------------------------- the live path


def live(clips, conditions, per_condition: int, workdir: Path, final_model: str = "same") -> dict:
    from companion.harness.drive import LISTENING_MARK, drive_command
    from companion.harness.virtual_audio import VirtualAudio

    out = {}
    with VirtualAudio(workdir / "audio") as audio:
        for name, kind, snr in conditions:
            chosen = [clips[(i * 7) % len(clips)] for i in range(per_condition)]
            files = []
            for i, (cid, samples, _) in enumerate(chosen):
                path = workdir / f"{name.replace(' ', '_')}-{i}.wav"
                sf.write(str(path), samples, 16000, subtype="PCM_16")
                files.append(path)
            home = workdir / f"home-{final_model}-{name.replace(' ', '_')}"
            home.mkdir()
            (home / "config.toml").write_text(f'[speech]\nfinal_model = "{final_model}"\n')
            env = dict(os.environ, **audio.env, COMPANION_HOME=str(home))
            prompts = [f"Question {i + 1}, what comes to mind?" for i in range(len(chosen))]
            args = ["reflect", *(a for p in prompts for a in ("--prompt", p)), "--silence", str(SILENCE),
                    "--wait", "12", "--no-crisis-note"]
            player = None
            if kind:
                noise_path = workdir / f"noise-{name.replace(' ', '_')}.wav"
                length = len(chosen) * 20 + 60
                sf.write(str(noise_path), scaled_noise(kind, length, snr), 16000, subtype="PCM_16")
                player = audio.play_background(noise_path)
            steps = [(LISTENING_MARK, f) for f in files]
            watch = tuple(f"({i + 2}/{len(chosen)})" for i in range(len(chosen) - 1)) + (CLOSING,)
            peak = [0.0]

            def watch_memory(proc) -> None:
                def sample() -> None:
                    while proc.poll() is None:
                        try:
                            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                                if line.startswith("VmHWM:"):
                                    peak[0] = max(peak[0], int(line.split()[1]) / 1024)
                        except OSError:
                            pass
                        time.sleep(0.5)
                threading.Thread(target=sample, daemon=True).start()

            cpu_before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
            run = drive_command(audio, args, steps, env, pause_before=0.8, timeout=len(chosen) * 60 + 120, watch=watch,
                                on_start=watch_memory)
            cpu_after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - started
            if player is not None:
                player.terminate()
                player.wait()
            out[name] = live_figures(run, home, chosen, prompts)
            f = out[name]
            f["peak_mb"] = round(peak[0], 1)
            f["cpu_per_second"] = round(((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)) / wall, 3)
            log(f"{name:13} live{'' if final_model == 'same' else ' (final ' + final_model + ')'}   {f['wer'] * 100:5.1f} %   missing {f['missing']}/{len(chosen)}, "
                f"split or cut {f['split']}, end of answer median {f['end_median']:.2f} s / worst {f['end_worst']:.2f} s, "
                f"CPU {f['cpu_per_second']:.2f} s per s, peak {f['peak_mb']:.0f} MB")
    return out


def live_figures(run, home: Path, chosen, prompts) -> dict:
    os.environ["COMPANION_HOME"] = str(home)
    from companion.store.database import Store

    with Store.open() as store:
        entries = store.list_entries(kind="reflection")
    by_prompt: dict[str, list[str]] = {}
    for e in entries:
        by_prompt.setdefault(e["prompt"], []).append(e["text"] or "")
    pairs, missing, split, inventions = [], 0, 0, []
    for (cid, _, text), prompt in zip(chosen, prompts):
        texts = by_prompt.get(prompt, [])
        if not texts:
            missing += 1
        split += max(0, len(texts) - 1)
        hyp = " ".join(texts)
        pairs.append((text, hyp))
        found = invented(text, hyp, prompt)
        inventions += found
        if found:
            log(f"    invented {found}: said {text!r}, stored {hyp!r}")
    # when each answer was closed: the next question (or the closing) shown; before the clip ended = cut
    closed = [run.marks.get(f"({i + 2}/{len(chosen)})", [None])[0] for i in range(len(chosen) - 1)]
    closed.append(run.marks.get(CLOSING, [None])[0])
    ends = [c - end for (_, end), c in zip(run.played, closed) if c is not None]
    cut = sum(1 for e in ends if e < 0)
    return {"wer": wer_of(pairs), "missing": missing, "split": split + cut, "answers": len(chosen),
            "invented": inventions, "returncode": run.returncode,
            "end_median": float(np.median(ends)) if ends else float("nan"),
            "end_worst": float(max(ends)) if ends else float("nan")}


def noise_alone(minutes: float, workdir: Path) -> dict:
    from companion.harness.drive import drive_command
    from companion.harness.virtual_audio import VirtualAudio

    out = {}
    with VirtualAudio(workdir / "noise-audio") as audio:
        for kind in ("fan", "babble", "music"):
            home = workdir / f"alone-{kind}"
            home.mkdir()
            env = dict(os.environ, **audio.env, COMPANION_HOME=str(home))
            noise_path = workdir / f"alone-{kind}.wav"
            sf.write(str(noise_path), scaled_noise(kind, minutes * 60 + 30, 10.0), 16000, subtype="PCM_16")
            player = audio.play_background(noise_path)
            seconds = minutes * 60
            run = drive_command(audio, ["reflect", "--prompt", "What felt important today?", "--wait", f"{seconds:g}",
                                        "--silence", str(SILENCE), "--no-crisis-note"], [], env, timeout=seconds + 180)
            player.terminate()
            player.wait()
            os.environ["COMPANION_HOME"] = str(home)
            from companion.store.database import Store

            with Store.open() as store:
                words = sum(len(normalize_words(e["text"] or "")) for e in store.list_entries())
            out[kind] = {"minutes": minutes, "words_stored": words, "returncode": run.returncode}
            log(f"noise alone: {kind:7} {minutes:g} min -> {words} words stored")
    return out


def long_answers(clips, conditions, pauses: list[float]) -> dict:
    """Answers of three clips with pauses: where the reflection ends them, beside its detector alone
    and the plain detector."""
    from companion.conversation.answer import ANSWER_VOICE, quiet_after_voice
    from companion.events import AudioChunk, Transcript
    from companion.speech import models
    from companion.speech.silero import DetectorConfig, VoiceDetector
    from companion.speech.whisper_base import whisper_base

    engine = models.load(models.embedded_model(), whisper_base())

    def closed(audio: np.ndarray, config, with_words: bool) -> float | None:
        detector, words = VoiceDetector(config), []
        recognizer = engine.recognizer(context="What felt important today?", final_within=SILENCE) if with_words else None
        for i in range(0, len(audio), 800):
            chunk = audio[i : i + 800]
            detector.accept(chunk)
            for event in recognizer.accept(AudioChunk(chunk, i / 16000)) if recognizer else []:
                if isinstance(event, Transcript):
                    words.extend(event.words)
            if detector.last_voice_time is not None and quiet_after_voice(detector.now, detector.last_voice_time, words) >= SILENCE:
                return detector.now
        return None

    methods = {"answer": (ANSWER_VOICE, True), "detector": (ANSWER_VOICE, False), "plain": (DetectorConfig(), False)}
    groups = [clips[i : i + 3] for i in range(0, len(clips) - 2, 3)]
    out: dict = {}
    for name, kind, snr in conditions:
        for pause in pauses:
            key = f"{name}, pauses {pause:g} s"
            figures = {m: {"answers": len(groups), "closed_early": 0, "never_closed": 0, "ends": []} for m in methods}
            for g, group in enumerate(groups):
                parts, at, end = [np.zeros(int(1.5 * 16000), np.float32)], 1.5, 0.0
                for j, (_, samples, _) in enumerate(group):
                    end = at + rooms.voice_span(samples)[1]
                    parts.append(samples)
                    at += len(samples) / 16000
                    if j < len(group) - 1:
                        parts.append(np.zeros(int(pause * 16000), np.float32))
                        at += pause
                parts.append(np.zeros(8 * 16000, np.float32))
                audio = np.concatenate(parts)
                if kind:
                    room = scaled_noise(kind, len(audio) / 16000 + 20, snr)
                    start = (g * 7919) % (20 * 16000)
                    audio = audio + room[start : start + len(audio)]
                for method, (config, with_words) in methods.items():
                    f, ended = figures[method], closed(audio, config, with_words)
                    if ended is None:
                        f["never_closed"] += 1
                    elif ended < end:
                        f["closed_early"] += 1
                    else:
                        f["ends"].append(round(ended - end, 2))
            for f in figures.values():
                ends = f.pop("ends")
                f["end_worst"] = max(ends) if ends else None
            out[key] = figures
            log(f"long answers: {key:28} closed early {figures['answer']['closed_early']}/{len(groups)} "
                f"(detector alone {figures['detector']['closed_early']}, plain {figures['plain']['closed_early']}), "
                f"end worst {figures['answer']['end_worst']} s")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="JSON on stdout (the table on stderr)")
    parser.add_argument("--limit", type=int, help="only the first N clips")
    parser.add_argument("--live", type=int, default=12, help="clips per condition through the live path (0: none)")
    parser.add_argument("--live-final", default=",".join(LIVE_RUNS),
                        help=f"the final models the live path is run with, comma-separated ({', '.join(LIVE_RUNS)})")
    parser.add_argument("--no-files", action="store_true", help="skip the whole-file methods (import, plain)")
    parser.add_argument("--noise-minutes", type=float, default=5.0, help="minutes of each noise alone (0: none)")
    parser.add_argument("--pauses", default="1.2,1.6", help="pauses inside the long answers, seconds, comma-separated (empty: none)")
    args = parser.parse_args(argv)
    finals = [f.strip() for f in args.live_final.split(",") if f.strip()]
    if unknown := [f for f in finals if f not in LIVE_RUNS]:
        parser.error(f"--live-final: unknown {', '.join(unknown)} (known: {', '.join(LIVE_RUNS)})")
    clips = corpus(args.limit)
    speakers = 1 + any(not cid.isdigit() for cid, _, _ in clips)
    log(f"{len(clips)} clips ({sum(len(s) for _, s, _ in clips) / 16000:.0f} s of speech, {speakers} speaker(s))")
    result = {"clips": len(clips), "speakers": speakers,
              "seconds": round(sum(len(s) for _, s, _ in clips) / 16000, 1)}
    pauses = [float(p) for p in args.pauses.split(",") if p.strip()]
    if pauses:
        result["long_answers"] = long_answers(clips, CONDITIONS, pauses)
    result["whole_files"] = {} if args.no_files else whole_files(clips, CONDITIONS)
    with tempfile.TemporaryDirectory() as tmp:
        for final_model in finals if args.live else []:
            result[LIVE_RUNS[final_model][0]] = live(clips, CONDITIONS, args.live, Path(tmp), final_model)
        if args.noise_minutes:
            result["noise_alone"] = noise_alone(args.noise_minutes, Path(tmp))
    result["rows"] = rows(result)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


def rows(result: dict) -> list[dict]:
    """The figures against their goals, for docs/benchmarks.md."""
    out = []
    lives = [(key, label) for key, label in LIVE_RUNS.values() if key in result]
    for name, _, _ in CONDITIONS:
        goal = GOALS[name]
        w = result["whole_files"].get(name)
        if w and "base" in w:
            out.append({"measure": f"WER, {name}", "condition": f"import, whisper-base (the default; {result['clips']} clips)",
                        "result": f"{w['base']['wer'] * 100:.1f} % (plain faster-whisper base {w['plain_base']['wer'] * 100:.1f} %; RTF {w['base']['rtf']:.2f})",
                        "goal": f"≤ {goal * 100:.0f} %, and ≤ plain",
                        "met": w["base"]["wer"] <= goal and w["base"]["wer"] <= w["plain_base"]["wer"] + 1e-9})
        if w:
            out.append({"measure": f"WER, {name}", "condition": f"import, final_model = \"same\" (tiny.en alone; {result['clips']} clips)",
                        "result": f"{w['import']['wer'] * 100:.1f} % (plain faster-whisper {w['plain']['wer'] * 100:.1f} %; RTF {w['import']['rtf']:.2f})",
                        "goal": f"≤ {goal * 100:.0f} %, and ≤ plain",
                        "met": w["import"]["wer"] <= goal and w["import"]["wer"] <= w["plain"]["wer"] + 1e-9})
        for key, label in lives:
            f = result[key][name]
            out.append({"measure": f"WER, {name}", "condition": f"{label} ({f['answers']} answers, real time)",
                        "result": f"{f['wer'] * 100:.1f} %", "goal": f"≤ {goal * 100:.0f} %", "met": f["wer"] <= goal})
            out.append({"measure": f"Answers missing / split or cut, {name}", "condition": label,
                        "result": f"{f['missing']} / {f['split']}", "goal": "0 / 0", "met": f["missing"] == 0 and f["split"] == 0})
            out.append({"measure": f"End of answer detected, {name}", "condition": f"{label}, --silence {SILENCE:g}",
                        "result": f"median {f['end_median']:.2f} s, worst {f['end_worst']:.2f} s",
                        "goal": f"≤ {SILENCE + 1:g} s", "met": f["end_worst"] <= SILENCE + 1})
    for key, label in lives:
        cpu = max(f["cpu_per_second"] for f in result[key].values())
        peak = max(f["peak_mb"] for f in result[key].values())
        out.append({"measure": "Real-time factor, live path", "condition": f"CPU seconds of `companion reflect` per second, worst condition ({label})",
                    "result": f"{cpu:.2f}", "goal": "≤ 0.5", "met": cpu <= 0.5})
        out.append({"measure": "Peak memory, live path", "condition": f"`companion reflect` (VmHWM), worst condition ({label})",
                    "result": f"{peak:.0f} MB", "goal": "≤ 500 MB", "met": peak <= 500})
    for key, figures in (result.get("long_answers") or {}).items():
        f, alone, plain = figures["answer"], figures["detector"], figures["plain"]
        worst = "never closed" if f["end_worst"] is None else f"end worst {f['end_worst']:.2f} s"
        out.append({"measure": f"Long answers closed while still speaking, {key}",
                    "condition": f"three clips, the answer's voice detector and the recognizer's words, --silence {SILENCE:g}",
                    "result": f"{f['closed_early']} of {f['answers']}, {worst}; never closed {f['never_closed']} "
                              f"(the detector alone: {alone['closed_early']} closed early, end worst {alone['end_worst']} s; "
                              f"plain detector: {plain['closed_early']}, {plain['end_worst']} s)",
                    "goal": f"0, end ≤ {SILENCE + 1:g} s",
                    "met": f["closed_early"] == 0 and f["never_closed"] == 0 and f["end_worst"] is not None
                    and f["end_worst"] <= SILENCE + 1})
    for kind, f in (result.get("noise_alone") or {}).items():
        out.append({"measure": f"Words stored from {kind} alone", "condition": f"{f['minutes']:g} min, live reflection",
                    "result": str(f["words_stored"]), "goal": "0", "met": f["words_stored"] == 0})
    inventions = [p for n in result["whole_files"].values() for p in n["import"].get("invented", [])]
    for key, _ in lives:
        inventions += [p for n in result[key].values() for p in n["invented"]]
    out.append({"measure": "Invented phrases", "condition": "every transcript above",
                "result": str(len(inventions)) + (f" ({', '.join(sorted(set(inventions)))})" if inventions else ""),
                "goal": "0", "met": not inventions})
    return out


if __name__ == "__main__":
    sys.exit(main())
