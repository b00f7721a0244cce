"""Library layer: a whole music collection classified on Ray (this machine by default, a cluster when given
its address), resumable, written as Parquet and CSV; and reading those results back.
May import: ``outputs``, ``serving``, ``models``, ``features``, ``audio``."""
