"""ID document evidence from scans and typed entry (pure: no camera, no OCR library)."""
