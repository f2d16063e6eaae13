"""Backends: the messages between the VM and CPUs, the transport interface, inline and Ray."""
