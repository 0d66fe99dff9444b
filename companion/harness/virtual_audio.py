"""A private PulseAudio server with a virtual microphone and a virtual speaker.

A little longer than 400 lines: one server's whole life (start, warm-up, play into the microphone,
record the speaker, loop back, stop) reads best in one place.

Used by the tests and by the demo main job on machines without a microphone.
Nothing here touches the user's own sound server: the server runs with its own
runtime dir, home dir and socket, and clients are pointed at it through the
environment (``PULSE_SERVER``), never through global configuration.

Layout (all names fixed):

* ``companion_mic``      a null sink; its monitor ``companion_mic.monitor`` is the
  default *source*, so whatever is played into ``companion_mic`` is what any
  program "hears" on the default input.
* ``companion_speaker``  a null sink and the default *sink*; record its monitor
  (``companion_speaker.monitor``) to capture what programs "say".

PortAudio / sounddevice reach it through ALSA's ``pulse`` / ``default`` devices
(package ``libasound2-plugins``), which honour ``PULSE_SERVER``.

Typical use::

    with VirtualAudio(tmpdir) as va:
        va.apply_to_environ()          # before sounddevice is imported, see there
        rec = va.record_speaker(tmpdir / "out.wav")
        va.play_into_mic(Path("question.wav"))
        ...
        wav = rec.stop()
"""

from __future__ import annotations

import atexit
import ctypes
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
import weakref
from pathlib import Path

from companion.harness.recording import SpeakerRecording, has_real_input_device  # noqa: F401 (part of this API)

MIC_SINK = "companion_mic"
MIC_SOURCE = "companion_mic.monitor"
SPEAKER_SINK = "companion_speaker"
SPEAKER_MONITOR = "companion_speaker.monitor"
_VOID_SINK = "companion_void"

_REQUIRED_TOOLS = ("pulseaudio", "pactl", "paplay", "parec")


_LIVE: "weakref.WeakSet[VirtualAudio]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for va in list(_LIVE):
        try:
            va.stop()
        except Exception:
            pass


try:  # resolved here, not in the forked child (no dlopen between fork and exec)
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not glibc/Linux
    _prctl = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _missing_tools() -> list[str]:
    return [t for t in _REQUIRED_TOOLS if shutil.which(t) is None]


