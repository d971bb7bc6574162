"""Turns SageMaker channels + hyperparameters into a kindling model bundle. Never imports serve/."""
