"""The notes example: a small stateful web application (JSON API with token auth, server-rendered
pages with cookie sessions and CSRF tokens) on PostgreSQL, built on the payments service's
server, pool and retry policies. See README.md."""
