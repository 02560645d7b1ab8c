"""The executor: runs pipelines step by step in containers and records what happened."""
