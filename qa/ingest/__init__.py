"""Ingest: read article files and feeds, choose the text spans worth indexing, cut sentences and passages."""
