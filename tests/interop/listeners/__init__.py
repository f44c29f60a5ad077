"""Listener scripts and helpers for the event interop tests."""
