"""Checks AWS requests against AWS's own service models (botocore's JSON models),
plus the documented rules the models cannot express. Python standard library only.

    checker = Checker(models_dir)      # .../site-packages/botocore/data
    operation, violations = checker.check(service, method, path, query, headers, body)

`service` is the SigV4 signing name (ec2, elasticloadbalancing, ecs, iam, sts,
apigateway, route53; API Gateway V2 is told apart by its /v2/ path). A violation is a string
naming the member: "Tags[3].Value: 300 characters, at most 256". An empty list means
AWS would accept the request as far as the models and the rules below can tell.

What is checked, for the query (iam, elbv2, sts), ec2, json (ecs, wafv2), rest-json
(apigateway, apigatewayv2) and rest-xml (route53) protocols: the operation exists; required members are
present; no member the model does not have; types (integers, booleans, structures,
lists, maps); enums; string lengths and numeric ranges (min/max); list and map sizes;
patterns (Smithy semantics: searched, not anchored; \\p{L} \\p{N} \\p{Z} approximated
as \\w and \\s, which the standard library's re knows).

Rules from AWS's documentation the models leave out (RULES below):
  * tags, on every create and tag operation: at most 50, a key of 1..128 and a value of
    at most 256 characters from AWS's tag character set (letters, numbers, spaces and
    _ . : / = + - @), no `aws:` prefix in any case;
  * names: load balancers and target groups (1..32 alphanumerics and hyphens, no hyphen
    at either end, no `internal-` prefix), ECS clusters, services and task-definition
    families (1..255 of letters, digits, - and _), security groups (name and description
    up to 255 of AWS's characters, no `sg-` name prefix), IAM roles (1..64);
  * Fargate task definitions: a documented cpu/memory pair, network mode awsvpc;
  * API Gateway integrations through a VPC link: a connection id and an HTTP type.
"""

import base64
import gzip
import json
import os
import re
import unicodedata
import urllib.parse
from xml.etree import ElementTree

# Signing name (and the /v2/ split of API Gateway) -> botocore's directory.
MODEL_DIRS = {
    "ec2": "ec2",
    "elasticloadbalancing": "elbv2",
    "ecs": "ecs",
    "iam": "iam",
    "sts": "sts",
    "apigateway": "apigateway",
    "apigatewayv2": "apigatewayv2",
    "logs": "logs",
    "route53": "route53",
}

# Parameters of the query protocols that are the protocol's, not the operation's.
QUERY_PROTOCOL_PARAMS = {"Action", "Version"}


def find_models_dir():
    """botocore/data of the emulator's venv (or $AWSPROXY_MODELS), None if absent."""
    explicit = os.environ.get("AWSPROXY_MODELS")
    if explicit:
        return explicit
    cache = os.environ.get("PRIVATEAPI_CACHE", os.path.expanduser("~/.cache/privateapi-operator"))
    lib = os.path.join(cache, "venv", "lib")
    if os.path.isdir(lib):
        for entry in sorted(os.listdir(lib)):
            candidate = os.path.join(lib, entry, "site-packages", "botocore", "data")
            if os.path.isdir(candidate):
                return candidate
    return None


def _java_pattern(pattern):
    """A model's (Java/ECMA) pattern as a Python re: \\p{L}, \\p{N} -> \\w, \\p{Z} -> \\s."""
    translated = re.sub(r"\\p\{(L|N|Nd|Lu|Ll)\}", r"\\w", pattern)
    translated = re.sub(r"\\p\{(Z|Zs)\}", r"\\s", translated)
    translated = translated.replace(r"\p{Print}", r"\x20-\x7e")
    try:
        return re.compile(translated)
    except re.error:
        return None  # a construct Python's re lacks: length and type checks still apply


TAG_CHARACTER_CATEGORIES = ("L", "Z", "N")
TAG_CHARACTER_EXTRAS = set("_.:/=+-@")


def tag_characters_ok(text):
    return all(unicodedata.category(ch)[0] in TAG_CHARACTER_CATEGORIES or ch in TAG_CHARACTER_EXTRAS
               for ch in text)


