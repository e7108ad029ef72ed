"""Photos: reading and writing as the file holds them (16-bit, alpha, EXIF turn), EXIF/ICC metadata, and
colouring one photo."""
