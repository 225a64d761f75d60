"""Shared pytest configuration: fixtures for real components live in tests/plugins/."""

pytest_plugins = [
    "tests.plugins.toxiproxy",
    "tests.plugins.postgres",
    "tests.plugins.httpserver",
]
