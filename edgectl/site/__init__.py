"""The site service: the one writer of site state, each change with its audit event."""