class Model:
    def __init__(self, document):
        self.doc = document
        self.protocol = document["metadata"]["protocol"]
        self.shapes = document["shapes"]
        self.operations = document["operations"]
        self.patterns = {}
        self.routes = []  # rest-json: (method, path regex, label names, static query, operation)
        if self.protocol in ("rest-json", "rest-xml"):
            for name, op in self.operations.items():
                uri = op["http"]["requestUri"]
                path, _, static_query = uri.partition("?")
                labels, rx = [], "^"
                for literal_part, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", path):
                    rx += re.escape(literal_part)
                    if label:
                        labels.append(label.rstrip("+"))
                        rx += "(.+)" if label.endswith("+") else "([^/]+)"
                # a trailing slash is optional (the SDKs differ: route53's rrset/)
                rx = rx.rstrip("/") + "/?$"
                literal = len(re.sub(r"\{[^}]+\}", "", path))
                self.routes.append((op["http"]["method"], re.compile(rx), labels,
                                    urllib.parse.parse_qs(static_query, keep_blank_values=True), literal, name))
            # the most literal route first: /restapis/{id}/deployments before /restapis/{id}/{x}
            self.routes.sort(key=lambda r: -r[4])

    def pattern(self, shape_name):
        if shape_name not in self.patterns:
            self.patterns[shape_name] = _java_pattern(self.shapes[shape_name]["pattern"])
        return self.patterns[shape_name]


