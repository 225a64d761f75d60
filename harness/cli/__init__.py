"""The command line: one module per command; parsing and exit codes only."""
