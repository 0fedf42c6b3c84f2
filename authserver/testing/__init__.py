"""The harness shared by tests/ and bench/: servers, ports, databases. Never imported by the server.

* :mod:`~authserver.testing.ports`: ``free_port()``.
* :mod:`~authserver.testing.servers`: ``start_gunicorn`` (any WSGI app under gunicorn, its log in a
  file, ready when it answers and, optionally, all its workers run), ``wait_ready`` (the one
  readiness loop), ``LiveServer`` (url, process, log tail, workers, stop) and ``start_server``
  (authserver with the test settings).
* :mod:`~authserver.testing.databases`: ``fresh_database`` (SQLite file or PostgreSQL database,
  migrated to head, dropped afterwards), ``pg_admin``, ``pg_url``, ``migrate``; the PostgreSQL admin
  URL comes from ``AUTHSERVER_TEST_PG_URL``.
* :mod:`~authserver.testing.apps`: the settings an app under test runs with (``app_config``,
  ``server_env``, ``PEPPER``, ``ISSUER``) and ``development_keys``.

Importable without pytest; ``tests/conftest.py`` wraps it in fixtures.
"""
