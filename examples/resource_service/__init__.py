"""An example resource service protected by :mod:`authserver_verifier`."""
