"""Document scanning: barcodes, MRZ OCR, the live scan loop and synthetic documents."""
