"""The stored headline rule (a single model, or a logistic regression stacked on members' probabilities),
read back and applied to one clip's member probabilities. Chosen by ``training.decision``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genre_core.features.config import GENRES
from genre_core.models import artifacts as art
from genre_core.models.sklearn_io import class_probabilities, load_svm

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


HEADLINE_NAME = "headline"


STACK_FILE = "stack.skops"


@dataclass
class Headline:
    """The stored headline rule, ready to combine the models' probabilities of one clip."""

    rule: str
    members: tuple[str, ...]
    stacker: Pipeline | None
    config: dict

    def probabilities(self, member_probabilities: dict[str, np.ndarray]) -> np.ndarray | None:
        """(n_classes,) from each member's (n_classes,) probabilities; None if a member is missing."""
        if any(m not in member_probabilities for m in self.members):
            return None
        if self.stacker is None:
            return np.asarray(member_probabilities[self.members[0]], dtype=np.float64)
        x = np.hstack([member_probabilities[m] for m in self.members])[None, :]
        return class_probabilities(self.stacker, x, len(GENRES))[0]


def load_headline(models_dir: Path) -> Headline | None:
    folder = Path(models_dir) / HEADLINE_NAME
    path = folder / art.CONFIG_FILE
    if not path.exists():
        return None
    config = json.loads(path.read_text())
    stacker = load_svm(folder / STACK_FILE, config.get("weights_sha256")) if config["rule"] == "stack" else None
    return Headline(config["rule"], tuple(config["members"]), stacker, config)
