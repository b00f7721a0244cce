"""Features layer: the one frozen feature configuration (labels, STFT, windows), spectrogram / mel / MFCC /
handcrafted features, and the GTZAN folder index with its feature cache and splits.
May import: ``audio``."""
