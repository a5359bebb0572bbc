"""The mutation tool (python -m tests.mutations.run) still finds each snippet it patches: a refactor that
moves or rewrites one must update the tool, or the known bug it plants would silently stop being planted."""
from __future__ import annotations

import pytest

from tests.mutations.run import MUTATIONS, ROOT


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_mutation_snippet_occurs_exactly_once(mutation):
    path = ROOT / mutation.path
    assert path.exists(), f"{mutation.name}: {mutation.path} is gone"
    assert path.read_text(encoding="utf-8").count(mutation.old) == 1, f"{mutation.name}: update its snippet"
    for target in mutation.tests:
        if target.startswith("tests/"):
            assert (ROOT / target.split("::")[0]).exists(), f"{mutation.name}: {target} is gone"
