"""Voice-activity detection that tells speech from noise: Silero VAD, the model faster-whisper ships
(`faster_whisper/assets/silero_vad_v6.onnx`), run frame by frame with onnxruntime, its state carried
from chunk to chunk of one stream.

The model takes `input[N, 576]` (64 samples of context, then a 512-sample frame at 16 kHz) and the
LSTM state `h`, `c` `[1, 1, 128]`; the N rows are steps in time, so one call may take every frame a
chunk completes. `VoiceDetector` turns the probabilities into utterances with hysteresis (speech
begins at `threshold`, goes on while above `neg_threshold`) and has the interface of
`companion.speech.vad.EnergyVad`, so the recognizers and the answer recorder take either.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.errors import ModelError
from companion.speech.vad import EnergyVad, VoiceSegments

SAMPLE_RATE = 16000
FRAME = 512  # 32 ms: the frame the model is made for
CONTEXT = 64  # samples of the frame before, given with each frame
FRAME_SECONDS = FRAME / SAMPLE_RATE
INPUT_NAMES = ("input", "h", "c")
OUTPUT_NAMES = ("speech_probs", "hn", "cn")


def model_path() -> Path:
    """The Silero model inside the installed faster-whisper."""
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroModel:
    """One ONNX session for the process (thread-safe to run; each stream keeps its own state)."""

    _shared: SileroModel | None = None
    _lock = threading.Lock()

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        path = path or model_path()
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                                        sess_options=options)
        except Exception as e:
            raise ModelError(f"the voice-activity model {path} could not be loaded ({e})",
                             "reinstall faster-whisper (scripts/setup.sh does)") from None
        names = tuple(i.name for i in self.session.get_inputs())
        if names != INPUT_NAMES:
            raise ModelError(f"the voice-activity model {path} takes {names}, not {INPUT_NAMES}",
                             "this faster-whisper's Silero model is not the one Companion knows; "
                             "install the faster-whisper version in pyproject.toml")

    @classmethod
    def shared(cls) -> SileroModel:
        with cls._lock:
            if cls._shared is None:
                cls._shared = SileroModel()
            return cls._shared


class SileroStream:
    """The speech probability of each 32 ms frame of one stream of 16 kHz audio."""

    def __init__(self, model: SileroModel | None = None) -> None:
        self.model = model or SileroModel.shared()
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)

    def accept(self, samples: np.ndarray) -> np.ndarray:
        """The probabilities of the frames `samples` completes (the rest waits for the next chunk)."""
        buf = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        n = len(buf) // FRAME
        self._pending = buf[n * FRAME :]
        if n == 0:
            return np.zeros(0, np.float32)
        frames = buf[: n * FRAME].reshape(n, FRAME)
        context = np.concatenate([self._context[None, :], frames[:-1, -CONTEXT:]], axis=0)
        rows = np.concatenate([context, frames], axis=1)
        probs, self._h, self._c = self.model.session.run(None, {"input": rows, "h": self._h, "c": self._c})
        self._context = frames[-1, -CONTEXT:].copy()
        return np.asarray(probs, np.float32).reshape(-1)


@dataclass
class DetectorConfig:
    threshold: float = 0.5  # a frame this likely to be speech begins (or is) voice
    neg_threshold: float = 0.35  # once speaking, voice goes on while the probability stays above this
    sound_threshold: float = 0.15  # a frame above this is a sound that may be the voice coming back
    start_frames: int = 2  # 64 ms of voice opens a segment
    min_level_db: float = -60.0  # quieter than this is never voice, whatever the model says
    margin_db: float = 6.0  # ...nor what is not this far above the room (other voices in the next room)
    floor_window: int = 156  # frames (5 s) over which the level of the room is estimated
    floor_percentile: float = 50.0  # the room's usual level (a fan's, the next room's voices)
    floor_rise_db_per_s: float = 2.0  # how fast the room's level may rise (a long answer cannot lift it)
    learn_seconds: float = 2.0  # the room's level is learnt this long before a voice can hold it still
    going_margin_db: float | None = None  # if set: a voice goes on, unbroken, at this margin above the room
    going_seconds: float = 0.5  # ...for this long after its last frame clearly (`margin_db`) above it


class VoiceDetector(VoiceSegments):
    """Silero speech probabilities with hysteresis, with the interface of `EnergyVad`: feed 16 kHz
    samples; ask whether speech is active, when voice was last heard and how loud the room is."""

    frame_seconds = FRAME_SECONDS

    def __init__(self, config: DetectorConfig | None = None, model: SileroModel | None = None) -> None:
        self.config = config or DetectorConfig()
        self._learn_frames = round(self.config.learn_seconds / FRAME_SECONDS)
        self._stream = SileroStream(model)
        self._levels: collections.deque[float] = collections.deque(maxlen=self.config.floor_window)
        self._pending = np.zeros(0, np.float32)
        self._voiced_run = 0
        self.frames = 0
        self.noise_db = -120.0
        self.in_speech = False
        self.last_voice_time: float | None = None
        self.last_sound_time: float | None = None
        self.speech_started_at: float | None = None
        self._clear_voice_time: float | None = None  # the last voice frame above the room by `margin_db`
        self.probabilities: list[float] = []  # every frame's, for measurement (cleared by the caller)
        self.keep_probabilities = False

    def accept(self, samples: np.ndarray) -> None:
        samples = samples.astype(np.float32, copy=False)
        buf = np.concatenate([self._pending, samples])
        n = len(buf) // FRAME
        self._pending = buf[n * FRAME :]
        probs = self._stream.accept(samples)
        c = self.config
        for i, prob in enumerate(probs):  # one per frame of `buf`: the stream buffers the same samples
            level = EnergyVad.level_db(buf[i * FRAME : (i + 1) * FRAME])
            # the room's level, held still while the person speaks; learnt from whatever is heard at first
            # (held from a guess made in a quiet moment, other voices would count as voice for good)
            if self.frames < self._learn_frames or not (self.in_speech and self.silence_for() < 0.5):
                self._update_floor(level)
            self.frames += 1
            now = self.frames * FRAME_SECONDS
            if self.keep_probabilities:
                self.probabilities.append(float(prob))
            clear = level > max(c.min_level_db, self.noise_db + c.margin_db)
            # a voice's softer frames go on with it, unbroken and near a clear one: other voices cannot carry it on
            going = (c.going_margin_db is not None and self._voiced_run > 0 and self._clear_voice_time is not None
                     and now - self._clear_voice_time <= c.going_seconds)
            loud_enough = clear or (going and level > max(c.min_level_db, self.noise_db + (c.going_margin_db or 0.0)))
            if loud_enough and prob >= c.sound_threshold:
                self.last_sound_time = now
            voiced = loud_enough and prob >= (c.neg_threshold if self.in_speech else c.threshold)
            if voiced:
                self._voiced_run += 1
                if self.in_speech or self._voiced_run >= c.start_frames:
                    if not self.in_speech:
                        self.speech_started_at = now - self._voiced_run * FRAME_SECONDS
                    self.in_speech = True
                    self.last_voice_time = now
                    if clear:
                        self._clear_voice_time = now
            else:
                self._voiced_run = 0

    def _update_floor(self, level: float) -> None:
        """The room's level follows the quiet part of the recent window: down at once, up slowly."""
        self._levels.append(level)
        target = float(np.percentile(self._levels, self.config.floor_percentile))
        if len(self._levels) <= 5 or target < self.noise_db:
            self.noise_db = target
        else:
            self.noise_db += min(target - self.noise_db, self.config.floor_rise_db_per_s * FRAME_SECONDS)
