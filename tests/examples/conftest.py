"""The payments service fixtures of ``test_payments`` (a service on real PostgreSQL behind a
real toxiproxy proxy), for the other example tests too."""

from tests.examples.test_payments import payments_template, start_service

__all__ = ["payments_template", "start_service"]
