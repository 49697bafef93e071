"""Device adapters: wire traffic in, domain events out; domain commands in, wire traffic out."""
