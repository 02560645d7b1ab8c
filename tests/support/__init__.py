"""Helpers shared by tests of several folders: builders, samples, servers, real runs."""
