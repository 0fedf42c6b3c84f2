"""Administration: the domain functions behind ``authserver users ...`` and ``authserver clients ...``.

Each raises :class:`~authserver.admin.errors.AdminError` for a request that cannot be done.
"""
