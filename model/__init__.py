"""Dialogic's model: normalisation, classifier, data build, training and evaluation.

Process-wide defaults for the libraries below, set here because this package is imported before torch:
no hub access ever; no tokenizer thread pool (it deadlocks after fork); idle OpenMP threads sleep
instead of spinning, which would steal the core the event loop needs.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
