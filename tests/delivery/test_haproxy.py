"""The HAProxy pieces that need no proxy: its configuration, its metrics, a canary's judgement."""

from __future__ import annotations

from app.delivery.haproxy import proxy_config, read_stats
from app.delivery.proxied import judge
from app.pipeline.deploy import AnalysisSettings
from events.vocabulary import ProbeResult

METRICS = """\
# HELP haproxy_server_http_responses_total Total number of HTTP responses.
# TYPE haproxy_server_http_responses_total counter
haproxy_server_http_responses_total{proxy="app",server="blue1",code="2xx"} 90
haproxy_server_http_responses_total{proxy="app",server="blue1",code="5xx"} 0
haproxy_server_http_responses_total{proxy="app",server="green1",code="2xx"} 6
haproxy_server_http_responses_total{proxy="app",server="green1",code="5xx"} 4
haproxy_server_http_responses_total{proxy="app",server="green2",code="5xx"} 1
haproxy_server_http_responses_total{proxy="preview",server="green1",code="5xx"} 50
# HELP haproxy_server_response_time_average_seconds Avg. response time.
# TYPE haproxy_server_response_time_average_seconds gauge
haproxy_server_response_time_average_seconds{proxy="app",server="green1"} 0.120
haproxy_server_response_time_average_seconds{proxy="app",server="green2"} 0.080
"""


def test_the_proxy_config_lists_both_colours_by_name_in_each_backend_with_their_weights() -> None:
    text = proxy_config(
        {"blue": "prod-web-blue", "green": "prod-web-green"}, 8080, {"app": {"blue": 100}}
    )
    assert "server-template blue 10 prod-web-blue:8080 weight 100" in text
    assert "server-template green 10 prod-web-green:8080 weight 0" in text
    assert "stats socket ipv4@0.0.0.0:9999 level admin" in text
    assert "http-request use-service prometheus-exporter if { path /metrics }" in text
    assert "backend app\n" in text and "backend preview\n" in text
    assert "nameserver dns 127.0.0.11:53" in text


def test_stats_add_up_each_colours_servers_in_the_app_backend_only() -> None:
    stats = read_stats(METRICS)
    assert (stats["blue"].responses, stats["blue"].errors) == (90, 0)
    assert (stats["green"].responses, stats["green"].errors) == (11, 5)
    assert stats["green"].mean_time_ms == 100.0 and stats["blue"].mean_time_ms is None


def test_a_measurement_fails_for_each_threshold_it_breaks_naming_the_figures() -> None:
    analysis = AnalysisSettings(max_error_rate=0.05, max_latency_ms=200, min_requests=10)
    assert judge(analysis, 100, 5, 150, (ProbeResult(path="/healthz", status=200),)) == ()
    reasons = judge(analysis, 8, 2, 250, (ProbeResult(path="/healthz", status=503),))
    assert reasons == (
        "8 requests, fewer than min_requests 10",
        "error rate 25.0% (2 of 8) above 5.0%",
        "mean response time 250 ms above 200 ms",
        "probe /healthz answered 503",
    )
