"""`python -m container launch ...`: run this image on SageMaker and ECS from the project itself (boto3).

Each command builds the exact API requests (one function per command, plain dictionaries, unit-tested
field by field), then sends them — or, with --dry-run, prints them as JSON and sends nothing:

  push       ECR login, tag and push of the local image          (make push)
  train      CreateTrainingJob: channels from S3, spot + checkpoints, MetricDefinitions from the one
             table the job prints (container/metric_table.py)
  tune       CreateHyperParameterTuningJob with the mode's objective metric
  deploy     CreateModel, CreateEndpointConfig, CreateEndpoint (+ invocations-per-instance autoscaling)
  transform  CreateTransformJob: MultiRecord batches of JSON Lines
  process    CreateProcessingJob for one phase of a sharded build: prepare-parts / prepare-merge (a
             corpus), kb-scan / kb-resolve / kb-count / kb-write (the entity KB, docs/wikipedia.md)
  ecs-task   RegisterTaskDefinition for train or serve (awslogs, health check, stopTimeout, CPU/memory)
  ecs-run    RunTask on Fargate
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from typing import NamedTuple

from container.errors import KindlingError
from container.metric_table import OBJECTIVES, family, metric_definitions
from container.shard import AUTO, Shard

GPU_PREFIXES = ("ml.p", "ml.g", "ml.inf", "ml.trn")
CHECKPOINTS = "/opt/ml/checkpoints"


def _name(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"[:63]


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise KindlingError(f"{what} {value!r} is not NAME=VALUE.", code="bad_arguments",
                                hint=f"Write e.g. --{what} train=s3://bucket/prefix/.")
        pairs[key] = rest
    return pairs


def _environment(values: list[str]) -> list[dict]:
    """ECS's environment list from NAME=VALUE arguments."""
    return [{"name": k, "value": v} for k, v in sorted(_pairs(values, "env").items())]


def _s3(uri: str, what: str) -> str:
    if not re.match(r"^s3://[a-z0-9.\-]{3,63}(/.*)?$", uri):
        raise KindlingError(f"{what} {uri!r} is not an S3 URI.", code="bad_s3_uri", hint="Write s3://bucket/prefix.")
    return uri


def warn_instance(instance_type: str, mode: str) -> list[str]:
    """Warnings before launch: kindling trains and serves on CPUs."""
    warnings = []
    if instance_type.startswith(GPU_PREFIXES):
        warnings.append(f"{instance_type} is a GPU/accelerator instance; kindling ({mode}) runs on CPUs only — "
                        "an ml.c5 / ml.m5 instance costs less for the same speed.")
    if not instance_type.startswith("ml.") and instance_type != "local":
        warnings.append(f"{instance_type!r} is not a SageMaker instance type (they start with 'ml.').")
    return warnings


# --- request builders ------------------------------------------------------------------------------

