"""Delivery: one image digest through environments on an orchestrator (Docker Swarm)."""
