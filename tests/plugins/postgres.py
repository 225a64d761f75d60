"""pytest fixtures: postgres (real component, started and stopped by the fixture)."""
