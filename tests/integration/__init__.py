"""Integration tier: every client fixture against real local servers (see conftest)."""
