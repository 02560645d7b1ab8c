"""The application layer: commands that check shiplog's rules and append events as an actor.

Every adapter (the HTTP API, the web pages, the CLI) records what a person or a
tool did by calling a function here, passing the actor it authenticated. Nothing
here knows HTTP; errors a caller caused are the named exceptions of errors.py.
"""
