"""Areas: this node's own areas and their keys, the peers it has pinned, and the
authentication of a peer's requests (DESIGN section 4)."""
