"""Companion reached through words another assistant heard: the effects every hands-free way in shares."""
