"""Companion reached through the voice assistants people already run (OpenVoiceOS, Home Assistant's
Wyoming), and the effects every hands-free way in shares (actions.py)."""
