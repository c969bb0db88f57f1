"""Shared flags (DESIGN sections 2 and 6): local flags and their lifecycle, the linkage
authority and flag index roles, lookups across areas, and flag notices after a transfer."""
