//! The CRD's own validation, for the doors without an API server in front (the CLI)
//! and as the engine's first step: the `openAPIV3Schema` and its
//! `x-kubernetes-validations` CEL rules, read from the CustomResourceDefinition
//! generated from [`crate::crd`] — the very document `make crds` writes to crds/ and
//! the API server enforces. One source: a rule added to the CRD is checked here too,
//! with the CRD's own message.
//!
//! What the API server does, in its order: defaults are filled in (top-down, so a
//! defaulted object gets its own fields' defaults), then every node is checked against
//! its schema (type, enum, required, pattern, lengths, bounds, list types) and unknown
//! fields are refused (as `kubectl apply --validate=strict` does; without it the API
//! server drops them silently, which hides a misspelt field). A node's CEL rules run
//! with `self` bound to it, unless a value in its subtree has the wrong type; transition
//! rules (those that read `oldSelf`) run only when a previous object is given.
//!
//! Two differences from the API server, both on the side of refusing less: CEL's
//! `matches()` uses Rust's `regex` crate, which reads RE2 syntax but takes `\d`, `\w`
//! and `\s` as Unicode classes where RE2 takes ASCII (our rules do not use them; the
//! schema's `pattern`s are translated to ASCII classes below); and the cost budget of
//! the API server's CEL is not computed (our rules are far below it: a test in
//! tests/crd.rs sends the same documents to both).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use kube::CustomResourceExt;
use serde_json::Value;

use crate::crd::PrivateApi;

/// The group/version and kind a document must have.
pub const API_VERSION: &str = "privateapi.io/v1alpha1";
pub const KIND: &str = "PrivateApi";

/// The fields of Kubernetes' ObjectMeta: the API server validates `metadata` itself
/// (the CRD's schema says only `type: object`), and refuses others under strict
/// field validation.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// One CEL rule of the CRD, compiled once.
struct Rule {
    program: cel::Program,
    /// Reads `oldSelf`: a transition rule, evaluated on updates only.
    transition: bool,
}

/// The CRD's schema and its compiled rules.
pub struct Validator {
    root: Value,
    rules: HashMap<String, Result<Rule, String>>,
    patterns: HashMap<String, Result<regex::Regex, String>>,
    env: Arc<cel::Env>,
}

/// The validator of this build's CRD, made on first use.
pub fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let crd = serde_json::to_value(PrivateApi::crd()).unwrap_or_default();
        Validator::new(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone())
    })
}

impl Validator {
    /// A validator for one `openAPIV3Schema`: every CEL rule and pattern in it is
    /// compiled now (one that does not compile is reported when it would apply).
    pub fn new(root: Value) -> Self {
        let env = Arc::new(cel::Env::stdlib());
        let mut rules = HashMap::new();
        let mut patterns = HashMap::new();
        collect(&root, &mut |node| {
            for rule in node["x-kubernetes-validations"].as_array().into_iter().flatten() {
                if let Some(text) = rule["rule"].as_str() {
                    rules.entry(text.to_owned()).or_insert_with(|| {
                        env.compile(text)
                            .map(|program| Rule {
                                transition: program.references().has_variable("oldSelf"),
                                program,
                            })
                            .map_err(|e| e.to_string())
                    });
                }
            }
            if let Some(pattern) = node["pattern"].as_str() {
                patterns
                    .entry(pattern.to_owned())
                    .or_insert_with(|| regex::Regex::new(&ascii_classes(pattern)).map_err(|e| e.to_string()));
            }
        });
        Validator {
            root,
            rules,
            patterns,
            env,
        }
    }

    /// Every CEL rule and pattern of the schema that this validator cannot evaluate
    /// (for a test: the CRD must use only what the CLI can check too).
    pub fn uncompiled(&self) -> Vec<String> {
        let rules = self
            .rules
            .iter()
            .filter_map(|(t, r)| r.as_ref().err().map(|e| format!("rule {t}: {e}")));
        let patterns = self
            .patterns
            .iter()
            .filter_map(|(p, r)| r.as_ref().err().map(|e| format!("pattern {p}: {e}")));
        rules.chain(patterns).collect()
    }

