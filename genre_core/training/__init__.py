"""Training layer: fitting every model (training loop, SVM, transfer head), cross-validation and the
artist-filtered protocol, the final fit, metrics, model cards, grid search, the ensemble and the headline
decision from stored out-of-fold predictions, and the answer-state thresholds.
May import: ``models``, ``features``, ``audio``. Never imported by ``serving``."""
