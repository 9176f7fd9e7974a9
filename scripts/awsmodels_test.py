"""The request checker (awsmodels.py) catches what AWS refuses, in each protocol, and
passes what AWS accepts. Run by tests/awsproxy.rs; by hand:

    python3 scripts/awsmodels_test.py      (finds botocore's models in the emulator's venv)
"""

import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awsmodels  # noqa: E402

MODELS = awsmodels.find_models_dir()
CHECKER = awsmodels.Checker(MODELS) if MODELS else None


def query(service, action, version, params):
    body = urllib.parse.urlencode(dict({"Action": action, "Version": version}, **params)).encode()
    return CHECKER.check(service, "POST", "/", "", {"Content-Type": "application/x-www-form-urlencoded"}, body)


def ecs(operation, params):
    headers = {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113." + operation,
               "Content-Type": "application/x-amz-json-1.1"}
    return CHECKER.check("ecs", "POST", "/", "", headers, json.dumps(params).encode())


def rest(service, method, path, document=None, query_string=""):
    body = json.dumps(document).encode() if document is not None else b""
    return CHECKER.check(service, method, path, query_string, {"Content-Type": "application/json"}, body)


def one_of(violations, *needles):
    """The violation naming every needle (the test fails if there is none)."""
    for v in violations:
        if all(n in v for n in needles):
            return v
    raise AssertionError("no violation with %r in %r" % (needles, violations))


GOOD_TG = {"Name": "tg-1", "Protocol": "HTTP", "Port": "80", "VpcId": "vpc-1", "TargetType": "ip",
           "Tags.member.1.Key": "team", "Tags.member.1.Value": "tests"}
GOOD_SG = {"GroupName": "web", "GroupDescription": "web tier", "VpcId": "vpc-1",
           "TagSpecification.1.ResourceType": "security-group",
           "TagSpecification.1.Tag.1.Key": "team", "TagSpecification.1.Tag.1.Value": "tests"}
GOOD_SERVICE = {"cluster": "c", "serviceName": "s", "taskDefinition": "td:1", "desiredCount": 2,
                "launchType": "FARGATE", "tags": [{"key": "team", "value": "tests"}],
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"],
                                                                 "assignPublicIp": "DISABLED"}}}
GOOD_INTEGRATION = {"type": "HTTP_PROXY", "httpMethod": "ANY", "uri": "http://alb.example/{proxy}",
                    "connectionType": "VPC_LINK", "connectionId": "abc123"}
INTEGRATION_PATH = "/restapis/a1/resources/r1/methods/ANY/integration"


