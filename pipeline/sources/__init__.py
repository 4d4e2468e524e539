"""Readers for real AWS formats and seeded synthetic generators."""
