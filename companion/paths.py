"""Where Companion keeps things: the data dir (private), the config file, the models dir."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import platformdirs

from companion.errors import StorageError

APP = "companion"
REPO_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def data_dir() -> Path:
    """`COMPANION_HOME` if set, else the XDG data dir (~/.local/share/companion)."""
    home = os.environ.get("COMPANION_HOME")
    return Path(home).expanduser() if home else Path(platformdirs.user_data_dir(APP))


def config_dir() -> Path:
    """`COMPANION_HOME` if set (one folder holds everything), else the XDG config dir."""
    home = os.environ.get("COMPANION_HOME")
    return Path(home).expanduser() if home else Path(platformdirs.user_config_dir(APP))


def config_file() -> Path:
    return config_dir() / "config.toml"


def database_path() -> Path:
    return data_dir() / "companion.db"


def audio_dir() -> Path:
    return data_dir() / "audio"


def user_models_dir() -> Path:
    return data_dir() / "models"


PAGE_NAME = "page.html"
VOICE_CACHE = Path("cache") / "voice"


def page_file() -> Path:
    """Where `companion page` writes the page unless told otherwise (a plain copy of what is kept)."""
    return data_dir() / PAGE_NAME


def voice_cache_dir() -> Path:
    """Companion's own phrases, rendered once (never the person's words)."""
    return data_dir() / VOICE_CACHE


def model_cache_dir() -> Path:
    """Models Companion makes from installed packages (nothing personal, made again when missing):
    the XDG cache dir (~/.cache/companion/models), shared by every data folder."""
    return Path(platformdirs.user_cache_dir(APP)) / "models"


class ReadOnlyFolder(StorageError):
    """The data folder is on a read-only filesystem: it can be read, not written."""


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by its owner only (0700)."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        if e.errno == errno.EROFS:
            raise ReadOnlyFolder(
                f"cannot write to the data directory {path}: it is on a read-only filesystem",
                "remount it read-write, or copy the folder somewhere writable and set COMPANION_HOME to the copy; "
                "nothing in it was changed",
            ) from None
        raise StorageError(
            f"cannot write to the data directory {path}: {e.strerror or e}",
            "set COMPANION_HOME to a folder you can write to",
        ) from None
    return path


def make_private(path: Path) -> None:
    """Make a file readable and writable by its owner only (0600)."""
    try:
        os.chmod(path, 0o600)
    except FileNotFoundError:
        pass
