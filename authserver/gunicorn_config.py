"""gunicorn settings of every way we serve: ``gunicorn -c python:authserver.gunicorn_config ...``.

Used by ``make run``, the Dockerfile's ``CMD`` and docker-compose.yml (server and example resource
service); workers and the bind address stay on each command line.

The access log records the path without the query string (``%(U)s``; never the request line
``%(r)s`` or the query ``%(q)s``) and no ``Referer``: a client that wrongly puts ``password=`` or
``client_secret=`` in the URL - the server ignores query parameters on the token endpoint - must not
have them written to the log.
"""

accesslog = "-"
#: remote address, time, "METHOD /path PROTOCOL", status, response bytes, user agent, duration (ms).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(M)sms'
