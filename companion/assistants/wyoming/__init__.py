"""Companion as a Home Assistant Assist conversation agent over Wyoming (`companion serve wyoming`):
the address it listens on (address.py), the turns of a conversation (turns.py), the answers and what
they keep (service.py), and the protocol itself (server.py, the only module that needs `wyoming`)."""
