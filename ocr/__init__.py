"""Photo -> reading: pure stages over numpy arrays and dataclasses (no web, no database)."""
