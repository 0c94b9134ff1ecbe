"""Speech synthesis on the box: Piper and espeak-ng behind one interface, plus the answer cache."""
