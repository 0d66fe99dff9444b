"""Installing vosk models: downloaded from the official site (the one network use), or from a local zip."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from companion.errors import ModelError
from companion.paths import ensure_private_dir, user_models_dir
from companion.speech.models import check_vosk_model

OFFICIAL_URL = "https://alphacephei.com/vosk/models/{name}.zip"
SUGGESTED = "vosk-model-small-en-us-0.15"


def download(name: str, dest: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Fetch NAME.zip from the official vosk model site into `dest`; ModelError when offline."""
    url = OFFICIAL_URL.format(name=name)
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while block := response.read(1 << 16):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
            if total and done != total:
                raise ModelError(f"the download of {name} was cut short ({done} of {total} bytes)", "try again")
    except urllib.error.HTTPError as e:
        raise ModelError(f"there is no model called {name} on the vosk site ({e.code})", f"check the name, e.g. {SUGGESTED}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ModelError(
            f"cannot download {name}: no connection ({reason})",
            f"on a connected machine get {name}.zip from {url}, then run `companion models install --from {name}.zip`",
        ) from None
    return dest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def install_zip(archive: Path, expected_sha256: str | None = None, models_dir: Path | None = None) -> Path:
    """Check a model zip (checksum if given, every member's CRC, the model's files) and unpack it."""
    if not archive.is_file():
        raise ModelError(f"{archive} does not exist", "give the path of the downloaded model .zip")
    if expected_sha256 and sha256_of(archive) != expected_sha256.lower():
        raise ModelError(f"{archive} does not match the expected SHA-256", "download it again")
    try:
        with zipfile.ZipFile(archive) as zf:
            broken = zf.testzip()
            if broken:
                raise ModelError(f"{archive} is damaged ({broken} fails its check)", "download it again")
            target_root = ensure_private_dir(models_dir or user_models_dir())
            with tempfile.TemporaryDirectory(dir=target_root) as tmp:
                zf.extractall(tmp)
                unpacked = list(Path(tmp).iterdir())
                top = unpacked[0] if len(unpacked) == 1 and unpacked[0].is_dir() else Path(tmp)
                check_vosk_model(top)
                name = top.name if top != Path(tmp) else archive.stem
                final = target_root / name
                if final.exists():
                    shutil.rmtree(final)
                shutil.move(str(top), final)
    except zipfile.BadZipFile:
        raise ModelError(f"{archive} is not a zip file", "download the model's .zip again") from None
    return final