def training_job(args) -> dict:
    hyperparameters = {k: str(v) for k, v in _pairs(args.hyperparameter, "hyperparameter").items()}
    mode = hyperparameters.get("mode") or args.mode
    hyperparameters["mode"] = mode
    channels = _pairs(args.channel, "channel")
    if "train" not in channels:
        raise KindlingError("A training job needs a 'train' channel.", code="bad_arguments",
                            hint="Add --channel train=s3://bucket/prefix/.")
    request = {
        "TrainingJobName": args.job_name or _name(f"kindling-{mode.replace('_', '-')}"),
        "AlgorithmSpecification": {"TrainingImage": args.image, "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions(mode)},
        "RoleArn": args.role,
        "HyperParameters": hyperparameters,
        "InputDataConfig": [{"ChannelName": name, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": _s3(uri, "channel"), "S3DataDistributionType": "FullyReplicated"}}}
            for name, uri in sorted(channels.items())],
        "OutputDataConfig": {"S3OutputPath": _s3(args.output, "output")},
        "ResourceConfig": {"InstanceType": args.instance_type, "InstanceCount": args.instance_count,
                           "VolumeSizeInGB": args.volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": args.max_runtime},
    }
    if args.spot:
        request["EnableManagedSpotTraining"] = True
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = max(args.max_wait or 0, args.max_runtime)
        request["CheckpointConfig"] = {"S3Uri": _s3(args.checkpoints or f"{args.output.rstrip('/')}/checkpoints",
                                                    "checkpoints"), "LocalPath": CHECKPOINTS}
    return request


def tuning_job(args) -> dict:
    definition = training_job(args)
    mode = definition["HyperParameters"]["mode"]
    ranges: dict[str, list] = {"IntegerParameterRanges": [], "ContinuousParameterRanges": [],
                               "CategoricalParameterRanges": []}
    for name, spec in sorted(_pairs(args.range, "range").items()):
        low, sep, high = spec.partition(":")
        if sep:
            kind = "IntegerParameterRanges" if low.lstrip("-").isdigit() and high.lstrip("-").isdigit() \
                else "ContinuousParameterRanges"
            ranges[kind].append({"Name": name, "MinValue": low, "MaxValue": high})
        else:
            ranges["CategoricalParameterRanges"].append({"Name": name, "Values": spec.split(",")})
        definition["HyperParameters"].pop(name, None)  # tuned, not static
    objective = args.objective or OBJECTIVES[family(mode)]
    training = {
        "AlgorithmSpecification": definition["AlgorithmSpecification"], "RoleArn": definition["RoleArn"],
        "StaticHyperParameters": definition["HyperParameters"], "InputDataConfig": definition["InputDataConfig"],
        "OutputDataConfig": definition["OutputDataConfig"], "ResourceConfig": definition["ResourceConfig"],
        "StoppingCondition": definition["StoppingCondition"],
    }
    for key in ("EnableManagedSpotTraining", "CheckpointConfig"):
        if key in definition:
            training[key] = definition[key]
    return {
        "HyperParameterTuningJobName": (args.job_name or _name("kindling-tune"))[:32],
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": objective},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": args.max_jobs, "MaxParallelTrainingJobs": args.parallel},
            "ParameterRanges": ranges,
        },
        "TrainingJobDefinition": training,
    }


def _model_data(uri: str) -> dict:
    """model.tar.gz, or a prefix ending in / that holds the bundle's files (what `kb write` leaves in S3 after a
    Processing job), which SageMaker copies uncompressed into /opt/ml/model (API S3ModelDataSource)."""
    if uri.endswith("/"):
        return {"ModelDataSource": {"S3DataSource": {"S3Uri": uri, "S3DataType": "S3Prefix",
                                                     "CompressionType": "None"}}}
    return {"ModelDataUrl": uri}


def endpoint_requests(args) -> list[tuple[str, str, dict]]:
    name = args.endpoint_name or _name("kindling")
    environment = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)} if args.workers else {}
    container = {"Image": args.image, **_model_data(_s3(args.model_data, "model-data")), "Environment": environment}
    requests = [
        ("sagemaker", "create_model", {"ModelName": name, "ExecutionRoleArn": args.role,
                                       "PrimaryContainer": container}),
        ("sagemaker", "create_endpoint_config", {"EndpointConfigName": name, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": name, "InstanceType": args.instance_type,
            "InitialInstanceCount": args.instance_count}]}),
        ("sagemaker", "create_endpoint", {"EndpointName": name, "EndpointConfigName": name}),
    ]
    if args.autoscale_max:
        resource = f"endpoint/{name}/variant/AllTraffic"
        requests += [
            ("application-autoscaling", "register_scalable_target", {
                "ServiceNamespace": "sagemaker", "ResourceId": resource,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "MinCapacity": args.instance_count, "MaxCapacity": args.autoscale_max}),
            ("application-autoscaling", "put_scaling_policy", {
                "PolicyName": f"{name}-invocations", "ServiceNamespace": "sagemaker", "ResourceId": resource,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount", "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": float(args.invocations_per_instance),
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "ScaleInCooldown": 300, "ScaleOutCooldown": 60}}),
        ]
    return requests


def transform_job(args) -> dict:
    return {
        "TransformJobName": args.job_name or _name("kindling-transform"),
        "ModelName": args.model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": args.max_payload_mb,
        "MaxConcurrentTransforms": args.concurrency,
        "Environment": {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(args.max_payload_mb)},
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": _s3(args.input, "input")}},
                           "ContentType": "application/jsonlines", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": _s3(args.output, "output"), "Accept": "application/jsonlines",
                            "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": args.instance_type, "InstanceCount": args.instance_count},
    }


