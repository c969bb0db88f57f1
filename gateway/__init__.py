"""The MARAC Exchange Gateway application."""
