"""Shared widgets: PIN pad, camera preview, progress, error panel, idle warning, demo panel."""
