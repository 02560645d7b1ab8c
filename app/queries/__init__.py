"""Read-side queries over the projections, shared by the HTTP API, the CLI and the web pages."""
