"""The mini-CSLM pipeline: the paper's recipe at laptop scale, one resumable command.

    python -m training mini-cslm training/recipes/mini_cslm/mini_full.yaml [key=value ...]

world -> (codec, reused) -> stage-0 text model -> merge-vocab -> CPT data -> CPT -> SFT data -> SFT
(interleaved) -> SFT (full chain-of-modality) -> CPT without MT -> its SFT -> harness evaluations.
"""
