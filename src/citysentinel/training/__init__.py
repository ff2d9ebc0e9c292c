"""Fine-tuning and export of models (needs the `train` extra); never imported at run time."""
