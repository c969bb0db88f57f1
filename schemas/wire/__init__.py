"""Wire formats between nodes (DESIGN section 4, binding): the envelope, the receipt, the
peer bundle, every payload type in every version, legal grounds, and the audit evidence
that travels with a disclosure."""
