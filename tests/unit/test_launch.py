"""The launch commands' API requests, field by field, sent through botocore's Stubber (the client also
validates every request against the service's API model); no request leaves the machine."""

import json
import re

import boto3
import pytest
from botocore.stub import ANY, Stubber

from container import launch
from container.metric_table import METRICS, metric_definitions

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/kindling:1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
BASE = ["train", "--image", IMAGE, "--role", ROLE, "--channel", "train=s3://bucket/data/train/",
        "--channel", "validation=s3://bucket/data/validation/", "--output", "s3://bucket/out", "--job-name", "job-1"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)


def stubbed(service: str):
    client = boto3.session.Session(region_name="us-east-1").client(service)
    return client, Stubber(client)


def test_metric_definitions_match_the_lines_the_job_prints():
    from container.logs import metric

    for mode in ("supervised", "skipgram", "entities"):
        definitions = metric_definitions(mode)
        assert len(definitions) <= 40
        for definition in definitions:
            assert len(definition["Name"]) <= 255 and len(definition["Regex"]) <= 500
    printed = []
    import contextlib
    import io

    for name, value in (("validation_accuracy", 0.92331), ("mean_rho", -0.0123), ("train_words_per_second_per_thread",
                                                                                  276612.0)):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            metric(name, value)
        printed.append((name, buffer.getvalue()))
    regexes = {d["Name"]: d["Regex"] for mode in ("supervised", "skipgram") for d in metric_definitions(mode)}
    for name, line in printed:
        assert float(re.search(regexes[name], line).group(1)) == pytest.approx(float(line.split(": ")[1]), rel=1e-5)
    assert set(METRICS["supervised"]) >= {"train_accuracy", "validation_accuracy"}


def test_train_request_field_by_field_with_spot_and_checkpoints():
    client, stub = stubbed("sagemaker")
    expected = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions("supervised")},
        "RoleArn": ROLE,
        "HyperParameters": {"mode": "supervised", "epochs": "10"},
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train/", "S3DataDistributionType": "FullyReplicated"}}},
            {"ChannelName": "validation", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/validation/",
                "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": "s3://bucket/out/checkpoints", "LocalPath": "/opt/ml/checkpoints"},
    }
    stub.add_response("create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/job-1"},
                      expected)
    with stub:
        assert launch.main(["--region", "us-east-1", *BASE, "-p", "epochs=10", "--spot", "--max-runtime", "3600",
                            "--max-wait", "7200"], clients={"sagemaker": client}) == 0
    stub.assert_no_pending_responses()


