"""End to end: real processes (gunicorn, the CLI, Node.js clients, a fresh virtualenv) over real sockets;
the slow group (`pytest tests/e2e` runs it alone)."""
