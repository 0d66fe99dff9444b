"""Audio input and output through sounddevice (PortAudio), and incremental recording to disk."""
