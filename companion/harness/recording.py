"""What the tests and the demo record and ask of the machine: a recording of what programs play on the
private sound server's speaker (`SpeakerRecording`), and whether the machine has a real microphone."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
import wave
from pathlib import Path
from typing import IO


def has_real_input_device() -> bool:
    """True only if the machine has a real (ALSA) capture device.

    Reads ``/proc/asound/cards`` / ``/proc/asound/pcm`` (no subprocess, no sound
    server involved). A PCM line containing ``capture`` means a card can record.
    Machines with no sound hardware (CI, containers, VMs) have no such lines, or
    no ``/proc/asound`` at all, and get False. Falls back to ``arecord -l`` if
    ``/proc/asound/pcm`` is unreadable but cards exist.
    """
    cards = Path("/proc/asound/cards")
    try:
        text = cards.read_text()
    except OSError:
        return False
    if not text.strip() or "no soundcards" in text.lower():
        return False
    try:
        pcm = Path("/proc/asound/pcm").read_text()
    except OSError:
        pcm = None
    if pcm is not None:
        return any("capture" in line.lower() for line in pcm.splitlines())
    arecord = shutil.which("arecord")
    if arecord is None:
        return False
    try:
        out = subprocess.run(
            [arecord, "-l"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.startswith("card ") for line in out.splitlines())


class SpeakerRecording:
    """A running capture of ``companion_speaker.monitor`` (what programs play).

    ``parec --raw`` delivers 16-bit mono PCM, which is appended to the WAV file
    as it arrives (the header is patched on every write, so the file is valid
    even while recording); :meth:`stop` ends the capture and closes the file.

    ``started_at`` is the ``time.monotonic()`` instant that corresponds to the
    first sample of the file (estimated from the arrival time and length of the
    first chunk), so ``started_at + index / rate`` is the time of a sample.
    """

    def __init__(self, proc: subprocess.Popen, out: Path, rate: int, t_launch: float):
        self._proc = proc
        self.path = Path(out)
        self.rate = rate
        self.started_at: float = t_launch
        self._frames = 0
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._stopped = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wav = wave.open(str(self.path), "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self._wav.writeframes(b"")  # header now, so the file is valid from the start
        self._reader = threading.Thread(
            target=self._read, args=(proc.stdout,), name="parec-reader", daemon=True
        )
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        odd = b""
        while True:
            data = stream.read1(65536)
            if not data:
                break
            now = time.monotonic()
            data, odd = odd + data, b""
            if len(data) % 2:
                data, odd = data[:-1], data[-1:]
            with self._lock:
                if not self._first.is_set():
                    self.started_at = now - (len(data) // 2) / self.rate
                    self._first.set()
                self._wav.writeframes(data)
                self._frames += len(data) // 2

    def wait_started(self, timeout: float = 5.0) -> None:
        """Block until audio flows (the stream is connected); RuntimeError otherwise."""
        if not self._first.wait(timeout):
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
            self.stop()
            raise RuntimeError(
                f"parec produced no audio from the monitor it records within {timeout:.0f} s"
                + (f": {err}" if err else "")
            )

    @property
    def duration(self) -> float:
        """Seconds captured so far."""
        with self._lock:
            return self._frames / self.rate

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> Path:
        """Stop capturing, finalise the WAV file and return its path (idempotent)."""
        if self._stopped:
            return self.path
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
        with self._lock:
            self._wav.close()
            self._stopped = True
        return self.path

    def __enter__(self) -> "SpeakerRecording":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
