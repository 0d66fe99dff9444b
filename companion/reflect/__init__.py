"""Reflecting after a session: the spoken questions and their answers, and recordings made elsewhere."""
