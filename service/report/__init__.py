"""The brand report: a job's summary as one self-contained HTML page (see page.py).

Only this constant lives here, so that `dialogic score --remote` can check `--examples` without
importing the model's package."""

MAX_EXAMPLES = 10  # example posts per account and label: a report is for reading, not for exporting posts
