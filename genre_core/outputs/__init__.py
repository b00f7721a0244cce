"""Outputs layer: what people read. The report to take away (HTML/JSON), the many-files table, plotly
figures, the genre palette, and the catalog of stored metrics and histories.
May import: ``serving``, ``training`` (metric helpers only), ``models``, ``features``, ``audio``."""
