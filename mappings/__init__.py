"""Pure mappings from vendor JSON to the common model. No I/O here."""
