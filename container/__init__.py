"""kindling's shared core: /opt/ml paths, settings, errors, tokenizer, model bundle, dispatcher.

Nothing here imports flask, gunicorn, fasttext or sagemaker_training at module level, so every
command (and every unit test) starts fast and only pays for what it uses.
"""

__version__ = "0.1.0"
