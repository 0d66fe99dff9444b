"""Companion's speaking voice: phrases rendered to samples once and cached, played by the speaker."""
