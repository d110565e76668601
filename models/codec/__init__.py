"""A small offline speech codec: Whisper-base semantic units (k-means) + a streaming unit -> mel -> waveform vocoder."""
