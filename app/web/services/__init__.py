"""View-model services of the web pages: they read the database, pages render their result."""
