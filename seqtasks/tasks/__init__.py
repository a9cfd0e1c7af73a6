"""Task generators; every public module here registers one task."""
