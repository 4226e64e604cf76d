"""Alembic migrations of the pool's database (``proverpool db upgrade``)."""
