"""Serving layer: the model zoo that classifies a song with every stored model and the headline rule,
the answer's state (confident / not sure / not music / mixed), why-this-genre explanations, and the
check of stored reference predictions.
May import: ``models``, ``features``, ``audio``; never ``training``."""
