"""Analysis: pure pandas functions from a run directory to a Verdict."""
