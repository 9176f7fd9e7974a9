#!/usr/bin/env python3
"""A counting, throttling, fault-injecting HTTP proxy in front of the AWS emulator.

    operator --AWS_ENDPOINT_URL=http://127.0.0.1:PORT--> awsproxy.py --> moto

Python standard library only. Every request is forwarded unchanged (Host and the
SigV4 headers included: moto does not verify signatures). On the way, the proxy

  * counts every AWS call (every HTTP attempt: the SDK's own retries count) by
    service and operation, and by outcome;
  * can enforce API Gateway's account quotas as token buckets and answer an
    over-quota call the way AWS does (HTTP 429 TooManyRequestsException);
  * can check every AWS call against AWS's own service models and documented rules
    (scripts/awsmodels.py; `validate`): a request AWS would refuse is answered with
    HTTP 400 in the service's protocol, its message starting with
    "awsproxy: request AWS would refuse:", naming the operation and the members, and
    recorded in the stats (`validated`, `violations`);
  * can inject faults: throttling, HTTP 500 or a timeout (hold, then close without
    an answer) on any call with probability `error_rate`, and a lost response
    (moto acts on the call, the client never hears) on mutating calls with
    probability `lose_rate`.

Service: the credential scope of the SigV4 Authorization header
(.../REGION/SERVICE/aws4_request); API Gateway V2 is told apart from V1 by its
/v2/ path. Operation: `X-Amz-Target` (JSON protocols: ECS), the `Action`
parameter (query protocols: EC2, ELBv2, IAM), or method + path pattern (the REST
protocols of apigateway and apigatewayv2).

Control endpoints (never counted, never faulted):

  GET  /_proxy/stats    counts (JSON), the first 100 quota refusals with the
                        bucket levels at that moment (throttle_log), the time
                        spent waiting on the upstream per operation (upstream_seconds),
                        the requests checked (validated) and the first 200 refused
                        (violations; violation_count counts all)
  POST /_proxy/reset    zero the counts and refill the quota buckets
  GET  /_proxy/config   the current configuration
  POST /_proxy/config   merge a JSON object into it:
       {"validate": true|false,        check requests against AWS's models (needs
                                       --models or $AWSPROXY_MODELS: botocore/data)
        "quotas": true|false,          enforce the API Gateway account quotas
        "quota_table": {"Op": [per_second, burst], "service.Op": [...], ...},
                                       extra/overriding buckets (any service;
                                       "*apigateway" = the account-wide bucket)
        "error_rate": 0..1,            injected throttling / 500 / timeout
        "error_kinds": ["throttle", "error500", "timeout"],
        "lose_rate": 0..1,             mutating calls: forwarded, answer dropped
        "hold_seconds": 1.0,           how long a "timeout" holds the connection
        "seed": 42,                    seeds the fault dice (reseeds on each set)
        "faults_on": "all"|"writes"|"reads",   which calls error_rate applies to
        "faults_ops": ["RegisterTaskDefinition", ...],  only these operations
                                       get faults (empty: all)
        "fault_budget": 1}             stop injecting after this many faults
                                       (errors + lost answers; null: no limit)
  GET  /_proxy/health   200 "ok"

Usage: awsproxy.py --port 5095 --upstream http://127.0.0.1:5055 [--models DIR]
(scripts/awsproxy.sh starts and stops it.)
"""

import argparse
import os
import http.client
import json
import random
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awsmodels  # noqa: E402  (next to this file)

# ----------------------------------------------------------------- classification

CRED_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/([^/,]+)/aws4_request")

_ID = r"[^/]+"
# (service, method, path regex, operation); first match wins.
REST_ROUTES = []


def _route(service, method, path, op):
    pattern = "^" + path.replace("{}", "(" + _ID + ")") + "/?$"
    REST_ROUTES.append((service, method, re.compile(pattern), op))


def _crud(service, base, plural, singular, extra=()):
    """GET base -> GetPlurals, POST base -> CreateSingular, and on base/{} Get/Update/Delete."""
    _route(service, "GET", base, "Get" + plural)
    _route(service, "POST", base, "Create" + singular)
    _route(service, "GET", base + "/{}", "Get" + singular)
    _route(service, "PATCH", base + "/{}", "Update" + singular)
    _route(service, "DELETE", base + "/{}", "Delete" + singular)
    for method, op in extra:
        _route(service, method, base + "/{}", op)


