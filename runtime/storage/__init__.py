"""Storage: key-value backends, the transactional overlay, declared storage items, the state trie."""