class VirtualAudio:
    """A private PulseAudio server: a virtual microphone and a virtual speaker."""

    def __init__(self, workdir: Path, rate: int = 48000):
        self.workdir = Path(workdir).resolve()
        self.rate = int(rate)
        # unix socket paths are limited to ~108 bytes; fall back to a short dir
        self._short_dir: Path | None = None
        self.socket = self.workdir / "native"
        if len(os.fsencode(self.socket)) > 100:
            self._short_dir = Path(tempfile.mkdtemp(prefix="cva-", dir="/tmp"))
            self.socket = self._short_dir / "native"
        self.config = self.workdir / "server.pa"
        self.client_config = self.workdir / "client.conf"
        self.log = self.workdir / "pulseaudio.log"
        self.runtime_dir = self.workdir / "rt"
        self.home_dir = self.workdir / "home"
        self._proc: subprocess.Popen | None = None
        self.player: subprocess.Popen | None = None  # last play_into_mic(wait=False)
        self._loopback_modules: list[str] = []
        self._recordings: list[SpeakerRecording] = []

    # ---- environment -------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """Variables a client process needs; merge into a subprocess env."""
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            # a client config that forbids autospawning some other daemon
            "PULSE_CLIENTCONFIG": str(self.client_config),
        }

    def apply_to_environ(self) -> None:
        """Point PortAudio/sounddevice in THIS process at the private server.

        PortAudio reads the ALSA/Pulse configuration when it initialises, which
        ``sounddevice`` does at import time. Call this before importing
        sounddevice (or anything that imports it). If sounddevice is already
        imported, PortAudio is re-initialised here (best effort, private
        sounddevice API); no stream may be open at that moment.
        """
        os.environ.update(self.env)
        sd = sys.modules.get("sounddevice")
        if sd is not None:
            try:
                sd._terminate()
                sd._initialize()
            except Exception as e:  # pragma: no cover - depends on sounddevice internals
                raise RuntimeError(
                    "sounddevice was imported before VirtualAudio.apply_to_environ() and "
                    f"PortAudio could not be re-initialised: {e}"
                ) from e

    def _server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        env.update(
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            HOME=str(self.home_dir),
        )
        env.pop("XDG_CONFIG_HOME", None)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        return env

    def _client_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        return env

    # ---- server lifecycle --------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "VirtualAudio":
        if self.running:
            return self
        missing = _missing_tools()
        if missing:
            raise RuntimeError(
                f"missing {', '.join(missing)}: install pulseaudio and pulseaudio-utils "
                "(run scripts/setup.sh --test or scripts/test.sh)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.runtime_dir, 0o700)
        self.home_dir.mkdir(exist_ok=True)
        self.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.socket.exists() or self.socket.is_symlink():
            self.socket.unlink()
        r = self.rate
        self.config.write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            f"load-module module-null-sink sink_name={MIC_SINK} "
            f"sink_properties=device.description=CompanionMic rate={r}\n"
            f"load-module module-null-sink sink_name={SPEAKER_SINK} "
            f"sink_properties=device.description=CompanionSpeaker rate={r}\n"
            # Keep-alive: a null sink nobody asks for low latency renders 2 s
            # ahead, so a new stream is heard up to ~2 s late and paplay's drain
            # waits as long. A permanent low-latency reader on each monitor keeps
            # both sinks near real time, like a sound card; what it reads goes to
            # a third, unused sink. 20 ms costs ~5 % of a CPU; at >= 30 ms the
            # sinks pull so far ahead that PortAudio (ALSA pulse plugin) thinks
            # audio was played that is then dropped when the stream closes.
            f"load-module module-null-sink sink_name={_VOID_SINK} "
            f"sink_properties=device.description=CompanionVoid rate={r}\n"
            f"load-module module-loopback source={MIC_SOURCE} sink={_VOID_SINK} "
            "latency_msec=20 source_dont_move=1 sink_dont_move=1\n"
            f"load-module module-loopback source={SPEAKER_MONITOR} sink={_VOID_SINK} "
            "latency_msec=20 source_dont_move=1 sink_dont_move=1\n"
            f"set-default-source {MIC_SOURCE}\n"
            f"set-default-sink {SPEAKER_SINK}\n"
        )
        self.client_config.write_text("autospawn = no\n")
        cmd = [
            "pulseaudio",
            "-n",
            "-F", str(self.config),
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--disallow-exit",
            f"--log-target=file:{self.log}",
        ]
        self._proc = subprocess.Popen(
            cmd,
            env=self._server_env(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal is ours to forward
            # If we die (even by SIGKILL) the server follows. PDEATHSIG fires when
            # the *thread* that forked exits, so only use it from the main thread.
            preexec_fn=_die_with_parent
            if threading.current_thread() is threading.main_thread()
            else None,
        )
        _LIVE.add(self)
        deadline = time.monotonic() + 10.0
        last = ""
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self.socket.exists():
                res = subprocess.run(
                    ["pactl", "info"],
                    env=self._client_env(),
                    capture_output=True,
                    text=True,
                    timeout=5,
                )
                if res.returncode == 0 and f"Default Sink: {SPEAKER_SINK}" in res.stdout:
                    self._warm_up()
                    return self
                last = (res.stderr or res.stdout).strip()
            time.sleep(0.05)
        code = self._proc.poll()
        self.stop()
        log = self._log_tail()
        why = f"exited with code {code}" if code is not None else "did not answer `pactl info` within 10 s"
        raise RuntimeError(
            f"private PulseAudio server {why}"
            + (f"; pactl said: {last}" if last else "")
            + (f"\n--- {self.log} ---\n{log}" if log else "")
        )

    def _warm_up(self) -> None:
        """Play 50 ms of silence into both sinks.

        The very first stream on a fresh server is heard ~0.5 s late; after one
        short stream, playback starts within a few ms of the stream connecting.
        """
        silence = self.workdir / "silence.wav"
        with wave.open(str(silence), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(b"\0\0" * 800)
        for sink in (MIC_SINK, SPEAKER_SINK):
            subprocess.run(
                ["paplay", "-d", sink, str(silence)],
                env=self._client_env(),
                capture_output=True,
                timeout=10,
            )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop recordings/players we started, then the server (terminate, wait, kill)."""
        for rec in self._recordings:
            try:
                rec.stop()
            except Exception:
                pass
        self._recordings.clear()
        if self.player is not None and self.player.poll() is None:
            self.player.terminate()
            try:
                self.player.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.player.kill()
                self.player.wait()
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._loopback_modules.clear()
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)

    def __enter__(self) -> "VirtualAudio":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave a server behind
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()

    def _require_running(self) -> None:
        if not self.running:
            raise RuntimeError("VirtualAudio is not running; call start() first")

    # ---- audio in / out ----------------------------------------------------

    def play_into_mic(self, wav: Path, wait: bool = True) -> tuple[float, float]:
        """Play a sound file into the virtual microphone (``paplay -d companion_mic``).

        Returns ``(start, end)`` as ``time.monotonic()`` values. With
        ``wait=False`` returns ``(start, nan)`` immediately; the player process is
        kept on ``self.player`` (use :meth:`join_player`).
        """
        self._require_running()
        wav = Path(wav)
        if not wav.is_file():
            raise FileNotFoundError(wav)
        if self.player is not None and self.player.poll() is None:
            self.join_player()
        start = time.monotonic()
        self.player = subprocess.Popen(
            ["paplay", "-d", MIC_SINK, str(wav)],
            env=self._client_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait:
            return start, math.nan
        return start, self.join_player()

    def play_background(self, wav: Path) -> subprocess.Popen:
        """Play a sound file into the virtual microphone beside anything else played into it (a
        room's noise under the person's words); the caller ends it with `.terminate()`."""
        self._require_running()
        return subprocess.Popen(["paplay", "-d", MIC_SINK, str(wav)], env=self._client_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def join_player(self, timeout: float | None = None) -> float:
        """Wait for the last player; return ``time.monotonic()`` when it finished."""
        p = self.player
        if p is None:
            return time.monotonic()
        _, err = p.communicate(timeout=timeout)
        end = time.monotonic()
        if p.returncode != 0:
            raise RuntimeError(
                f"paplay failed with code {p.returncode}: {err.decode(errors='replace').strip()}"
            )
        return end

    def record_speaker(self, out: Path, rate: int = 16000) -> SpeakerRecording:
        """Start recording what is played to the virtual speaker (16 kHz mono WAV).

        Returns once audio is flowing, so anything played after this call is
        captured. Call ``.stop()`` on the result to finalise ``out``.
        """
        self._require_running()
        t_launch = time.monotonic()
        proc = subprocess.Popen(
            [
                "parec",
                "--raw",
                "-d", SPEAKER_MONITOR,
                f"--rate={rate}",
                "--channels=1",
                "--format=s16le",
                "--latency-msec=20",
            ],
            env=self._client_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        rec = SpeakerRecording(proc, Path(out), rate, t_launch)
        self._recordings = [r for r in self._recordings if not r.stopped]
        self._recordings.append(rec)
        rec.wait_started()
        return rec

    def loopback_speaker_to_mic(self, latency_msec: int = 20) -> str:
        """Route the speaker into the microphone (acoustic echo); returns the module id."""
        self._require_running()
        res = subprocess.run(
            [
                "pactl", "load-module", "module-loopback",
                f"source={SPEAKER_MONITOR}", f"sink={MIC_SINK}",
                f"latency_msec={latency_msec}",
            ],
            env=self._client_env(),
            capture_output=True,
            text=True,
            timeout=10,
        )
        if res.returncode != 0:
            raise RuntimeError(f"pactl load-module module-loopback failed: {res.stderr.strip()}")
        module = res.stdout.strip()
        self._loopback_modules.append(module)
        return module

    def unload_loopback(self) -> None:
        """Undo :meth:`loopback_speaker_to_mic`."""
        for module in self._loopback_modules:
            subprocess.run(
                ["pactl", "unload-module", module],
                env=self._client_env(), capture_output=True, timeout=10,
            )
        self._loopback_modules.clear()

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` against this server and return its stdout (for debugging/tests)."""
        self._require_running()
        res = subprocess.run(
            ["pactl", *args], env=self._client_env(), capture_output=True, text=True, timeout=10
        )
        if res.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {res.stderr.strip()}")
        return res.stdout
