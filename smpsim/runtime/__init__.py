"""Backends: the transport interface and wire format, the shared step loop, inline and Ray backends."""