@unittest.skipIf(CHECKER is None, "botocore's models not found (scripts/emulator.sh install)")
class QueryProtocol(unittest.TestCase):
    def test_accepts_a_valid_request(self):
        self.assertEqual(query("elasticloadbalancing", "CreateTargetGroup", "2015-12-01", GOOD_TG),
                         ("CreateTargetGroup", []))

    def test_missing_required_member(self):
        params = {k: v for k, v in GOOD_TG.items() if k != "Name"}
        _, violations = query("elasticloadbalancing", "CreateTargetGroup", "2015-12-01", params)
        one_of(violations, "Name", "required member missing")

    def test_bad_enum(self):
        _, violations = query("elasticloadbalancing", "CreateTargetGroup", "2015-12-01",
                              dict(GOOD_TG, Protocol="HTTQ"))
        one_of(violations, "Protocol", "'HTTQ' is not one of")

    def test_too_long_string(self):
        _, violations = query("iam", "CreateRole", "2010-05-08",
                              {"RoleName": "r" * 65, "AssumeRolePolicyDocument": "{}"})
        one_of(violations, "RoleName", "65 characters, at most 64")

    def test_unknown_member(self):
        _, violations = query("iam", "CreateRole", "2010-05-08",
                              {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Colour": "blue"})
        one_of(violations, "Colour", "unknown member")

    def test_number_out_of_range_and_tag_rules(self):
        _, violations = query("elasticloadbalancing", "CreateTargetGroup", "2015-12-01",
                              dict(GOOD_TG, Port="70000", **{"Tags.member.1.Key": "AWS:team",
                                                            "Tags.member.1.Value": "v" * 257}))
        one_of(violations, "Port", "above the maximum")
        one_of(violations, "Tags[1].Key", "aws: prefix")
        one_of(violations, "Tags[1].Value", "257 characters")

    def test_name_rules(self):
        _, violations = query("elasticloadbalancing", "CreateTargetGroup", "2015-12-01",
                              dict(GOOD_TG, Name="t" * 33))
        one_of(violations, "Name", "1..32")


@unittest.skipIf(CHECKER is None, "botocore's models not found (scripts/emulator.sh install)")
class Ec2Protocol(unittest.TestCase):
    def test_accepts_a_valid_request(self):
        self.assertEqual(query("ec2", "CreateSecurityGroup", "2016-11-15", GOOD_SG), ("CreateSecurityGroup", []))

    def test_missing_required_member(self):
        params = {k: v for k, v in GOOD_SG.items() if k != "GroupName"}
        _, violations = query("ec2", "CreateSecurityGroup", "2016-11-15", params)
        one_of(violations, "GroupName", "required member missing")

    def test_bad_enum(self):
        _, violations = query("ec2", "CreateSecurityGroup", "2016-11-15",
                              dict(GOOD_SG, **{"TagSpecification.1.ResourceType": "securitygroup"}))
        one_of(violations, "ResourceType", "'securitygroup' is not one of")

    def test_too_long_string(self):
        _, violations = query("ec2", "CreateSecurityGroup", "2016-11-15", dict(GOOD_SG, GroupDescription="d" * 256))
        one_of(violations, "GroupDescription", "256 characters")

    def test_unknown_member(self):
        _, violations = query("ec2", "CreateSecurityGroup", "2016-11-15", dict(GOOD_SG, Colour="blue"))
        one_of(violations, "Colour", "unknown member")

    def test_too_many_tags(self):
        params = dict(GOOD_SG)
        for i in range(1, 52):
            params["TagSpecification.1.Tag.%d.Key" % i] = "k%d" % i
            params["TagSpecification.1.Tag.%d.Value" % i] = "v"
        _, violations = query("ec2", "CreateSecurityGroup", "2016-11-15", params)
        one_of(violations, "51 tags, at most 50")


@unittest.skipIf(CHECKER is None, "botocore's models not found (scripts/emulator.sh install)")
class JsonProtocol(unittest.TestCase):
    def test_accepts_a_valid_request(self):
        self.assertEqual(ecs("CreateService", GOOD_SERVICE), ("CreateService", []))

    def test_missing_required_member(self):
        _, violations = ecs("CreateService", {k: v for k, v in GOOD_SERVICE.items() if k != "serviceName"})
        one_of(violations, "serviceName", "required member missing")

    def test_bad_enum(self):
        _, violations = ecs("CreateService", dict(GOOD_SERVICE, launchType="FARGATE2"))
        one_of(violations, "launchType", "'FARGATE2' is not one of")

    def test_too_long_string(self):
        _, violations = ecs("CreateService", dict(GOOD_SERVICE, tags=[{"key": "k" * 129, "value": "v"}]))
        one_of(violations, "tags[1].key", "129 characters, at most 128")

    def test_unknown_member(self):
        _, violations = ecs("CreateService", dict(GOOD_SERVICE, colour="blue"))
        one_of(violations, "colour", "unknown member")

    def test_wrong_type(self):
        _, violations = ecs("CreateService", dict(GOOD_SERVICE, desiredCount="2"))
        one_of(violations, "desiredCount", "an integer expected")

    def test_fargate_sizes(self):
        task = {"family": "f", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
                "cpu": "256", "memory": "512", "containerDefinitions": [{"name": "app", "image": "nginx"}]}
        self.assertEqual(ecs("RegisterTaskDefinition", task), ("RegisterTaskDefinition", []))
        _, violations = ecs("RegisterTaskDefinition", dict(task, memory="4096"))
        one_of(violations, "cpu/memory", "'256'/'4096'")


@unittest.skipIf(CHECKER is None, "botocore's models not found (scripts/emulator.sh install)")
class RestJsonProtocol(unittest.TestCase):
    def test_accepts_valid_requests(self):
        self.assertEqual(rest("apigateway", "PUT", INTEGRATION_PATH, GOOD_INTEGRATION), ("PutIntegration", []))
        self.assertEqual(rest("apigatewayv2", "POST", "/v2/vpclinks",
                              {"name": "l", "subnetIds": ["subnet-1"], "tags": {"team": "tests"}}),
                         ("CreateVpcLink", []))
        self.assertEqual(rest("apigateway", "GET", "/restapis", query_string="limit=500&position=x"),
                         ("GetRestApis", []))

    def test_missing_required_member(self):
        _, violations = rest("apigateway", "PUT", INTEGRATION_PATH,
                             {k: v for k, v in GOOD_INTEGRATION.items() if k != "type"})
        one_of(violations, "type", "required member missing")

    def test_bad_enum(self):
        _, violations = rest("apigateway", "PUT", INTEGRATION_PATH, dict(GOOD_INTEGRATION, type="HTTP_PROXIE"))
        one_of(violations, "type", "'HTTP_PROXIE' is not one of")

    def test_too_long_string(self):
        _, violations = rest("apigatewayv2", "POST", "/v2/vpclinks", {"name": "n" * 129, "subnetIds": ["subnet-1"]})
        one_of(violations, "Name", "129 characters, at most 128")

    def test_unknown_member(self):
        _, violations = rest("apigateway", "PUT", INTEGRATION_PATH, dict(GOOD_INTEGRATION, colour="blue"))
        one_of(violations, "colour", "unknown member")

    def test_nested_members_go_by_their_wire_names(self):
        # apigatewayv2's bodies name nested members by locationName (certificateArn,
        # not CertificateArn): accepted, and a misspelt one is still caught.
        config = {"certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/x",
                  "endpointType": "REGIONAL", "securityPolicy": "TLS_1_2"}
        self.assertEqual(rest("apigatewayv2", "POST", "/v2/domainnames",
                              {"domainName": "api.example.com", "domainNameConfigurations": [config]}),
                         ("CreateDomainName", []))
        _, violations = rest("apigatewayv2", "POST", "/v2/domainnames",
                             {"domainName": "api.example.com",
                              "domainNameConfigurations": [dict(config, certificateArm="x")]})
        one_of(violations, "certificateArm", "unknown member")

    def test_unknown_query_parameter(self):
        _, violations = rest("apigateway", "GET", "/restapis", query_string="colour=blue")
        one_of(violations, "colour", "unknown query parameter")

    def test_vpc_link_integration_needs_its_link(self):
        _, violations = rest("apigateway", "PUT", INTEGRATION_PATH,
                             {k: v for k, v in GOOD_INTEGRATION.items() if k != "connectionId"})
        one_of(violations, "connectionId", "VPC_LINK")

    def test_tag_map_rules(self):
        _, violations = rest("apigatewayv2", "POST", "/v2/vpclinks",
                             {"name": "l", "subnetIds": ["subnet-1"], "tags": {"aws:x": "y", "k": "é" * 257}})
        one_of(violations, "aws: prefix")
        one_of(violations, "257 characters")


def xml(method, path, document, query_string=""):
    return CHECKER.check("route53", method, path, query_string, {"Content-Type": "application/xml"},
                         document.encode())


CHANGE_PATH = "/2013-04-01/hostedzone/Z0123456789ABC/rrset/"


def change_batch(record):
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            '<ChangeBatch><Changes><Change><Action>UPSERT</Action>%s</Change></Changes></ChangeBatch>'
            '</ChangeResourceRecordSetsRequest>' % record)


GOOD_RECORD = ("<ResourceRecordSet><Name>api.example.com.</Name><Type>A</Type><AliasTarget>"
               "<HostedZoneId>Z2FDTNDATAQYW2</HostedZoneId><DNSName>d-1.execute-api.eu-west-1.amazonaws.com"
               "</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget></ResourceRecordSet>")


@unittest.skipIf(CHECKER is None, "botocore's models not found (scripts/emulator.sh install)")
class RestXmlProtocol(unittest.TestCase):
    def test_accepts_valid_requests(self):
        self.assertEqual(xml("POST", CHANGE_PATH, change_batch(GOOD_RECORD)), ("ChangeResourceRecordSets", []))
        # The Rust SDK leaves out the model's trailing slash.
        self.assertEqual(xml("POST", CHANGE_PATH.rstrip("/"), change_batch(GOOD_RECORD)),
                         ("ChangeResourceRecordSets", []))
        self.assertEqual(xml("GET", "/2013-04-01/hostedzone/Z0123456789ABC/rrset",
                             "", "name=api.example.com.&type=A&maxitems=1"),
                         ("ListResourceRecordSets", []))

    def test_bad_enum(self):
        _, violations = xml("POST", CHANGE_PATH, change_batch(GOOD_RECORD.replace("<Type>A<", "<Type>ALIAS<")))
        one_of(violations, "Type", "'ALIAS' is not one of")

    def test_unknown_member(self):
        _, violations = xml("POST", CHANGE_PATH, change_batch(GOOD_RECORD.replace("<Name>", "<Colour>x</Colour><Name>")))
        one_of(violations, "Colour", "unknown member")

    def test_missing_required_member(self):
        _, violations = xml("POST", CHANGE_PATH, change_batch(GOOD_RECORD.replace("<Type>A</Type>", "")))
        one_of(violations, "Type", "required member missing")

    def test_too_long_name(self):
        long_name = ("a" * 63 + ".") * 17 + "com."
        _, violations = xml("POST", CHANGE_PATH, change_batch(GOOD_RECORD.replace("api.example.com.", long_name)))
        one_of(violations, "Name", "at most 1024")


if __name__ == "__main__":
    if CHECKER is None and os.environ.get("AWSMODELS_REQUIRED") == "1":
        sys.exit("awsmodels_test.py: botocore's models not found")
    unittest.main()
