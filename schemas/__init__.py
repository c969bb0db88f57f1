"""Wire formats and API bodies: marshmallow schemas that load into dataclasses."""
