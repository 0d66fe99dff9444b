"""Nothing leaves the machine: the suite runs without a network, and data files are private."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest
from speech_fixtures import librivox_utterances


def test_the_network_is_unreachable_for_tests():
    with pytest.raises((AssertionError, OSError)):
        socket.create_connection(("1.1.1.1", 80), timeout=2)


@pytest.mark.skipif(not os.environ.get("COMPANION_TEST_NO_NETWORK"), reason="not run inside the network namespace")
def test_subprocesses_have_no_network_either():
    code = "import socket\ntry:\n socket.create_connection(('1.1.1.1', 80), timeout=2)\nexcept OSError:\n raise SystemExit(0)\nraise SystemExit(1)\n"
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0


def test_everything_in_the_data_dir_is_private(companion_home):
    wav, _ = librivox_utterances()[1]
    assert subprocess.run([sys.executable, "-m", "companion", "import", str(wav)], capture_output=True).returncode == 0
    assert stat.S_IMODE(companion_home.stat().st_mode) == 0o700
    found = 0
    for root, dirs, files in os.walk(companion_home):
        for name in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o700, name
        for name in files:
            found += 1
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o600, name
    assert found >= 2  # the database and the audio


def test_exports_and_backups_are_private_even_with_a_lax_umask(companion_home, tmp_path):
    def companion(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True,
                              preexec_fn=lambda: os.umask(0o022))  # a usual shell umask: files 0644
    wav, _ = librivox_utterances()[1]
    assert companion("import", str(wav)).returncode == 0
    assert companion("ripple", "--text", "A small ripple.").returncode == 0  # opens the store again: daily backup
    assert companion("backup").returncode == 0
    outputs = []
    for fmt, suffix, extra in (("markdown", "md", []), ("json", "json", []), ("html", "html", []),
                               ("srt", "srt", ["--id", "1"]), ("vtt", "vtt", ["--id", "1"])):
        out = tmp_path / f"export.{suffix}"
        result = companion("export", "--format", fmt, *extra, "-o", str(out))
        assert result.returncode == 0, result.stderr
        outputs.append(out)
    backups = sorted((companion_home / "backups").glob("*.db"))
    assert len(backups) == 2  # the automatic one and `companion backup`
    for path in [*outputs, *backups]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((companion_home / "backups").stat().st_mode) == 0o700
