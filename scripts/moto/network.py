"""Create a demo VPC with two private subnets in the emulator; print shell exports.

Used by `make demo` (examples are written for real AWS IDs; the emulator makes its own).
Idempotent: an existing VPC tagged privateapi-demo is reused.
"""
import os

import boto3

ec2 = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "eu-west-1"))
vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["privateapi-demo"]}])["Vpcs"]
if vpcs:
    vpc_id = vpcs[0]["VpcId"]
else:
    vpc_id = ec2.create_vpc(
        CidrBlock="10.42.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "privateapi-demo"}]}],
    )["Vpc"]["VpcId"]
subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag:tier", "Values": ["private"]}])["Subnets"]
if len(subnets) < 2:
    region = ec2.meta.region_name
    for i, az in enumerate(["a", "b"]):
        ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.42.{i + 1}.0/24",
            AvailabilityZone=f"{region}{az}",
            TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "private"}]}],
        )
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag:tier", "Values": ["private"]}])["Subnets"]
ids = sorted(s["SubnetId"] for s in subnets)
print(f"export DEMO_VPC_ID={vpc_id}")
print(f"export DEMO_SUBNET_A={ids[0]}")
print(f"export DEMO_SUBNET_B={ids[1]}")