# --- API Gateway V1 (REST APIs)
A = "apigateway"
R = "/restapis/{}"
M = R + "/resources/{}/methods/{}"
_route(A, "POST", "/restapis", "CreateRestApi")  # ImportRestApi: ?mode=import, see below
_route(A, "GET", "/restapis", "GetRestApis")
_route(A, "GET", R, "GetRestApi")
_route(A, "PATCH", R, "UpdateRestApi")
_route(A, "PUT", R, "PutRestApi")
_route(A, "DELETE", R, "DeleteRestApi")
_route(A, "GET", R + "/resources", "GetResources")
_route(A, "GET", R + "/resources/{}", "GetResource")
_route(A, "POST", R + "/resources/{}", "CreateResource")
_route(A, "PATCH", R + "/resources/{}", "UpdateResource")
_route(A, "DELETE", R + "/resources/{}", "DeleteResource")
for _verb, _prefix in (("GET", "Get"), ("PUT", "Put"), ("PATCH", "Update"), ("DELETE", "Delete")):
    _route(A, _verb, M, _prefix + "Method")
    _route(A, _verb, M + "/responses/{}", _prefix + "MethodResponse")
    _route(A, _verb, M + "/integration", _prefix + "Integration")
    _route(A, _verb, M + "/integration/responses/{}", _prefix + "IntegrationResponse")
_route(A, "POST", M, "TestInvokeMethod")
_crud(A, R + "/deployments", "Deployments", "Deployment")
_crud(A, R + "/stages", "Stages", "Stage")
_route(A, "DELETE", R + "/stages/{}/cache/data", "FlushStageCache")
_crud(A, R + "/authorizers", "Authorizers", "Authorizer")
_crud(A, R + "/models", "Models", "Model")
_crud(A, R + "/requestvalidators", "RequestValidators", "RequestValidator")
_route(A, "GET", R + "/gatewayresponses", "GetGatewayResponses")
_route(A, "GET", R + "/gatewayresponses/{}", "GetGatewayResponse")
_route(A, "PUT", R + "/gatewayresponses/{}", "PutGatewayResponse")
_route(A, "PATCH", R + "/gatewayresponses/{}", "UpdateGatewayResponse")
_route(A, "DELETE", R + "/gatewayresponses/{}", "DeleteGatewayResponse")
_route(A, "GET", R + "/stages/{}/sdks/{}", "GetSdk")
_route(A, "GET", R + "/stages/{}/exports/{}", "GetExport")
_crud(A, "/vpclinks", "VpcLinks", "VpcLink")
_crud(A, "/apikeys", "ApiKeys", "ApiKey")
_crud(A, "/usageplans", "UsagePlans", "UsagePlan")
_crud(A, "/usageplans/{}/keys", "UsagePlanKeys", "UsagePlanKey")
_crud(A, "/domainnames", "DomainNames", "DomainName")
_crud(A, "/clientcertificates", "ClientCertificates", "ClientCertificate")
_route(A, "POST", "/clientcertificates", "GenerateClientCertificate")
_route(A, "GET", "/account", "GetAccount")
_route(A, "PATCH", "/account", "UpdateAccount")
_route(A, "GET", "/tags/{}", "GetTags")
_route(A, "PUT", "/tags/{}", "TagResource")
_route(A, "DELETE", "/tags/{}", "UntagResource")

# --- API Gateway V2 (HTTP/WebSocket APIs, VPC links V2)
B = "apigatewayv2"
P = "/v2/apis/{}"
_crud(B, "/v2/vpclinks", "VpcLinks", "VpcLink")
_crud(B, "/v2/apis", "Apis", "Api", extra=(("PUT", "ReimportApi"),))
_route(B, "PUT", "/v2/apis", "ImportApi")
_crud(B, P + "/integrations", "Integrations", "Integration")
_crud(B, P + "/integrations/{}/integrationresponses", "IntegrationResponses", "IntegrationResponse")
_crud(B, P + "/routes", "Routes", "Route")
_crud(B, P + "/routes/{}/routeresponses", "RouteResponses", "RouteResponse")
_crud(B, P + "/stages", "Stages", "Stage")
_crud(B, P + "/deployments", "Deployments", "Deployment")
_crud(B, P + "/authorizers", "Authorizers", "Authorizer")
_crud(B, P + "/models", "Models", "Model")
_crud(B, "/v2/domainnames", "DomainNames", "DomainName")
_route(B, "GET", "/v2/tags/{}", "GetTags")
_route(B, "POST", "/v2/tags/{}", "TagResource")
_route(B, "DELETE", "/v2/tags/{}", "UntagResource")

