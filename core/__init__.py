"""The mlp-tui engine: data, the seed's scratch MLP, a commandable trainer, checkpoints.

Nothing here imports Textual; the app in ``mlp_tui.tui`` listens to the trainer's events.
"""

__version__ = "0.1.0"
