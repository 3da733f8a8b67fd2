"""Chaos suite: real processes under load and faults (see docs/resilience.md, "Chaos suite")."""
