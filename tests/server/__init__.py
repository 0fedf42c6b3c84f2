"""The server, black-box through its test client and CLI, on SQLite and PostgreSQL."""
