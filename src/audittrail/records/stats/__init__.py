"""Statistics and parameter analytics over the records a reader sees (docs/stats.md)."""
