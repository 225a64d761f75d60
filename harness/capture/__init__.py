"""Capture ingest: read GoReplay, mitmproxy and HAR files into the normalised capture file."""
