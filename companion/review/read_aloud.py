"""The review read aloud, one item at a time, moving on by itself after a pause or at a spoken
"next", "back", "repeat", "play my voice" or "stop" (heard by companion.conversation.commands)."""

from __future__ import annotations

import queue
import threading

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.conversation.commands import CommandHeard, CommandListener
from companion.errors import CompanionError
from companion.review.digest import Item
from companion.review.replay import Replay
from companion.speech.base import SpeechEngine
from companion.store.database import Store
from companion.terminal import Terminal
from companion.voice.base import Voice

REVIEW_COMMANDS: dict[str, list[str]] = {
    "next": ["next", "next one", "go on"],
    "back": ["back", "go back", "previous"],
    "repeat": ["repeat", "again", "say that again"],
    "play": ["play my voice", "play my voice again", "my voice"],
    "stop": ["stop", "stop the review", "that's enough"],
}
HELP = 'You can say "next", "back", "repeat", "play my voice" or "stop" at any time.'
END = "That is everything for now. Take care until next time."
STOPPED = "Stopping here. Everything stays saved."


class Review:
    """Reads the review aloud, one item at a time, moving on after `pause` seconds or a spoken command."""

    def __init__(self, store: Store, engine: SpeechEngine, mic: Microphone, speaker: Speaker, voice: Voice,
                 ui: Terminal, pause: float = 6.0) -> None:
        self.store, self.engine, self.mic, self.speaker, self.voice = store, engine, mic, speaker, voice
        self.ui, self.pause = ui, pause
        self.commands: queue.Queue[str] = queue.Queue()
        self.replay = Replay(store, speaker, live=ui.live)
        self._spoken: dict[str, tuple] = {}  # what is said of the entries, rendered in memory only

    def _heard(self, heard: CommandHeard) -> None:
        self.speaker.silence()  # act at once, even mid-sentence
        self.commands.put(heard.command)

    def _say(self, text: str) -> str | None:
        """Speak `text`; returns a command if one interrupted it."""
        samples, rate = self._spoken.get(text) or self.voice.render(text)
        clip = self.speaker.play(samples, rate)
        while not clip.done.is_set():
            try:
                return self.commands.get(timeout=0.05)
            except queue.Empty:
                continue
        self.speaker.wait(clip)
        return None

    def _wait_for_command(self, seconds: float) -> str | None:
        try:
            return self.commands.get(timeout=seconds)
        except queue.Empty:
            return None

    def _play_voice(self, entry: dict | None) -> str | None:
        if entry is None or not entry.get("audio"):
            return self._say("There is no recording for this one.")
        stop = threading.Event()
        result: list[str] = []

        def watch() -> None:
            while not stop.is_set():
                try:
                    result.append(self.commands.get(timeout=0.05))
                    stop.set()
                except queue.Empty:
                    continue

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        self.ui.say("  (your voice)")
        try:
            self.replay.play(entry, stop=stop)
        except CompanionError as e:
            self.ui.say(f"  ({e.message})")
        finally:
            stop.set()
            watcher.join(timeout=1)
        return result[0] if result else None

    def run(self, items: list[Item]) -> bool:
        """Go through the items; returns True if the person said stop before the end."""
        for item in items:  # render up front, so nothing is rendered on the beat; the person's own
            self._spoken[item.spoken] = self.voice.render(item.spoken, keep=False)  # words are never kept
        self.voice.release()
        with CommandListener(self.mic, self.engine, REVIEW_COMMANDS, self._heard, self._lost_mic):
            self.ui.say(HELP)
            index = 0
            pending = self._say(HELP)  # a command said over the help counts for the first item
            while index < len(items):
                item = items[index]
                self.ui.say("")
                self.ui.say(item.shown if index == 0 else f"({index}/{len(items) - 1}) {item.shown}")
                command = pending or self._say(item.spoken) or self._wait_for_command(self.pause)
                pending = None
                while command in ("play", "repeat"):
                    if command == "play":
                        command = self._play_voice(item.entry) or self._wait_for_command(self.pause)
                    else:
                        command = self._say(item.spoken) or self._wait_for_command(self.pause)
                if command == "stop":
                    self.ui.say("")
                    self.ui.say(STOPPED)
                    self._say(STOPPED)
                    return True
                index = max(0, index - 1) if command == "back" else index + 1
            self.ui.say("")
            self.ui.say(END)
            self._say(END)
        return False

    def _lost_mic(self, error: Exception) -> None:
        self.ui.say(f"  (the microphone stopped: {error}; the review goes on by itself)")
