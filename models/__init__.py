"""PyTorch models of the joint ECG / cardiac-MRI latent space, and what is built on them.

- ``models.autoencoder``: the cross-modal (DropFuse) autoencoder and the ``LatentModel`` interface
  (``encode_ecg``, ``encode_mri``, ``decode_ecg``, ``decode_mri``), built from ``models.config``.
- ``models.train`` / ``models.encode`` / ``models.predictors`` / ``models.evaluate``: the command lines.
- ``models.decoding``: ``LatentCodec`` and its cached loaders (``codec_for_cohort``, ``load_codec``) for the app.
- ``models.pipeline``: ``ensure_trained_demo`` for the app's first start.
- ``models.checkpoint`` (state dict + JSON, no unpickling), ``models.torchscript`` (a group's own
  modules), ``models.device`` (CUDA when present).

Importing this package does not import torch; the submodules do.
"""
