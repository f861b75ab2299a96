"""Fixtures shared by the real-text workload tests."""

import pytest

from specaccel.workloads.recorder_ngram import train_models


@pytest.fixture(scope="session")
def models():
    """The stdlib 4-gram target and 3-gram draft (4,096-token vocabulary, 80 files), trained
    once for every test module that drafts on real text."""
    return train_models(vocab_size=4096, max_files=80)
