"""A small seeded bilingual (English / Chinese) world for the mini-CSLM: parallel sentences, QA, and speech.

    python -m training build-world training/recipes/world/world_tiny.yaml output_dir=runs/world-tiny
"""
