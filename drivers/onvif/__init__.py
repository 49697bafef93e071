"""ONVIF cameras: session, frames, PTZ, PullPoint events and picture health."""
