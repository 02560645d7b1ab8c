"""Forges (GitHub, Gitea, GitLab): registered repositories, webhook signatures and payloads,
the mirror that reads a pushed commit's pipeline file, and commit statuses back.

Domain work: no ledger writes of its own and no HTTP framework; app/services drives it.
"""
