"""Scenario and stack files: typed models, YAML loading with line numbers, and lint."""
