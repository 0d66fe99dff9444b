"""Hands-free: Companion waiting for its name, and the login service that starts it."""