PROCESSING = "/opt/ml/processing"  # SageMaker Processing: every input and output path lies under it
DUMP = f"{PROCESSING}/input/dump"


class Phase(NamedTuple):
    """One phase of a sharded build as a Processing job. Each phase writes one folder of the --work prefix,
    <work>/<writes>/ (<PROCESSING>/<writes> in the container), and reads the folders the earlier phases wrote,
    whole on every instance. `shards_dump`: the dump (--input) is spread over the instances by S3 key."""
    reads: tuple[str, ...]
    writes: str
    shards_dump: bool = False
    many: bool = False  # may run on several instances (each then writes a shard/part folder of its own)


PHASES = {
    "prepare-parts": Phase((), "parts", shards_dump=True, many=True),
    "prepare-merge": Phase(("parts",), "corpus"),
    "kb-scan": Phase((), "scan", shards_dump=True, many=True),
    "kb-resolve": Phase(("scan",), "resolved"),
    "kb-count": Phase(("scan", "resolved"), "counts", many=True),
    "kb-write": Phase(("scan", "resolved", "counts"), "model"),
}


def phase_arguments(phase: str, hyperparameters: dict[str, str], shards: int | None) -> list[str]:
    """The container's command for one phase. kb OUT is PROCESSING itself, so OUT/scan, OUT/resolved, ...
    are the phases' folders; shards and count parts take I/N from the job's resource config (container/shard.py)."""
    options = ["--hyperparameters", json.dumps(hyperparameters, separators=(",", ":"), sort_keys=True)]
    if phase == "prepare-parts":
        return ["prepare", "--parts", DUMP, f"{PROCESSING}/parts", "--shard", AUTO]
    if phase == "prepare-merge":
        return ["prepare", "--merge", *[f"{PROCESSING}/parts/{Shard(i, shards).name()}" for i in range(shards)],
                f"{PROCESSING}/corpus"]
    if phase == "kb-scan":
        return ["kb", "scan", DUMP, PROCESSING, *options]
    if phase == "kb-write":
        return ["kb", "write", PROCESSING, f"{PROCESSING}/model", *options]
    return ["kb", phase.removeprefix("kb-"), PROCESSING, *options]


def _processing_input(name: str, uri: str, local: str, sharded: bool) -> dict:
    return {"InputName": name, "S3Input": {
        "S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated"}}


def _check_phase(args, phase: Phase, hyperparameters: dict) -> None:
    if args.instance_count > 1 and not phase.many:
        raise KindlingError(f"{args.phase} runs on one instance (it merges what the others wrote); got "
                            f"--instance-count {args.instance_count}.", code="bad_arguments",
                            hint="Drop --instance-count for this phase.")
    if phase.shards_dump and not args.input:
        raise KindlingError(f"{args.phase} reads the dump: give --input s3://bucket/prefix/ (only the dump's files "
                            "under it).", code="bad_arguments", hint="See docs/wikipedia.md for the layout.")
    if args.phase.startswith("prepare") and hyperparameters:
        raise KindlingError("prepare takes options, not hyperparameters.", code="bad_arguments",
                            hint="Give them as --options='--tokenizer spacy --language de'.")
    if args.phase == "prepare-merge" and not args.shards:
        raise KindlingError("prepare-merge needs the number of prepare-parts instances.", code="bad_arguments",
                            hint="Add --shards N (N: the --instance-count of prepare-parts).")


