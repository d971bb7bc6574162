"""`launch process`: each phase's CreateProcessingJob through botocore's Stubber (the client validates the
request against SageMaker's API model), the wiring between phases, and the container commands run through
the image's own dispatcher with the phase functions replaced; `launch deploy` of a bundle prefix and the
ECS variant (an EFS volume, a command per task)."""

import json

import pytest

from container import launch
from container.shard import Shard
from tests.unit.test_launch import IMAGE, ROLE, offline, stubbed  # noqa: F401 - offline is an autouse fixture

WORK = "s3://bucket/enwiki-kb"
DUMP = "s3://bucket/enwiki/dump/"
P = "/opt/ml/processing"
COMMON = ["--image", IMAGE, "--role", ROLE, "--work", WORK]
ARGV = {  # one way to launch each phase, as docs/wikipedia.md does
    "prepare-parts": ["--input", DUMP, "--instance-count", "4", "--options=--processes 2"],
    "prepare-merge": ["--shards", "4"],
    "kb-scan": ["--input", DUMP, "--instance-count", "4", "-p", "title_links=2", "--options=--processes 8"],
    "kb-resolve": ["-p", "title_links=2", "--instance-type", "ml.m5.4xlarge"],
    "kb-count": ["-p", "title_links=2", "--instance-count", "2"],
    "kb-write": ["-p", "title_links=2"],
}


def argv(phase: str, *more: str) -> list[str]:
    return ["--region", "us-east-1", "process", phase, *COMMON, "--job-name", f"job-{phase}", *ARGV[phase], *more]


def request(phase: str, *more: str) -> dict:
    return launch.processing_job(launch.parser().parse_args(argv(phase, *more)))


def test_scan_request_field_by_field():
    assert request("kb-scan", "--volume-gb", "200", "--env", "KINDLING_LOG=debug") == {
        "ProcessingJobName": "job-kb-scan",
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python", "-m", "container"],
                             "ContainerArguments": ["kb", "scan", f"{P}/input/dump", P, "--hyperparameters",
                                                    '{"title_links":"2"}', "--processes", "8"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 4,
                                                  "VolumeSizeInGB": 200}},
        "ProcessingInputs": [{"InputName": "dump", "S3Input": {
            "S3Uri": DUMP, "LocalPath": f"{P}/input/dump", "S3DataType": "S3Prefix", "S3InputMode": "File",
            "S3DataDistributionType": "ShardedByS3Key"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "scan", "S3Output": {
            "S3Uri": f"{WORK}/scan/", "LocalPath": f"{P}/scan", "S3UploadMode": "EndOfJob"}}]},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "Environment": {"KINDLING_LOG": "debug"},
    }


@pytest.mark.parametrize("phase", sorted(launch.PHASES))
def test_every_phase_is_a_create_processing_job_the_api_model_accepts(phase):
    client, stub = stubbed("sagemaker")
    stub.add_response("create_processing_job",
                      {"ProcessingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/job-{phase}"},
                      request(phase))
    with stub:
        assert launch.main(argv(phase), clients={"sagemaker": client}) == 0
    stub.assert_no_pending_responses()


def _inputs(job: dict) -> dict:
    return {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}


def test_the_dump_is_spread_by_key_and_every_later_phase_reads_what_the_earlier_ones_wrote():
    jobs = {phase: request(phase) for phase in launch.PHASES}
    written = {}
    for phase in ("prepare-parts", "prepare-merge", "kb-scan", "kb-resolve", "kb-count", "kb-write"):
        job = jobs[phase]
        for name, source in _inputs(job).items():
            if name == "dump":
                assert source["S3Uri"] == DUMP and source["S3DataDistributionType"] == "ShardedByS3Key"
                continue
            # a folder an earlier phase uploaded, whole, at the place that phase wrote it
            assert (source["S3Uri"], source["LocalPath"]) == written[name]
            assert source["S3DataDistributionType"] == "FullyReplicated"
        output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
        written[job["ProcessingOutputConfig"]["Outputs"][0]["OutputName"]] = (output["S3Uri"], output["LocalPath"])
    assert {phase for phase, job in jobs.items() if "dump" in _inputs(job)} == {"prepare-parts", "kb-scan"}
    assert set(_inputs(jobs["kb-write"])) == {"scan", "resolved", "counts"}
    assert written["model"] == (f"{WORK}/model/", f"{P}/model")