    /// Checks a whole object as the API server would on create (`old: None`) or on
    /// update (`old`: the stored object, for transition rules). Returns every problem,
    /// each naming its field path. `object` is defaulted in place, as the server would.
    pub fn validate_object(&self, object: &mut Value, old: Option<&Value>) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(fields) = object.as_object() else {
            return vec!["the document is not an object".into()];
        };
        if fields.get("apiVersion").and_then(Value::as_str) != Some(API_VERSION) {
            problems.push(format!(
                "apiVersion: {} is not {API_VERSION}",
                shown(fields.get("apiVersion"))
            ));
        }
        if fields.get("kind").and_then(Value::as_str) != Some(KIND) {
            problems.push(format!("kind: {} is not {KIND}", shown(fields.get("kind"))));
        }
        for key in fields.keys() {
            if !["apiVersion", "kind", "metadata", "spec", "status"].contains(&key.as_str()) {
                problems.push(format!("{key}: unknown field"));
            }
        }
        problems.extend(metadata_problems(fields.get("metadata")));
        match object.get_mut("spec") {
            Some(spec) => problems.extend(self.validate_spec(spec, old.and_then(|o| o.get("spec")))),
            None => problems.push("spec: Required value".into()),
        }
        // `status` is the status subresource's: the API server ignores it on create
        // and update of the object, and so does the CLI.
        problems
    }

    /// Checks a spec (defaulted in place) against the schema's `spec`.
    pub fn validate_spec(&self, spec: &mut Value, old: Option<&Value>) -> Vec<String> {
        let schema = &self.root["properties"]["spec"];
        default(schema, spec);
        let mut problems = Vec::new();
        self.check(schema, spec, old, "spec", &mut problems);
        problems
    }

    /// Checks one node and its subtree; false when a value in it has the wrong type
    /// (CEL cannot read it then).
    fn check(
        &self,
        schema: &Value,
        value: &Value,
        old: Option<&Value>,
        path: &str,
        problems: &mut Vec<String>,
    ) -> bool {
        if value.is_null() {
            if !schema["nullable"].as_bool().unwrap_or(false) {
                problems.push(format!("{path}: must be of type {}", type_name(schema)));
                return false;
            }
            return true;
        }
        if !type_ok(schema, value) {
            problems.push(format!(
                "{path}: {} must be of type {}",
                shown(Some(value)),
                type_name(schema)
            ));
            return false;
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.iter().any(|a| same(a, value))
        {
            let allowed: Vec<String> = allowed.iter().map(|a| shown(Some(a))).collect();
            problems.push(format!(
                "{path}: Unsupported value: {}: supported values: {}",
                shown(Some(value)),
                allowed.join(", ")
            ));
        }
        let typed = match value {
            Value::String(text) => {
                self.check_string(schema, text, path, problems);
                true
            }
            Value::Number(n) => {
                check_number(schema, n, path, problems);
                true
            }
            Value::Array(items) => self.check_array(schema, items, path, problems),
            Value::Object(fields) => self.check_object(schema, fields, old, path, problems),
            Value::Bool(_) | Value::Null => true,
        };
        // A node's rules run whatever else is wrong in it (as in the API server, every
        // problem is listed), unless a value has the wrong type: CEL cannot read it,
        // and the type error says what to fix.
        if typed {
            self.check_rules(schema, value, old, path, problems);
        }
        typed
    }

    fn check_string(&self, schema: &Value, text: &str, path: &str, problems: &mut Vec<String>) {
        // Kubernetes counts characters (runes), not bytes.
        let chars = text.chars().count() as u64;
        if let Some(max) = schema["maxLength"].as_u64()
            && chars > max
        {
            problems.push(format!(
                "{path}: Too long: may not be more than {max} characters (has {chars})"
            ));
        }
        if let Some(min) = schema["minLength"].as_u64()
            && chars < min
        {
            problems.push(format!(
                "{path}: Invalid value: {text:?}: should be at least {min} characters long"
            ));
        }
        if let Some(pattern) = schema["pattern"].as_str() {
            match self.patterns.get(pattern) {
                Some(Ok(re)) if re.is_match(text) => {}
                Some(Ok(_)) => problems.push(format!("{path}: Invalid value: {text:?}: should match '{pattern}'")),
                Some(Err(e)) => problems.push(format!("{path}: the CRD's pattern '{pattern}' cannot be checked: {e}")),
                None => problems.push(format!("{path}: the CRD's pattern '{pattern}' was not compiled")),
            }
        }
    }

    fn check_array(&self, schema: &Value, items: &[Value], path: &str, problems: &mut Vec<String>) -> bool {
        let count = items.len() as u64;
        if let Some(max) = schema["maxItems"].as_u64()
            && count > max
        {
            problems.push(format!("{path}: Too many: {count}: must have at most {max} items"));
        }
        if let Some(min) = schema["minItems"].as_u64()
            && count < min
        {
            problems.push(format!(
                "{path}: Invalid value: {count} items: should have at least {min} items"
            ));
        }
        match schema["x-kubernetes-list-type"].as_str() {
            Some("set") => {
                let mut seen = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    if !seen.insert(item.to_string()) {
                        problems.push(format!("{path}[{i}]: Duplicate value: {}", shown(Some(item))));
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut seen = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    let key: Vec<String> = keys.iter().map(|k| item[*k].to_string()).collect();
                    if !seen.insert(key.clone()) {
                        let named: Vec<String> = keys.iter().zip(&key).map(|(k, v)| format!("{k}: {v}")).collect();
                        problems.push(format!("{path}[{i}]: Duplicate value: {{{}}}", named.join(", ")));
                    }
                }
            }
            _ => {}
        }
        let item_schema = &schema["items"];
        let mut typed = true;
        if item_schema.is_object() {
            for (i, item) in items.iter().enumerate() {
                // No old item: the API server pairs old and new items of a map list by
                // key, and no rule of ours reads oldSelf inside a list (its transition
                // rules are then skipped here).
                typed &= self.check(item_schema, item, None, &format!("{path}[{i}]"), problems);
            }
        }
        typed
    }

    fn check_object(
        &self,
        schema: &Value,
        fields: &serde_json::Map<String, Value>,
        old: Option<&Value>,
        path: &str,
        problems: &mut Vec<String>,
    ) -> bool {
        let count = fields.len() as u64;
        if let Some(max) = schema["maxProperties"].as_u64()
            && count > max
        {
            problems.push(format!("{path}: Too many: {count}: must have at most {max} items"));
        }
        if let Some(min) = schema["minProperties"].as_u64()
            && count < min
        {
            problems.push(format!(
                "{path}: Invalid value: {count}: should have at least {min} properties"
            ));
        }
        for required in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !fields.contains_key(required) {
                problems.push(format!("{path}.{required}: Required value"));
            }
        }
        let properties = schema["properties"].as_object();
        let additional = &schema["additionalProperties"];
        let preserve = schema["x-kubernetes-preserve-unknown-fields"]
            .as_bool()
            .unwrap_or(false);
        let mut typed = true;
        for (key, value) in fields {
            let old_value = old.and_then(|o| o.get(key));
            if let Some(field_schema) = properties.and_then(|p| p.get(key)) {
                typed &= self.check(field_schema, value, old_value, &format!("{path}.{key}"), problems);
            } else if additional.is_object() {
                typed &= self.check(additional, value, old_value, &format!("{path}[{key}]"), problems);
            } else if !(preserve || additional.as_bool() == Some(true)) {
                problems.push(format!("{path}.{key}: unknown field"));
            }
        }
        typed
    }

    fn check_rules(&self, schema: &Value, value: &Value, old: Option<&Value>, path: &str, problems: &mut Vec<String>) {
        let Some(rules) = schema["x-kubernetes-validations"].as_array() else {
            return;
        };
        for rule in rules {
            let Some(text) = rule["rule"].as_str() else {
                continue;
            };
            let message = rule["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("failed rule: {text}"));
            // A rule's fieldPath (relative, e.g. `.memory`) names the field it is about.
            let at = match rule["fieldPath"].as_str() {
                Some(field) => format!("{path}{field}"),
                None => path.to_owned(),
            };
            let compiled = match self.rules.get(text) {
                Some(Ok(compiled)) => compiled,
                Some(Err(e)) => {
                    problems.push(format!("{at}: the CRD's rule cannot be evaluated here ({e}): {text}"));
                    continue;
                }
                None => continue,
            };
            if compiled.transition && old.is_none() {
                continue;
            }
            let mut context = cel::Context::with_env(self.env.clone());
            context.add_variable_from_value("self", to_cel(schema, value));
            if let Some(old) = old {
                context.add_variable_from_value("oldSelf", to_cel(schema, old));
            }
            match compiled.program.execute(&context) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => problems.push(format!("{at}: {message}")),
                Ok(other) => problems.push(format!("{at}: rule gave {other:?}, not a bool: {text}")),
                Err(e) => problems.push(format!("{at}: {message} (the rule failed: {e})")),
            }
        }
    }
}

