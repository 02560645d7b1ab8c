"""Routers of the web pages, one per page family."""
