"""The reference hub: the sync contract (``sync/openapi.yaml``) on aiohttp and SQLite.

For development, demos and tests. It is small and correct, not the head office's product.
"""
