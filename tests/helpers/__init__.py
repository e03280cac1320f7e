"""Test helpers (loopback servers replaying recorded judge outputs)."""
