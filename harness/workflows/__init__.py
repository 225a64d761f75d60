"""Workflows: validate, chaos, ci and demo, orchestrating the rooms."""
