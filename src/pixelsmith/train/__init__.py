"""The training engine: recipes, one Trainer with callbacks, checkpoints, EMA, AMP and DDP."""