# Signing names -> the names this proxy reports.
SERVICE_NAMES = {"elasticloadbalancing": "elasticloadbalancing", "monitoring": "cloudwatch"}


def classify(method, path, query, headers, body):
    """(service, operation) of one request; service None = not an AWS call."""
    auth = headers.get("Authorization", "")
    m = CRED_SCOPE.search(auth)
    service = m.group(2) if m else None
    if service is None:
        # unsigned (presigned query auth, or not an AWS call at all)
        q = urllib.parse.parse_qs(query)
        cred = q.get("X-Amz-Credential", [""])[0]
        parts = cred.split("/")
        service = parts[3] if len(parts) >= 5 else None
    if service is None:
        return None, None
    service = SERVICE_NAMES.get(service, service)
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if service == "apigateway":
        if path.startswith("/v2/"):
            service = "apigatewayv2"
        for svc, verb, rx, op in REST_ROUTES:
            if svc == service and verb == method and rx.match(path):
                if op == "CreateRestApi" and "mode=import" in query:
                    op = "ImportRestApi"
                return service, op
        return service, method + " " + re.sub(r"/[^/]*\d[^/]*", "/{id}", path)
    # query protocols: Action in the form body or the query string
    action = None
    ctype = headers.get("Content-Type", "")
    if body and "x-www-form-urlencoded" in ctype:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    if action is None and query:
        action = urllib.parse.parse_qs(query).get("Action", [None])[0]
    return service, action or (method + " " + path)


def is_read(operation):
    return operation.startswith(("Describe", "Get", "List"))


def protocol(service):
    if service in ("apigateway", "apigatewayv2"):
        return "rest-json"
    if service in ("ecs", "wafv2"):
        return "json"
    if service == "ec2":
        return "ec2"
    return "query"  # elasticloadbalancing, iam, sts, ...


# ------------------------------------------------------------------------ quotas

# API Gateway's published account quotas (per region; not raisable): operation ->
# (per second, burst). "*apigateway" is the account-wide control-plane bucket.
APIGW_QUOTAS = {
    "CreateRestApi": (1 / 3, 1),
    "CreateDeployment": (1 / 5, 1),
    "CreateVpcLink": (1 / 15, 1),
    "DeleteVpcLink": (1 / 30, 1),
    "DeleteRestApi": (1 / 30, 1),
    "*apigateway": (10.0, 40),
}
APIGW_SERVICES = ("apigateway", "apigatewayv2")


class Bucket:
    def __init__(self, rate, burst, now):
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = now  # the caller's clock reading: a later one would leave a new bucket short

    def refill(self, now):
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)

    def has(self, now):
        self.refill(now)
        return self.tokens >= 1.0

    def take(self):
        self.tokens -= 1.0


# ------------------------------------------------------------------------- state