def processing_job(args) -> dict:
    phase = PHASES[args.phase]
    hyperparameters = _pairs(args.hyperparameter, "hyperparameter")
    _check_phase(args, phase, hyperparameters)
    work = _s3(args.work, "work").rstrip("/")
    arguments = phase_arguments(args.phase, hyperparameters, args.shards) + shlex.split(args.options)
    long = [a for a in arguments if len(a) > 256]
    if len(arguments) > 100 or long:  # API limits botocore does not check (it validates minimums only)
        raise KindlingError(f"The container command has {len(arguments)} arguments (at most 100, each at most 256 "
                            f"characters){': too long: ' + long[0][:60] + '...' if long else ''}.",
                            code="bad_arguments", hint="Use fewer hyperparameters, shards or --options.")
    inputs = [_processing_input("dump", _s3(args.input, "input"), DUMP, True)] if phase.shards_dump else []
    inputs += [_processing_input(name, f"{work}/{name}/", f"{PROCESSING}/{name}", False) for name in phase.reads]
    return {
        "ProcessingJobName": args.job_name or _name(f"kindling-{args.phase}"),
        "RoleArn": args.role,
        "AppSpecification": {"ImageUri": args.image, "ContainerEntrypoint": ["python", "-m", "container"],
                             "ContainerArguments": arguments},
        "ProcessingResources": {"ClusterConfig": {"InstanceType": args.instance_type,
                                                  "InstanceCount": args.instance_count,
                                                  "VolumeSizeInGB": args.volume_gb}},
        "ProcessingInputs": inputs,
        # every instance uploads its folder to the same prefix: they never collide, as each writes only a
        # subfolder named after its shard or part (scan/shard-0001-of-0004/, counts/part-0000-of-0002/, ...)
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": phase.writes, "S3Output": {
            "S3Uri": f"{work}/{phase.writes}/", "LocalPath": f"{PROCESSING}/{phase.writes}",
            "S3UploadMode": "EndOfJob"}}]},
        "StoppingCondition": {"MaxRuntimeInSeconds": args.max_runtime},
        "Environment": _pairs(args.env, "env"),
    }


PING = "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/ping').status == 200 else 1)"


def ecs_task_definition(args) -> dict:
    import os

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise KindlingError("The task definition's log configuration needs a region.", code="no_region",
                            hint="Set AWS_REGION or pass --region.")
    container = {
        "name": "kindling", "image": args.image, "essential": True, "command": [args.container_command],
        "environment": _environment(args.env),
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": args.log_group, "awslogs-region": region, "awslogs-stream-prefix": "kindling",
            "awslogs-create-group": "true"}},
        "stopTimeout": 30 if args.container_command == "serve" else 120,  # serve drains in < 25 s; train stops within 25 s
    }
    if args.container_command == "serve":
        container["portMappings"] = [{"containerPort": 8080, "protocol": "tcp"}]
        container["healthCheck"] = {"command": ["CMD", "python", "-c", PING], "interval": 15, "timeout": 5,
                                    "retries": 3, "startPeriod": 60}
    request = {"family": args.family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
               "cpu": str(args.cpu), "memory": str(args.memory), "containerDefinitions": [container]}
    if args.efs:  # a file system every task mounts: how the phases of a sharded build share their folders
        file_system, _, root = args.efs.partition(":")
        request["volumes"] = [{"name": "shared", "efsVolumeConfiguration": {
            "fileSystemId": file_system, "rootDirectory": root or "/", "transitEncryption": "ENABLED"}}]
        container["mountPoints"] = [{"sourceVolume": "shared", "containerPath": args.mount,
                                     "readOnly": args.container_command == "serve"}]
    if args.task_role:
        request["taskRoleArn"] = args.task_role
    if args.execution_role:
        request["executionRoleArn"] = args.execution_role
    return request


def ecs_run_task(args) -> dict:
    return {"cluster": args.cluster, "taskDefinition": args.family, "launchType": "FARGATE", "count": args.count,
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": args.subnet, "securityGroups": args.security_group or [],
                "assignPublicIp": "ENABLED" if args.public_ip else "DISABLED"}},
            "overrides": {"containerOverrides": [{"name": "kindling", "environment": _environment(args.env),
                                                  **({"command": shlex.split(args.run)} if args.run else {})}]}}


# --- sending -------------------------------------------------------------------------------------

def send(requests: list[tuple[str, str, dict]], dry_run: bool, region: str | None, clients=None) -> list:
    """Print (dry run) or send each (service, operation, parameters); `clients` lets tests pass stubbed ones."""
    if dry_run:
        for service, operation, params in requests:
            sys.stdout.write(json.dumps({"service": service, "operation": operation, "params": params}, indent=2,
                                        sort_keys=True) + "\n")
        return []
    import boto3

    clients = clients or {}
    session = boto3.session.Session(region_name=region)
    answers = []
    for service, operation, params in requests:
        client = clients.get(service) or session.client(service)
        clients[service] = client
        answers.append(getattr(client, operation)(**params))
    return answers


