"""The main job. With a microphone: the spoken reflection. Without one (CI, a server): the same
reflection end to end on real parts, through a private PulseAudio server whose virtual microphone
plays a sample spoken reflection; then what was stored is printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from companion.harness.virtual_audio import VirtualAudio, has_real_input_device

SAMPLE_ANSWERS = [
    "I felt heard when I talked about my sister. That felt important.",
    "There is still some tightness in my chest, and a little relief. Next.",
    "I want to notice when I hold my breath at work.",
]
HUMAN_RECORDING = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")


def companion(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-m", "companion", *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"companion {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def demo() -> None:
    work = Path(tempfile.mkdtemp(prefix="companion-demo-"))
    env = dict(os.environ, COMPANION_HOME=str(work / "data"))
    print("No microphone here, so Companion runs on a private virtual sound server:")
    print("a sample spoken reflection is played into its virtual microphone.\n")
    answers = []
    for i, text in enumerate(SAMPLE_ANSWERS, 1):
        path = work / f"answer-{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
        answers.append(path)
    from companion.harness.drive import drive_reflection

    with VirtualAudio(work / "pulse") as audio:
        env.update(audio.env)
        recording = audio.record_speaker(work / "speaker.wav")
        run = drive_reflection(audio, answers, ["--silence", "3"], env, echo=True)
        recording.stop()
        print(f"\n(Companion's voice on the virtual speaker: {recording.duration:.1f} s of audio recorded)")
    if run.returncode != 0:
        sys.exit(f"the reflection failed: {run.stderr.strip()}")
    if HUMAN_RECORDING.exists():
        print("\n$ companion import <a recorded voice memo>")
        print(companion("import", str(HUMAN_RECORDING), env=env))
    print("$ companion list")
    print(companion("list", env=env))
    print("$ companion export --format markdown")
    print(companion("export", "--format", "markdown", env=env))
    shutil.rmtree(work, ignore_errors=True)
    print("(The demo's data was in a temporary folder and has been removed.)")


def main() -> None:
    if has_real_input_device() and sys.stdin.isatty():
        os.execvp(sys.executable, [sys.executable, "-m", "companion", "reflect", *sys.argv[1:]])
    demo()


if __name__ == "__main__":
    main()