@pytest.fixture
def second_of_two_hosts(tmp_path, monkeypatch):
    """A Processing instance: SAGEMAKER_BASE_DIR's config/resourceconfig.json names it algo-2 of algo-1, algo-2."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))


def _run_in_container(phase: str, monkeypatch) -> list[tuple]:
    """The job's ContainerArguments through the image's dispatcher, with the phase functions recording calls."""
    from pathlib import Path

    from container.__main__ import main as dispatch
    from train import corpus
    from train.kb_build import shards

    calls = []
    for module, name in ((shards, "scan_shard"), (shards, "resolve_shards"), (shards, "count_part"),
                         (shards, "write_model"), (corpus, "prepare_parts"), (corpus, "merge_parts")):
        monkeypatch.setattr(module, name, lambda *a, _name=name, **k: calls.append((_name, *a)))
    monkeypatch.setattr(Path, "is_dir", lambda self: True)  # prepare --parts checks its input folder exists
    job = request(phase)
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["python", "-m", "container"]
    assert dispatch(job["AppSpecification"]["ContainerArguments"]) == 0
    return [tuple(str(a) if isinstance(a, Path) else a for a in call) for call in calls]


@pytest.mark.parametrize("phase, function, paths", [
    ("prepare-parts", "prepare_parts", (f"{P}/input/dump", f"{P}/parts/shard-0001-of-0002")),
    ("prepare-merge", "merge_parts", ([f"{P}/parts/{Shard(i, 4).name()}" for i in range(4)], f"{P}/corpus")),
    ("kb-scan", "scan_shard", (f"{P}/input/dump", P)),
    ("kb-resolve", "resolve_shards", (P,)),
    ("kb-count", "count_part", (P, 1, 2)),
    ("kb-write", "write_model", (P, f"{P}/model")),
])
def test_each_job_runs_its_phase_on_the_folders_its_inputs_and_output_use(phase, function, paths, monkeypatch,
                                                                          second_of_two_hosts):
    calls = _run_in_container(phase, monkeypatch)
    assert [call[0] for call in calls] == [function]
    call = calls[0][1:]
    if function == "merge_parts":
        call = ([str(p) for p in call[0]], str(call[1]))
    assert call[:len(paths)] == paths
    if function == "scan_shard":
        assert call[3:5] == (1, 2)  # this host's shard, from the resource config
        assert call[2].title_links == 2  # the -p hyperparameters
    job = request(phase)  # every folder the command names is one the job downloads or uploads
    places = [source["LocalPath"] for source in _inputs(job).values()]
    places.append(job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"])
    for path in [q for p in paths if p != P for q in (p if isinstance(p, list) else [p]) if isinstance(q, str)]:
        assert any(path == place or path.startswith(place + "/") for place in places), path


def test_dry_run_prints_the_request_and_sends_nothing(capsys):
    assert launch.main(["--dry-run", "process", "kb-count", *COMMON, "--instance-count", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["service"] == "sagemaker" and printed["operation"] == "create_processing_job"
    params = printed["params"]
    assert params["ProcessingJobName"].startswith("kindling-kb-count-")
    assert params["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    assert params["AppSpecification"]["ContainerArguments"][:3] == ["kb", "count", P]


@pytest.mark.parametrize("phase, more, words", [
    ("kb-resolve", ["--instance-count", "2"], "kb-resolve runs on one instance"),
    ("kb-write", ["--instance-count", "3"], "kb-write runs on one instance"),
    ("kb-scan", [], "give --input"),
    ("prepare-merge", [], "needs the number of prepare-parts instances"),
    ("prepare-parts", ["--input", DUMP, "-p", "tokenizer=spacy"], "prepare takes options, not hyperparameters"),
    ("kb-count", ["-p", "title_links=" + "9" * 300], "each at most 256 characters"),
    ("kb-count", ["--work", "/local/kb"], "is not an S3 URI"),
])
def test_bad_process_arguments_are_sentences(capsys, phase, more, words):
    assert launch.main(["--dry-run", "process", phase, *COMMON, *more]) == 2
    assert words in capsys.readouterr().err


def test_deploy_serves_a_bundle_prefix_uncompressed():
    client, stub = stubbed("sagemaker")
    stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:1:model/kb"}, {
        "ModelName": "kb", "ExecutionRoleArn": ROLE, "PrimaryContainer": {
            "Image": IMAGE, "Environment": {}, "ModelDataSource": {"S3DataSource": {
                "S3Uri": f"{WORK}/model/", "S3DataType": "S3Prefix", "CompressionType": "None"}}}})
    config_arn = "arn:aws:sagemaker:us-east-1:1:endpoint-config/kb"
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": config_arn},
                      {"EndpointConfigName": "kb", "ProductionVariants": [{
                          "VariantName": "AllTraffic", "ModelName": "kb", "InstanceType": "ml.r5.xlarge",
                          "InitialInstanceCount": 1}]})
    stub.add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/kb"},
                      {"EndpointName": "kb", "EndpointConfigName": "kb"})
    with stub:
        assert launch.main(["--region", "us-east-1", "deploy", "--image", IMAGE, "--role", ROLE, "--model-data",
                            f"{WORK}/model/", "--endpoint-name", "kb", "--instance-type", "ml.r5.xlarge"],
                           clients={"sagemaker": client}) == 0
    stub.assert_no_pending_responses()


def test_ecs_tasks_share_an_efs_volume_and_each_run_carries_its_shard():
    client, stub = stubbed("ecs")
    task = ["--region", "eu-west-1", "ecs-task", "--image", IMAGE, "--command", "train", "--family", "kb",
            "--efs", "fs-12345678:/kindling", "--cpu", "16384", "--memory", "65536"]
    definition = launch.ecs_task_definition(launch.parser().parse_args(task))
    assert definition["volumes"] == [{"name": "shared", "efsVolumeConfiguration": {
        "fileSystemId": "fs-12345678", "rootDirectory": "/kindling", "transitEncryption": "ENABLED"}}]
    assert definition["containerDefinitions"][0]["mountPoints"] == [
        {"sourceVolume": "shared", "containerPath": "/mnt/kindling", "readOnly": False}]
    stub.add_response("register_task_definition", {"taskDefinition": {"family": "kb"}}, definition)
    for index in range(2):
        stub.add_response("run_task", {"tasks": [], "failures": []}, {
            "cluster": "c1", "taskDefinition": "kb", "launchType": "FARGATE", "count": 1,
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": [],
                                                             "assignPublicIp": "DISABLED"}},
            "overrides": {"containerOverrides": [{"name": "kindling", "environment": [], "command": [
                "kb", "scan", f"/mnt/kindling/dump/{index}", "/mnt/kindling/kb", "--shard", f"{index}/2"]}]}})
    with stub:
        assert launch.main(task, clients={"ecs": client}) == 0
        for index in range(2):
            command = f"kb scan /mnt/kindling/dump/{index} /mnt/kindling/kb --shard {index}/2"
            assert launch.main(["--region", "eu-west-1", "ecs-run", "--cluster", "c1", "--family", "kb", "--subnet",
                                "subnet-1", "--command", command], clients={"ecs": client}) == 0
    stub.assert_no_pending_responses()
    serve = launch.ecs_task_definition(launch.parser().parse_args(
        ["--region", "eu-west-1", "ecs-task", "--image", IMAGE, "--command", "serve", "--efs",
         "fs-1:/kindling/kb/model", "--mount", "/opt/ml/model"]))
    assert serve["containerDefinitions"][0]["mountPoints"][0] == {
        "sourceVolume": "shared", "containerPath": "/opt/ml/model", "readOnly": True}