DEFAULT_CONFIG = {
    "validate": False,
    "quotas": False,
    "quota_table": {},
    "error_rate": 0.0,
    "error_kinds": ["throttle", "error500", "timeout"],
    "lose_rate": 0.0,
    "hold_seconds": 1.0,
    "seed": None,
    "faults_on": "all",
    "faults_ops": [],
    "fault_budget": None,
}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.config = dict(DEFAULT_CONFIG)
        self.rng = random.Random()
        self.buckets = {}
        self.reset()

    def reset(self):
        with self.lock:
            self.calls = defaultdict(lambda: defaultdict(int))  # service -> op -> n
            self.by_op = defaultdict(lambda: defaultdict(int))  # "svc.Op" -> outcome -> n
            self.outcomes = defaultdict(int)
            self.injected = defaultdict(int)
            self.faults_injected = 0
            self.throttle_log = []
            self.upstream_seconds = defaultdict(float)  # service.op -> time spent waiting on the upstream
            self.started = time.time()
            self.buckets = {}
            self.validated = 0
            self.violations = []  # the first MAX_VIOLATIONS refused requests
            self.violation_count = 0

    def set_config(self, patch):
        unknown = set(patch) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError("unknown config keys: " + ", ".join(sorted(unknown)))
        for key in ("error_rate", "lose_rate"):
            if key in patch and not 0.0 <= float(patch[key]) <= 1.0:
                raise ValueError(key + " must be within 0..1")
        if "faults_on" in patch and patch["faults_on"] not in ("all", "writes", "reads"):
            raise ValueError("faults_on: all, writes or reads")
        ops = patch.get("faults_ops")
        if ops is not None and (not isinstance(ops, list) or not all(isinstance(o, str) for o in ops)):
            raise ValueError("faults_ops: a list of operation names")
        budget = patch.get("fault_budget")
        if budget is not None and (not isinstance(budget, int) or budget < 0):
            raise ValueError("fault_budget: a non-negative integer or null")
        if patch.get("validate") and CHECKER is None:
            raise ValueError("validate: no botocore models (start with --models DIR or AWSPROXY_MODELS)")
        kinds = patch.get("error_kinds")
        if kinds is not None and (not kinds or set(kinds) - {"throttle", "error500", "timeout"}):
            raise ValueError("error_kinds: a non-empty subset of throttle, error500, timeout")
        with self.lock:
            self.config.update(patch)
            if "seed" in patch:
                self.rng = random.Random(patch["seed"])
            if "fault_budget" in patch:
                self.faults_injected = 0
            if "quotas" in patch or "quota_table" in patch:
                self.buckets = {}

    def quota_limits(self, service, op):
        """The buckets (key, rate, burst) this call draws from."""
        table = {}
        if self.config["quotas"]:
            if service in APIGW_SERVICES:
                table = {k: v for k, v in APIGW_QUOTAS.items()}
        for key, (rate, burst) in (self.config.get("quota_table") or {}).items():
            table[key] = (rate, burst)
        out = []
        for key, (rate, burst) in table.items():
            applies = (
                key == op
                or key == service + "." + op
                or (key == "*" + service)
                or (key == "*apigateway" and service in APIGW_SERVICES)
            )
            if applies:  # the key names the bucket: V1 and V2 share "*apigateway"
                out.append((key, rate, burst))
        return out

    def admit(self, service, op):
        """Takes the call's quota tokens; False = over quota (throttle it)."""
        with self.lock:
            limits = self.quota_limits(service, op)
            if not limits:
                return True
            now = time.monotonic()
            buckets = []
            for name, rate, burst in limits:
                b = self.buckets.get(name)
                if b is None or b.rate != float(rate) or b.burst != float(burst):
                    b = self.buckets[name] = Bucket(rate, burst, now)
                buckets.append(b)
            if all(b.has(now) for b in buckets):
                for b in buckets:
                    b.take()
                return True
            if len(self.throttle_log) < 100:
                self.throttle_log.append({
                    "at_seconds": round(time.time() - self.started, 3),
                    "operation": service + "." + op,
                    "tokens": {name: round(b.tokens, 3) for (name, _, _), b in zip(limits, buckets)},
                })
            return False

    def dice(self, service, op):
        """The fault for this call: None, "throttle", "error500", "timeout" or "lose"."""
        with self.lock:
            c = self.config
            if c["faults_ops"] and op not in c["faults_ops"]:
                return None
            budget = c["fault_budget"]
            if budget is not None and self.faults_injected >= int(budget):
                return None
            write = not is_read(op)
            scope = c["faults_on"]
            fault = None
            if c["error_rate"] > 0 and (scope == "all" or (scope == "writes") == write):
                if self.rng.random() < c["error_rate"]:
                    fault = self.rng.choice(list(c["error_kinds"]))
            if fault is None and write and c["lose_rate"] > 0 and self.rng.random() < c["lose_rate"]:
                fault = "lose"
            if fault is not None:
                self.faults_injected += 1
            return fault

    def record_check(self, service, op, problems):
        with self.lock:
            self.validated += 1
            if problems:
                self.violation_count += 1
                if len(self.violations) < MAX_VIOLATIONS:
                    self.violations.append({"operation": "%s.%s" % (service, op), "problems": problems})

    def count(self, service, op, outcome, seconds=0.0):
        with self.lock:
            self.upstream_seconds[service + "." + op] += seconds
            self.calls[service][op] += 1
            self.by_op[service + "." + op][outcome] += 1
            self.outcomes[outcome] += 1

    def stats(self):
        with self.lock:
            calls = {s: dict(sorted(ops.items())) for s, ops in sorted(self.calls.items())}
            total = sum(n for ops in calls.values() for n in ops.values())
            reads = sum(n for ops in calls.values() for op, n in ops.items() if is_read(op))
            return {
                "calls": calls,
                "by_operation": {k: dict(v) for k, v in sorted(self.by_op.items())},
                "outcomes": {k: self.outcomes.get(k, 0) for k in
                             ("ok", "aws_error", "throttled", "injected_error", "lost", "upstream_error",
                              "refused")},
                "injected": {k: self.injected.get(k, 0) for k in ("throttle", "error500", "timeout")},
                "totals": {"calls": total, "reads": reads, "writes": total - reads},
                "faults_injected": self.faults_injected,
                "throttle_log": list(self.throttle_log),
                "upstream_seconds": {k: round(v, 3) for k, v in sorted(self.upstream_seconds.items())},
                "validated": self.validated,
                "violation_count": self.violation_count,
                "violations": list(self.violations),
                "config": dict(self.config),
                "since_seconds": round(time.time() - self.started, 3),
            }


