"""The deals module's entries in the side menu."""
