import os

import pytest

# pytest-xdist runs the tests in one process a core, and each process's math libraries would start a thread
# pool a core of their own (OpenBLAS for numpy, OpenMP for torch, Eigen for JAX's XLA), spinning against the
# other workers' for the same cores. MiniLM through the analog model (this project's 2-core machine beside two
# other jobs, 2026-12-07): 54 s and 73 CPU s with OpenBLAS's two threads, 45 s and 41 CPU s with one. The
# libraries read these when they load, before any test module imports them; a value already set is kept.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


def pytest_configure(config):
    """JAX's persistent compilation cache in pytest's cache folder: the distillation tests build a jitted
    step per Distiller, the same computation again and again, and each worker and the slow run compiled it
    anew. tests/sws/test_distill.py, fast and slow, on 2 workers (this project's 2-core machine, 2026-12-07,
    a place and route beside it): 55 s and 88 CPU s without the cache, 44 s and 68 CPU s with it empty, 29 s
    and 38 CPU s with it filled (as the slow run finds it after the fast one).
    A read of an entry another worker is still writing fails to decode, and JAX then warns and compiles."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache.mkdir("sws-jax")))
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")


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
    # Longest first (a stable sort: unmeasured tests keep their order, after the measured ones), and
    # pytest-xdist hands the tests out a test or two at a time (`--maxschedchunk 1` in pyproject.toml), so the
    # long ones spread over the workers and none starts last, when one worker would run it alone (the slow
    # set's time is then near its test-seconds / workers). Without that option xdist's load scheduler first
    # gives each worker a contiguous chunk of an eighth of the tests (at 2 workers): the first worker got the
    # 50 longest slow tests and ran 61 s after the other had finished (2026-12-08).
    items.sort(key=lambda item: -slow.get(item.nodeid, 0.0))