class Checker:
    def __init__(self, models_dir):
        if not models_dir or not os.path.isdir(models_dir):
            raise ValueError("no botocore models at %r" % (models_dir,))
        self.dir = models_dir
        self.models = {}

    def model(self, service):
        if service not in self.models:
            directory = MODEL_DIRS.get(service)
            if directory is None:
                self.models[service] = None
            else:
                base = os.path.join(self.dir, directory)
                version = sorted(os.listdir(base))[-1]
                path = os.path.join(base, version, "service-2.json")
                opener = open
                if not os.path.exists(path):
                    path, opener = path + ".gz", gzip.open
                with opener(path, "rt", encoding="utf-8") as f:
                    self.models[service] = Model(json.load(f))
        return self.models[service]

    # ------------------------------------------------------------------ requests

    def check(self, service, method, path, query, headers, body):
        """(operation, violations) of one request; operation None when no model applies."""
        model = self.model(service)
        if model is None:
            return None, []
        get = _header_getter(headers)
        if model.protocol == "json":
            target = get("X-Amz-Target") or ""
            op = target.rsplit(".", 1)[-1]
            if op not in model.operations:
                return op or None, ["unknown operation %r" % target]
            try:
                params = json.loads(body or b"{}")
            except ValueError as e:
                return op, ["body is not JSON: %s" % e]
            return op, self._check_operation(model, op, params)
        if model.protocol in ("query", "ec2"):
            form = {}
            if body and "x-www-form-urlencoded" in (get("Content-Type") or ""):
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            elif query:
                form = urllib.parse.parse_qs(query, keep_blank_values=True)
            op = (form.get("Action") or [None])[0]
            if op not in model.operations:
                return op, ["unknown operation %r" % op]
            flat = {k: v[-1] for k, v in form.items() if k not in QUERY_PROTOCOL_PARAMS}
            violations = []
            params = self._decode_query(model, model.operations[op].get("input"), _tree(flat), "", violations)
            if violations:
                return op, violations
            return op, self._check_operation(model, op, params or {})
        if model.protocol in ("rest-json", "rest-xml"):
            return self._check_rest(model, method, path, query, get, body)
        return None, []

    def _check_operation(self, model, op, params):
        violations = []
        input_ref = model.operations[op].get("input")
        if input_ref:
            self._check_value(model, input_ref["shape"], params, "", violations, top=True)
        elif params:
            violations.append("the operation takes no input")
        for rule in RULES:
            violations.extend(rule(op, params))
        return violations

    # ------------------------------------------------------- rest-json decoding

    def _check_rest(self, model, method, path, query, get, body):
        raw_path = urllib.parse.urlsplit(path).path
        query_params = urllib.parse.parse_qs(query, keep_blank_values=True)
        for verb, rx, labels, static, _, op in model.routes:
            if verb != method:
                continue
            m = rx.match(raw_path)
            if not m or any(k not in query_params for k in static):
                continue
            shape = model.shapes[model.operations[op]["input"]["shape"]] if model.operations[op].get("input") else None
            params, violations = {}, []
            labelled = {label: urllib.parse.unquote(value) for label, value in zip(labels, m.groups())}
            body_members = {}
            payload = shape.get("payload") if shape else None
            query_map_member = None
            for name, ref in (shape or {}).get("members", {}).items():
                location = ref.get("location")
                wire = ref.get("locationName", name)
                if location == "uri":
                    if wire in labelled:
                        params[name] = labelled[wire]
                elif location == "querystring":
                    target = model.shapes[ref["shape"]]
                    if target["type"] == "map":
                        query_map_member = name
                        extra = {k: v[-1] for k, v in query_params.items() if k not in static}
                        if extra:
                            params[name] = extra
                    elif wire in query_params:
                        values = query_params[wire]
                        params[name] = values if target["type"] == "list" else _scalar(model, ref["shape"], values[-1])
                elif location == "header":
                    value = get(wire)
                    if value is not None:
                        params[name] = _scalar(model, ref["shape"], value)
                elif location in ("headers", "statusCode"):
                    continue
                elif name != payload:
                    body_members[wire] = name
            if query_map_member is None:
                known = {ref.get("locationName", n) for n, ref in (shape or {}).get("members", {}).items()
                         if ref.get("location") == "querystring"}
                for key in query_params:
                    if key not in known and key not in static:
                        violations.append("%s: unknown query parameter" % key)
            if payload is None and body and body.strip() and model.protocol == "rest-xml":
                try:
                    root = ElementTree.fromstring(body)
                except ElementTree.ParseError as e:
                    return op, ["body is not XML: %s" % e]
                expected = shape.get("locationName") if shape else None
                if expected and _local(root.tag) != expected:
                    violations.append("body: root element %s, expected %s" % (_local(root.tag), expected))
                document = self._decode_xml(model, model.operations[op]["input"]["shape"], root, "", violations)
                for key, value in (document or {}).items():
                    if key not in body_members:
                        violations.append("%s: not a body member" % key)
                    else:
                        params[body_members[key]] = value
            elif payload is None and body and body.strip():
                try:
                    document = json.loads(body)
                except ValueError as e:
                    return op, ["body is not JSON: %s" % e]
                if not isinstance(document, dict):
                    return op, ["body: a JSON object expected"]
                for key, value in document.items():
                    if key not in body_members:
                        violations.append("%s: unknown member" % key)
                    else:
                        params[body_members[key]] = value
            elif payload is not None and body:
                params[payload] = body
            if violations:
                return op, violations
            return op, self._check_operation(model, op, params)
        return method + " " + raw_path, ["no operation of the model answers %s %s" % (method, raw_path)]

    # ------------------------------------------------------------ rest-xml decoding

    def _decode_xml(self, model, shape_name, element, where, violations):
        """An XML element as the value its shape says, nested members by wire name (as
        the JSON protocols' bodies are)."""
        shape = model.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            out = {}
            by_wire = {ref.get("locationName", name): (name, ref) for name, ref in shape.get("members", {}).items()}
            for child in element:
                tag = _local(child.tag)
                if tag not in by_wire:
                    violations.append("%s: unknown member" % _join(where, tag))
                    continue
                name, ref = by_wire[tag]
                out[tag] = self._decode_xml(model, ref["shape"], child, _join(where, name), violations)
            return out
        if kind == "list":
            member = shape["member"]
            wrapper = member.get("locationName", "member")
            out = []
            for index, child in enumerate(element):
                if _local(child.tag) != wrapper:
                    violations.append("%s.%s: not a list entry (expected %s)" % (where, _local(child.tag), wrapper))
                    continue
                out.append(self._decode_xml(model, member["shape"], child, "%s[%d]" % (where, index), violations))
            return out
        if kind == "map":
            violations.append("%s: XML maps are not decoded by this checker" % (where or "input"))
            return {}
        return _scalar(model, shape_name, element.text or "")

    # ------------------------------------------------------ query / ec2 decoding

    def _decode_query(self, model, ref, node, where, violations):
        """A value from the flattened parameters (node: {"": value, child: node}) by its shape."""
        if ref is None:
            return None
        shape = model.shapes[ref["shape"]]
        kind = shape["type"]
        if kind == "structure":
            out = {}
            by_wire = {}
            for name, member in shape.get("members", {}).items():
                by_wire[_query_name(model, name, member)] = name
            for key, child in node.items():
                if key == "":
                    if child not in ("", None):
                        violations.append("%s: a structure, not a value" % (where or "input"))
                    continue
                name = by_wire.get(key)
                if name is None:
                    violations.append("%s: unknown member" % _join(where, key))
                    continue
                out[name] = self._decode_query(model, shape["members"][name], child, _join(where, name), violations)
            return out
        if kind == "list":
            member = shape["member"]
            if set(node) == {""}:
                return []  # `Name=`: an empty list
            items = node
            if model.protocol != "ec2" and not shape.get("flattened"):
                wrapper = member.get("locationName", "member")
                unexpected = [k for k in node if k not in ("", wrapper)]
                for key in unexpected:
                    violations.append("%s.%s: not a list entry (expected %s.N)" % (where, key, wrapper))
                items = node.get(wrapper, {})
            out = []
            for index in sorted((k for k in items if k != ""), key=lambda k: int(k) if k.isdigit() else 1 << 30):
                if not index.isdigit():
                    violations.append("%s.%s: not a list index" % (where, index))
                    continue
                out.append(self._decode_query(model, member, items[index], "%s[%s]" % (where, index), violations))
            return out
        if kind == "map":
            entries = node if shape.get("flattened") else node.get("entry", {})
            key_name = shape["key"].get("locationName", "key")
            value_name = shape["value"].get("locationName", "value")
            out = {}
            for index, entry in entries.items():
                if index == "":
                    continue
                key = entry.get(key_name, {}).get("")
                out[key] = self._decode_query(model, shape["value"], entry.get(value_name, {}),
                                              "%s[%s]" % (where, key), violations)
            return out
        # a scalar
        if set(node) - {""}:
            violations.append("%s: a value, not a structure" % where)
        return _scalar(model, ref["shape"], node.get(""))

    # ----------------------------------------------------------- shape checking

    def _check_value(self, model, shape_name, value, where, violations, top=False):
        shape = model.shapes[shape_name]
        kind = shape["type"]
        label = where or "input"
        if kind == "structure":
            if not isinstance(value, dict):
                violations.append("%s: a structure expected, got %s" % (label, type(value).__name__))
                return
            members = shape.get("members", {})
            # JSON bodies name nested members by their wire name (locationName) too.
            by_wire = {ref.get("locationName", n): n for n, ref in members.items()}
            for required in shape.get("required", []):
                wire = members[required].get("locationName", required)
                if value.get(required) is None and value.get(wire) is None:
                    violations.append("%s: required member missing" % _join(where, required))
            for name, item in value.items():
                member = name if name in members else by_wire.get(name)
                if member is None:
                    violations.append("%s: unknown member" % _join(where, name))
                elif item is not None:
                    self._check_value(model, members[member]["shape"], item, _join(where, member), violations)
            return
        if kind == "list":
            if not isinstance(value, list):
                violations.append("%s: a list expected" % label)
                return
            _size(shape, len(value), label, "entries", violations)
            for i, item in enumerate(value):
                self._check_value(model, shape["member"]["shape"], item, "%s[%d]" % (label, i + 1), violations)
            return
        if kind == "map":
            if not isinstance(value, dict):
                violations.append("%s: a map expected" % label)
                return
            _size(shape, len(value), label, "entries", violations)
            for key, item in value.items():
                self._check_value(model, shape["key"]["shape"], key, "%s key %r" % (label, key), violations)
                self._check_value(model, shape["value"]["shape"], item, "%s[%r]" % (label, key), violations)
            return
        if kind == "string":
            if not isinstance(value, str):
                violations.append("%s: a string expected" % label)
                return
            if "enum" in shape and value not in shape["enum"]:
                violations.append("%s: %r is not one of %s" % (label, value, ", ".join(shape["enum"])))
            _size(_named_bounds(shape_name, shape), len(value), label, "characters", violations)
            if "pattern" in shape:
                rx = model.pattern(shape_name)
                if rx is not None and not rx.search(value):
                    violations.append("%s: %r does not match %s" % (label, _short(value), shape["pattern"]))
            return
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                violations.append("%s: an integer expected, got %r" % (label, _short(value)))
                return
            if "min" in shape and value < shape["min"]:
                violations.append("%s: %d is below the minimum %s" % (label, value, shape["min"]))
            if "max" in shape and value > shape["max"]:
                violations.append("%s: %d is above the maximum %s" % (label, value, shape["max"]))
            if kind == "integer" and not -2 ** 31 <= value < 2 ** 31:
                violations.append("%s: %d does not fit a 32-bit integer" % (label, value))
            return
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                violations.append("%s: a number expected, got %r" % (label, _short(value)))
            return
        if kind == "boolean":
            if not isinstance(value, bool):
                violations.append("%s: true or false expected, got %r" % (label, _short(value)))
            return
        if kind == "blob":
            if isinstance(value, str):
                try:
                    base64.b64decode(value, validate=True)
                except ValueError:
                    violations.append("%s: not base64" % label)
            return
        # timestamp: the protocols' formats vary; a value is enough


