"""Store: the SQLite database of record, the derived dense and lexical indexes, the watcher."""
