"""Step kinds: one module per kind of pipeline step, each running that kind and recording it."""