/// Visits every schema node (properties, items, additionalProperties).
fn collect(node: &Value, visit: &mut impl FnMut(&Value)) {
    visit(node);
    if let Some(properties) = node["properties"].as_object() {
        for child in properties.values() {
            collect(child, visit);
        }
    }
    for key in ["items", "additionalProperties"] {
        if node[key].is_object() {
            collect(&node[key], visit);
        }
    }
}

/// Fills in defaults top-down, as the API server does before validating: an absent
/// field (or a null one that may not be null) with a default gets it, and the
/// default's own absent fields get theirs.
pub fn default(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if let Some(properties) = schema["properties"].as_object() {
                for (key, field_schema) in properties {
                    let Some(default) = field_schema.get("default") else {
                        continue;
                    };
                    let nullable = field_schema["nullable"].as_bool().unwrap_or(false);
                    match fields.get(key) {
                        None => {
                            fields.insert(key.clone(), default.clone());
                        }
                        Some(Value::Null) if !nullable => {
                            fields.insert(key.clone(), default.clone());
                        }
                        _ => {}
                    }
                }
                for (key, field) in fields.iter_mut() {
                    if let Some(field_schema) = properties.get(key) {
                        self::default(field_schema, field);
                    }
                }
            } else if schema["additionalProperties"].is_object() {
                for field in fields.values_mut() {
                    self::default(&schema["additionalProperties"], field);
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for item in items {
                self::default(&schema["items"], item);
            }
        }
        _ => {}
    }
}

