"""What each `serve --workers N` child is started with: the shared port, and the machine's cores
divided between the workers for the sentence model unless the operator set the model's threads."""
from adapters.workers import worker_env


def test_the_cores_are_divided_between_the_workers():
    env = worker_env({"PATH": "/bin"}, 8080, "0.0.0.0", workers=2, cores=2)
    assert env["PORT"] == "8080" and env["POLICYBOT_HOST"] == "0.0.0.0" and env["PATH"] == "/bin"
    assert env["POLICYBOT_MODEL_THREADS"] == "1"
    assert worker_env({}, 1, "h", workers=3, cores=8)["POLICYBOT_MODEL_THREADS"] == "2"
    assert worker_env({}, 1, "h", workers=4, cores=2)["POLICYBOT_MODEL_THREADS"] == "1"  # never 0 (all cores)


def test_an_operators_setting_wins():
    assert worker_env({"POLICYBOT_MODEL_THREADS": "0"}, 1, "h", workers=2, cores=2)["POLICYBOT_MODEL_THREADS"] == "0"
    assert worker_env({"POLICYBOT_MODEL_THREADS": "3"}, 1, "h", workers=2, cores=2)["POLICYBOT_MODEL_THREADS"] == "3"
