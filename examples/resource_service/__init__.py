"""An example resource service protected by :mod:`authserver.verifier`."""
