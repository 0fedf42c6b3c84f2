"""Faults under load (issue 18): the harness behind ``bench/faults/run``; see bench/faults/README.md and
docs/faults.md."""
