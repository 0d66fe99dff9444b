"""Finding audio devices by name or index, with clear errors when there are none."""

from __future__ import annotations

import ctypes
import ctypes.util

from companion.errors import DeviceError
from companion.native_libs import quiet_native_stderr

_ALSA_HANDLER = None


def _quiet_alsa() -> None:
    """alsa-lib prints recoverable xruns straight to stderr; PortAudio recovers them, so keep them quiet."""
    global _ALSA_HANDLER
    if _ALSA_HANDLER is not None:
        return
    try:
        asound = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
        handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
        _ALSA_HANDLER = handler_type(lambda *args: None)
        asound.snd_lib_error_set_handler(_ALSA_HANDLER)
    except (OSError, AttributeError):
        _ALSA_HANDLER = False


def _sd():
    try:
        import sounddevice
    except OSError as e:  # PortAudio library missing
        raise DeviceError(f"the audio library is missing: {e}", "install libportaudio2 (scripts/setup.sh does)") from None
    _quiet_alsa()
    return sounddevice


def start_stream(make_stream, what: str, name: str, flag: str):
    """Create and start a PortAudio stream; a device that will not open becomes one clear DeviceError."""
    sd = _sd()
    try:
        with quiet_native_stderr():
            stream = make_stream()
            stream.start()
    except (sd.PortAudioError, ValueError) as e:
        raise DeviceError(f"cannot open the {what} '{name}': {e}",
                          f"check it is connected and not in use, or choose another with {flag}") from None
    return stream


def list_devices() -> list[dict]:
    sd = _sd()
    return [dict(d, index=i) for i, d in enumerate(sd.query_devices())]


def resolve(spec: str | int | None, kind: str) -> int:
    """The index of the input or output device named by `spec` (index or part of its name)."""
    sd = _sd()
    channels_key = "max_input_channels" if kind == "input" else "max_output_channels"
    what, flag = ("microphone", "--input-device") if kind == "input" else ("speaker", "--output-device")
    devices = [d for d in list_devices() if d[channels_key] > 0]
    if not devices:
        raise DeviceError(f"no {what} found", "connect one, then run `companion doctor` to see what is available")
    if spec is None or spec == "":
        default = sd.default.device[0 if kind == "input" else 1]
        if default is None or default < 0 or default not in {d["index"] for d in devices}:
            return devices[0]["index"]
        return int(default)
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if index in {d["index"] for d in devices}:
            return index
        raise DeviceError(f"there is no {what} with index {index}", f"`companion doctor` lists the devices; choose one with {flag}")
    matches = [d for d in devices if str(spec).lower() in d["name"].lower()]
    if not matches:
        raise DeviceError(f"no {what} matches '{spec}'", f"`companion doctor` lists the devices; choose one with {flag}")
    return matches[0]["index"]


def describe(index: int) -> dict:
    return list_devices()[index]
