"""Sound in and out: microphone, speaker, earcons, voice activity."""