MAX_VIOLATIONS = 200
CHECKER = None  # awsmodels.Checker once --models is given
STATE = State()
UPSTREAM = None  # (host, port)
VERBOSE = False

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "proxy-connection"}


# --------------------------------------------------------------- error answers

def error_response(service, kind):
    """(status, headers, body) of a throttling or internal error, in the service's protocol."""
    request_id = str(uuid.uuid4())
    proto = protocol(service)
    if kind == "throttle":
        if proto == "rest-json":
            return 429, {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException",
                         "x-amzn-RequestId": request_id}, b'{"message":"Too Many Requests"}'
        if proto == "json":
            return 400, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id},\
                json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        if proto == "ec2":
            return 503, {"Content-Type": "text/xml"}, (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
                "<Message>Request limit exceeded.</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % request_id).encode()
        return 400, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, (
            '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
            "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
            % request_id).encode()
    # kind == "error500"
    if proto == "rest-json":
        return 500, {"Content-Type": "application/json", "x-amzn-ErrorType": "InternalFailure",
                     "x-amzn-RequestId": request_id}, b'{"message":"Internal server error"}'
    if proto == "json":
        return 500, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id},\
            json.dumps({"__type": "ServerException", "message": "Service unavailable"}).encode()
    if proto == "ec2":
        return 500, {"Content-Type": "text/xml"}, (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InternalError</Code>'
            "<Message>An internal error has occurred</Message></Error></Errors><RequestID>%s</RequestID></Response>"
            % request_id).encode()
    return 500, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, (
        "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
        "<Message>Internal failure</Message></Error><RequestId>%s</RequestId></ErrorResponse>" % request_id).encode()


REFUSAL_PREFIX = "awsproxy: request AWS would refuse: "


def refusal_response(service, message):
    """(status, headers, body) of a validation error, in the service's protocol."""
    request_id = str(uuid.uuid4())
    proto = protocol(service)
    if proto == "rest-json":
        return 400, {"Content-Type": "application/json", "x-amzn-ErrorType": "BadRequestException",
                     "x-amzn-RequestId": request_id}, json.dumps({"message": message}).encode()
    if proto == "json":
        return 400, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id},\
            json.dumps({"__type": "InvalidParameterException", "message": message}).encode()
    text = xml_escape(message)
    if proto == "ec2":
        return 400, {"Content-Type": "text/xml"}, (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidParameterValue</Code>'
            "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>" % (text, request_id)).encode()
    return 400, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, (
        "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>%s</Message></Error>"
        "<RequestId>%s</RequestId></ErrorResponse>" % (text, request_id)).encode()