NAMED_BOUNDS = re.compile(r"^StringWithLengthBetween(\d+)And(\d+)$")


def _named_bounds(shape_name, shape):
    """API Gateway V2 says its string lengths in shape names only: StringWithLengthBetween1And128."""
    m = NAMED_BOUNDS.match(shape_name)
    if m and "min" not in shape and "max" not in shape:
        return dict(shape, min=int(m.group(1)), max=int(m.group(2)))
    return shape


def _header_getter(headers):
    if hasattr(headers, "get") and not isinstance(headers, dict):
        return headers.get
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    return lambda name: lowered.get(name.lower())


def _tree(flat):
    """{"A.B.1": "x"} -> {"A": {"B": {"1": {"": "x"}}}}."""
    root = {}
    for key, value in flat.items():
        node = root
        for part in key.split("."):
            node = node.setdefault(part, {})
        node[""] = value
    return root


def _query_name(model, name, member):
    if model.protocol == "ec2":
        if "queryName" in member:
            return member["queryName"]
        if "locationName" in member:
            return member["locationName"][:1].upper() + member["locationName"][1:]
        return name
    return member.get("locationName", name)


def _local(tag):
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _scalar(model, shape_name, text):
    """A query or header value as the type its shape says (left as text when it is not one)."""
    if text is None:
        return None
    kind = model.shapes[shape_name]["type"]
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def _size(shape, n, label, unit, violations):
    if "min" in shape and n < shape["min"]:
        violations.append("%s: %d %s, at least %s" % (label, n, unit, shape["min"]))
    if "max" in shape and n > shape["max"]:
        violations.append("%s: %d %s, at most %s" % (label, n, unit, shape["max"]))


