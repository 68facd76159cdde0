"""atb's Alembic migrations, shipped inside the wheel as a package (docs/adr/0007-installed-atb.md).

``adapters.persistence.database.migrations_directory()`` finds this directory as a package resource; nothing
imports the scripts themselves (Alembic loads ``env.py`` and ``versions/*.py`` from the directory)."""
