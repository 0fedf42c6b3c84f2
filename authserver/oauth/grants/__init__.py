"""The token endpoint's grants, one module per grant: Authlib's grant classes with our hooks and policy.

Each grant reaches stored state only through the stores; the shared policy (who may use a grant, the
authenticated client) is :class:`~authserver.oauth.grants.base.TokenEndpointGrant`.
"""