def _join(where, name):
    return name if not where else where + "." + name


def _short(value):
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------ documented rules

MAX_TAGS = 50


def _tag_pairs(params):
    """Every tag set in a request: (where, [(key, value)]) for Tags/tags lists and maps."""
    found = []

    def walk(value, where):
        if isinstance(value, dict):
            for name, item in value.items():
                here = _join(where, name)
                if name in ("Tags", "tags"):
                    if isinstance(item, dict):
                        found.append((here, [(k, v) for k, v in item.items()]))
                        continue
                    if isinstance(item, list) and all(isinstance(t, dict) for t in item):
                        found.append((here, [(t.get("Key", t.get("key")), t.get("Value", t.get("value", "")))
                                             for t in item]))
                        continue
                walk(item, here)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, "%s[%d]" % (where, i + 1))

    walk(params, "")
    return found


def rule_tags(op, params):
    out = []
    for where, pairs in _tag_pairs(params):
        if len(pairs) > MAX_TAGS:
            out.append("%s: %d tags, at most %d per resource" % (where, len(pairs), MAX_TAGS))
        for i, (key, value) in enumerate(pairs, 1):
            key = "" if key is None else str(key)
            value = "" if value is None else str(value)
            at = "%s[%d]" % (where, i)
            if not 1 <= len(key) <= 128:
                out.append("%s.Key: %d characters, 1..128" % (at, len(key)))
            if len(value) > 256:
                out.append("%s.Value: %d characters, at most 256 (key %r)" % (at, len(value), _short(key)))
            if key.lower().startswith("aws:"):
                out.append("%s.Key: %r uses the reserved aws: prefix" % (at, _short(key)))
            if not tag_characters_ok(key):
                out.append("%s.Key: %r has characters outside letters, numbers, spaces and _.:/=+-@" % (at, _short(key)))
            if not tag_characters_ok(value):
                out.append("%s.Value: %r has characters outside letters, numbers, spaces and _.:/=+-@"
                           % (at, _short(value)))
    return out


