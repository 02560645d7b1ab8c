"""shiplog: the application (configuration, CLI, and later API, views and executor)."""
