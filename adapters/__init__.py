"""Everything that touches the outside world: database, peer HTTP, (later) mail and identity."""
