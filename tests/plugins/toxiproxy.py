"""pytest fixtures: toxiproxy (real component, started and stopped by the fixture)."""
