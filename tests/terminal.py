"""Running `companion` in a real pseudo-terminal, as a person at a terminal sees it: what it shows,
answered with typed lines when given prompts appear."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from dataclasses import dataclass

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Screen:
    output: str  # everything written to the terminal, escapes included
    returncode: int
    columns: int = 80
    rows: int = 24

    @property
    def text(self) -> str:
        """What was written, without terminal escapes or carriage returns."""
        return ESCAPES.sub("", self.output).replace("\r", "")

    def shown(self) -> list[str]:
        """The terminal's lines as a person sees them at the end (a terminal emulator, pyte, plays
        the output: lines redrawn in place show only as they were drawn last)."""
        import pyte

        screen = pyte.Screen(self.columns, self.rows)
        pyte.Stream(screen).feed(self.output.replace("\n", "\r\n") if "\r\n" not in self.output else self.output)
        return [line.rstrip() for line in screen.display]


def run_in_terminal(args: list[str], env: dict[str, str], answers: list[tuple[str, str]] = (), *,
                    columns: int = 80, rows: int = 24, timeout: float = 120.0,
                    interrupt_after: str | None = None, interrupt_delay: float = 0.0) -> Screen:
    """Run `companion ARGS` with its standard input, output and error on one pseudo-terminal of
    `columns` x `rows`. For each (shown, typed) answer: wait until `shown` appears, then type
    `typed` and Enter. `interrupt_after`: once that text appears (and `interrupt_delay` seconds),
    send Ctrl-C (SIGINT to the process group, as a terminal does)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        os.execvpe(sys.executable, [sys.executable, "-m", "companion", *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    interrupted = False
    status = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                data = b""
            if not data:
                break
            output += data
        shown = ESCAPES.sub("", output.decode("utf-8", "replace"))
        if pending and pending[0][0] in shown:
            os.write(fd, (pending.pop(0)[1] + "\n").encode())
        if interrupt_after and not interrupted and interrupt_after in shown:
            time.sleep(interrupt_delay)
            os.killpg(os.getpgid(pid), signal.SIGINT)
            interrupted = True
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = code
            break
    else:
        os.kill(pid, signal.SIGKILL)
    while True:  # what is left on the terminal
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        output += data
    if status is None:
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    return Screen(output.decode("utf-8", "replace"), code, columns, rows)
