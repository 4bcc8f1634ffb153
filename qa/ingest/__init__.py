"""Ingest: read article files, choose the spans worth indexing, cut sentences and passages."""
