"""Speech recognition on the box: one streaming interface, Vosk and viet-asr behind it."""
