"""The staging stack: toxiproxy, PostgreSQL and the target services."""
