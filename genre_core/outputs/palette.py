"""The ten-genre colour palette used by every chart (app and reports).

Petroff's ten-colour sequence (M. A. Petroff, "Accessible Color Sequences for Data Visualization",
2021; matplotlib's ``petroff10`` style): chosen so the colours stay distinct under the common colour
vision deficiencies and in greyscale, and readable on light and dark backgrounds.
"""
from __future__ import annotations

from genre_core.features.config import GENRES

PETROFF_10 = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6",
              "#a96b59", "#e76300", "#b9ac70", "#717581", "#92dadd")
GENRE_COLORS: dict[str, str] = dict(zip(GENRES, PETROFF_10))
