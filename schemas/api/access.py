"""The vocabulary of access control, shared by the CLI, the API and the settings files."""

from __future__ import annotations

# Roles are held per area (DESIGN section 1).
ROLES = ("coordinator", "chair", "auditor", "admin")
# Scopes of machine clients (DESIGN section 4, CLI `client create`).
SCOPES = ("transfers:read", "transfers:write", "flags:query", "flags:write", "audit:read")
