"""Facility availability: each device's share of the day online and not in fault."""
