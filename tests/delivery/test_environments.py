"""The environments file and its crontab windows: parsed, checked, refused with positions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.delivery.environments import EnvironmentsError, parse_environments
from app.delivery.errors import UnknownEnvironment
from app.delivery.windows import WindowError, in_windows, parse_window, window_end, window_start

GOOD = """\
groups:
  release: [carol, dave]
environments:
  - name: staging
    services:
      web: {replicas: 2, ports: [{published: 8081, target: 8080}]}
  - name: production
    requires: [staging]
    soak: 1h
    approvals: {count: 2, groups: [release]}
    freeze: ["* 18-23 * * fri"]
    timezone: Europe/Berlin
    gates: {scan: {fail_on: high}, tests: false}
    services:
      web:
        strategy: canary
        ports: [{published: 8080, target: 8080}]
        proxy: {admin_port: 9080, metrics_port: 9081}
        canary: {steps: [20, 100], pause: 30s}
"""


def test_a_good_file_reads_into_environments_in_order_with_their_rules() -> None:
    config = parse_environments(GOOD, "environments.yml")
    assert config.names == ["staging", "production"]
    production = config.environment("production")
    assert production.requires == ("staging",) and production.soak == 3600
    assert production.approvals.count == 2 and config.members(["release"]) == {"carol", "dave"}
    assert production.gates.scan is not None and production.gates.scan.fail_on == "high"
    assert production.gates.tests is False and production.gates.provenance is not None
    web = production.services["web"]
    assert web.strategy == "canary" and web.canary.steps == (20, 100) and web.canary.pause == 30
    assert config.environment("staging").namespace == "staging"
    with pytest.raises(UnknownEnvironment, match="configured: staging, production"):
        config.environment("qa")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "environments:\n  - name: prod\n    requires: [staging]\n",
            "environments.yml:3:16: environments[0].requires[0]: 'prod' requires 'staging', which "
            "is not listed above it",
        ),
        ("environments:\n  - name: Prod\n", "environments.yml:2:11: environments[0].name"),
        (
            "environments:\n  - name: p\n    soak: 3 days\n",
            "environments.yml:3:11: environments[0].soak: '3 days' is not a period",
        ),
        (
            "environments:\n  - name: p\n    freeze: ['* * * *']\n",
            "has 4 fields; a window is five crontab fields",
        ),
        (
            "environments:\n  - name: p\n    approvals: {count: 1, groups: [ops]}\n",
            "environments[0].approvals.groups[0]: approval group 'ops' is not defined",
        ),
        (
            "environments:\n  - name: p\n    timezone: Mars/Olympus\n",
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            "environments:\n  - name: p\n    services: {web: {strategy: canary}}\n",
            "a canary service needs a published port for its proxy",
        ),
        (
            "environments:\n  - name: p\n    services: {web: {canary: {steps: [50, 20]}}}\n",
            "canary steps must rise and end at 100",
        ),
        (
            "environments:\n  - name: p\n  - name: p\n",
            "environments.yml:3:11: environments[1].name: environment 'p' is listed twice",
        ),
        ("environments: [", "environments.yml:1:16: invalid YAML"),
        (
            "environments:\n  - name: p\n    colour: blue\n",
            "environments.yml:3:5: environments[0].colour: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_place_and_the_problem(text: str, expected: str) -> None:
    with pytest.raises(EnvironmentsError) as refused:
        parse_environments(text, "environments.yml")
    assert expected in str(refused.value)


def test_crontab_windows_follow_crontab_including_the_either_day_rule() -> None:
    friday_evening = parse_window("* 18-23 * * 5")
    assert friday_evening.matches(datetime(2026, 12, 4, 18, 0))  # a Friday
    assert not friday_evening.matches(datetime(2026, 12, 4, 17, 59))
    assert not friday_evening.matches(datetime(2026, 12, 5, 18, 0))
    either = parse_window("0 12 1 * mon")  # the 1st of the month, or any Monday
    assert either.matches(datetime(2026, 12, 1, 12, 0))  # a Tuesday, but the 1st
    assert either.matches(datetime(2026, 12, 7, 12, 0))  # a Monday
    assert not either.matches(datetime(2026, 12, 8, 12, 0))
    sunday = parse_window("*/15 * * dec 7")
    assert sunday.matches(datetime(2026, 12, 6, 9, 45)) and not sunday.matches(
        datetime(2026, 12, 6, 9, 46)
    )
    for bad, why in (("60 * * * *", "minute"), ("* * * * 8", "day of week"),
                     ("* 5-2 * * *", "runs backwards"), ("*/0 * * * *", "step")):  # fmt: skip
        with pytest.raises(WindowError, match=why):
            parse_window(bad)


def test_window_ends_and_starts_are_the_next_minute_outside_or_inside() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    windows = [parse_window("* 18-23 * * fri")]
    friday = datetime(2026, 12, 4, 20, 30, tzinfo=UTC)  # 21:30 in Berlin
    assert in_windows(windows, friday, berlin) is windows[0]
    assert window_end(windows, friday, berlin) == datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    saturday = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    assert window_start(windows, saturday, berlin) == datetime(2026, 12, 11, 17, 0, tzinfo=UTC)
