"""Shared fixtures: the private PulseAudio server and a throw-away COMPANION_HOME."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # so `import speech_fixtures` works everywhere
    sys.path.insert(0, str(TESTS_DIR))

from companion.harness.virtual_audio import VirtualAudio  # noqa: E402

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address, *args):
    """No test may reach the network: only loopback and local (unix) sockets are allowed."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not (host in ("localhost", "::1") or str(host).startswith("127.")):
            raise AssertionError(f"a test tried to connect to {address}: Companion must not use the network")
    return _real_connect(self, address, *args)


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Fail any outside connection from the test process (subprocesses are covered by the
    network namespace scripts/test.sh runs the suite in)."""
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(scope="session")
def virtual_audio(tmp_path_factory: pytest.TempPathFactory):
    """A running private PulseAudio server (virtual mic + speaker) for the session.

    PortAudio/sounddevice in this process is pointed at it (apply_to_environ).
    """
    missing = [t for t in ("pulseaudio", "pactl", "paplay", "parec") if shutil.which(t) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the audio tests need a private PulseAudio "
            "server. Run the tests with scripts/test.sh (it installs everything).",
            pytrace=False,
        )
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_CLIENTCONFIG")}
    va = VirtualAudio(tmp_path_factory.mktemp("virtual_audio"))
    try:
        va.start()
    except RuntimeError as e:
        pytest.fail(f"could not start the private PulseAudio server: {e}", pytrace=False)
    try:
        va.apply_to_environ()
        yield va
    finally:
        va.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def companion_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir, exported as COMPANION_HOME for this test."""
    home = tmp_path / "companion-home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("COMPANION_HOME", str(home))
    return home


@pytest.fixture
def companion_env(companion_home: Path, virtual_audio: VirtualAudio) -> dict[str, str]:
    """Environment for a companion subprocess: COMPANION_HOME + the virtual audio server."""
    env = dict(os.environ)
    env.update(virtual_audio.env)
    env["COMPANION_HOME"] = str(companion_home)
    return env