ELB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
ECS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
SG_TEXT = re.compile(r"^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
IAM_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


def rule_names(op, params):
    out = []
    if op in ("CreateLoadBalancer", "CreateTargetGroup"):
        name = params.get("Name", "")
        if not ELB_NAME.match(name) or name.lower().startswith("internal-"):
            out.append("Name: %r is not 1..32 alphanumerics and hyphens (no hyphen at either end, "
                       "no internal- prefix)" % _short(name))
    if op == "CreateCluster" and "clusterName" in params and not ECS_NAME.match(params["clusterName"]):
        out.append("clusterName: %r is not 1..255 letters, digits, - and _" % _short(params["clusterName"]))
    if op == "CreateService" and not ECS_NAME.match(params.get("serviceName", "")):
        out.append("serviceName: %r is not 1..255 letters, digits, - and _" % _short(params.get("serviceName", "")))
    if op == "RegisterTaskDefinition" and not ECS_NAME.match(params.get("family", "")):
        out.append("family: %r is not 1..255 letters, digits, - and _" % _short(params.get("family", "")))
    if op == "CreateSecurityGroup":
        name, description = params.get("GroupName", ""), params.get("Description", "")
        if not name or not SG_TEXT.match(name) or name.lower().startswith("sg-"):
            out.append("GroupName: %r is not 1..255 of AWS's characters without the sg- prefix" % _short(name))
        if not SG_TEXT.match(description):
            out.append("GroupDescription: %d characters %r, at most 255 of a-zA-Z0-9 spaces ._-:/()#,@[]+=&;{}!$*"
                       % (len(description), _short(description)))
    if op == "CreateRole" and not IAM_ROLE_NAME.match(params.get("RoleName", "")):
        out.append("RoleName: %r is not 1..64 of [\\w+=,.@-]" % _short(params.get("RoleName", "")))
    return out


# Fargate's documented task sizes: cpu units -> the memory (MiB) allowed with them.
FARGATE_MEMORY = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}


def _units(text, per_unit):
    """"1024", "1 vCPU", "2 GB" -> cpu units or MiB (None if unreadable)."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$", str(text))
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2).lower()
    if unit in ("vcpu", "gb"):
        number *= per_unit
    elif unit:
        return None
    return int(number) if number == int(number) else None


def rule_fargate(op, params):
    if op != "RegisterTaskDefinition" or "FARGATE" not in (params.get("requiresCompatibilities") or []):
        return []
    out = []
    if params.get("networkMode") != "awsvpc":
        out.append("networkMode: Fargate needs awsvpc, got %r" % params.get("networkMode"))
    cpu, memory = _units(params.get("cpu", ""), 1024), _units(params.get("memory", ""), 1024)
    if cpu not in FARGATE_MEMORY or memory not in FARGATE_MEMORY.get(cpu, ()):
        out.append("cpu/memory: %r/%r is not one of Fargate's task sizes"
                   % (params.get("cpu"), params.get("memory")))
    return out


def rule_vpc_link_integration(op, params):
    if op != "PutIntegration" or params.get("connectionType") != "VPC_LINK":
        return []
    out = []
    if not params.get("connectionId"):
        out.append("connectionId: required with connectionType VPC_LINK")
    if params.get("type") not in ("HTTP", "HTTP_PROXY"):
        out.append("type: %r cannot go through a VPC link (HTTP or HTTP_PROXY)" % params.get("type"))
    if not params.get("integrationHttpMethod"):
        out.append("integrationHttpMethod: required for an HTTP integration")
    if not params.get("uri"):
        out.append("uri: required for an HTTP integration")
    return out


RULES = (rule_tags, rule_names, rule_fargate, rule_vpc_link_integration)
