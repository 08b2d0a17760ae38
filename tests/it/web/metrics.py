#!/usr/bin/python3
"""Parses kanmon's /metrics text with Prometheus's own parsers (Debian's
python3-prometheus-client): the OpenMetrics parser (the format kanmon declares) and the
classic Prometheus text parser (what older scrapers use). Either raising fails the test.
Prints, as JSON, every sample the OpenMetrics parser read: family name, type, sample name,
labels and value.

usage: metrics.py FILE
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic

text = open(sys.argv[1], encoding="utf-8").read()
classic_families = list(classic(text))
families = list(openmetrics(text))
if not classic_families:
    sys.exit("the classic parser read no family")
samples = [
    {"family": f.name, "type": f.type, "name": s.name, "labels": s.labels, "value": s.value}
    for f in families
    for s in f.samples
]
print(json.dumps(samples))
