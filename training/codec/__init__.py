"""``python -m training build-codec RECIPE``: speech corpus -> k-means speech tokenizer -> unit vocoder."""