def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------- handler

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awsproxy"
    sys_version = ""
    timeout = 300  # idle keep-alive connections

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # every method goes through the same path
    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drop(self):
        """Close the client connection without a response."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_any(self):
        body = self.read_body()
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        if path.startswith("/_proxy/"):
            return self.control(path, body)
        service, op = classify(self.command, path, query, self.headers, body)
        if service is None:  # not an AWS call (moto's own endpoints): pass through
            return self.forward(body, None, None, count=False)
        if STATE.config["validate"]:
            try:
                _, problems = CHECKER.check(service, self.command, path, query, self.headers, body)
            except Exception as e:  # a checker bug must show, not pass the request unchecked
                problems = ["the checker failed: %s: %s" % (type(e).__name__, e)]
            STATE.record_check(service, op, problems)
            if problems:
                message = "%s%s.%s: %s" % (REFUSAL_PREFIX, service, op, "; ".join(problems))
                sys.stderr.write(message + "\n")
                sys.stderr.flush()
                STATE.count(service, op, "refused")
                return self.answer(*refusal_response(service, message))
        if not STATE.admit(service, op):
            STATE.count(service, op, "throttled")
            return self.answer(*error_response(service, "throttle"))
        fault = STATE.dice(service, op)
        if fault in ("throttle", "error500"):
            STATE.count(service, op, "injected_error")
            with STATE.lock:
                STATE.injected[fault] += 1
            return self.answer(*error_response(service, fault))
        if fault == "timeout":
            STATE.count(service, op, "injected_error")
            with STATE.lock:
                STATE.injected["timeout"] += 1
                hold = float(STATE.config["hold_seconds"])
            time.sleep(hold)
            return self.drop()
        self.forward(body, service, op, lose=(fault == "lose"))

    def upstream(self, fresh=False):
        conn = getattr(self, "_upstream", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = self._upstream = http.client.HTTPConnection(UPSTREAM[0], UPSTREAM[1], timeout=300)
        return conn

    def forward(self, body, service, op, count=True, lose=False):
        resp = None
        started = time.monotonic()
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed by moto
            conn = self.upstream(fresh=(attempt == 2))
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() in HOP_BY_HOP or k.lower() == "content-length":
                        continue
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError) as e:
                resp = None
                err = e
        if resp is None:
            if count:
                STATE.count(service, op, "upstream_error")
            return self.answer(502, {"Content-Type": "text/plain"}, ("upstream: %s" % err).encode())
        if resp.getheader("Connection", "").lower() == "close":
            self._upstream.close()
            self._upstream = None
        if count:
            took = time.monotonic() - started
            if lose:
                STATE.count(service, op, "lost", took)
                return self.drop()
            STATE.count(service, op, "ok" if resp.status < 400 else "aws_error", took)
        headers = {}
        for k, v in resp.getheaders():
            if k.lower() in HOP_BY_HOP or k.lower() in ("content-length", "server", "date"):
                continue
            headers[k] = v
        self.answer(resp.status, headers, data)

    def control(self, path, body):
        def reply(obj, status=200):
            self.answer(status, {"Content-Type": "application/json"}, (json.dumps(obj, indent=1) + "\n").encode())

        if path == "/_proxy/stats" and self.command == "GET":
            return reply(STATE.stats())
        if path == "/_proxy/health":
            return self.answer(200, {"Content-Type": "text/plain"}, b"ok\n")
        if path == "/_proxy/reset" and self.command == "POST":
            STATE.reset()
            return reply({"reset": True})
        if path == "/_proxy/config":
            if self.command == "GET":
                return reply(STATE.config)
            if self.command == "POST":
                try:
                    patch = json.loads(body or b"{}")
                    if not isinstance(patch, dict):
                        raise ValueError("a JSON object, please")
                    STATE.set_config(patch)
                except (ValueError, TypeError) as e:
                    return reply({"error": str(e)}, 400)
                return reply(STATE.config)
        return reply({"error": "unknown control endpoint %s %s" % (self.command, path)}, 404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def main():
    global UPSTREAM, VERBOSE, CHECKER
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5095)
    ap.add_argument("--upstream", required=True, help="http://HOST:PORT of the emulator")
    ap.add_argument("--config", help="initial configuration (JSON object)")
    ap.add_argument("--models", default=awsmodels.find_models_dir(),
                    help="botocore's data directory (service models), for validate; default "
                         "$AWSPROXY_MODELS, else the emulator's venv")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "http" or not up.hostname:
        ap.error("--upstream must be http://HOST:PORT")
    UPSTREAM = (up.hostname, up.port or 80)
    if (up.hostname, up.port) in ((args.host, args.port), ("localhost", args.port)):
        ap.error("the upstream is this proxy itself")
    VERBOSE = args.verbose
    if args.models:
        CHECKER = awsmodels.Checker(args.models)
    if args.config:
        STATE.set_config(json.loads(args.config))
    server = Server((args.host, args.port), Handler)
    sys.stderr.write("awsproxy: listening on http://%s:%d -> %s\n" % (args.host, args.port, args.upstream))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
