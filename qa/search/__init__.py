"""Search: dense, lexical and fused retrieval over the store; filters apply inside retrieval."""
