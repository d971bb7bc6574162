"""The launch commands against a moto server on 127.0.0.1 (SageMaker, ECS, ECR and Application Auto
Scaling as far as moto implements them): the requests are sent for real and read back field by field."""

import pytest

from container import launch

pytestmark = pytest.mark.contract
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/kindling:1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


@pytest.fixture
def aws(fake_aws):
    import boto3

    return lambda service: boto3.session.Session().client(service)


def test_training_job_as_stored(aws):
    argv = ["train", "--image", IMAGE, "--role", ROLE, "--channel", "train=s3://bucket/data/train/", "--output",
            "s3://bucket/out", "-p", "mode=skipgram", "-p", "subwords=true", "--job-name", "moto-train-1", "--spot",
            "--max-runtime", "3600", "--max-wait", "7200"]
    assert launch.main(argv) == 0
    job = aws("sagemaker").describe_training_job(TrainingJobName="moto-train-1")
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    # moto answers MetricDefinitions with a canned list: test_launch.py checks them through the Stubber
    assert job["HyperParameters"] == {"mode": "skipgram", "subwords": "true"}
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://bucket/data/train/"
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["CheckpointConfig"] == {"S3Uri": "s3://bucket/out/checkpoints", "LocalPath": "/opt/ml/checkpoints"}
    assert job["EnableManagedSpotTraining"] is True and job["RoleArn"] == ROLE


def test_endpoint_and_transform_as_stored(aws):
    assert launch.main(["deploy", "--image", IMAGE, "--role", ROLE, "--model-data", "s3://bucket/out/model.tar.gz",
                        "--endpoint-name", "moto-ep", "--workers", "2"]) == 0
    sagemaker = aws("sagemaker")
    model = sagemaker.describe_model(ModelName="moto-ep")
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://bucket/out/model.tar.gz"
    assert model["PrimaryContainer"]["Environment"] == {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    variant = sagemaker.describe_endpoint_config(EndpointConfigName="moto-ep")["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"], variant["InitialInstanceCount"]) == ("moto-ep", "ml.c5.large", 1)
    assert sagemaker.describe_endpoint(EndpointName="moto-ep")["EndpointConfigName"] == "moto-ep"
    assert launch.main(["transform", "--model-name", "moto-ep", "--input", "s3://bucket/in/", "--output",
                        "s3://bucket/predictions/", "--job-name", "moto-transform-1"]) == 0
    job = sagemaker.describe_transform_job(TransformJobName="moto-transform-1")
    assert job["BatchStrategy"] == "MultiRecord" and job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformOutput"]["AssembleWith"] == "Line" and job["TransformInput"]["ContentType"] == "application/jsonlines"


def test_ecs_task_definition_as_stored(aws):
    assert launch.main(["--region", "us-east-1", "ecs-task", "--image", IMAGE, "--command", "serve", "--family",
                        "moto-kindling", "--env", "KINDLING_MODEL_S3=s3://bucket/out/model.tar.gz"]) == 0
    definition = aws("ecs").describe_task_definition(taskDefinition="moto-kindling")["taskDefinition"]
    container = definition["containerDefinitions"][0]
    assert container["image"] == IMAGE and container["command"] == ["serve"] and container["stopTimeout"] == 30
    assert container["healthCheck"]["command"][0] == "CMD" and container["portMappings"][0]["containerPort"] == 8080
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert definition["cpu"] == "2048" and definition["memory"] == "8192"
    assert definition["requiresCompatibilities"] == ["FARGATE"]
