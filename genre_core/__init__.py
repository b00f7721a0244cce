"""Music genre classification on GTZAN: audio, features, models, training, evaluation, inference."""
__version__ = "0.5.0"