def push(args) -> list[tuple[str, str, dict]]:
    """ECR login + tag + push; returns the ECR request made (for the dry run)."""
    request = [("ecr", "get_authorization_token", {})]
    if args.dry_run:
        return request
    import base64

    answer = send(request, False, args.region)[0]["authorizationData"][0]
    user, password = base64.b64decode(answer["authorizationToken"]).decode().split(":", 1)
    registry = answer["proxyEndpoint"]
    subprocess.run(["docker", "login", "--username", user, "--password-stdin", registry], input=password.encode(),
                   check=True)
    subprocess.run(["docker", "tag", args.local_image, args.image], check=True)
    subprocess.run(["docker", "push", args.image], check=True)
    return request


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m container launch", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--region")
    top.add_argument("--dry-run", action="store_true", help="print the API requests, send nothing")
    commands = top.add_subparsers(dest="command", required=True)

    def job_options(command):
        command.add_argument("--image", required=True, help="ECR image URI")
        command.add_argument("--role", required=True, help="SageMaker execution role ARN")
        command.add_argument("--channel", action="append", default=[], help="NAME=s3://... (repeat)")
        command.add_argument("--hyperparameter", "-p", action="append", default=[], help="NAME=VALUE (repeat)")
        command.add_argument("--mode", default="supervised")
        command.add_argument("--output", required=True, help="s3:// output path")
        command.add_argument("--instance-type", default="ml.c5.2xlarge")
        command.add_argument("--instance-count", type=int, default=1)
        command.add_argument("--volume-gb", type=int, default=30)
        command.add_argument("--max-runtime", type=int, default=86400)
        command.add_argument("--spot", action="store_true", help="managed spot training with checkpoints")
        command.add_argument("--max-wait", type=int)
        command.add_argument("--checkpoints", help="s3:// checkpoint URI (default: OUTPUT/checkpoints)")
        command.add_argument("--job-name")

    push_command = commands.add_parser("push", help="ECR login, tag and push")
    push_command.add_argument("--local-image", default="kindling:latest")
    push_command.add_argument("--image", required=True, help="ECR repository URI with tag")
    job_options(commands.add_parser("train", help="a SageMaker training job"))
    tune = commands.add_parser("tune", help="a SageMaker hyperparameter tuning job")
    job_options(tune)
    tune.add_argument("--range", action="append", default=[], help="NAME=MIN:MAX or NAME=a,b,c (repeat)")
    tune.add_argument("--objective", help="metric to maximize (default: the mode's)")
    tune.add_argument("--max-jobs", type=int, default=10)
    tune.add_argument("--parallel", type=int, default=2)
    deploy = commands.add_parser("deploy", help="model, endpoint config and endpoint")
    for option, default in (("--image", None), ("--role", None), ("--model-data", None)):
        deploy.add_argument(option, required=True)
    deploy.add_argument("--endpoint-name")
    deploy.add_argument("--instance-type", default="ml.c5.large")
    deploy.add_argument("--instance-count", type=int, default=1)
    deploy.add_argument("--workers", type=int)
    deploy.add_argument("--autoscale-max", type=int, help="scale between --instance-count and this many")
    deploy.add_argument("--invocations-per-instance", type=int, default=5000, help="per minute, the scaling target")
    transform = commands.add_parser("transform", help="a batch transform job")
    for option in ("--model-name", "--input", "--output"):
        transform.add_argument(option, required=True)
    transform.add_argument("--job-name")
    transform.add_argument("--instance-type", default="ml.c5.xlarge")
    transform.add_argument("--instance-count", type=int, default=1)
    transform.add_argument("--max-payload-mb", type=int, default=6)
    transform.add_argument("--concurrency", type=int, default=2)
    process = commands.add_parser("process", help="a SageMaker Processing job: one phase of a sharded build")
    process.add_argument("phase", choices=sorted(PHASES))
    process.add_argument("--image", required=True, help="ECR image URI")
    process.add_argument("--role", required=True, help="SageMaker execution role ARN")
    process.add_argument("--work", required=True, help="s3:// prefix of the build: every phase reads and writes "
                                                       "its folders under it")
    process.add_argument("--input", help="s3:// prefix holding only the dump's files (prepare-parts, kb-scan)")
    process.add_argument("--hyperparameter", "-p", action="append", default=[],
                         help="NAME=VALUE (repeat): mode=entities hyperparameters; give kb-write those of kb-scan")
    process.add_argument("--shards", type=int, help="prepare-merge: how many instances ran prepare-parts")
    process.add_argument("--instance-type", default="ml.c5.2xlarge")
    process.add_argument("--instance-count", type=int, default=1)
    process.add_argument("--volume-gb", type=int, default=30)
    process.add_argument("--max-runtime", type=int, default=86400)
    process.add_argument("--env", action="append", default=[], help="NAME=VALUE (repeat)")
    process.add_argument("--job-name")
    process.add_argument("--options", default="", help="more options for the phase's command, as one string: "
                                                        "--options='--processes 8'")
    process.set_defaults(mode="processing")
    task = commands.add_parser("ecs-task", help="register an ECS task definition")
    task.add_argument("--image", required=True)
    task.add_argument("--command", dest="container_command", choices=("train", "serve"), required=True,
                      help="what the container runs")
    task.add_argument("--family", default="kindling")
    task.add_argument("--env", action="append", default=[], help="NAME=VALUE (repeat), e.g. KINDLING_MODEL_S3=...")
    task.add_argument("--cpu", type=int, default=2048)
    task.add_argument("--memory", type=int, default=8192)
    task.add_argument("--log-group", default="/kindling")
    task.add_argument("--task-role")
    task.add_argument("--execution-role")
    task.add_argument("--efs", help="FILE_SYSTEM_ID[:/root/directory]: an EFS volume every task mounts at --mount")
    task.add_argument("--mount", default="/mnt/kindling", help="where the EFS volume is mounted (default: %(default)s)")
    run = commands.add_parser("ecs-run", help="run the task on Fargate")
    run.add_argument("--cluster", required=True)
    run.add_argument("--family", default="kindling")
    run.add_argument("--subnet", action="append", required=True)
    run.add_argument("--security-group", action="append")
    run.add_argument("--public-ip", action="store_true")
    run.add_argument("--count", type=int, default=1)
    run.add_argument("--env", action="append", default=[])
    run.add_argument("--command", dest="run", help="the container's arguments for this run, e.g. "
                                                   "'kb scan /mnt/kindling/dump/0 /mnt/kindling/kb --shard 0/4'")
    return top


