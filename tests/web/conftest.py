"""Fixtures of the web tests: a real browser (tests/support/browser.py)."""

from tests.support.browser import browser

__all__ = ["browser"]
