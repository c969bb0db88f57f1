"""What follows a transfer (DESIGN section 2): approval and acknowledgement, documents,
information requests, withdrawal, forward permission and forwarding, repeat incidents and
the messages of a transfer's thread."""
