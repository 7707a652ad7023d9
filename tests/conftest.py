import os

import pytest


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path, monkeypatch):
    """Every test runs in its own folder, so that nothing it writes by default (build/...) lands in the
    user's tree. Verilog builds are cached across tests and runs in pytest's own cache folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True, scope="session")
def _hdl_cache(request, tmp_path_factory):
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("sws-hdl") if cache is not None else tmp_path_factory.mktemp("sws-hdl")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWS_HDL_CACHE", str(folder))
        yield


#: The tests measured to take longer than the slow threshold (tests/slow_tests.json, written by
#: `python benchmarks/test_durations.py`, as pytest-split keeps its `.test_durations`): each is marked slow
#: at collection, beside those marked `@pytest.mark.slow` in their file, so the default run stays short.
SLOW_TESTS = os.path.join(os.path.dirname(__file__), "slow_tests.json")


@pytest.hookimpl(tryfirst=True)    # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    import json
    try:
        with open(SLOW_TESTS) as f:
            slow = json.load(f)["tests"]
    except FileNotFoundError:
        return
    for item in items:
        if item.nodeid in slow:
            item.add_marker(pytest.mark.slow)
    # Longest first (a stable sort: unmeasured tests keep their order, after the measured ones): pytest-xdist
    # hands the first tests out in turn to its workers, so the long ones spread over them and none starts
    # last, when one worker would run it alone (the slow set's time is then near its test-seconds / workers).
    items.sort(key=lambda item: -slow.get(item.nodeid, 0.0))
