"""Resilience policy: error taxonomy, circuit breakers, retries, deadlines and the provider chain."""
