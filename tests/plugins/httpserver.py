"""pytest fixtures: httpserver (real component, started and stopped by the fixture)."""
