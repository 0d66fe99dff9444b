"""Guided grounding practices: practices as TOML data, a pure schedule, and a guided run on the output clock."""
