"""Replay engine: the only package that imports locust/gevent (and only in worker code)."""
