"""The login service for `companion listen`: a systemd user unit, its text, written and removed.

The unit runs the listener with the very Python that installed it (`python -m companion listen`),
so it keeps working whether or not the `companion` script is on the service's PATH, and carries
COMPANION_HOME when one is set, so the service keeps the same data folder as the terminal.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from companion.errors import CompanionError

UNIT_NAME = "companion-listen.service"
ENABLE_HINT = f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
DISABLE_HINT = f"systemctl --user disable --now {UNIT_NAME}"
CARRIED_ENVIRONMENT = ("COMPANION_HOME",)
"""Settings of the installing shell that the service keeps (where Companion's data lives)."""
_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def listen_command() -> list[str]:
    """The command that runs the listener with this installation of Companion."""
    return [sys.executable, "-m", "companion", "listen"]


def unit_path() -> Path:
    """~/.config/systemd/user/companion-listen.service, honouring XDG_CONFIG_HOME."""
    config = os.environ.get("XDG_CONFIG_HOME") or ""
    base = Path(config).expanduser() if os.path.isabs(os.path.expanduser(config)) else Path.home() / ".config"
    return base / "systemd" / "user" / UNIT_NAME


def _quoted(word: str) -> str:
    """One word of a unit's command line or environment, as systemd reads it back unchanged."""
    if "\n" in word or "\r" in word or "\0" in word:
        raise CompanionError("a path for the service holds a line break", "install Companion in a folder without one")
    word = word.replace("%", "%%")
    if _PLAIN.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(executable: list[str], environment: Mapping[str, str] | None = None) -> str:
    """The unit file that runs `executable` (the listener's command line) at login."""
    if not executable:
        raise CompanionError("the service needs a command to run", "e.g. python -m companion listen")
    command = " ".join(_quoted(part).replace("$", "$$") for part in executable)
    settings = "".join(f"Environment={_quoted(f'{key}={value}')}\n" for key, value in sorted((environment or {}).items()))
    return (
        "[Unit]\n"
        "Description=Companion, waiting quietly for its name\n"
        "After=pipewire-pulse.service pulseaudio.service\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={command}\n"
        f"{settings}"
        "Environment=PYTHONUNBUFFERED=1\n"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def install(path: Path | None = None, executable: list[str] | None = None) -> Path:
    """Write the unit (0600; missing folders 0700), replacing an older one whole; its path."""
    path = path or unit_path()
    environment = {key: os.environ[key] for key in CARRIED_ENVIRONMENT if os.environ.get(key)}
    text = unit_text(executable or listen_command(), environment)
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    except OSError as e:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        raise CompanionError(f"cannot write the service file {path}: {e.strerror or e}",
                             "check that you can write to that folder") from None
    return path


def uninstall(path: Path | None = None) -> bool:
    """Remove the unit; whether there was one. (Stop it first: DISABLE_HINT.)"""
    path = path or unit_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as e:
        raise CompanionError(f"cannot remove the service file {path}: {e.strerror or e}",
                             "check that you can write to that folder") from None
    return True
