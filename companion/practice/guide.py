"""A guided practice with the person's devices: choosing one by voice, fitting its length, and
running it with voice control, its run kept. Used by `companion ground` and by the listener."""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_PRACTICE = "allow-rest"
CHOOSE_SECONDS = 8.0  # how long to wait for a spoken choice before the short default
MIC_BLOCK = 0.02  # seconds of audio per microphone block: commands are noticed sooner
OUTPUT_LATENCY = 0.04  # seconds of sound queued in the device: "pause" silences within this much


def adjusted(practice, cycles: int | None, minutes: float | None, pace: float | None):
    from companion.practice import model, timing

    if pace:
        practice = model.with_pace(practice, pace)
    if cycles:
        practice = model.with_cycles(practice, cycles)
    if minutes:
        practice = timing.with_minutes(practice, minutes)
    return timing.with_spoken_length(practice)


def choose_by_voice(speaker, voice, mic, engine, found: dict, show: Callable[[str], None] = print):
    """Ask which practice; a name said (even while the list is being read) chooses it, and quiet
    chooses the short default."""
    import queue
    import time

    from companion.conversation.commands import CommandListener

    default = found.get(DEFAULT_PRACTICE) or next(iter(found.values()))
    if mic is None:
        return default
    names = [p for p in found.values() if p.spoken_names]
    question = ("Which practice would you like? You could say "
                + ", ".join(p.spoken_names[0] for p in names[:-1]) + f", or {names[-1].spoken_names[0]}. "
                + f"Or stay quiet, and we'll begin {default.title.lower()}.")
    show(question)
    samples, rate = voice.render(question)
    choices: queue.Queue = queue.Queue()
    words = {p.name: list(p.spoken_names) for p in names}
    chosen = default
    with CommandListener(mic, engine, words, choices.put):
        clip = speaker.play(samples, rate)
        begun, length = time.monotonic() + speaker.latency, len(samples) / rate
        deadline: float | None = None
        while True:
            if deadline is None and clip.done.is_set():
                deadline = time.monotonic() + speaker.latency + CHOOSE_SECONDS
            try:
                heard = choices.get(timeout=0.05)
            except queue.Empty:
                if deadline is not None and time.monotonic() > deadline:
                    break
                continue
            if not clip.done.is_set() and own_voice(question, words[heard.command], heard.heard_at - begun, length):
                continue  # Companion's own voice reading that name, heard back through the room
            speaker.silence()
            chosen = found[heard.command]
            break
    show(f"  {chosen.title}")
    return chosen


ECHO_WINDOW = 1.5  # seconds: a name heard this close to where Companion itself says it may be its own voice


def own_voice(question: str, phrases: list[str], heard_at: float, length: float) -> bool:
    """Whether a name heard `heard_at` seconds into a question `length` seconds long falls where the
    question itself says that name (estimated from where the name stands in its text)."""
    text = question.lower()
    for phrase in phrases:
        at = text.find(phrase.lower())
        while at >= 0:
            said_by = (at + len(phrase)) / len(text) * length
            if -0.3 <= heard_at - said_by <= ECHO_WINDOW:
                return True
            at = text.find(phrase.lower(), at + 1)
    return False


SPOKEN_HINT = "You can ask me to pause or to go slower or to stop whenever you like."
"""Said in one breath, with no pause around the command words, so that Companion's own voice heard
back through the room is never taken for a command."""
HINT_RUNS = 3  # the spoken hint begins a person's first few practices with voice control


def run_practice(store, practice, speaker, voice, mic, engine, commands, cues: str = "both", timing_log=None,
                 on_mic_failed: Callable[[Exception], None] | None = None):
    from dataclasses import replace

    from companion.conversation.commands import CommandListener
    from companion.practice.model import Say
    from companion.practice.records import RunRecord, count_runs, finish_run, start_run
    from companion.practice.runner import GuidedRun
    from companion.terminal import StatusLine

    spoken = ", ".join(phrases[0] for phrases in commands.values())
    hint = mic is not None and count_runs(store) < HINT_RUNS
    if hint:  # said, not only shown: someone with closed eyes hears it
        practice = replace(practice, steps=(Say(SPOKEN_HINT), *practice.steps))
    line = StatusLine()
    guide = GuidedRun(practice, speaker, voice, cues, say=line.say, timing_log=timing_log, status=line.status)

    def mic_failed(error: Exception) -> None:
        line.clear()
        if on_mic_failed:
            on_mic_failed(error)

    # Listening begins before the lines are rendered: a "stop" said while they are is acted on at the start.
    listener = CommandListener(mic, engine, commands, guide.commands.put, mic_failed, guide.note_decoded) if mic else None
    if listener:
        listener.start()
    try:
        guide.prepare()
        record = RunRecord(practice.name, practice.title, cues, engine.name if engine else None)
        run_id = start_run(store, record)
        if not mic:
            line.say(f"{practice.title}. Ctrl-C ends it gently.")
        else:
            line.say(f"{practice.title}." + ("" if hint else f" You can say {spoken} at any time."))
        result = guide.run()
    finally:
        line.clear()
        if listener:
            listener.stop()
    record.commands = result.commands
    finish_run(store, run_id, record, result.finished, result.duration)
    return result
