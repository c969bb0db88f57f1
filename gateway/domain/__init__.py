"""Flask-free domain services: handed a Session and adapters, they own the transaction."""
