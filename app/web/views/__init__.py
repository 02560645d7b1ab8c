"""View models of the pages: they ask app/queries and shape the answers for templates (no SQL)."""
