"""The mlp-tui Textual app. Importing this package does not import Textual."""
