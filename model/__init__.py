"""Dialogic's model, in two parts by life cycle: `model.runtime` (normaliser, classifier, int8 session:
what serving imports) and, in the modules beside it, the offline pipeline that makes the artifact (data
build, training, calibration, evaluation, baselines, behavioural checks, the int8 export).

Process-wide defaults for the libraries below, set here because this package is imported before torch:
no hub access ever; no tokenizer thread pool (it deadlocks after fork); idle OpenMP threads sleep
instead of spinning, which would steal the core the event loop needs.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
