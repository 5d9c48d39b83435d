"""Applications (registered sources of records) and their typed param definitions."""