fn type_name(schema: &Value) -> String {
    if schema["x-kubernetes-int-or-string"].as_bool() == Some(true) {
        return "integer or string".into();
    }
    schema["type"].as_str().unwrap_or("any").to_owned()
}

fn type_ok(schema: &Value, value: &Value) -> bool {
    if schema["x-kubernetes-int-or-string"].as_bool() == Some(true) {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    }
}

/// Equal as JSON values, numbers by value (an enum of integers against 256.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn check_number(schema: &Value, n: &serde_json::Number, path: &str, problems: &mut Vec<String>) {
    let Some(x) = n.as_f64() else {
        return;
    };
    let exclusive = |key: &str| schema[key].as_bool().unwrap_or(false);
    if let Some(max) = schema["maximum"].as_f64()
        && (x > max || (exclusive("exclusiveMaximum") && x == max))
    {
        let how = if exclusive("exclusiveMaximum") {
            "less than"
        } else {
            "less than or equal to"
        };
        problems.push(format!(
            "{path}: Invalid value: {n}: should be {how} {}",
            schema["maximum"]
        ));
    }
    if let Some(min) = schema["minimum"].as_f64()
        && (x < min || (exclusive("exclusiveMinimum") && x == min))
    {
        let how = if exclusive("exclusiveMinimum") {
            "greater than"
        } else {
            "greater than or equal to"
        };
        problems.push(format!(
            "{path}: Invalid value: {n}: should be {how} {}",
            schema["minimum"]
        ));
    }
    if let Some(step) = schema["multipleOf"].as_f64()
        && step > 0.0
        && (x / step).fract() != 0.0
    {
        problems.push(format!(
            "{path}: Invalid value: {n}: should be a multiple of {}",
            schema["multipleOf"]
        ));
    }
    // format int32 / int64: the bounds of the Go type the value is decoded into.
    let (lo, hi) = match schema["format"].as_str() {
        Some("int32") => (i32::MIN as f64, i32::MAX as f64),
        _ => (f64::MIN, f64::MAX),
    };
    if x < lo || x > hi {
        problems.push(format!("{path}: Invalid value: {n}: out of the int32 range"));
    }
}