def test_tuning_uses_the_modes_objective_and_typed_ranges():
    client, stub = stubbed("sagemaker")
    argv = ["--region", "us-east-1", "tune", *BASE[1:], "-p", "mode=skipgram", "-p", "epochs=5",
            "--range", "learning_rate=0.005:0.05", "--range", "vector_dim=32:300", "--range", "subwords=true,false"]
    stub.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job/job-1"}, {
        "HyperParameterTuningJobName": "job-1",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "mean_rho"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "vector_dim", "MinValue": "32", "MaxValue": "300"}],
                "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.005", "MaxValue": "0.05"}],
                "CategoricalParameterRanges": [{"Name": "subwords", "Values": ["true", "false"]}]}},
        "TrainingJobDefinition": ANY})
    with stub:
        assert launch.main(argv, clients={"sagemaker": client}) == 0
    definition = launch.tuning_job(launch.parser().parse_args(argv))["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {"mode": "skipgram", "epochs": "5"}
    assert {d["Name"] for d in definition["AlgorithmSpecification"]["MetricDefinitions"]} >= {"mean_rho"}


def test_deploy_creates_model_config_endpoint_and_autoscaling():
    sagemaker, sm_stub = stubbed("sagemaker")
    scaling, scaling_stub = stubbed("application-autoscaling")
    argv = ["--region", "us-east-1", "deploy", "--image", IMAGE, "--role", ROLE, "--model-data",
            "s3://bucket/out/job-1/output/model.tar.gz", "--endpoint-name", "kindling-ep", "--workers", "2",
            "--autoscale-max", "4"]
    sm_stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:1:model/kindling-ep"}, {
        "ModelName": "kindling-ep", "ExecutionRoleArn": ROLE, "PrimaryContainer": {
            "Image": IMAGE, "ModelDataUrl": "s3://bucket/out/job-1/output/model.tar.gz",
            "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}}})
    sm_stub.add_response("create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:endpoint-config/kindling-ep"}, {
        "EndpointConfigName": "kindling-ep", "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": "kindling-ep", "InstanceType": "ml.c5.large",
            "InitialInstanceCount": 1}]})
    sm_stub.add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/kindling-ep"},
                         {"EndpointName": "kindling-ep", "EndpointConfigName": "kindling-ep"})
    scaling_stub.add_response("register_scalable_target", {}, {
        "ServiceNamespace": "sagemaker", "ResourceId": "endpoint/kindling-ep/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount", "MinCapacity": 1, "MaxCapacity": 4})
    scaling_stub.add_response("put_scaling_policy", {"PolicyARN": "arn:aws:autoscaling:us-east-1:1:scalingPolicy:p", "Alarms": []}, {
        "PolicyName": "kindling-ep-invocations", "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/kindling-ep/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount", "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 5000.0, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}})
    with sm_stub, scaling_stub:
        assert launch.main(argv, clients={"sagemaker": sagemaker, "application-autoscaling": scaling}) == 0


def test_transform_is_multi_record_json_lines():
    client, stub = stubbed("sagemaker")
    stub.add_response("create_transform_job", {"TransformJobArn": "arn:aws:sagemaker:us-east-1:1:transform-job/t-1"}, {
        "TransformJobName": "t-1", "ModelName": "kindling-ep", "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,
        "MaxConcurrentTransforms": 2, "Environment": {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "6"},
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
                           "ContentType": "application/jsonlines", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://bucket/predictions/", "Accept": "application/jsonlines",
                            "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1}})
    with stub:
        assert launch.main(["--region", "us-east-1", "transform", "--model-name", "kindling-ep", "--input",
                            "s3://bucket/in/", "--output", "s3://bucket/predictions/", "--job-name", "t-1"],
                           clients={"sagemaker": client}) == 0


def test_ecs_task_definition_has_logs_health_check_and_stop_timeout():
    client, stub = stubbed("ecs")
    argv = ["--region", "eu-west-1", "ecs-task", "--image", IMAGE, "--command", "serve", "--env",
            "KINDLING_MODEL_S3=s3://bucket/out/model.tar.gz", "--task-role", "arn:aws:iam::1:role/task"]
    request = launch.ecs_task_definition(launch.parser().parse_args(argv))
    container = request["containerDefinitions"][0]
    assert container["stopTimeout"] == 30 and container["command"] == ["serve"]
    assert container["healthCheck"]["command"][:2] == ["CMD", "python"] and "/ping" in container["healthCheck"]["command"][3]
    assert container["logConfiguration"]["options"]["awslogs-region"] == "eu-west-1"
    assert container["environment"] == [{"name": "KINDLING_MODEL_S3", "value": "s3://bucket/out/model.tar.gz"}]
    assert request["taskRoleArn"] == "arn:aws:iam::1:role/task" and request["requiresCompatibilities"] == ["FARGATE"]
    stub.add_response("register_task_definition", {"taskDefinition": {"family": "kindling"}}, request)
    stub.add_response("run_task", {"tasks": [], "failures": []}, {
        "cluster": "c1", "taskDefinition": "kindling", "launchType": "FARGATE", "count": 1,
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": [],
                                                         "assignPublicIp": "DISABLED"}},
        "overrides": {"containerOverrides": [{"name": "kindling", "environment": []}]}})
    with stub:
        assert launch.main(argv, clients={"ecs": client}) == 0
        assert launch.main(["--region", "eu-west-1", "ecs-run", "--cluster", "c1", "--subnet", "subnet-1"],
                           clients={"ecs": client}) == 0
    train = launch.ecs_task_definition(launch.parser().parse_args(
        ["--region", "eu-west-1", "ecs-task", "--image", IMAGE, "--command", "train"]))
    assert train["containerDefinitions"][0]["stopTimeout"] == 120 and "healthCheck" not in train["containerDefinitions"][0]


def test_dry_run_prints_the_requests_and_warnings(capsys):
    assert launch.main(["--dry-run", *BASE, "--instance-type", "ml.g5.xlarge"]) == 0
    out, err = capsys.readouterr()
    printed = json.loads(out)
    assert printed["operation"] == "create_training_job" and printed["params"]["TrainingJobName"] == "job-1"
    assert "GPU/accelerator instance" in err


@pytest.mark.parametrize("argv, words", [
    (["train", "--image", IMAGE, "--role", ROLE, "--output", "s3://bucket/out"], "needs a 'train' channel"),
    (["train", "--image", IMAGE, "--role", ROLE, "--output", "/local/out", "--channel", "train=s3://bucket/x"],
     "is not an S3 URI"),
    (["train", "--image", IMAGE, "--role", ROLE, "--output", "s3://bucket/o", "--channel", "train"], "is not NAME=VALUE"),
])
def test_bad_arguments_are_sentences(capsys, argv, words):
    assert launch.main(["--dry-run", *argv]) == 2
    assert words in capsys.readouterr().err


def test_missing_region_is_a_sentence(monkeypatch, capsys):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert launch.main(["ecs-task", "--image", IMAGE, "--command", "serve"]) == 2
    assert "Set AWS_REGION or pass --region" in capsys.readouterr().err


def test_push_logs_in_to_ecr_then_tags_and_pushes(monkeypatch):
    import base64
    import subprocess

    client, stub = stubbed("ecr")
    stub.add_response("get_authorization_token", {"authorizationData": [{
        "authorizationToken": base64.b64encode(b"AWS:secret-token").decode(),
        "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}, {})
    commands = []

    def fake_run(command, **kwargs):
        commands.append((command, kwargs.get("input")))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(launch.subprocess, "run", fake_run)
    monkeypatch.setattr(launch, "send", lambda requests, dry_run, region, clients=None:
                        [getattr(client, op)(**params) for _, op, params in requests])
    with stub:
        assert launch.main(["--region", "us-east-1", "push", "--image", IMAGE]) == 0
    assert commands == [
        (["docker", "login", "--username", "AWS", "--password-stdin", "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"],
         b"secret-token"),
        (["docker", "tag", "kindling:latest", IMAGE], None),
        (["docker", "push", IMAGE], None)]
