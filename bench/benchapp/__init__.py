"""A tenant app used only by the benchmark: version 1 creates a table, version 2 adds a
column, so that the benchmark can time a real ADD COLUMN release over many schemas."""
