"""Search: dense, lexical and fused retrieval over the store, with filters applied inside retrieval."""
