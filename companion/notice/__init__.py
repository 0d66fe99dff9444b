"""Noticing between sessions: ripples (small shifts) and body check-ins, spoken or typed."""
