"""Supply chain: what an image contains (a CycloneDX SBOM) and which advisories affect it.

The pure parts (parsers, inventory, SBOM assembly, OSV loading and matching) know
nothing of Docker or the database; `imagefs` is the one module that reads an image
through the engine and `storage` the one that keeps SBOMs in PostgreSQL.
"""
