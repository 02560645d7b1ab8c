"""Notifications out: targets, the outbox, message formats, HTTP delivery with retries, rules.

Domain work: app/services/notifications.py drives it and records what happened.
"""
