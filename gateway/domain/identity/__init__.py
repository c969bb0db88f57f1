"""Who acts and how they prove it: users and their roles per area, browser sessions,
API clients and their tokens, the principal a request acts as, and rate limits."""
