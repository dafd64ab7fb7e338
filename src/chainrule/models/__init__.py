"""Models that ship with chainrule: ``default.npz``, the digit recogniser the drawing program uses
out of the box (``chainrule.load()`` with no path returns it; the README gives the command that
trains it)."""

from __future__ import annotations

from pathlib import Path


def default_model_path() -> Path:
    """The path of the bundled default digit model."""
    return Path(__file__).resolve().parent / "default.npz"
