"""Probes: counters and gauges sampled during a run."""
