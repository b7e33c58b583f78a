"""migratectl: Alembic migrations for any SQLAlchemy project, with zero set-up."""

__version__ = "0.1.0"
