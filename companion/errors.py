"""One error type for everything a person can cause or fix: a one-line message and a hint."""

from __future__ import annotations


class CompanionError(Exception):
    """An error shown to the person as one line plus a hint, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class DeviceError(CompanionError):
    exit_code = 3


class ModelError(CompanionError):
    exit_code = 4


class StorageError(CompanionError):
    exit_code = 5


class InputFileError(CompanionError):
    exit_code = 6


class PassphraseError(CompanionError):
    """The data is encrypted and the passphrase is missing or not the right one."""

    exit_code = 7


class Stopped(CompanionError):
    """The person stopped Companion (Ctrl-C); shown as a calm line of its own, not as an error."""

    exit_code = 130
