#!/usr/bin/env python3
"""Smoke test of the AWS emulator: every call/behaviour the privateapi operator relies on.

Run against a started emulator (AWS_ENDPOINT_URL must be set), with the emulator venv:
    scripts/emulator.sh smoke            # starts it if needed
    eval "$(scripts/emulator.sh start)" && ~/.cache/privateapi-operator/venv/bin/python scripts/moto/smoke.py

Prints PASS/FAIL per check (INFO for observed shapes that are not checked), then
"N passed, N failed"; exits 1 on any failure. It never resets the server: all names
carry a per-run suffix, so it can run next to tests. Findings: FINDINGS.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import urllib.request
import uuid
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL")
if not ENDPOINT:
    sys.exit("AWS_ENDPOINT_URL is not set: eval \"$(scripts/emulator.sh start)\" first")
REGION = "eu-west-1"
RUN = uuid.uuid4().hex[:8]
UID = f"smoke-{RUN}"
UID_KEY = "privateapi.io/uid"
VERBOSE = "-v" in sys.argv

counts = {"PASS": 0, "FAIL": 0}


def out(kind: str, name: str, detail: Any = "") -> None:
    if kind in counts:
        counts[kind] += 1
    d = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    print(f"{kind:<4} {name}" + (f"  -- {d}" if d else ""), flush=True)


def check(name: str, cond: bool, detail: Any = "") -> bool:
    out("PASS" if cond else "FAIL", name, "" if cond and not VERBOSE else detail)
    return cond


def info(name: str, detail: Any) -> None:
    out("INFO", name, detail)


def code_of(fn: Callable[..., Any], *a: Any, **kw: Any) -> str | None:
    try:
        fn(*a, **kw)
        return None
    except ClientError as e:
        return str(e.response["Error"].get("Code"))


def expect_error(name: str, code: str, fn: Callable[..., Any], *a: Any, **kw: Any) -> None:
    got = code_of(fn, *a, **kw)
    check(f"{name} -> {code}", got == code, f"got {got}")


def section(fn: Callable[[], None]) -> Callable[[], None]:
    """Run a section; an unexpected exception is one FAIL, and the next section runs."""

    def run() -> None:
        print(f"---- {fn.__name__}", flush=True)
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            out("FAIL", f"{fn.__name__}: unexpected {type(e).__name__}: {e}")
            if VERBOSE:
                traceback.print_exc()

    return run


def http(method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ENDPOINT.rstrip("/") + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def client(name: str) -> Any:
    return boto3.client(
        name,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )


ec2, iam, ecs, elb = client("ec2"), client("iam"), client("ecs"), client("elbv2")
apigw, apigw2 = client("apigateway"), client("apigatewayv2")
S: dict[str, Any] = {}  # ids shared between sections
TAGS = [{"Key": UID_KEY, "Value": UID}]
ECS_TAGS = [{"key": UID_KEY, "value": UID}]


@section
def emulator() -> None:
    rep = http("GET", "/_privateapi/patches")
    bad = {k: v for k, v in rep["patches"].items() if v != "applied"}
    check("all emulator patches applied", not bad, bad)
    info("moto version", rep["moto"])
    S["delays"] = http("GET", "/_privateapi/delays")
    info("delays of AWS's slow steps (seconds)", S["delays"])
    check("delays: ALB provisioning, VPC link PENDING and ENI release are not zero by default",
          all(S["delays"].get(k, 0) > 0 for k in ("alb_provisioning_seconds", "vpc_link_pending_seconds", "eni_release_seconds")),
          S["delays"])


@section
def ec2_network() -> None:
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    S["vpc"] = vpc
    subnets = []
    for i, az in enumerate(("eu-west-1a", "eu-west-1b")):
        subnets.append(
            ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.77.{i}.0/24",
                AvailabilityZone=az,
                TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "private"}, *TAGS]}],
            )["Subnet"]["SubnetId"]
        )
    S["subnets"] = subnets
    found = ec2.describe_subnets(
        Filters=[{"Name": "tag:tier", "Values": ["private"]}, {"Name": f"tag:{UID_KEY}", "Values": [UID]}]
    )["Subnets"]
    check("DescribeSubnets Filters tag:tier=private finds both subnets", sorted(s["SubnetId"] for s in found) == sorted(subnets), found)
    check("DescribeSubnets returns VpcId/AvailabilityZone", all(s["VpcId"] == vpc and s["AvailabilityZone"] for s in found))
    expect_error("DescribeSubnets unknown id", "InvalidSubnetID.NotFound", ec2.describe_subnets, SubnetIds=["subnet-0123456789abcdef0"])
    expect_error("DescribeVpcs unknown id", "InvalidVpcID.NotFound", ec2.describe_vpcs, VpcIds=["vpc-0123456789abcdef0"])


@section
def ec2_security_groups() -> None:
    vpc = S["vpc"]
    sg_alb = ec2.create_security_group(
        GroupName=f"alb-{RUN}", Description="alb", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [*TAGS, {"Key": "privateapi.io/role", "Value": "alb"}]}],
    )["GroupId"]
    sg_task = ec2.create_security_group(
        GroupName=f"task-{RUN}", Description="task", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [*TAGS, {"Key": "privateapi.io/role", "Value": "task"}]}],
    )["GroupId"]
    S["sg_alb"], S["sg_task"] = sg_alb, sg_task
    expect_error("CreateSecurityGroup duplicate name in VPC", "InvalidGroup.Duplicate",
                 ec2.create_security_group, GroupName=f"alb-{RUN}", Description="alb", VpcId=vpc)
    got = ec2.describe_security_groups(Filters=[{"Name": f"tag:{UID_KEY}", "Values": [UID]}])["SecurityGroups"]
    check("DescribeSecurityGroups Filters tag:privateapi.io/uid finds both", sorted(g["GroupId"] for g in got) == sorted([sg_alb, sg_task]), got)
    check("DescribeSecurityGroups returns Tags", all({"Key": UID_KEY, "Value": UID} in g.get("Tags", []) for g in got))
    check("new SG has the default egress rule only", all(g["IpPermissions"] == [] and len(g["IpPermissionsEgress"]) == 1 for g in got))

    perm = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
            "UserIdGroupPairs": [{"GroupId": sg_alb, "Description": "from alb"}]}
    r = ec2.authorize_security_group_ingress(GroupId=sg_task, IpPermissions=[perm])
    rules = r.get("SecurityGroupRules", [])
    check("AuthorizeSecurityGroupIngress SG->SG returns the rule",
          len(rules) == 1 and rules[0].get("ReferencedGroupInfo", {}).get("GroupId") == sg_alb, r)
    dup = dict(perm, UserIdGroupPairs=[{"GroupId": sg_alb, "Description": "other text"}])
    expect_error("AuthorizeSecurityGroupIngress same pair, other description", "InvalidPermission.Duplicate",
                 ec2.authorize_security_group_ingress, GroupId=sg_task, IpPermissions=[dup])
    ip = ec2.describe_security_groups(GroupIds=[sg_task])["SecurityGroups"][0]["IpPermissions"]
    check("rule visible in DescribeSecurityGroups IpPermissions",
          len(ip) == 1 and ip[0]["FromPort"] == 8080 and ip[0]["UserIdGroupPairs"][0]["GroupId"] == sg_alb
          and ip[0]["UserIdGroupPairs"][0].get("Description") == "from alb", ip)
    sgr = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg_task]}])["SecurityGroupRules"]
    ingress = [x for x in sgr if not x["IsEgress"]]
    check("rule visible in DescribeSecurityGroupRules (ReferencedGroupInfo, Description)",
          len(ingress) == 1 and ingress[0].get("ReferencedGroupInfo", {}).get("GroupId") == sg_alb
          and ingress[0].get("Description") == "from alb", ingress)
    revoke = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": sg_alb}]}
    r = ec2.revoke_security_group_ingress(GroupId=sg_task, IpPermissions=[revoke])
    check("RevokeSecurityGroupIngress without the description", r.get("Return") is True, r)
    ip = ec2.describe_security_groups(GroupIds=[sg_task])["SecurityGroups"][0]["IpPermissions"]
    check("rule gone after revoke", ip == [], ip)
    expect_error("RevokeSecurityGroupIngress of a missing rule", "InvalidPermission.NotFound",
                 ec2.revoke_security_group_ingress, GroupId=sg_task, IpPermissions=[revoke])
    ec2.authorize_security_group_ingress(GroupId=sg_task, IpPermissions=[perm])
    ec2.authorize_security_group_ingress(
        GroupId=sg_alb, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.77.0.0/16"}]}])
    expect_error("DeleteSecurityGroup referenced by another SG's rule", "DependencyViolation", ec2.delete_security_group, GroupId=sg_alb)
    tmp = ec2.create_security_group(GroupName=f"tmp-{RUN}", Description="tmp", VpcId=vpc)["GroupId"]
    ec2.delete_security_group(GroupId=tmp)
    check("DeleteSecurityGroup unused SG", True)
    expect_error("DescribeSecurityGroups GroupIds=[deleted]", "InvalidGroup.NotFound", ec2.describe_security_groups, GroupIds=[tmp])
    expect_error("DeleteSecurityGroup deleted", "InvalidGroup.NotFound", ec2.delete_security_group, GroupId=tmp)
    got = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [tmp]}])["SecurityGroups"]
    check("DescribeSecurityGroups Filters group-id=[deleted] -> empty list, no error", got == [], got)


@section
def iam_roles() -> None:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    name = f"privateapi-exec-{RUN}"
    policy = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Tags=TAGS, Description="smoke")["Role"]
    S["role_arn"] = r["Arn"]
    check("CreateRole returns Arn", r["Arn"] == f"arn:aws:iam::123456789012:role/{name}", r["Arn"])
    expect_error("CreateRole duplicate", "EntityAlreadyExists", iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust)
    g = iam.get_role(RoleName=name)["Role"]
    check("GetRole returns Tags", g.get("Tags") == TAGS, g.get("Tags"))
    check("GetRole returns AssumeRolePolicyDocument decoded", g["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ecs-tasks.amazonaws.com")
    check("ListRoleTags", iam.list_role_tags(RoleName=name)["Tags"] == TAGS)
    iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    check("AttachRolePolicy AmazonECSTaskExecutionRolePolicy (managed policies loaded)", True)
    iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    check("AttachRolePolicy again is a no-op", True)
    att = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    check("ListAttachedRolePolicies", att == [{"PolicyName": "AmazonECSTaskExecutionRolePolicy", "PolicyArn": policy}], att)
    expect_error("DeleteRole with attached policy", "DeleteConflict", iam.delete_role, RoleName=name)
    iam.detach_role_policy(RoleName=name, PolicyArn=policy)
    check("DetachRolePolicy", iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == [])
    expect_error("DetachRolePolicy not attached", "NoSuchEntity", iam.detach_role_policy, RoleName=name, PolicyArn=policy)
    expect_error("AttachRolePolicy unknown policy", "NoSuchEntity", iam.attach_role_policy, RoleName=name, PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    iam.delete_role(RoleName=name)
    check("DeleteRole", True)
    expect_error("GetRole deleted", "NoSuchEntity", iam.get_role, RoleName=name)
    expect_error("ListRoleTags deleted", "NoSuchEntity", iam.list_role_tags, RoleName=name)
    expect_error("DeleteRole deleted", "NoSuchEntity", iam.delete_role, RoleName=name)
    expect_error("AttachRolePolicy to missing role", "NoSuchEntity", iam.attach_role_policy, RoleName=name, PolicyArn=policy)


@section
def elbv2_create() -> None:
    lbs = elb.create_load_balancer(
        Name=f"alb-{RUN}", Subnets=S["subnets"], SecurityGroups=[S["sg_alb"]], Scheme="internal",
        Type="application", IpAddressType="ipv4", Tags=TAGS)["LoadBalancers"]
    lb = lbs[0]
    S["lb"], S["lb_dns"] = lb["LoadBalancerArn"], lb["DNSName"]
    check("CreateLoadBalancer internal application", lb["Scheme"] == "internal" and lb["Type"] == "application"
          and lb["VpcId"] == S["vpc"] and lb["SecurityGroups"] == [S["sg_alb"]], lb)
    check("new ALB State provisioning", lb["State"]["Code"] == "provisioning", lb["State"])
    info("ALB DNSName", lb["DNSName"])
    d = elb.describe_load_balancers(LoadBalancerArns=[S["lb"]])["LoadBalancers"][0]
    check("ALB State still provisioning on the next describe", d["State"]["Code"] == "provisioning", d["State"])
    S["lb_active_at"] = time.monotonic() + S["delays"]["alb_provisioning_seconds"]
    again = elb.create_load_balancer(Name=f"alb-{RUN}", Subnets=S["subnets"], SecurityGroups=[S["sg_alb"]],
                                     Scheme="internal", Type="application", Tags=TAGS)["LoadBalancers"][0]
    check("CreateLoadBalancer same name+settings returns the same ALB", again["LoadBalancerArn"] == S["lb"], again["LoadBalancerArn"])
    expect_error("CreateLoadBalancer same name, other settings", "DuplicateLoadBalancerName", elb.create_load_balancer,
                 Name=f"alb-{RUN}", Subnets=S["subnets"], SecurityGroups=[S["sg_task"]], Scheme="internal", Type="application")
    check("DescribeLoadBalancers Names finds one", len(elb.describe_load_balancers(Names=[f"alb-{RUN}"])["LoadBalancers"]) == 1)
    expect_error("CreateLoadBalancer with a security group that does not exist", "InvalidSecurityGroup",
                 elb.create_load_balancer, Name=f"alb-nosg-{RUN}", Subnets=S["subnets"],
                 SecurityGroups=["sg-0123456789abcdef0"], Scheme="internal", Type="application")
    check("nothing made by the refused CreateLoadBalancer",
          code_of(elb.describe_load_balancers, Names=[f"alb-nosg-{RUN}"]) == "LoadBalancerNotFound")

    tg_args = dict(Protocol="HTTP", Port=8080, VpcId=S["vpc"], TargetType="ip", HealthCheckPath="/healthz",
                   HealthCheckProtocol="HTTP", HealthCheckIntervalSeconds=15, Matcher={"HttpCode": "200-399"}, Tags=TAGS)
    tg = elb.create_target_group(Name=f"tg-{RUN}", **tg_args)["TargetGroups"][0]
    S["tg"] = tg["TargetGroupArn"]
    check("CreateTargetGroup ip + health check", tg["TargetType"] == "ip" and tg["HealthCheckPath"] == "/healthz"
          and tg["Matcher"] == {"HttpCode": "200-399"} and tg["HealthCheckIntervalSeconds"] == 15, tg)
    again = elb.create_target_group(Name=f"tg-{RUN}", **tg_args)["TargetGroups"][0]
    check("CreateTargetGroup same name+settings returns the same TG", again["TargetGroupArn"] == S["tg"])
    expect_error("CreateTargetGroup same name, other port", "DuplicateTargetGroupName", elb.create_target_group,
                 Name=f"tg-{RUN}", **dict(tg_args, Port=9090))

    action = [{"Type": "forward", "TargetGroupArn": S["tg"]}]
    ls = elb.create_listener(LoadBalancerArn=S["lb"], Protocol="HTTP", Port=80, DefaultActions=action, Tags=TAGS)["Listeners"][0]
    S["listener"] = ls["ListenerArn"]
    check("CreateListener HTTP:80 forward", ls["Port"] == 80 and ls["DefaultActions"][0]["TargetGroupArn"] == S["tg"], ls)
    again = elb.create_listener(LoadBalancerArn=S["lb"], Protocol="HTTP", Port=80, DefaultActions=action, Tags=TAGS)["Listeners"][0]
    check("CreateListener same port+settings returns the same listener", again["ListenerArn"] == S["listener"])
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}]
    expect_error("CreateListener same port, other action", "DuplicateListener", elb.create_listener,
                 LoadBalancerArn=S["lb"], Protocol="HTTP", Port=80, DefaultActions=fixed)
    lst = elb.describe_listeners(LoadBalancerArn=S["lb"])["Listeners"]
    check("DescribeListeners LoadBalancerArn -> 1 listener", [x["ListenerArn"] for x in lst] == [S["listener"]], lst)
    tgd = elb.describe_target_groups(TargetGroupArns=[S["tg"]])["TargetGroups"][0]
    check("DescribeTargetGroups LoadBalancerArns", tgd.get("LoadBalancerArns") == [S["lb"]], tgd.get("LoadBalancerArns"))

    extra = [elb.create_target_group(Name=f"x{i}-{RUN}", Protocol="HTTP", Port=80, VpcId=S["vpc"], TargetType="ip",
                                     Tags=[{"Key": "n", "Value": str(i)}])["TargetGroups"][0]["TargetGroupArn"] for i in range(17)]
    arns = [S["lb"], S["tg"], S["listener"], *extra]
    td = elb.describe_tags(ResourceArns=arns)["TagDescriptions"]
    check("DescribeTags 20 ARNs (LB, TG, listener, ...)", len(td) == 20 and td[0]["Tags"] == TAGS and td[2]["Tags"] == TAGS, len(td))
    c = code_of(elb.describe_tags, ResourceArns=arns + [S["tg"] + "x"])
    info("DescribeTags with 21 ARNs (AWS: ValidationError, max 20)", c or "accepted")
    for a in extra:
        elb.delete_target_group(TargetGroupArn=a)

    tg2 = elb.create_target_group(Name=f"tg2-{RUN}", Protocol="HTTP", Port=8081, VpcId=S["vpc"], TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    S["tg_unattached"] = tg2
    m = elb.modify_listener(ListenerArn=S["listener"], DefaultActions=[{"Type": "forward", "TargetGroupArn": tg2}])["Listeners"][0]
    check("ModifyListener DefaultActions", m["DefaultActions"][0]["TargetGroupArn"] == tg2, m)
    elb.modify_listener(ListenerArn=S["listener"], Port=80, Protocol="HTTP", DefaultActions=action)
    back = elb.describe_listeners(ListenerArns=[S["listener"]])["Listeners"][0]
    check("ModifyListener back", back["DefaultActions"][0]["TargetGroupArn"] == S["tg"] and back["Port"] == 80, back)
    tgs = elb.describe_target_groups(TargetGroupArns=[tg2])["TargetGroups"][0]
    check("TG LoadBalancerArns after the listener moved away from it -> []", not tgs.get("LoadBalancerArns"), tgs.get("LoadBalancerArns"))
    tgd = elb.describe_target_groups(TargetGroupArns=[S["tg"]])["TargetGroups"][0]
    check("TG LoadBalancerArns after the listener moved back -> [ALB]", tgd.get("LoadBalancerArns") == [S["lb"]], tgd.get("LoadBalancerArns"))
    mt = elb.modify_target_group(TargetGroupArn=S["tg"], HealthCheckPath="/ready", Matcher={"HttpCode": "200"},
                                 HealthCheckIntervalSeconds=10, HealthyThresholdCount=3)["TargetGroups"][0]
    check("ModifyTargetGroup health check", mt["HealthCheckPath"] == "/ready" and mt["Matcher"] == {"HttpCode": "200"}
          and mt["HealthCheckIntervalSeconds"] == 10 and mt["HealthyThresholdCount"] == 3, mt)
    expect_error("DeleteTargetGroup used by a listener", "ResourceInUse", elb.delete_target_group, TargetGroupArn=S["tg"])
    # A prefix override: ALBs of these names are active at once, others keep the delay.
    fast = f"fast-{RUN}"
    http("POST", "/_privateapi/delays", {"prefix": fast, "alb_provisioning_seconds": 0})
    try:
        f = elb.create_load_balancer(Name=fast, Subnets=S["subnets"], SecurityGroups=[S["sg_alb"]], Scheme="internal")
        arn = f["LoadBalancers"][0]["LoadBalancerArn"]
        state = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]["State"]["Code"]
        check("/_privateapi/delays prefix override: an ALB of that prefix is active on the first describe", state == "active", state)
        elb.delete_load_balancer(LoadBalancerArn=arn)
    finally:
        http("POST", "/_privateapi/delays", {"prefix": fast, "unset": True})
    time.sleep(max(0.0, S["lb_active_at"] - time.monotonic()) + 0.05)
    d = elb.describe_load_balancers(LoadBalancerArns=[S["lb"]])["LoadBalancers"][0]
    check("ALB State active once alb_provisioning_seconds have passed", d["State"]["Code"] == "active", d["State"])
    th = elb.describe_target_health(TargetGroupArn=S["tg"])["TargetHealthDescriptions"]
    check("DescribeTargetHealth without an ECS service -> []", th == [], th)


@section
def elbv2_listener_rules() -> None:
    # A load-balancer group's listener: a fixed 404 by default, one rule per member
    # matching its route header, tagged at creation.
    not_found = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain",
                                                                      "MessageBody": "no route"}}]
    ls = elb.create_listener(LoadBalancerArn=S["lb"], Protocol="HTTP", Port=8081, DefaultActions=not_found,
                             Tags=TAGS)["Listeners"][0]["ListenerArn"]
    d = elb.describe_listeners(ListenerArns=[ls])["Listeners"][0]["DefaultActions"]
    check("CreateListener fixed-response 404 default", d[0]["Type"] == "fixed-response"
          and d[0]["FixedResponseConfig"]["StatusCode"] == "404", d)
    cond = lambda v: [{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "x-privateapi-route", "Values": [v]}}]
    fwd = [{"Type": "forward", "TargetGroupArn": S["tg"]}]
    r = elb.create_rule(ListenerArn=ls, Priority=7, Conditions=cond("ns/a"), Actions=fwd, Tags=TAGS)["Rules"][0]
    check("CreateRule http-header condition", r["Conditions"][0]["HttpHeaderConfig"]["Values"] == ["ns/a"]
          and r["Priority"] == "7", r)
    tags = elb.describe_tags(ResourceArns=[r["RuleArn"]])["TagDescriptions"][0]["Tags"]
    check("CreateRule Tags on the rule", tags == TAGS, tags)
    expect_error("CreateRule a priority in use", "PriorityInUse", elb.create_rule, ListenerArn=ls, Priority=7,
                 Conditions=cond("ns/b"), Actions=fwd)
    rules = elb.describe_rules(ListenerArn=ls)["Rules"]
    check("DescribeRules: the rule and the default one", sorted((x["Priority"], x["IsDefault"]) for x in rules)
          == [("7", False), ("default", True)], rules)
    extra = [elb.create_rule(ListenerArn=ls, Priority=100 + i, Conditions=cond(f"ns/x{i}"), Actions=fwd)["Rules"][0]["RuleArn"]
             for i in range(99)]
    expect_error("CreateRule the 101st rule of a listener", "TooManyRules", elb.create_rule, ListenerArn=ls, Priority=5,
                 Conditions=cond("ns/c"), Actions=fwd)
    for a in extra:
        elb.delete_rule(RuleArn=a)
    elb.delete_rule(RuleArn=r["RuleArn"])
    expect_error("DeleteRule a rule that is gone", "RuleNotFound", elb.delete_rule, RuleArn=r["RuleArn"])
    elb.delete_listener(ListenerArn=ls)


@section
def ecs_cluster_and_taskdef() -> None:
    cl = ecs.create_cluster(clusterName=f"c-{RUN}", tags=ECS_TAGS)["cluster"]
    S["cluster"] = cl["clusterArn"]
    check("CreateCluster with tags", cl["status"] == "ACTIVE" and cl.get("tags") == ECS_TAGS, cl)
    d = ecs.describe_clusters(clusters=[f"c-{RUN}"], include=["TAGS"])["clusters"][0]
    check("DescribeClusters include TAGS", d.get("tags") == ECS_TAGS, d)
    d = ecs.describe_clusters(clusters=[f"c-{RUN}"])["clusters"][0]
    check("DescribeClusters without include has no tags", "tags" not in d, d)
    again = ecs.create_cluster(clusterName=f"c-{RUN}", tags=ECS_TAGS)["cluster"]
    check("CreateCluster existing name returns it", again["clusterArn"] == S["cluster"])

    cdefs = [{"name": "app", "image": "nginx:1.27", "essential": True,
              "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
              "environment": [{"name": "A", "value": "1"}],
              "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": REGION, "awslogs-stream-prefix": "app"}}}]
    fam = f"fam-{RUN}"
    S["family"] = fam
    kw = dict(family=fam, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
              executionRoleArn=f"arn:aws:iam::123456789012:role/privateapi-exec-{RUN}", containerDefinitions=cdefs, tags=ECS_TAGS)
    td1 = ecs.register_task_definition(**kw)["taskDefinition"]
    S["td1"] = td1["taskDefinitionArn"]
    check("RegisterTaskDefinition FARGATE awsvpc cpu/memory strings",
          td1["revision"] == 1 and td1["cpu"] == "512" and td1["memory"] == "1024" and td1["networkMode"] == "awsvpc"
          and td1["requiresCompatibilities"] == ["FARGATE"], td1)
    info("RegisterTaskDefinition adds defaults to containerDefinitions", {k: v for k, v in td1["containerDefinitions"][0].items() if k not in cdefs[0]})
    d = ecs.describe_task_definition(taskDefinition=S["td1"], include=["TAGS"])
    check("DescribeTaskDefinition include TAGS", d.get("tags") == ECS_TAGS, d.get("tags"))
    check("DescribeTaskDefinition without include has no tags", "tags" not in ecs.describe_task_definition(taskDefinition=S["td1"]))
    S["td2"] = ecs.register_task_definition(**dict(kw, cpu="1024", memory="2048"))["taskDefinition"]["taskDefinitionArn"]
    ecs.register_task_definition(**dict(kw, family=fam + "0"))  # prefix sibling must not match
    lst = ecs.list_task_definitions(familyPrefix=fam)["taskDefinitionArns"]
    check("ListTaskDefinitions familyPrefix (exact family)", lst == [S["td1"], S["td2"]], lst)
    lst = ecs.list_task_definitions(familyPrefix=fam, sort="DESC")["taskDefinitionArns"]
    check("ListTaskDefinitions sort DESC", lst == [S["td2"], S["td1"]], lst)
    d = ecs.describe_task_definition(taskDefinition=fam)["taskDefinition"]
    check("DescribeTaskDefinition family -> latest ACTIVE revision", d["taskDefinitionArn"] == S["td2"], d["taskDefinitionArn"])
    expect_error("DescribeTaskDefinition unknown", "ClientException", ecs.describe_task_definition, taskDefinition=f"nope-{RUN}:1")


def svc_desc(include_tags: bool = False) -> dict[str, Any]:
    kw = {"include": ["TAGS"]} if include_tags else {}
    r = ecs.describe_services(cluster=S["cluster"], services=[f"svc-{RUN}"], **kw)
    return r["services"][0] if r["services"] else {"failures": r["failures"]}


@section
def ecs_service() -> None:
    base = dict(
        cluster=S["cluster"], serviceName=f"svc-{RUN}", taskDefinition=S["td1"], desiredCount=2, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": S["subnets"], "securityGroups": [S["sg_task"]], "assignPublicIp": "DISABLED"}},
        loadBalancers=[{"targetGroupArn": S["tg"], "containerName": "app", "containerPort": 8080}],
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 50},
        healthCheckGracePeriodSeconds=60, tags=ECS_TAGS, propagateTags="SERVICE", enableECSManagedTags=True,
    )
    expect_error("CreateService with a TG that has no load balancer", "InvalidParameterException", ecs.create_service,
                 **dict(base, loadBalancers=[{"targetGroupArn": S["tg_unattached"], "containerName": "app", "containerPort": 8080}]))
    s = ecs.create_service(**base)["service"]
    S["service"] = s["serviceArn"]
    check("CreateService FARGATE awsvpc + LB", s["status"] == "ACTIVE" and s["launchType"] == "FARGATE"
          and s["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
          and s["loadBalancers"] == base["loadBalancers"] and s["taskDefinition"] == S["td1"], s)
    check("CreateService ARN has the cluster name", s["serviceArn"].endswith(f":service/c-{RUN}/svc-{RUN}"), s["serviceArn"])
    check("CreateService keeps deploymentConfiguration", s.get("deploymentConfiguration", {}).get("minimumHealthyPercent") == 50
          and s["deploymentConfiguration"].get("maximumPercent") == 200, s.get("deploymentConfiguration"))
    check("CreateService keeps healthCheckGracePeriodSeconds", s.get("healthCheckGracePeriodSeconds") == 60, s.get("healthCheckGracePeriodSeconds"))
    check("CreateService propagateTags/enableECSManagedTags", s.get("propagateTags") == "SERVICE" and s.get("enableECSManagedTags") is True)
    expect_error("CreateService same name while ACTIVE", "InvalidParameterException", ecs.create_service, **base)

    d = svc_desc(include_tags=True)
    check("DescribeServices include TAGS", d.get("tags") == ECS_TAGS, d.get("tags"))
    check("DescribeServices without include has no tags", "tags" not in svc_desc())
    dep = d["deployments"]
    check("running tasks simulated: runningCount == desiredCount", d["runningCount"] == 2 and d["pendingCount"] == 0, d)
    check("one PRIMARY deployment, rolloutState COMPLETED", len(dep) == 1 and dep[0]["status"] == "PRIMARY"
          and dep[0]["rolloutState"] == "COMPLETED" and dep[0]["runningCount"] == 2 and dep[0]["taskDefinition"] == S["td1"], dep)

    scope = {"cluster": f"c-{RUN}", "service": f"svc-{RUN}"}  # scoped: other tests may share the server
    http("POST", "/_privateapi/ecs", dict(scope, running=0))
    try:
        d = svc_desc()
        check("/_privateapi/ecs running=0 (this service): runningCount 0, rollout IN_PROGRESS", d["runningCount"] == 0 and d["pendingCount"] == 2
              and d["deployments"][0]["rolloutState"] == "IN_PROGRESS", d["deployments"])
        http("POST", "/_privateapi/ecs", dict(scope, running=1))
        d = svc_desc()
        check("/_privateapi/ecs running=1: 1 of 2 running", d["runningCount"] == 1 and d["deployments"][0]["rolloutState"] == "IN_PROGRESS")
    finally:
        http("POST", "/_privateapi/ecs", dict(scope, unset=True))
    d = svc_desc()
    check("/_privateapi/ecs override unset: back to COMPLETED", d["runningCount"] == 2 and d["deployments"][0]["rolloutState"] == "COMPLETED")

    th = elb.describe_target_health(TargetGroupArn=S["tg"])["TargetHealthDescriptions"]
    check("DescribeTargetHealth: one healthy ip target per running task", len(th) == 2
          and all(t["TargetHealth"]["State"] == "healthy" and t["Target"]["Port"] == 8080 for t in th), th)
    http("POST", "/_privateapi/ecs", dict(scope, running=0))
    th = elb.describe_target_health(TargetGroupArn=S["tg"])["TargetHealthDescriptions"]
    http("POST", "/_privateapi/ecs", dict(scope, unset=True))
    check("DescribeTargetHealth with 0 running: targets 'initial'", len(th) == 2 and all(t["TargetHealth"]["State"] == "initial" for t in th), th)
    u = ecs.update_service(cluster=S["cluster"], service=f"svc-{RUN}", desiredCount=3)["service"]
    check("UpdateService desiredCount", u["desiredCount"] == 3 and u["runningCount"] == 3
          and u["deployments"][0]["desiredCount"] == 3 and u["deployments"][0]["rolloutState"] == "COMPLETED", u["deployments"])
    u = ecs.update_service(cluster=S["cluster"], service=f"svc-{RUN}", taskDefinition=f"{S['family']}:2")["service"]
    check("UpdateService taskDefinition family:rev -> ARN", u["taskDefinition"] == S["td2"], u["taskDefinition"])
    check("UpdateService taskDefinition starts a new PRIMARY deployment (old ACTIVE)",
          [x["status"] for x in u["deployments"]] == ["PRIMARY", "ACTIVE"] and u["deployments"][0]["taskDefinition"] == S["td2"]
          and u["deployments"][1]["taskDefinition"] == S["td1"], u["deployments"])
    d = svc_desc()
    check("next DescribeServices: new deployment COMPLETED, old one drained",
          len(d["deployments"]) == 1 and d["deployments"][0]["taskDefinition"] == S["td2"]
          and d["deployments"][0]["rolloutState"] == "COMPLETED", d["deployments"])
    u = ecs.update_service(cluster=S["cluster"], service=f"svc-{RUN}",
                           deploymentConfiguration={"maximumPercent": 150, "minimumHealthyPercent": 100}, healthCheckGracePeriodSeconds=30)["service"]
    check("UpdateService deploymentConfiguration/healthCheckGracePeriodSeconds", u.get("deploymentConfiguration", {}).get("maximumPercent") == 150
          and u.get("healthCheckGracePeriodSeconds") == 30, u)
    expect_error("UpdateService unknown service", "ServiceNotFoundException", ecs.update_service, cluster=S["cluster"], service=f"nope-{RUN}", desiredCount=1)
    r = ecs.describe_services(cluster=S["cluster"], services=[f"nope-{RUN}"])
    check("DescribeServices unknown -> failures[reason=MISSING], no error", r["services"] == [] and r["failures"][0]["reason"] == "MISSING", r["failures"])
    expect_error("DescribeServices unknown cluster", "ClusterNotFoundException", ecs.describe_services, cluster=f"nope-{RUN}", services=[f"svc-{RUN}"])
    expect_error("DeleteSecurityGroup used by an ACTIVE ECS service", "DependencyViolation", ec2.delete_security_group, GroupId=S["sg_task"])
    expect_error("DeleteCluster with an ACTIVE service", "ClusterContainsServicesException", ecs.delete_cluster, cluster=S["cluster"])
    expect_error("DeleteService scaled above 0 without force", "InvalidParameterException", ecs.delete_service, cluster=S["cluster"], service=f"svc-{RUN}")

    dl = ecs.delete_service(cluster=S["cluster"], service=f"svc-{RUN}", force=True)["service"]
    th = elb.describe_target_health(TargetGroupArn=S["tg"])["TargetHealthDescriptions"]
    check("DescribeTargetHealth after DeleteService -> []", th == [], th)
    check("DeleteService force", dl["status"] in ("DRAINING", "INACTIVE") and dl["desiredCount"] == 0, {k: dl[k] for k in ("status", "desiredCount", "runningCount")})
    expect_error("DeleteSecurityGroup of a just-deleted service's tasks (ENIs not yet released)", "DependencyViolation",
                 ec2.delete_security_group, GroupId=S["sg_task"])
    info("DeleteService status right after (AWS: DRAINING, later INACTIVE)", dl["status"])
    d = svc_desc()
    check("DescribeServices after delete still returns it, status INACTIVE, 0 running",
          d.get("status") == "INACTIVE" and d.get("runningCount") == 0, {k: d.get(k) for k in ("status", "runningCount", "failures")})
    expect_error("UpdateService on INACTIVE service", "ServiceNotActiveException", ecs.update_service, cluster=S["cluster"], service=f"svc-{RUN}", desiredCount=1)
    c = code_of(ecs.delete_service, cluster=S["cluster"], service=f"svc-{RUN}", force=True)
    info("DeleteService on INACTIVE service", c or "accepted (returns the INACTIVE service)")

    for td in (S["td1"], S["td2"]):
        x = ecs.deregister_task_definition(taskDefinition=td)["taskDefinition"]
        check(f"DeregisterTaskDefinition rev {x['revision']} -> INACTIVE", x["status"] == "INACTIVE")
    check("ListTaskDefinitions (ACTIVE) empty after deregister", ecs.list_task_definitions(familyPrefix=S["family"])["taskDefinitionArns"] == [])
    check("ListTaskDefinitions status=INACTIVE lists them",
          len(ecs.list_task_definitions(familyPrefix=S["family"], status="INACTIVE")["taskDefinitionArns"]) == 2)
    x = ecs.describe_task_definition(taskDefinition=S["td1"])["taskDefinition"]
    check("DescribeTaskDefinition deregistered -> status INACTIVE (no error)", x["status"] == "INACTIVE")

    dc = ecs.delete_cluster(cluster=S["cluster"])["cluster"]
    check("DeleteCluster -> INACTIVE", dc["status"] == "INACTIVE", dc["status"])
    r = ecs.describe_clusters(clusters=[S["cluster"], f"nope-{RUN}"])
    check("DescribeClusters deleted -> status INACTIVE; unknown -> failures MISSING",
          r["clusters"][0]["status"] == "INACTIVE" and r["failures"][0]["reason"] == "MISSING", r)


@section
def apigateway() -> None:
    vl = apigw2.create_vpc_link(Name=f"vl-{RUN}", SubnetIds=S["subnets"], SecurityGroupIds=[S["sg_alb"]], Tags={UID_KEY: UID})
    S["vpc_link"] = vl["VpcLinkId"]
    check("CreateVpcLink (v2)", vl["VpcLinkVersion"] == "V2" and vl["SubnetIds"] == S["subnets"] and vl["SecurityGroupIds"] == [S["sg_alb"]], vl)
    check("CreateVpcLink VpcLinkStatus PENDING (as AWS)", vl["VpcLinkStatus"] == "PENDING", vl["VpcLinkStatus"])
    items = [x for x in apigw2.get_vpc_links()["Items"] if x["VpcLinkId"] == S["vpc_link"]]
    check("GetVpcLinks returns Tags and VpcLinkStatus PENDING", len(items) == 1 and items[0]["Tags"] == {UID_KEY: UID}
          and items[0]["VpcLinkStatus"] == "PENDING", items)
    time.sleep(S["delays"]["vpc_link_pending_seconds"] + 0.05)
    check("GetVpcLink AVAILABLE once vpc_link_pending_seconds have passed",
          apigw2.get_vpc_link(VpcLinkId=S["vpc_link"])["VpcLinkStatus"] == "AVAILABLE")
    check("GetVpcLink", apigw2.get_vpc_link(VpcLinkId=S["vpc_link"])["Name"] == f"vl-{RUN}")

    # The knob: PENDING for a second from the create, then AVAILABLE.
    pending = f"vlp-{RUN}"
    http("POST", "/_privateapi/vpclink", {"name": pending, "pending_seconds": 1})
    try:
        vlp = apigw2.create_vpc_link(Name=pending, SubnetIds=S["subnets"], SecurityGroupIds=[S["sg_alb"]])
        seen = [vlp["VpcLinkStatus"], apigw2.get_vpc_link(VpcLinkId=vlp["VpcLinkId"])["VpcLinkStatus"]]
        time.sleep(1.2)
        seen.append(apigw2.get_vpc_link(VpcLinkId=vlp["VpcLinkId"])["VpcLinkStatus"])
        check("/_privateapi/vpclink pending_seconds=1: PENDING, PENDING, then AVAILABLE", seen == ["PENDING", "PENDING", "AVAILABLE"], seen)
        apigw2.delete_vpc_link(VpcLinkId=vlp["VpcLinkId"])
    finally:
        http("POST", "/_privateapi/vpclink", {"name": pending, "unset": True})

    # The quota, in a region no test uses (it is per region): 1 link, then refused.
    quota_region = "eu-south-2"
    q2 = boto3.client("apigatewayv2", endpoint_url=ENDPOINT, region_name=quota_region,
                      aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                      aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    http("POST", "/_privateapi/quotas", {"region": quota_region, "vpc_links_v2": len(q2.get_vpc_links().get("Items", [])) + 1})
    try:
        first = q2.create_vpc_link(Name=f"vlq-{RUN}", SubnetIds=["subnet-1"])
        try:
            q2.create_vpc_link(Name=f"vlq2-{RUN}", SubnetIds=["subnet-1"])
            check("CreateVpcLink past the region's quota -> BadRequestException (AWS's text)", False, "accepted")
        except ClientError as e:
            err = e.response["Error"]
            check("CreateVpcLink past the region's quota -> BadRequestException (AWS's text)",
                  err.get("Code") == "BadRequestException" and "There are too many Vpc Links defined for this account" in err.get("Message", ""), err)
        q2.delete_vpc_link(VpcLinkId=first["VpcLinkId"])
    finally:
        http("POST", "/_privateapi/quotas", {"region": quota_region, "unset": True})

    # 50 tags per resource: the 51st is refused, and nothing of that call applied.
    tagged = q2.create_vpc_link(Name=f"vlt-{RUN}", SubnetIds=["subnet-1"], Tags={f"t{i}": "v" for i in range(3)})
    arn = f"arn:aws:apigateway:{quota_region}::/vpclinks/{tagged['VpcLinkId']}"
    q2.tag_resource(ResourceArn=arn, Tags={f"u{i}": "v" for i in range(47)})
    expect_error("TagResource past 50 tags on a resource", "BadRequestException",
                 lambda: q2.tag_resource(ResourceArn=arn, Tags={"x1": "v", "x2": "v"}))
    check("a refused TagResource applies none of its tags",
          len(q2.get_vpc_link(VpcLinkId=tagged["VpcLinkId"]).get("Tags", {})) == 50)
    q2.delete_vpc_link(VpcLinkId=tagged["VpcLinkId"])

    domain = f"d-{RUN}.example.com"
    apigw.create_domain_name(domainName=domain, endpointConfiguration={"types": ["REGIONAL"]},
                             regionalCertificateArn="arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555")
    check("GetBasePathMappings of a domain without mappings -> []",
          apigw.get_base_path_mappings(domainName=domain).get("items", []) == [])
    apigw.delete_domain_name(domainName=domain)

    v1 = apigw.create_vpc_link(name=f"vl1-{RUN}", targetArns=[S["lb"]], tags={UID_KEY: UID})
    seen = [v1["status"], apigw.get_vpc_link(vpcLinkId=v1["id"])["status"]]
    time.sleep(S["delays"]["vpc_link_pending_seconds"] + 0.05)
    seen.append(apigw.get_vpc_link(vpcLinkId=v1["id"])["status"])
    check("CreateVpcLink (V1): PENDING, PENDING, then AVAILABLE after vpc_link_pending_seconds",
          seen == ["PENDING", "PENDING", "AVAILABLE"], seen)
    apigw.delete_vpc_link(vpcLinkId=v1["id"])

    api = apigw.create_rest_api(name=f"api-{RUN}", description="smoke", endpointConfiguration={"types": ["REGIONAL"]}, tags={UID_KEY: UID})
    S["api"] = api["id"]
    check("CreateRestApi REGIONAL with tags", api["endpointConfiguration"]["types"] == ["REGIONAL"] and api["tags"] == {UID_KEY: UID}, api)
    lst = [x for x in apigw.get_rest_apis(limit=500)["items"] if x["id"] == S["api"]]
    check("GetRestApis returns tags", len(lst) == 1 and lst[0].get("tags") == {UID_KEY: UID}, lst)
    res = apigw.get_resources(restApiId=S["api"], embed=["methods"])["items"]
    check("GetResources of a new API: only '/'", [r["path"] for r in res] == ["/"] and res[0]["id"] == api["rootResourceId"], res)
    root = res[0]["id"]
    proxy = apigw.create_resource(restApiId=S["api"], parentId=root, pathPart="{proxy+}")
    check("CreateResource {proxy+}", proxy["path"] == "/{proxy+}" and proxy["parentId"] == root, proxy)
    expect_error("CreateResource same pathPart again", "ConflictException", apigw.create_resource, restApiId=S["api"], parentId=root, pathPart="{proxy+}")
    for rid, params in ((root, None), (proxy["id"], {"method.request.path.proxy": True})):
        kw = {"requestParameters": params} if params else {}
        m = apigw.put_method(restApiId=S["api"], resourceId=rid, httpMethod="ANY", authorizationType="NONE", **kw)
        check(f"PutMethod ANY on {'/' if rid == root else '/{proxy+}'}", m["httpMethod"] == "ANY" and m.get("requestParameters", {}) == (params or {}), m)

    dns = S["lb_dns"]
    integ = dict(type="HTTP_PROXY", integrationHttpMethod="ANY", connectionType="VPC_LINK", connectionId=S["vpc_link"],
                 integrationTarget=S["lb"], timeoutInMillis=29000)
    expect_error("PutIntegration VPC_LINK v2 without integrationTarget", "BadRequestException", apigw.put_integration,
                 restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY", uri=f"http://{dns}/{{proxy}}",
                 **{k: v for k, v in integ.items() if k != "integrationTarget"})
    try:
        apigw.put_integration(restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY", uri=f"http://{dns}/{{proxy}}",
                              **{k: v for k, v in integ.items() if k != "integrationTarget"})
    except ClientError as e:
        check("... message 'IntegrationTarget is required for VpcLinkV2'", "IntegrationTarget is required for VpcLinkV2" in str(e), str(e))
    p = apigw.put_integration(restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY", uri=f"http://{dns}/{{proxy}}",
                              requestParameters={"integration.request.path.proxy": "method.request.path.proxy"}, **integ)
    check("PutIntegration response has connectionId/integrationTarget", p.get("connectionId") == S["vpc_link"] and p.get("integrationTarget") == S["lb"], p)
    apigw.put_integration(restApiId=S["api"], resourceId=root, httpMethod="ANY", uri=f"http://{dns}/", **integ)
    expect_error("DeleteVpcLink of a link an integration names (AWS: 'is referenced in')", "BadRequestException",
                 apigw2.delete_vpc_link, VpcLinkId=S["vpc_link"])
    g = apigw.get_integration(restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY")
    want = {"type": "HTTP_PROXY", "httpMethod": "ANY", "uri": f"http://{dns}/{{proxy}}", "connectionType": "VPC_LINK",
            "connectionId": S["vpc_link"], "integrationTarget": S["lb"], "timeoutInMillis": 29000,
            "requestParameters": {"integration.request.path.proxy": "method.request.path.proxy"}}
    diff = {k: (g.get(k), v) for k, v in want.items() if g.get(k) != v}
    check("GetIntegration returns the VPC-link wiring", not diff, diff)
    gm = apigw.get_method(restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY")
    check("GetMethod embeds methodIntegration with connectionId", gm.get("methodIntegration", {}).get("connectionId") == S["vpc_link"], gm)
    res = {r["path"]: r for r in apigw.get_resources(restApiId=S["api"], embed=["methods"])["items"]}
    check("GetResources embed=methods: integrations embedded", all(
        res[p]["resourceMethods"]["ANY"].get("methodIntegration", {}).get("integrationTarget") == S["lb"] for p in ("/", "/{proxy+}")), res)
    res = {r["path"]: r for r in apigw.get_resources(restApiId=S["api"])["items"]}
    check("GetResources without embed: resourceMethods {'ANY': {}}", all(res[p].get("resourceMethods") == {"ANY": {}} for p in ("/", "/{proxy+}")), res)

    vl2 = apigw2.create_vpc_link(Name=f"vl2-{RUN}", SubnetIds=S["subnets"], SecurityGroupIds=[S["sg_alb"]])["VpcLinkId"]
    u = apigw.update_integration(restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY", patchOperations=[
        {"op": "replace", "path": "/uri", "value": f"http://{dns}:8080/{{proxy}}"},
        {"op": "replace", "path": "/connectionId", "value": vl2},
        {"op": "replace", "path": "/integrationTarget", "value": S["lb"]},
        {"op": "replace", "path": "/connectionType", "value": "VPC_LINK"},
        {"op": "replace", "path": "/timeoutInMillis", "value": "10000"}])
    check("UpdateIntegration replace uri/connectionId/integrationTarget/connectionType/timeout",
          u["uri"] == f"http://{dns}:8080/{{proxy}}" and u["connectionId"] == vl2 and u["timeoutInMillis"] == 10000, u)
    g = apigw.get_integration(restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY")
    check("GetIntegration after UpdateIntegration", g["connectionId"] == vl2 and g["uri"] == u["uri"], g)
    expect_error("UpdateIntegration remove /integrationTarget on a v2 link", "BadRequestException", apigw.update_integration,
                 restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY", patchOperations=[{"op": "remove", "path": "/integrationTarget"}])
    apigw.update_integration(restApiId=S["api"], resourceId=proxy["id"], httpMethod="ANY",
                             patchOperations=[{"op": "replace", "path": "/connectionId", "value": S["vpc_link"]}])
    apigw2.delete_vpc_link(VpcLinkId=vl2)

    d1 = apigw.create_deployment(restApiId=S["api"], description="first")
    check("CreateDeployment with description", d1.get("description") == "first" and d1.get("id"), d1)
    deps = apigw.get_deployments(restApiId=S["api"])["items"]
    check("GetDeployments", [x["id"] for x in deps] == [d1["id"]] and deps[0].get("description") == "first", deps)
    st = apigw.create_stage(restApiId=S["api"], stageName="v1", deploymentId=d1["id"], description="stage", tags={UID_KEY: UID})
    check("CreateStage with tags", st["deploymentId"] == d1["id"] and st.get("tags") == {UID_KEY: UID}, st)
    expect_error("CreateStage existing name", "ConflictException", apigw.create_stage, restApiId=S["api"], stageName="v1", deploymentId=d1["id"])
    gs = apigw.get_stage(restApiId=S["api"], stageName="v1")
    check("GetStage deploymentId/tags", gs["deploymentId"] == d1["id"] and gs.get("tags") == {UID_KEY: UID}, gs)
    d2 = apigw.create_deployment(restApiId=S["api"], description="second")
    us = apigw.update_stage(restApiId=S["api"], stageName="v1", patchOperations=[{"op": "replace", "path": "/deploymentId", "value": d2["id"]}])
    check("UpdateStage /deploymentId", us["deploymentId"] == d2["id"] and apigw.get_stage(restApiId=S["api"], stageName="v1")["deploymentId"] == d2["id"], us)
    expect_error("DeleteDeployment used by a stage", "BadRequestException", apigw.delete_deployment, restApiId=S["api"], deploymentId=d2["id"])
    apigw.delete_deployment(restApiId=S["api"], deploymentId=d1["id"])
    check("DeleteDeployment unused", [x["id"] for x in apigw.get_deployments(restApiId=S["api"])["items"]] == [d2["id"]])
    expect_error("GetDeployment deleted", "NotFoundException", apigw.get_deployment, restApiId=S["api"], deploymentId=d1["id"])
    # A deployment made by hand onto the stage (CreateDeployment stageName=v1), then moved off.
    d3 = apigw.create_deployment(restApiId=S["api"], stageName="v1", description="by hand")
    gs3 = apigw.get_stage(restApiId=S["api"], stageName="v1")
    check("CreateDeployment onto an existing stage keeps its settings", gs3["deploymentId"] == d3["id"]
          and gs3.get("description") == "stage" and gs3.get("tags") == {UID_KEY: UID}, gs3)
    apigw.update_stage(restApiId=S["api"], stageName="v1", patchOperations=[{"op": "replace", "path": "/deploymentId", "value": d2["id"]}])
    apigw.delete_deployment(restApiId=S["api"], deploymentId=d3["id"])
    check("DeleteDeployment made onto a stage that moved off it",
          [x["id"] for x in apigw.get_deployments(restApiId=S["api"])["items"]] == [d2["id"]])

    arn = f"arn:aws:apigateway:{REGION}::/restapis/{S['api']}"
    check("GetTags restapi ARN", apigw.get_tags(resourceArn=arn)["tags"] == {UID_KEY: UID})
    apigw.tag_resource(resourceArn=arn, tags={"extra": "1"})
    check("TagResource restapi ARN", apigw.get_tags(resourceArn=arn)["tags"] == {UID_KEY: UID, "extra": "1"}
          and apigw.get_rest_api(restApiId=S["api"])["tags"].get("extra") == "1")
    apigw.untag_resource(resourceArn=arn, tagKeys=["extra"])
    check("UntagResource restapi ARN", apigw.get_tags(resourceArn=arn)["tags"] == {UID_KEY: UID})
    check("GetTags stage ARN", apigw.get_tags(resourceArn=arn + "/stages/v1")["tags"] == {UID_KEY: UID})

    apigw.delete_stage(restApiId=S["api"], stageName="v1")
    expect_error("GetStage deleted", "NotFoundException", apigw.get_stage, restApiId=S["api"], stageName="v1")
    expect_error("DeleteStage deleted", "NotFoundException", apigw.delete_stage, restApiId=S["api"], stageName="v1")
    apigw.delete_deployment(restApiId=S["api"], deploymentId=d2["id"])
    check("DeleteDeployment after its stage is gone", apigw.get_deployments(restApiId=S["api"])["items"] == [])
    expect_error("DeleteDeployment deleted", "NotFoundException", apigw.delete_deployment, restApiId=S["api"], deploymentId=d2["id"])
    apigw.delete_integration(restApiId=S["api"], resourceId=root, httpMethod="ANY")
    expect_error("GetIntegration of a method without integration", "NotFoundException", apigw.get_integration, restApiId=S["api"], resourceId=root, httpMethod="ANY")
    expect_error("GetMethod missing", "NotFoundException", apigw.get_method, restApiId=S["api"], resourceId=root, httpMethod="GET")
    expect_error("GetResource missing", "NotFoundException", apigw.get_resource, restApiId=S["api"], resourceId="nope123456")
    apigw.delete_rest_api(restApiId=S["api"])
    check("DeleteRestApi", True)
    expect_error("GetRestApi deleted", "NotFoundException", apigw.get_rest_api, restApiId=S["api"])
    expect_error("GetResources deleted API", "NotFoundException", apigw.get_resources, restApiId=S["api"])
    expect_error("DeleteRestApi deleted", "NotFoundException", apigw.delete_rest_api, restApiId=S["api"])
    expect_error("GetTags deleted API", "NotFoundException", apigw.get_tags, resourceArn=arn)

    expect_error("DeleteSecurityGroup used by a VPC link", "DependencyViolation", ec2.delete_security_group, GroupId=S["sg_alb"])
    apigw2.delete_vpc_link(VpcLinkId=S["vpc_link"])
    check("DeleteVpcLink", True)
    c = code_of(apigw2.get_vpc_link, VpcLinkId=S["vpc_link"])
    info("GetVpcLink right after delete (AWS: DELETING for a while, then NotFoundException)", c or "still returned")
    expect_error("GetVpcLink deleted", "NotFoundException", apigw2.get_vpc_link, VpcLinkId=S["vpc_link"])
    expect_error("DeleteVpcLink deleted", "NotFoundException", apigw2.delete_vpc_link, VpcLinkId=S["vpc_link"])


@section
def teardown_elbv2_ec2() -> None:
    expect_error("DeleteSecurityGroup used by an ALB", "DependencyViolation", ec2.delete_security_group, GroupId=S["sg_alb"])
    elb.delete_listener(ListenerArn=S["listener"])
    expect_error("DescribeListeners ListenerArns=[deleted]", "ListenerNotFound", elb.describe_listeners, ListenerArns=[S["listener"]])
    check("DescribeListeners LoadBalancerArn after delete -> []", elb.describe_listeners(LoadBalancerArn=S["lb"])["Listeners"] == [])
    expect_error("DeleteListener deleted", "ListenerNotFound", elb.delete_listener, ListenerArn=S["listener"])
    for tg in (S["tg"], S["tg_unattached"]):
        elb.delete_target_group(TargetGroupArn=tg)
    expect_error("DescribeTargetGroups TargetGroupArns=[deleted]", "TargetGroupNotFound", elb.describe_target_groups, TargetGroupArns=[S["tg"]])
    expect_error("DescribeTargetGroups Names=[unknown]", "TargetGroupNotFound", elb.describe_target_groups, Names=[f"nope-{RUN}"])
    c = code_of(elb.delete_target_group, TargetGroupArn=S["tg"])
    info("DeleteTargetGroup deleted (treat as gone either way)", c or "accepted")
    elb.delete_load_balancer(LoadBalancerArn=S["lb"])
    expect_error("DescribeLoadBalancers LoadBalancerArns=[deleted]", "LoadBalancerNotFound", elb.describe_load_balancers, LoadBalancerArns=[S["lb"]])
    expect_error("DescribeLoadBalancers Names=[deleted]", "LoadBalancerNotFound", elb.describe_load_balancers, Names=[f"alb-{RUN}"])
    c = code_of(elb.delete_load_balancer, LoadBalancerArn=S["lb"])
    check("DeleteLoadBalancer deleted is a no-op (as AWS)", c is None, c)
    c = code_of(elb.describe_tags, ResourceArns=[S["lb"]])
    info("DescribeTags of a deleted ALB (AWS: LoadBalancerNotFound)", c or "returns the old tags")

    ec2.revoke_security_group_ingress(GroupId=S["sg_task"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": S["sg_alb"]}]}])
    # The ALB, the VPC link and the service are gone, no rule refers to the groups, but
    # their ENIs still hold them for a while, as on AWS.
    expect_error("DeleteSecurityGroup right after its ALB is deleted (ENIs not yet released)", "DependencyViolation",
                 ec2.delete_security_group, GroupId=S["sg_alb"])
    time.sleep(S["delays"]["eni_release_seconds"] + 0.05)
    ec2.delete_security_group(GroupId=S["sg_alb"])
    ec2.delete_security_group(GroupId=S["sg_task"])
    check("DeleteSecurityGroup once nothing uses them", True)
    expect_error("DescribeSecurityGroups deleted", "InvalidGroup.NotFound", ec2.describe_security_groups, GroupIds=[S["sg_task"]])
    for s in S["subnets"]:
        ec2.delete_subnet(SubnetId=s)
    ec2.delete_vpc(VpcId=S["vpc"])
    check("DeleteSubnet/DeleteVpc", True)


@section
def authorizers() -> None:
    apigw, v2 = client("apigateway"), client("apigatewayv2")
    api = apigw.create_rest_api(name=f"authz-{RUN}", endpointConfiguration={"types": ["REGIONAL"]}, tags={UID_KEY: UID})
    rid = api["id"]
    root = api["rootResourceId"]
    expect_error("PutMethod COGNITO_USER_POOLS without an authorizer", "BadRequestException", apigw.put_method,
                 restApiId=rid, resourceId=root, httpMethod="ANY", authorizationType="COGNITO_USER_POOLS")
    expect_error("CreateAuthorizer COGNITO_USER_POOLS without providerARNs", "BadRequestException",
                 lambda: apigw.create_authorizer(restApiId=rid, name="c", type="COGNITO_USER_POOLS",
                                                 identitySource="method.request.header.Authorization"))
    pool = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC"
    az = apigw.create_authorizer(restApiId=rid, name="c", type="COGNITO_USER_POOLS", providerARNs=[pool],
                                 identitySource="method.request.header.Authorization")["id"]
    apigw.put_method(restApiId=rid, resourceId=root, httpMethod="ANY", authorizationType="COGNITO_USER_POOLS",
                     authorizerId=az, authorizationScopes=["a"])
    expect_error("DeleteAuthorizer named by a method", "ConflictException", apigw.delete_authorizer,
                 restApiId=rid, authorizerId=az)
    m = apigw.update_method(restApiId=rid, resourceId=root, httpMethod="ANY", patchOperations=[
        {"op": "replace", "path": "/authorizationType", "value": "NONE"},
        {"op": "replace", "path": "/authorizerId", "value": ""},
        {"op": "remove", "path": "/authorizationScopes", "value": "a"}])
    check("UpdateMethod to NONE clears the authorizer and scopes",
          m.get("authorizationType") == "NONE" and not m.get("authorizerId") and not m.get("authorizationScopes"), m)
    apigw.delete_authorizer(restApiId=rid, authorizerId=az)
    check("GetAuthorizers after DeleteAuthorizer", apigw.get_authorizers(restApiId=rid)["items"] == [])
    apigw.delete_rest_api(restApiId=rid)

    hid = v2.create_api(Name=f"authz-{RUN}", ProtocolType="HTTP", Tags={UID_KEY: UID})["ApiId"]
    expect_error("CreateAuthorizer JWT without an issuer", "BadRequestException",
                 lambda: v2.create_authorizer(ApiId=hid, Name="j", AuthorizerType="JWT",
                                              IdentitySource=["$request.header.Authorization"],
                                              JwtConfiguration={"Audience": ["a"]}))
    jwt = v2.create_authorizer(ApiId=hid, Name="j", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
                               JwtConfiguration={"Audience": ["a"], "Issuer": "https://id.example.com"})["AuthorizerId"]
    check("GetAuthorizers lists it", [a["AuthorizerId"] for a in v2.get_authorizers(ApiId=hid)["Items"]] == [jwt])
    expect_error("CreateRoute JWT with an unknown authorizer", "BadRequestException", v2.create_route, ApiId=hid,
                 RouteKey="GET /x", AuthorizationType="JWT", AuthorizerId="nope")
    route = v2.create_route(ApiId=hid, RouteKey="GET /x", AuthorizationType="JWT", AuthorizerId=jwt)["RouteId"]
    expect_error("DeleteAuthorizer named by a route", "ConflictException", v2.delete_authorizer, ApiId=hid, AuthorizerId=jwt)
    r = v2.update_route(ApiId=hid, RouteId=route, AuthorizationType="NONE", AuthorizerId="")
    check("UpdateRoute to NONE with AuthorizerId '' drops it", r.get("AuthorizationType") == "NONE" and not r.get("AuthorizerId"), r)
    v2.delete_authorizer(ApiId=hid, AuthorizerId=jwt)
    v2.delete_api(ApiId=hid)


@section
def private_apis() -> None:
    apigw = client("apigateway")
    api = apigw.create_rest_api(name=f"private-{RUN}", tags={UID_KEY: UID},
                                endpointConfiguration={"types": ["PRIVATE"], "vpcEndpointIds": ["vpce-0a1b2c3d4e5f6a7b8"]})
    rid = api["id"]
    apigw.put_method(restApiId=rid, resourceId=api["rootResourceId"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=rid, resourceId=api["rootResourceId"], httpMethod="GET", type="MOCK")
    expect_error("CreateDeployment of a PRIVATE API without a policy", "BadRequestException",
                 lambda: apigw.create_deployment(restApiId=rid))
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}'
    apigw.update_rest_api(restApiId=rid, patchOperations=[
        {"op": "replace", "path": "/policy", "value": policy},
        {"op": "add", "path": "/endpointConfiguration/vpcEndpointIds", "value": "vpce-0b1b2c3d4e5f6a7b8"},
        {"op": "remove", "path": "/endpointConfiguration/vpcEndpointIds", "value": "vpce-0a1b2c3d4e5f6a7b8"}])
    got = apigw.get_rest_api(restApiId=rid)
    check("UpdateRestApi vpcEndpointIds add/remove", got["endpointConfiguration"].get("vpcEndpointIds") == ["vpce-0b1b2c3d4e5f6a7b8"], got)
    check("the policy is stored as AWS does (full ARN, quotes escaped)",
          f"arn:aws:execute-api:" in got.get("policy", "") and '\\"' in got.get("policy", ""), got.get("policy"))
    apigw.create_deployment(restApiId=rid)
    check("CreateDeployment once a policy is there", True)
    apigw.delete_rest_api(restApiId=rid)


@section
def usage_plans_and_waf() -> None:
    apigw = client("apigateway")
    api = apigw.create_rest_api(name=f"keys-{RUN}", tags={UID_KEY: UID})
    rid = api["id"]
    apigw.put_method(restApiId=rid, resourceId=api["rootResourceId"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=rid, resourceId=api["rootResourceId"], httpMethod="GET", type="MOCK")
    dep = apigw.create_deployment(restApiId=rid)["id"]
    expect_error("CreateUsagePlan naming a stage that does not exist", "BadRequestException",
                 lambda: apigw.create_usage_plan(name=f"p-{RUN}", apiStages=[{"apiId": rid, "stage": "prod"}]))
    apigw.create_stage(restApiId=rid, stageName="prod", deploymentId=dep)
    plan = apigw.create_usage_plan(name=f"p-{RUN}", apiStages=[{"apiId": rid, "stage": "prod"}], tags={UID_KEY: UID})["id"]
    apigw.update_usage_plan(usagePlanId=plan, patchOperations=[
        {"op": "replace", "path": "/quota/limit", "value": "500"},
        {"op": "replace", "path": "/quota/period", "value": "WEEK"},
        {"op": "replace", "path": "/quota/offset", "value": "2"},
        {"op": "replace", "path": "/throttle/rateLimit", "value": "2.5"},
        {"op": "replace", "path": "/throttle/burstLimit", "value": "5"}])
    got = apigw.get_usage_plan(usagePlanId=plan)
    check("UpdateUsagePlan stores numbers as AWS answers them",
          got.get("quota") == {"limit": 500, "period": "WEEK", "offset": 2} and got.get("throttle", {}).get("rateLimit") == 2.5, got)
    key = apigw.create_api_key(name=f"k-{RUN}", enabled=True, tags={UID_KEY: UID})["id"]
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
    listed = [k for k in apigw.get_api_keys()["items"] if k["id"] == key]
    check("GetApiKeys without includeValues has no value", listed and "value" not in listed[0], listed)
    expect_error("DeleteUsagePlan while it names a stage", "BadRequestException",
                 lambda: apigw.delete_usage_plan(usagePlanId=plan))
    wafv2 = client("wafv2")
    acl = wafv2.create_web_acl(Name=f"acl-{RUN}", Scope="REGIONAL", DefaultAction={"Allow": {}},
                               VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                                                 "MetricName": "m"})["Summary"]["ARN"]
    other = wafv2.create_web_acl(Name=f"acl2-{RUN}", Scope="REGIONAL", DefaultAction={"Allow": {}},
                                 VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                                                   "MetricName": "m"})["Summary"]["ARN"]
    stage_arn = f"arn:aws:apigateway:{REGION}::/restapis/{rid}/stages/prod"
    expect_error("AssociateWebACL of a web ACL that does not exist", "WAFNonexistentItemException",
                 lambda: wafv2.associate_web_acl(WebACLArn=acl[:-4] + "0000", ResourceArn=stage_arn))
    expect_error("AssociateWebACL of a stage that does not exist", "WAFNonexistentItemException",
                 lambda: wafv2.associate_web_acl(WebACLArn=acl, ResourceArn=stage_arn + "x"))
    wafv2.associate_web_acl(WebACLArn=acl, ResourceArn=stage_arn)
    wafv2.associate_web_acl(WebACLArn=other, ResourceArn=stage_arn)
    check("associating another web ACL replaces the first",
          wafv2.get_web_acl_for_resource(ResourceArn=stage_arn).get("WebACL", {}).get("ARN") == other)
    stage = apigw.get_stage(restApiId=rid, stageName="prod")
    check("GetStage reports the stage's web ACL", stage.get("webAclArn") == other, stage)
    wafv2.disassociate_web_acl(ResourceArn=stage_arn)
    apigw.update_usage_plan(usagePlanId=plan, patchOperations=[{"op": "remove", "path": "/apiStages", "value": f"{rid}:prod"}])
    apigw.delete_api_key(apiKey=key)
    apigw.delete_usage_plan(usagePlanId=plan)
    check("a usage plan without stages is deleted", True)
    apigw.delete_rest_api(restApiId=rid)


def main() -> int:
    t0 = time.monotonic()
    for sec in (emulator, ec2_network, ec2_security_groups, iam_roles, elbv2_create, elbv2_listener_rules, ecs_cluster_and_taskdef,
                ecs_service, apigateway, authorizers, private_apis, usage_plans_and_waf, teardown_elbv2_ec2):
        sec()
    print(f"smoke: {ENDPOINT} run {RUN} in {time.monotonic() - t0:.1f} s")
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