/// A value as the API server prints it in a message.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "(none)".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(Value::Object(_)) => "object".into(),
        Some(Value::Array(_)) => "array".into(),
        Some(other) => other.to_string(),
    }
}

/// The schema's RE2 patterns for Rust's regex crate: the two read the same syntax,
/// but RE2's `\d`, `\w`, `\s` (and their negations) are ASCII classes, Rust's Unicode
/// ones: `\d` would take Arabic-Indic digits that the API server refuses. Written as
/// nested classes, valid inside and outside `[...]`.
pub fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('s') => out.push_str(r"[\t\n\f\r ]"),
            Some('S') => out.push_str(r"[^\t\n\f\r ]"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Kubernetes' ObjectMeta rules for the fields a manifest sets: the name is a DNS
/// subdomain (it becomes part of AWS names and tags), the namespace a DNS label.
fn metadata_problems(metadata: Option<&Value>) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(metadata) = metadata.and_then(Value::as_object) else {
        return vec!["metadata.name: Required value".into()];
    };
    for key in metadata.keys() {
        if !OBJECT_META_FIELDS.contains(&key.as_str()) {
            problems.push(format!("metadata.{key}: unknown field"));
        }
    }
    match metadata.get("name") {
        Some(Value::String(name)) if !name.is_empty() => {
            if let Some(problem) = dns_subdomain(name) {
                problems.push(format!("metadata.name: Invalid value: {name:?}: {problem}"));
            }
        }
        _ => problems.push("metadata.name: Required value: name is required".into()),
    }
    match metadata.get("namespace") {
        None | Some(Value::Null) => {}
        Some(Value::String(namespace)) => {
            if let Some(problem) = dns_label(namespace) {
                problems.push(format!("metadata.namespace: Invalid value: {namespace:?}: {problem}"));
            }
        }
        Some(other) => problems.push(format!(
            "metadata.namespace: {} must be of type string",
            shown(Some(other))
        )),
    }
    for map in ["labels", "annotations"] {
        if let Some(value) = metadata.get(map)
            && !value.as_object().is_some_and(|m| m.values().all(Value::is_string))
        {
            problems.push(format!("metadata.{map}: must be a map of strings"));
        }
    }
    problems
}

fn dns_label(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    (!ok).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
         start and end with an alphanumeric character, and be at most 63 characters"
            .into()
    })
}

fn dns_subdomain(text: &str) -> Option<String> {
    let ok = text.len() <= 253 && text.split('.').all(|label| dns_label(label).is_none());
    (!ok).then(|| {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', \
         start and end with an alphanumeric character, and be at most 253 characters"
            .into()
    })
}

/// CEL's reserved words: a property so named is `__name__` in a rule, as in the API server.
const CEL_RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// A property name as a CEL rule spells it (the API server's escaping).
fn cel_name(name: &str) -> String {
    if CEL_RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    name.replace("__", "__underscores__")
        .replace('.', "__dot__")
        .replace('-', "__dash__")
        .replace('/', "__slash__")
}

/// A JSON value as the CEL value the API server binds to `self`, typed by the schema:
/// `number` is a double even when written as 100, `integer` an int.
fn to_cel(schema: &Value, value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (schema["type"].as_str(), n.as_i64()) {
            (Some("number"), _) | (_, None) => cel::Value::Float(n.as_f64().unwrap_or_default()),
            (_, Some(i)) => cel::Value::Int(i),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(|i| to_cel(&schema["items"], i)).collect())),
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            let map: HashMap<cel::objects::Key, cel::Value> = fields
                .iter()
                .map(|(key, field)| match properties.and_then(|p| p.get(key)) {
                    Some(field_schema) => (cel_name(key).into(), to_cel(field_schema, field)),
                    None => (key.clone().into(), to_cel(&schema["additionalProperties"], field)),
                })
                .collect();
            cel::Value::Map(map.into())
        }
    }
}

/// Problems of a typed spec (the engine's door: the controller's objects passed the
/// API server already; the CLI's were checked whole by [`Validator::validate_object`]).
pub fn spec_problems(spec: &crate::crd::PrivateApiSpec) -> Vec<String> {
    match serde_json::to_value(spec) {
        Ok(mut value) => validator().validate_spec(&mut value, None),
        Err(e) => vec![format!("spec: cannot be written as JSON: {e}")],
    }
}
