"""Models layer: what a stored model is and how it runs on one clip. Pure ``nn.Module`` networks, the
pretrained musicnn tagger (front end, ONNX/torch network, embeddings), the transfer head as arrays,
scikit-learn files (skops), model folders and their one loader, the stored headline rule and state
thresholds, and one model's prediction (windows, vote, ensemble).
May import: ``features``, ``audio``."""
