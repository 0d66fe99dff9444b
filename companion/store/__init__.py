"""The store: the private SQLite database, its numbered migrations, backups, encryption at rest, and
the markers that keep an answer being recorded from being lost."""