def requests_for(args) -> list[tuple[str, str, dict]]:
    if args.command == "train":
        return [("sagemaker", "create_training_job", training_job(args))]
    if args.command == "tune":
        return [("sagemaker", "create_hyper_parameter_tuning_job", tuning_job(args))]
    if args.command == "deploy":
        return endpoint_requests(args)
    if args.command == "transform":
        return [("sagemaker", "create_transform_job", transform_job(args))]
    if args.command == "process":
        return [("sagemaker", "create_processing_job", processing_job(args))]
    if args.command == "ecs-task":
        return [("ecs", "register_task_definition", ecs_task_definition(args))]
    if args.command == "ecs-run":
        return [("ecs", "run_task", ecs_run_task(args))]
    raise KindlingError(f"unknown launch command {args.command!r}", code="bad_arguments")


def main(argv: list[str], clients=None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "push":
            if args.dry_run:
                send(push(args), True, args.region)
            else:
                push(args)
            return 0
        mode = _pairs(getattr(args, "hyperparameter", []), "hyperparameter").get("mode", getattr(args, "mode", "serve"))
        for warning in warn_instance(getattr(args, "instance_type", "ml.c5.large"), mode):
            sys.stderr.write(f"warning: {warning}\n")
        send(requests_for(args), args.dry_run, args.region, clients)
    except KindlingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except Exception as exc:  # botocore: no credentials / region, API errors — a sentence, not a traceback
        from botocore.exceptions import NoCredentialsError, NoRegionError

        if isinstance(exc, NoRegionError):
            sys.stderr.write("error: no AWS region: set AWS_REGION or pass --region.\n")
        elif isinstance(exc, NoCredentialsError):
            sys.stderr.write("error: no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE.\n")
        else:
            sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    return 0
