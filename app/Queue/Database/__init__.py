"""SQLAlchemy Core tables, engine and migrator."""
