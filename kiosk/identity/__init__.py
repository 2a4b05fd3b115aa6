"""Identity numbers and documents: personnummer, HSA-id, ICAO 9303 MRZ."""
