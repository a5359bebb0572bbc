"""config/horizon.py checks: each bad setting is one ConfigurationError naming it; good ones become worker arguments."""
from __future__ import annotations

import json

import pytest

from app.Horizon.HorizonConfig import load, merged_supervisors
from app.Queue.errors import ConfigurationError


def write(tmp_path, monkeypatch, config):
    path = tmp_path / "horizon.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("HORIZON_CONFIG", str(path))


def supervisor(**overrides):
    return {"defaults": {"s1": {"connection": "database", "queue": ["default"], **overrides}}}


@pytest.mark.parametrize("config,message", [
    ({"defualts": {}}, "unknown key 'defualts'"),
    (supervisor(max_procs=3), "supervisor 's1': unknown key 'max_procs'"),
    (supervisor(min_processes=4, max_processes=2), "min_processes (4) is above max_processes (2)"),
    (supervisor(connection="rabbit"), "unknown connection 'rabbit'"),
    (supervisor(connection="sync"), "unknown connection 'sync'"),
    (supervisor(queue=["default", "bad name"]), "unknown queue name 'bad name'"),
    (supervisor(queue=[]), "queue must be a non-empty list"),
    (supervisor(queue=["a", "a"]), "queue lists a queue twice"),
    (supervisor(balance="fair"), "balance must be one of false, simple, auto"),
    (supervisor(auto_scaling_strategy="load"), "auto_scaling_strategy must be time or size"),
    (supervisor(max_processes="4"), "s1.max_processes must be a whole number"),
    (supervisor(tries=-1), "s1.tries must be at least 0"),
    (supervisor(queue=["a", "b"], min_processes=2, max_processes=3), "min_processes is per queue: 2 x 2 queues"),
    ({"fast_termination": "yes", **supervisor()}, "fast_termination must be true or false"),
    ({"metrics": {"trim": 3}, **supervisor()}, "unknown key metrics.trim"),
    ({"environments": {"testing": {}}}, "no supervisor for environment 'testing'"),
])
def test_bad_config_is_one_line_naming_the_setting(tmp_path, monkeypatch, queue_env, config, message):
    write(tmp_path, monkeypatch, config)
    with pytest.raises(ConfigurationError) as err:
        load(queue_env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_queue_defined_on_another_connection_is_refused(tmp_path, monkeypatch, queue_env):
    queue_env.define_queue("emails", connection="redis")
    write(tmp_path, monkeypatch, supervisor(queue=["emails"]))
    with pytest.raises(ConfigurationError, match="queue 'emails' is defined on connection 'redis'"):
        load(queue_env)


def test_concurrency_above_one_is_passed_to_workers_and_queue_work_accepts_it(tmp_path, monkeypatch, queue_env):
    from app.Console.Commands.QueueWork import QueueWorkCommand

    write(tmp_path, monkeypatch, supervisor(concurrency=4))
    [sup] = load(queue_env).supervisors
    assert "--concurrency=4" in sup.worker_arguments(("default",))
    assert any(opt.name == "concurrency" for opt in QueueWorkCommand.options)


def test_concurrency_one_passes_no_option_so_todays_workers_accept_it(tmp_path, monkeypatch, queue_env):
    write(tmp_path, monkeypatch, supervisor(concurrency=1))
    [sup] = load(queue_env).supervisors  # the real check against queue:work's options
    assert not any(a.startswith("--concurrency") for a in sup.worker_arguments(("default",)))


def test_worker_arguments_carry_the_supervisor_options(tmp_path, monkeypatch, queue_env):
    write(tmp_path, monkeypatch, supervisor(tries=5, timeout=30, memory=256, max_jobs=100, max_time=3600, backoff=[1, 5], sleep=0.5))
    [sup] = load(queue_env).supervisors
    args = sup.worker_arguments(("high", "default"))
    assert args[:2] == ["database", "--queue=high,default"]
    for expected in ["--name=s1", "--tries=5", "--timeout=30", "--memory=256", "--max-jobs=100", "--max-time=3600",
                     "--backoff=1,5", "--sleep=0.5"]:
        assert expected in args


def test_the_environment_overrides_defaults_key_by_key(tmp_path, monkeypatch, queue_env):
    config = {
        "defaults": {"s1": {"connection": "database", "queue": ["default"], "max_processes": 2, "tries": 7}},
        "environments": {"production": {"s1": {"max_processes": 10}}, "testing": {"s1": {"max_processes": 4}}},
        "heartbeat": 0.5, "metrics": {"trim_snapshots": {"job": 10, "queue": 30}},
    }
    write(tmp_path, monkeypatch, config)
    loaded = load(queue_env)
    [sup] = loaded.supervisors
    assert (loaded.environment, sup.max_processes, sup.tries) == ("testing", 4, 7)
    assert loaded.heartbeat == 0.5 and loaded.snapshots_kept == 30
    assert load(queue_env, "production").supervisors[0].max_processes == 10
    assert merged_supervisors(config, "staging") == {"s1": config["defaults"]["s1"]}


def test_the_shipped_config_loads_for_every_environment(queue_env, monkeypatch):
    monkeypatch.delenv("HORIZON_CONFIG", raising=False)
    for environment in ("local", "production", "testing"):
        [sup] = load(queue_env, environment).supervisors
        assert sup.connection == "database" and sup.queues == ("default",) and sup.balance == "auto"


def test_horizon_config_may_name_a_module_attribute(monkeypatch, queue_env):
    monkeypatch.setenv("HORIZON_CONFIG", "tests.fixtures.horizon_configs:TWO_QUEUES")
    [sup] = load(queue_env).supervisors
    assert sup.queues == ("high", "low")
    monkeypatch.setenv("HORIZON_CONFIG", "tests.fixtures.horizon_configs:MISSING")
    with pytest.raises(ConfigurationError, match="HORIZON_CONFIG: cannot load"):
        load(queue_env)
