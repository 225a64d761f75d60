"""Read a counter or gauge from a target's Prometheus endpoint (text exposition format).

The value is the sum over every label set of the metric (or over those matching ``labels``).
A counter can be named by its sample (``payments_db_attempts_total``) or its family
(``payments_db_attempts``); the ``_total`` sample is used either way, never ``_created``.

>>> text = 'x_total{a="1"} 2\\nx_total{a="2"} 3\\n'
>>> metric_value(text, "x_total")
5.0
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.errors import TargetError


class MetricNotFound(LookupError):
    """The exposition text has no sample of the metric (with the labels asked for)."""


def metric_value(text: str, metric: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples of ``metric`` in ``text`` whose labels include ``labels``."""
    wanted = labels or {}
    exact: list[float] = []
    counter_totals: list[float] = []
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise MetricNotFound(f"cannot parse the metrics text: {exc}") from None
    for family in families:
        for sample in family.samples:
            if any(sample.labels.get(k) != v for k, v in wanted.items()):
                continue
            if sample.name == metric:
                exact.append(float(sample.value))
            elif _is_counter_total(family.type, family.name, sample.name, metric):
                counter_totals.append(float(sample.value))
    found = exact or counter_totals
    if not found:
        where = f" with labels {wanted}" if wanted else ""
        raise MetricNotFound(f"no sample of {metric}{where}")
    return sum(found)


def _is_counter_total(kind: str, family: str, sample: str, metric: str) -> bool:
    """Whether ``sample`` is the ``_total`` of the counter family ``metric`` names."""
    return kind == "counter" and family == metric and sample == f"{family}_total"


class MetricsScraper:
    """Fetches ``/metrics`` pages of one target with a short timeout (one client, kept open)."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def fetch(self, path: str) -> str:
        """The text of ``path``; :class:`TargetError` naming the URL when it cannot be read."""
        url = self.base_url + (path if path.startswith("/") else "/" + path)
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            raise TargetError(f"{url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise TargetError(f"{url}: HTTP {response.status_code}")
        return response.text

    def close(self) -> None:
        self._client.close()
