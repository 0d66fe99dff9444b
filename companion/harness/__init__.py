"""The test and demo harness: a private PulseAudio server with a virtual microphone and speaker, the
driver that speaks into it when a command shows a marker, and practice measurement. Nothing in the
product imports it."""
