//! Validation of a Kubernetes custom resource manifest against the
//! structural OpenAPI v3 schema of its CustomResourceDefinition (CRD), the
//! way the API server checks an object with strict field validation
//! (`kubectl apply --validate=strict`).
//!
//! What is checked:
//!
//! - `apiVersion` is one of the CRD's served `group/version`s and `kind` is
//!   its `spec.names.kind`;
//! - `metadata` is an object whose `name` is a DNS-1123 subdomain; `namespace`
//!   is a DNS-1123 label, `labels` and `annotations` are string-to-string maps
//!   with valid keys (and valid label values), `finalizers` a list of strings.
//!   Other metadata fields are accepted as they are;
//! - everything else against the version's `schema.openAPIV3Schema`: `type`,
//!   `nullable`, `x-kubernetes-int-or-string`, `enum`, `pattern`,
//!   `minLength`/`maxLength`, `minimum`/`maximum` (with the boolean and the
//!   numeric forms of `exclusiveMinimum`/`exclusiveMaximum`), `multipleOf`,
//!   `minItems`/`maxItems`, `minProperties`/`maxProperties`, `required`,
//!   `properties`, `additionalProperties`, `items`, `allOf`/`anyOf`/`oneOf`/
//!   `not`, duplicate entries in `x-kubernetes-list-type: set` and `map`
//!   lists, and unknown fields (a violation unless the object schema has
//!   `x-kubernetes-preserve-unknown-fields: true` or `additionalProperties`
//!   admits them). As in the API server, unknown fields are only judged by
//!   the structural part of a schema, never inside `allOf`/`anyOf`/`oneOf`/
//!   `not`, and keywords that concern one JSON type (`pattern`, `minimum`, …)
//!   only apply to values of that type.
//!
//! What is not checked:
//!
//! - `x-kubernetes-validations` (CEL rules): they are not evaluated; see
//!   [`Crd::unchecked_rules`] to list those that apply to a manifest;
//! - `format` is ignored, and `default` only in that a required field with
//!   a default is not reported missing (the API server applies defaults
//!   before it validates); default values themselves are not checked;
//! - a `pattern` that Rust's `regex` dialect cannot compile (look-around,
//!   back-references) is skipped; see [`Crd::uncompiled_patterns`].
//!
//! One deliberate difference: the API server silently drops a `null` given
//! to a non-nullable object field; this validator reports it, since a
//! rendered `null` is usually a mistake.
//!
//! Violations are listed in the order the manifest's maps iterate: document
//! order when `serde_json` keeps insertion order, key order otherwise.

use std::collections::{HashMap, HashSet};
use std::fmt;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The only CRD API version understood.
const CRD_API_VERSION: &str = "apiextensions.k8s.io/v1";

/// How many `enum` values a message lists before eliding the rest.
const ENUM_SHOWN: usize = 12;

/// How many characters of a string value a message quotes.
const QUOTED_CHARS: usize = 80;

/// A CustomResourceDefinition: its group, kind and the schema of each served
/// version.
#[derive(Debug, Clone)]
pub struct Crd {
    group: String,
    kind: String,
    versions: Vec<CrdVersion>,
    /// Index in `versions` of the version used when a manifest's
    /// `apiVersion` matches none: the storage version, else the first.
    default_version: usize,
    /// Every `pattern` of the schemas, compiled; `None` when Rust's regex
    /// dialect rejects it.
    patterns: HashMap<String, Option<Regex>>,
}

#[derive(Debug, Clone)]
struct CrdVersion {
    name: String,
    schema: Value,
}

/// Why a CRD or a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// The text is not valid YAML (or holds a value JSON cannot represent).
    #[error("invalid YAML: {message}")]
    Yaml {
        /// 1-based line of the error, when the parser knows it.
        line: Option<usize>,
        message: String,
    },
    /// No document of the stream is a CustomResourceDefinition.
    #[error("not a CustomResourceDefinition: found {found}")]
    NotACrd { found: String },
    /// A CustomResourceDefinition of an API version other than
    /// apiextensions.k8s.io/v1.
    #[error(
        "unsupported CustomResourceDefinition apiVersion {0:?}; \
         only {CRD_API_VERSION} is supported"
    )]
    UnsupportedApiVersion(String),
    /// A field the CRD must have is missing or has the wrong type.
    #[error("the CustomResourceDefinition has no valid {0}")]
    MissingField(String),
    /// A served version has no `schema.openAPIV3Schema` object.
    #[error(
        "served version {version:?} of the CustomResourceDefinition has no schema.openAPIV3Schema"
    )]
    NoSchema { version: String },
    /// No version of the CRD is served.
    #[error("the CustomResourceDefinition serves no version")]
    NoServedVersion,
    /// A manifest text must hold exactly one YAML document.
    #[error("the manifest holds {0} YAML documents, expected exactly one")]
    NotOneDocument(usize),
}

/// One way a manifest fails its CRD.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Where: `spec.instances`, `spec.postgresql.parameters.shared_buffers`,
    /// `spec.managed.roles[0].name`, `metadata.labels["app.kubernetes.io/name"]`;
    /// empty for the manifest itself.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", display_path(&self.path), self.message)
    }
}

impl Crd {
    /// Reads a CustomResourceDefinition (apiextensions.k8s.io/v1) from YAML.
    /// The text may be a multi-document stream: the first document that is a
    /// v1 CustomResourceDefinition is used.
    pub fn from_yaml(text: &str) -> Result<Crd, CrdError> {
        let documents = parse_documents(text)?;
        let mut seen = Vec::new();
        let mut other_version = None;
        for document in &documents {
            let api_version = document.get("apiVersion").and_then(Value::as_str);
            let kind = document.get("kind").and_then(Value::as_str);
            if kind == Some("CustomResourceDefinition") {
                if api_version == Some(CRD_API_VERSION) {
                    return Crd::from_value(document);
                }
                other_version.get_or_insert_with(|| api_version.unwrap_or_default().to_owned());
            }
            seen.push(match (kind, api_version) {
                (Some(kind), Some(api)) => format!("{kind} ({api})"),
                (Some(kind), None) => kind.to_owned(),
                (None, _) => "a document without kind".to_owned(),
            });
        }
        if let Some(api_version) = other_version {
            return Err(CrdError::UnsupportedApiVersion(api_version));
        }
        Err(CrdError::NotACrd {
            found: if seen.is_empty() {
                "no YAML document".to_owned()
            } else {
                seen.join(", ")
            },
        })
    }

    fn from_value(document: &Value) -> Result<Crd, CrdError> {
        let missing = |field: &str| CrdError::MissingField(field.to_owned());
        let spec = document
            .get("spec")
            .filter(|s| s.is_object())
            .ok_or_else(|| missing("spec"))?;
        let group = spec
            .get("group")
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
            .ok_or_else(|| missing("spec.group"))?;
        let kind = spec
            .get("names")
            .and_then(|names| names.get("kind"))
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| missing("spec.names.kind"))?;
        let listed = spec
            .get("versions")
            .and_then(Value::as_array)
            .ok_or_else(|| missing("spec.versions"))?;

        let mut versions = Vec::new();
        let mut default_version = None;
        for (i, version) in listed.iter().enumerate() {
            if version.get("served").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let name = version
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| missing(&format!("spec.versions[{i}].name")))?;
            let schema = version
                .get("schema")
                .and_then(|s| s.get("openAPIV3Schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| CrdError::NoSchema {
                    version: name.to_owned(),
                })?;
            if version.get("storage").and_then(Value::as_bool) == Some(true) {
                default_version = Some(versions.len());
            }
            versions.push(CrdVersion {
                name: name.to_owned(),
                schema: schema.clone(),
            });
        }
        if versions.is_empty() {
            return Err(CrdError::NoServedVersion);
        }

        let mut patterns = HashMap::new();
        for version in &versions {
            collect_patterns(&version.schema, &mut patterns);
        }
        Ok(Crd {
            group: group.to_owned(),
            kind: kind.to_owned(),
            versions,
            default_version: default_version.unwrap_or(0),
            patterns,
        })
    }

    /// The CRD's API group, e.g. `postgresql.cnpg.io`.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The kind of the custom resource, e.g. `Cluster`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The `group/version` of every served version, in the CRD's order.
    pub fn api_versions(&self) -> Vec<String> {
        self.versions
            .iter()
            .map(|v| format!("{}/{}", self.group, v.name))
            .collect()
    }

    /// The schema `pattern`s that Rust's regex dialect cannot compile, and
    /// which validation therefore skips; sorted.
    pub fn uncompiled_patterns(&self) -> Vec<String> {
        let mut skipped: Vec<String> = self
            .patterns
            .iter()
            .filter(|(_, compiled)| compiled.is_none())
            .map(|(pattern, _)| pattern.clone())
            .collect();
        skipped.sort();
        skipped
    }

    /// Every violation of `manifest` (already parsed, e.g. from YAML into
    /// [`serde_json::Value`]), in document order; empty = valid.
    pub fn validate(&self, manifest: &Value) -> Vec<Violation> {
        let mut checker = Checker {
            crd: self,
            out: Vec::new(),
        };
        let Some(object) = manifest.as_object() else {
            checker.push(
                "",
                format!("the manifest must be an object, got {}", describe(manifest)),
            );
            return checker.out;
        };
        if let Some(version) = self.version_for(manifest) {
            checker.root(&version.schema, manifest, object);
        }
        checker.out
    }

    /// Parses a YAML manifest (one document) and validates it. Duplicate
    /// keys are YAML errors, as they are for the API server.
    pub fn validate_yaml(&self, manifest: &str) -> Result<Vec<Violation>, CrdError> {
        let mut documents = parse_documents(manifest)?;
        match documents.len() {
            0 => Ok(self.validate(&Value::Null)),
            1 => Ok(self.validate(&documents.remove(0))),
            n => Err(CrdError::NotOneDocument(n)),
        }
    }

    /// The CEL rules (`x-kubernetes-validations`) that apply to the fields
    /// present in `manifest` and that [`Crd::validate`] does not evaluate, as
    /// `path: message` (the rule itself when it has no message).
    pub fn unchecked_rules(&self, manifest: &Value) -> Vec<String> {
        let mut rules = Vec::new();
        if let Some(version) = self.version_for(manifest) {
            collect_rules(&version.schema, manifest, "", &mut rules);
        }
        rules
    }

    /// The served version a manifest names, else the default one.
    fn version_for(&self, manifest: &Value) -> Option<&CrdVersion> {
        let wanted = manifest.get("apiVersion").and_then(Value::as_str);
        self.versions
            .iter()
            .find(|v| wanted == Some(format!("{}/{}", self.group, v.name).as_str()))
            .or_else(|| self.versions.get(self.default_version))
    }
}

/// Parses every non-empty document of a YAML stream into JSON values.
fn parse_documents(text: &str) -> Result<Vec<Value>, CrdError> {
    let mut documents = Vec::new();
    for deserializer in serde_norway::Deserializer::from_str(text) {
        // The iterator repeats a failure forever: stop at the first one.
        let mut yaml = serde_norway::Value::deserialize(deserializer).map_err(yaml_error)?;
        yaml.apply_merge().map_err(yaml_error)?;
        let json = yaml_to_json(yaml)?;
        if !json.is_null() {
            documents.push(json);
        }
    }
    Ok(documents)
}

fn yaml_error(error: serde_norway::Error) -> CrdError {
    CrdError::Yaml {
        line: error.location().map(|l| l.line()),
        message: error.to_string(),
    }
}

/// Converts YAML to JSON as the API server does: non-string keys become
/// strings and tags are dropped.
fn yaml_to_json(yaml: serde_norway::Value) -> Result<Value, CrdError> {
    use serde_norway::Value as Yaml;
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let float = n.as_f64().and_then(serde_json::Number::from_f64);
                Value::Number(float.ok_or_else(|| CrdError::Yaml {
                    line: None,
                    message: format!("the number {n} cannot be represented in JSON"),
                })?)
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match yaml_to_json(key)? {
                    Value::String(s) => s,
                    Value::Null => "null".to_owned(),
                    scalar @ (Value::Bool(_) | Value::Number(_)) => scalar.to_string(),
                    _ => {
                        return Err(CrdError::Yaml {
                            line: None,
                            message: "a mapping key must be a scalar".to_owned(),
                        })
                    }
                };
                object.insert(key, yaml_to_json(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// Compiles every `pattern` string found in a schema.
fn collect_patterns(schema: &Value, patterns: &mut HashMap<String, Option<Regex>>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(pattern)) = map.get("pattern") {
                patterns
                    .entry(pattern.clone())
                    .or_insert_with(|| Regex::new(pattern).ok());
            }
            for value in map.values() {
                collect_patterns(value, patterns);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_patterns(item, patterns);
            }
        }
        _ => {}
    }
}

/// Lists the CEL rules of the schema nodes that `value` reaches.
fn collect_rules(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if value.is_null() {
        return;
    }
    if let Some(Value::Array(rules)) = schema.get("x-kubernetes-validations") {
        for rule in rules {
            let text = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
            let described = rule
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| rule.get("messageExpression").and_then(Value::as_str))
                .map_or_else(|| format!("rule `{text}`"), str::to_owned);
            let when = if text.contains("oldSelf") {
                " (checked on update only)"
            } else {
                ""
            };
            out.push(format!("{}: {described}{when}", display_path(path)));
        }
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in map {
                if let Some(sub) = properties.and_then(|p| p.get(key)).or(additional) {
                    collect_rules(sub, child, &child_path(path, key), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    collect_rules(sub, item, &index_path(path, i), out);
                }
            }
        }
        _ => {}
    }
}

/// The JSON types a schema can demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
    IntOrString,
}

impl Expected {
    fn of(schema: &Map<String, Value>) -> Option<Expected> {
        if flag(schema, "x-kubernetes-int-or-string") {
            return Some(Expected::IntOrString);
        }
        Some(match schema.get("type").and_then(Value::as_str)? {
            "object" => Expected::Object,
            "array" => Expected::Array,
            "string" => Expected::String,
            "integer" => Expected::Integer,
            "number" => Expected::Number,
            "boolean" => Expected::Boolean,
            _ => return None,
        })
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Expected::Object => value.is_object(),
            Expected::Array => value.is_array(),
            Expected::String => value.is_string(),
            Expected::Integer => is_integer(value),
            Expected::Number => value.is_number(),
            Expected::Boolean => value.is_boolean(),
            Expected::IntOrString => is_integer(value) || value.is_string(),
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Expected::Object => "an object",
            Expected::Array => "an array",
            Expected::String => "a string",
            Expected::Integer => "an integer",
            Expected::Number => "a number",
            Expected::Boolean => "a boolean",
            Expected::IntOrString => "an integer or a string",
        }
    }
}

/// Walks a manifest along a schema and collects violations.
struct Checker<'a> {
    crd: &'a Crd,
    out: Vec<Violation>,
}

impl Checker<'_> {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        self.out.push(Violation {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Checks `value` against `schema`. `structural` is false inside
    /// `allOf`/`anyOf`/`oneOf`/`not`, where unknown fields are not judged.
    fn check(&mut self, schema: &Value, value: &Value, path: &str, structural: bool) {
        let Some(schema) = schema.as_object() else {
            return;
        };
        let expected = Expected::of(schema);
        if value.is_null() {
            if flag(schema, "nullable") {
                return;
            }
            if let Some(expected) = expected {
                self.push(path, format!("must be {}, got null", expected.phrase()));
                return;
            }
        }
        if let Some(expected) = expected {
            if !expected.accepts(value) {
                self.push(
                    path,
                    format!("must be {}, got {}", expected.phrase(), describe(value)),
                );
                return;
            }
        }
        if let Some(Value::Array(options)) = schema.get("enum") {
            if !options.iter().any(|option| json_eq(option, value)) {
                self.push(path, enum_message(options, value));
            }
        }
        match value {
            Value::String(s) => self.string(schema, s, path),
            Value::Number(n) => self.number(schema, n, path),
            Value::Array(items) => {
                self.count(schema, "minItems", "maxItems", items.len(), "item", path)
            }
            Value::Object(map) => self.count(
                schema,
                "minProperties",
                "maxProperties",
                map.len(),
                "field",
                path,
            ),
            Value::Null | Value::Bool(_) => {}
        }
        self.junctors(schema, value, path);
        match value {
            Value::Array(items) => self.array(schema, items, path, structural),
            Value::Object(map) => self.object_fields(schema, map, path, structural, false),
            _ => {}
        }
    }

    fn string(&mut self, schema: &Map<String, Value>, s: &str, path: &str) {
        let length = s.chars().count();
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if (length as u64) < min {
                self.push(
                    path,
                    format!(
                        "must be at least {min} character{} long, got {}",
                        plural(min),
                        quote(s)
                    ),
                );
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if length as u64 > max {
                self.push(
                    path,
                    format!(
                        "must be at most {max} character{} long, got {length}: {}",
                        plural(max),
                        quote(s)
                    ),
                );
            }
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            if let Some(Some(regex)) = self.crd.patterns.get(pattern) {
                if !regex.is_match(s) {
                    self.push(
                        path,
                        format!("must match the pattern {pattern}, got {}", quote(s)),
                    );
                }
            }
        }
    }

    fn number(&mut self, schema: &Map<String, Value>, n: &serde_json::Number, path: &str) {
        let Some(x) = n.as_f64() else {
            return;
        };
        let shown = describe(&Value::Number(n.clone()));
        let bound = |key: &str| schema.get(key).filter(|b| b.is_number());
        let exclusive = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);

        if let Some(min) = bound("minimum") {
            let limit = min.as_f64().unwrap_or(f64::NEG_INFINITY);
            if exclusive("exclusiveMinimum") && x <= limit {
                self.push(path, format!("must be greater than {min}, got {shown}"));
            } else if x < limit {
                self.push(
                    path,
                    format!("must be greater than or equal to {min}, got {shown}"),
                );
            }
        }
        if let Some(max) = bound("maximum") {
            let limit = max.as_f64().unwrap_or(f64::INFINITY);
            if exclusive("exclusiveMaximum") && x >= limit {
                self.push(path, format!("must be less than {max}, got {shown}"));
            } else if x > limit {
                self.push(
                    path,
                    format!("must be less than or equal to {max}, got {shown}"),
                );
            }
        }
        // The JSON Schema 2019 forms, where the exclusive bound is a number.
        if let Some(min) = bound("exclusiveMinimum") {
            if x <= min.as_f64().unwrap_or(f64::NEG_INFINITY) {
                self.push(path, format!("must be greater than {min}, got {shown}"));
            }
        }
        if let Some(max) = bound("exclusiveMaximum") {
            if x >= max.as_f64().unwrap_or(f64::INFINITY) {
                self.push(path, format!("must be less than {max}, got {shown}"));
            }
        }
        if let Some(step) = bound("multipleOf") {
            let multiple = match (n.as_i64(), step.as_i64()) {
                (Some(a), Some(b)) if b != 0 => a % b == 0,
                _ => match step.as_f64() {
                    Some(b) if b > 0.0 => {
                        let q = x / b;
                        (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
                    }
                    _ => true,
                },
            };
            if !multiple {
                self.push(path, format!("must be a multiple of {step}, got {shown}"));
            }
        }
    }

    /// `minItems`/`maxItems` or `minProperties`/`maxProperties`.
    fn count(
        &mut self,
        schema: &Map<String, Value>,
        min_key: &str,
        max_key: &str,
        count: usize,
        noun: &str,
        path: &str,
    ) {
        let count = count as u64;
        if let Some(min) = schema.get(min_key).and_then(Value::as_u64) {
            if count < min {
                self.push(
                    path,
                    format!(
                        "must have at least {min} {noun}{}, got {count}",
                        plural(min)
                    ),
                );
            }
        }
        if let Some(max) = schema.get(max_key).and_then(Value::as_u64) {
            if count > max {
                self.push(
                    path,
                    format!("must have at most {max} {noun}{}, got {count}", plural(max)),
                );
            }
        }
    }

    fn junctors(&mut self, schema: &Map<String, Value>, value: &Value, path: &str) {
        if let Some(Value::Array(branches)) = schema.get("allOf") {
            for branch in branches {
                self.check(branch, value, path, false);
            }
        }
        if let Some(Value::Array(branches)) = schema.get("anyOf") {
            let results = self.branches(branches, value, path);
            if !results.is_empty() && results.iter().all(|r| !r.is_empty()) {
                self.push(
                    path,
                    format!(
                        "must match at least one of {} alternatives (anyOf), matches none: {}",
                        results.len(),
                        summarize(&results, path)
                    ),
                );
            }
        }
        if let Some(Value::Array(branches)) = schema.get("oneOf") {
            let results = self.branches(branches, value, path);
            let matching = results.iter().filter(|r| r.is_empty()).count();
            if matching == 0 && !results.is_empty() {
                self.push(
                    path,
                    format!(
                        "must match exactly one of {} alternatives (oneOf), matches none: {}",
                        results.len(),
                        summarize(&results, path)
                    ),
                );
            } else if matching > 1 {
                self.push(
                    path,
                    format!(
                        "must match exactly one of {} alternatives (oneOf), matches {matching}",
                        results.len()
                    ),
                );
            }
        }
        if let Some(branch) = schema.get("not") {
            let results = self.branches(std::slice::from_ref(branch), value, path);
            if results.iter().all(Vec::is_empty) {
                self.push(path, "must not match the schema given under `not`");
            }
        }
    }

    /// The violations of `value` against each branch, checked apart.
    fn branches(&self, branches: &[Value], value: &Value, path: &str) -> Vec<Vec<Violation>> {
        branches
            .iter()
            .map(|branch| {
                let mut sub = Checker {
                    crd: self.crd,
                    out: Vec::new(),
                };
                sub.check(branch, value, path, false);
                sub.out
            })
            .collect()
    }

    fn array(
        &mut self,
        schema: &Map<String, Value>,
        items: &[Value],
        path: &str,
        structural: bool,
    ) {
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                let mut seen = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    if !seen.insert(item.to_string()) {
                        self.push(
                            &index_path(path, i),
                            format!("duplicate entry {} in a set", describe(item)),
                        );
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = match schema.get("x-kubernetes-list-map-keys") {
                    Some(Value::Array(keys)) => keys.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                let mut seen = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let Some(entry) = item.as_object() else {
                        continue;
                    };
                    let key = keys
                        .iter()
                        .map(|k| format!("{k}={}", entry.get(*k).unwrap_or(&Value::Null)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if !keys.is_empty() && !seen.insert(key.clone()) {
                        self.push(&index_path(path, i), format!("duplicate entry with {key}"));
                    }
                }
            }
            _ => {}
        }
        if let Some(sub) = schema.get("items").filter(|i| i.is_object()) {
            for (i, item) in items.iter().enumerate() {
                self.check(sub, item, &index_path(path, i), structural);
            }
        }
    }

    /// The manifest itself: the checks of an object, with `apiVersion`,
    /// `kind` and `metadata` checked apart.
    fn root(&mut self, schema: &Value, value: &Value, map: &Map<String, Value>) {
        let Some(schema) = schema.as_object() else {
            return;
        };
        if let Some(Value::Array(options)) = schema.get("enum") {
            if !options.iter().any(|option| json_eq(option, value)) {
                self.push("", enum_message(options, value));
            }
        }
        self.count(
            schema,
            "minProperties",
            "maxProperties",
            map.len(),
            "field",
            "",
        );
        self.junctors(schema, value, "");
        self.object_fields(schema, map, "", true, true);
    }

    fn object_fields(
        &mut self,
        schema: &Map<String, Value>,
        map: &Map<String, Value>,
        path: &str,
        structural: bool,
        root: bool,
    ) {
        let mut required: Vec<&str> = if root {
            vec!["apiVersion", "kind", "metadata"]
        } else {
            Vec::new()
        };
        if let Some(Value::Array(listed)) = schema.get("required") {
            for name in listed.iter().filter_map(Value::as_str) {
                if !required.contains(&name) {
                    required.push(name);
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in required {
            // The API server fills in defaults before it validates, so a
            // required field with a default is never missing.
            let defaulted = properties
                .and_then(|p| p.get(name))
                .is_some_and(|sub| sub.get("default").is_some());
            if !map.contains_key(name) && !defaulted {
                self.push(&child_path(path, name), "required field is missing");
            }
        }

        let additional = schema.get("additionalProperties");
        let closed = structural
            && !flag(schema, "x-kubernetes-preserve-unknown-fields")
            && (properties.is_some() || Expected::of(schema) == Some(Expected::Object));
        let embedded = flag(schema, "x-kubernetes-embedded-resource");

        for (key, value) in map {
            let path = child_path(path, key);
            if root {
                match key.as_str() {
                    "apiVersion" => {
                        self.api_version(value, &path);
                        continue;
                    }
                    "kind" => {
                        self.kind(value, &path);
                        continue;
                    }
                    "metadata" => {
                        let sub = properties.and_then(|p| p.get("metadata"));
                        self.metadata(sub, value, &path);
                        continue;
                    }
                    _ => {}
                }
            }
            if let Some(sub) = properties.and_then(|p| p.get(key)) {
                self.check(sub, value, &path, structural);
                continue;
            }
            match additional {
                Some(sub @ Value::Object(_)) => self.check(sub, value, &path, structural),
                Some(Value::Bool(true)) => {}
                _ if embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") => {}
                _ if closed => {
                    let known = properties.into_iter().flat_map(|p| p.keys());
                    let message = match suggest(key, known) {
                        Some(close) => {
                            format!("unknown field \"{key}\"; did you mean \"{close}\"?")
                        }
                        None => format!("unknown field \"{key}\""),
                    };
                    self.push(&path, message);
                }
                _ => {}
            }
        }
    }

    fn api_version(&mut self, value: &Value, path: &str) {
        let served = self.crd.api_versions();
        match value.as_str() {
            None => self.push(path, format!("must be a string, got {}", describe(value))),
            Some(found) if served.iter().any(|s| s == found) => {}
            Some(found) => {
                let wanted = served
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let lead = if served.len() == 1 { "" } else { "one of " };
                self.push(
                    path,
                    format!("must be {lead}{wanted}, got {}", quote(found)),
                );
            }
        }
    }

    fn kind(&mut self, value: &Value, path: &str) {
        match value.as_str() {
            None => self.push(path, format!("must be a string, got {}", describe(value))),
            Some(found) if found == self.crd.kind => {}
            Some(found) => self.push(
                path,
                format!("must be \"{}\", got {}", self.crd.kind, quote(found)),
            ),
        }
    }

    /// Checks `metadata` as the API server checks an ObjectMeta, plus the
    /// schema's constraints on `name` and `generateName` (the only ones a CRD
    /// may put on metadata).
    fn metadata(&mut self, schema: Option<&Value>, value: &Value, path: &str) {
        let Some(map) = value.as_object() else {
            self.push(path, format!("must be an object, got {}", describe(value)));
            return;
        };
        if !map.contains_key("name") {
            self.push(&child_path(path, "name"), "required field is missing");
        }
        let properties = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        for (key, value) in map {
            let path = child_path(path, key);
            match key.as_str() {
                "name" => match value.as_str() {
                    None => self.push(&path, format!("must be a string, got {}", describe(value))),
                    Some("") => self.push(&path, "must not be empty"),
                    Some(name) => {
                        if let Err(why) = dns_subdomain(name) {
                            self.push(&path, format!("{why}, got {}", quote(name)));
                        }
                    }
                },
                "generateName" | "namespace" => match value.as_str() {
                    None => self.push(&path, format!("must be a string, got {}", describe(value))),
                    Some(namespace) if key == "namespace" && !namespace.is_empty() => {
                        if let Err(why) = dns_label(namespace) {
                            self.push(&path, format!("{why}, got {}", quote(namespace)));
                        }
                    }
                    Some(_) => {}
                },
                "labels" => self.string_map(value, &path, true),
                "annotations" => self.string_map(value, &path, false),
                "finalizers" => match value.as_array() {
                    None => self.push(&path, format!("must be an array, got {}", describe(value))),
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            if !item.is_string() {
                                self.push(
                                    &index_path(&path, i),
                                    format!("must be a string, got {}", describe(item)),
                                );
                            }
                        }
                    }
                },
                _ => {}
            }
            if matches!(key.as_str(), "name" | "generateName") && value.is_string() {
                if let Some(sub) = properties.and_then(|p| p.get(key)) {
                    self.check(sub, value, &path, false);
                }
            }
        }
    }

    /// `labels` (keys and values checked) or `annotations` (keys checked).
    fn string_map(&mut self, value: &Value, path: &str, labels: bool) {
        let Some(map) = value.as_object() else {
            self.push(path, format!("must be an object, got {}", describe(value)));
            return;
        };
        for (key, value) in map {
            let path = child_path(path, key);
            if let Err(why) = qualified_name(key) {
                self.push(&path, format!("invalid key {}: {why}", quote(key)));
            }
            match value.as_str() {
                None => self.push(&path, format!("must be a string, got {}", describe(value))),
                Some(text) if labels => {
                    if let Err(why) = label_value(text) {
                        self.push(&path, format!("{why}, got {}", quote(text)));
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// The closest known name to an unknown one, if close enough: Jaro-Winkler
/// similarity of at least 0.85, or at most two edits (fewer than the name's
/// length, so that short names do not match anything).
fn suggest<'k>(unknown: &str, known: impl Iterator<Item = &'k String>) -> Option<&'k str> {
    let wanted = unknown.to_lowercase();
    let mut best: Option<(f64, usize, &str)> = None;
    for candidate in known {
        let lower = candidate.to_lowercase();
        let similarity = strsim::jaro_winkler(&wanted, &lower);
        let edits = strsim::levenshtein(&wanted, &lower);
        let shortest = wanted.chars().count().min(lower.chars().count());
        if similarity < 0.85 && !(edits <= 2 && edits < shortest) {
            continue;
        }
        let better = match best {
            None => true,
            Some((s, e, _)) => edits < e || (edits == e && similarity > s),
        };
        if better {
            best = Some((similarity, edits, candidate));
        }
    }
    best.map(|(_, _, name)| name)
}

fn enum_message(options: &[Value], value: &Value) -> String {
    let mut listed = options
        .iter()
        .take(ENUM_SHOWN)
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if options.len() > ENUM_SHOWN {
        listed.push_str(&format!(", … ({} in all)", options.len()));
    }
    let mut message = if options.len() == 1 {
        format!("must be {listed}, got {}", describe(value))
    } else {
        format!("must be one of {listed}, got {}", describe(value))
    };
    if let Some(found) = value.as_str() {
        let names: Vec<String> = options
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if let Some(close) = suggest(found, names.iter()) {
            message.push_str(&format!("; did you mean \"{close}\"?"));
        }
    }
    message
}

fn summarize(results: &[Vec<Violation>], path: &str) -> String {
    results
        .iter()
        .enumerate()
        .filter_map(|(i, violations)| {
            let first = violations.first()?;
            let detail = match first.path.strip_prefix(path) {
                Some("") => first.message.clone(),
                Some(rest) => format!("{}: {}", rest.trim_start_matches('.'), first.message),
                None => first.to_string(),
            };
            Some(format!("#{} {detail}", i + 1))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// An integer is a JSON number stored as one: `2`, not `2.0`.
fn is_integer(value: &Value) -> bool {
    value.as_number().is_some_and(|n| n.is_i64() || n.is_u64())
}

/// Equality with numbers compared by value, so that `1` matches `1.0`.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as messages show it: `string "2"`, `integer 1`, `object`.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("{} {n}", type_name(value)),
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(items) => format!(
            "an array of {} item{}",
            items.len(),
            plural(items.len() as u64)
        ),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A JSON-quoted string, shortened when long.
fn quote(s: &str) -> String {
    if s.chars().count() <= QUOTED_CHARS {
        return Value::String(s.to_owned()).to_string();
    }
    let head: String = s.chars().take(QUOTED_CHARS - 1).collect();
    let quoted = Value::String(head).to_string();
    format!("{}…\"", &quoted[..quoted.len() - 1])
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "(manifest)"
    } else {
        path
    }
}

/// `parent.key`, or `parent["key"]` when the key is not a plain identifier.
fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", Value::String(key.to_owned())),
    }
}

fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// A DNS-1123 label: at most 63 lowercase alphanumerics or '-', starting and
/// ending with an alphanumeric.
fn dns_label(s: &str) -> Result<(), String> {
    if s.len() > 63 {
        return Err(format!(
            "must be at most 63 characters long (a DNS-1123 label), has {}",
            s.len()
        ));
    }
    if !dns_label_shape(s) {
        return Err("must be a DNS-1123 label (lowercase alphanumerics or '-', \
                    starting and ending with an alphanumeric)"
            .to_owned());
    }
    Ok(())
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123
/// label shapes.
fn dns_subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err(format!(
            "must be at most 253 characters long (a DNS-1123 subdomain), has {}",
            s.len()
        ));
    }
    if !s.split('.').all(dns_label_shape) {
        return Err(
            "must be a DNS-1123 subdomain (lowercase alphanumerics, '-' or '.', \
                    starting and ending with an alphanumeric)"
                .to_owned(),
        );
    }
    Ok(())
}

fn dns_label_shape(s: &str) -> bool {
    let lower_alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            lower_alnum(first)
                && lower_alnum(last)
                && bytes.iter().all(|c| lower_alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// Alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
fn name_shape(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A label or annotation key: an optional DNS-1123 subdomain prefix and '/',
/// then a name of at most 63 characters.
fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("the prefix before '/' must not be empty".to_owned());
        }
        dns_subdomain(prefix).map_err(|why| format!("the prefix {why}"))?;
    }
    if name.is_empty() {
        return Err("the name must not be empty".to_owned());
    }
    if name.len() > 63 {
        return Err(format!(
            "the name must be at most 63 characters long, has {}",
            name.len()
        ));
    }
    if !name_shape(name) {
        return Err("the name must consist of alphanumerics, '-', '_' or '.', \
                    starting and ending with an alphanumeric"
            .to_owned());
    }
    Ok(())
}

/// A label value: empty, or at most 63 alphanumerics, '-', '_' or '.',
/// starting and ending with an alphanumeric.
fn label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!(
            "a label value must be at most 63 characters long, has {}",
            value.len()
        ));
    }
    if !value.is_empty() && !name_shape(value) {
        return Err(
            "a label value must consist of alphanumerics, '-', '_' or '.', \
                    starting and ending with an alphanumeric"
                .to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: false
    storage: false
    schema: {openAPIV3Schema: {type: object}}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        required: [metadata, spec]
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [instances, mode]
            x-kubernetes-validations:
            - rule: self.instances > 0
              message: instances must be positive
            properties:
              instances: {type: integer, minimum: 1, maximum: 10}
              imageName: {type: string, pattern: '^[a-z]+:[0-9.]+$'}
              mode: {type: string, enum: [fast, safe], default: safe}
              size:
                anyOf: [{type: integer}, {type: string}]
                x-kubernetes-int-or-string: true
                pattern: '^[0-9]+(Gi|Mi)$'
              description: {type: string, nullable: true, maxLength: 10}
              ratio: {type: number, minimum: 0, exclusiveMinimum: true}
              level:
                type: integer
                anyOf: [{maximum: 5}, {minimum: 100}]
              parameters:
                type: object
                additionalProperties: {type: string}
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  known: {type: boolean}
              tags:
                type: array
                maxItems: 3
                items: {type: string, minLength: 1}
                x-kubernetes-list-type: set
              roles:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    login: {type: boolean}
                  x-kubernetes-validations:
                  - rule: self.name != 'root'
              target:
                type: object
                properties:
                  host: {type: string}
                  port: {type: integer}
                oneOf:
                - required: [host]
                - required: [port]
              lookahead: {type: string, pattern: '^(?=x)'}
          status:
            type: object
            properties:
              ready: {type: boolean}
"#;

    fn crd() -> Crd {
        match Crd::from_yaml(CRD) {
            Ok(crd) => crd,
            Err(e) => panic!("test CRD: {e}"),
        }
    }

    /// Validates a manifest text; violations as displayed.
    fn violations(manifest: &str) -> Vec<String> {
        match crd().validate_yaml(manifest) {
            Ok(found) => found.iter().map(ToString::to_string).collect(),
            Err(e) => panic!("manifest: {e}"),
        }
    }

    /// Validates a Widget whose spec is the given flow mapping.
    fn spec(flow: &str) -> Vec<String> {
        violations(&format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec: {flow}\n"
        ))
    }

    #[test]
    fn reads_the_crd() {
        let crd = crd();
        assert_eq!(crd.kind(), "Widget");
        assert_eq!(crd.group(), "example.com");
        assert_eq!(crd.api_versions(), vec!["example.com/v1".to_owned()]);
        assert_eq!(crd.uncompiled_patterns(), vec!["^(?=x)".to_owned()]);
    }

    #[test]
    fn valid_manifest_has_no_violations() {
        let found = violations(
            r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: my-widget.example
  namespace: prod
  labels: {app.kubernetes.io/name: widget, tier: ""}
  annotations: {example.com/note: "free text, any length"}
  uid: 1234
spec:
  instances: 2
  imageName: "postgres:16.4"
  mode: safe
  size: 10Gi
  description: null
  ratio: 0.5
  level: 100
  parameters: {shared_buffers: 1GB, max_connections: "100"}
  extra: {known: true, anything: [1, 2]}
  tags: [a, b]
  roles: [{name: app, login: true}, {name: reader}]
  target: {host: db}
  lookahead: "not checked"
status:
  ready: false
"#,
        );
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn wrong_type() {
        assert_eq!(
            spec(r#"{instances: "2"}"#),
            vec![r#"spec.instances: must be an integer, got string "2""#]
        );
        assert_eq!(
            spec("{instances: 2.0}"),
            vec!["spec.instances: must be an integer, got number 2.0"]
        );
        assert_eq!(
            spec("{instances: 2, tags: {a: b}}"),
            vec!["spec.tags: must be an array, got an object"]
        );
        assert_eq!(
            violations("[]"),
            vec!["(manifest): the manifest must be an object, got an array of 0 items"]
        );
    }

    #[test]
    fn missing_required() {
        assert_eq!(
            spec("{}"),
            vec!["spec.instances: required field is missing"]
        );
        assert_eq!(
            violations("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"),
            vec!["spec: required field is missing"]
        );
        assert_eq!(
            violations("spec: {instances: 1}\n"),
            vec![
                "apiVersion: required field is missing",
                "kind: required field is missing",
                "metadata: required field is missing",
            ]
        );
        assert_eq!(
            spec("{instances: 1, roles: [{login: true}]}"),
            vec!["spec.roles[0].name: required field is missing"]
        );
    }

    #[test]
    fn unknown_fields() {
        assert_eq!(
            spec("{instances: 2, imagename: x}"),
            vec![r#"spec.imagename: unknown field "imagename"; did you mean "imageName"?"#]
        );
        assert_eq!(
            spec("{instances: 2, foo: 1}"),
            vec![r#"spec.foo: unknown field "foo""#]
        );
        assert_eq!(
            violations(
                "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n\
                 spec: {instances: 1}\nstatsu: {}\n"
            ),
            vec![r#"statsu: unknown field "statsu"; did you mean "status"?"#]
        );
    }

    #[test]
    fn enum_values() {
        assert_eq!(
            spec("{instances: 2, mode: fsat}"),
            vec![
                r#"spec.mode: must be one of "fast", "safe", got string "fsat"; did you mean "fast"?"#
            ]
        );
        assert_eq!(
            spec("{instances: 2, mode: turbo}"),
            vec![r#"spec.mode: must be one of "fast", "safe", got string "turbo""#]
        );
    }

    #[test]
    fn pattern() {
        assert_eq!(
            spec(r#"{instances: 2, imageName: "Postgres:16"}"#),
            vec![r#"spec.imageName: must match the pattern ^[a-z]+:[0-9.]+$, got "Postgres:16""#]
        );
    }

    #[test]
    fn int_or_string() {
        assert_eq!(spec("{instances: 2, size: 10}"), Vec::<String>::new());
        assert_eq!(spec("{instances: 2, size: 10Mi}"), Vec::<String>::new());
        assert_eq!(
            spec("{instances: 2, size: true}"),
            vec!["spec.size: must be an integer or a string, got boolean true"]
        );
        assert_eq!(
            spec("{instances: 2, size: 10GB}"),
            vec![r#"spec.size: must match the pattern ^[0-9]+(Gi|Mi)$, got "10GB""#]
        );
    }

    #[test]
    fn nullable() {
        assert_eq!(
            spec("{instances: 2, description: null}"),
            Vec::<String>::new()
        );
        assert_eq!(
            spec("{instances: 2, imageName: null}"),
            vec!["spec.imageName: must be a string, got null"]
        );
        assert_eq!(
            spec("{instances: 2, description: twelve chars}"),
            vec![r#"spec.description: must be at most 10 characters long, got 12: "twelve chars""#]
        );
    }

    #[test]
    fn bounds() {
        assert_eq!(
            spec("{instances: 0}"),
            vec!["spec.instances: must be greater than or equal to 1, got integer 0"]
        );
        assert_eq!(
            spec("{instances: 11}"),
            vec!["spec.instances: must be less than or equal to 10, got integer 11"]
        );
        assert_eq!(
            spec("{instances: 1, ratio: 0}"),
            vec!["spec.ratio: must be greater than 0, got integer 0"]
        );
        assert_eq!(
            spec("{instances: 1, tags: [a, b, c, d]}"),
            vec!["spec.tags: must have at most 3 items, got 4"]
        );
        assert_eq!(
            spec(r#"{instances: 1, tags: [a, ""]}"#),
            vec![r#"spec.tags[1]: must be at least 1 character long, got """#]
        );
    }

    #[test]
    fn string_map_rejects_an_integer() {
        assert_eq!(
            spec("{instances: 1, parameters: {shared_buffers: 1GB, max_connections: 100}}"),
            vec!["spec.parameters.max_connections: must be a string, got integer 100"]
        );
    }

    #[test]
    fn any_of_and_one_of() {
        assert_eq!(
            spec("{instances: 1, level: 50}"),
            vec![
                "spec.level: must match at least one of 2 alternatives (anyOf), matches none: \
                 #1 must be less than or equal to 5, got integer 50; \
                 #2 must be greater than or equal to 100, got integer 50"
            ]
        );
        assert_eq!(
            spec("{instances: 1, target: {host: a, port: 1}}"),
            vec!["spec.target: must match exactly one of 2 alternatives (oneOf), matches 2"]
        );
        assert_eq!(
            spec("{instances: 1, target: {}}"),
            vec![
                "spec.target: must match exactly one of 2 alternatives (oneOf), matches none: \
                 #1 host: required field is missing; #2 port: required field is missing"
            ]
        );
    }

    #[test]
    fn list_types() {
        assert_eq!(
            spec("{instances: 1, tags: [a, b, a]}"),
            vec![r#"spec.tags[2]: duplicate entry string "a" in a set"#]
        );
        assert_eq!(
            spec("{instances: 1, roles: [{name: a}, {name: b, login: true}, {name: a}]}"),
            vec![r#"spec.roles[2]: duplicate entry with name="a""#]
        );
    }

    #[test]
    fn api_version_and_kind() {
        assert_eq!(
            violations("apiVersion: example.com/v1beta1\nkind: Gadget\nmetadata: {name: w}\nspec: {instances: 1}\n"),
            vec![
                r#"apiVersion: must be "example.com/v1", got "example.com/v1beta1""#,
                r#"kind: must be "Widget", got "Gadget""#,
            ]
        );
    }

    #[test]
    fn metadata() {
        let with = |metadata: &str| {
            violations(&format!(
                "apiVersion: example.com/v1\nkind: Widget\nmetadata: {metadata}\nspec: {{instances: 1}}\n"
            ))
        };
        assert_eq!(
            with("{name: My_Widget}"),
            vec![
                "metadata.name: must be a DNS-1123 subdomain (lowercase alphanumerics, '-' or '.', \
                 starting and ending with an alphanumeric), got \"My_Widget\""
            ]
        );
        assert_eq!(
            with(r#"{name: ""}"#),
            vec!["metadata.name: must not be empty"]
        );
        assert_eq!(
            with("{namespace: default}"),
            vec!["metadata.name: required field is missing"]
        );
        assert_eq!(
            with("{name: w, labels: {tier: 3, app/x/y: ok}}"),
            vec![
                "metadata.labels[\"app/x/y\"]: invalid key \"app/x/y\": the name must consist of \
                 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
                "metadata.labels.tier: must be a string, got integer 3",
            ]
        );
        assert_eq!(
            with("[]"),
            vec!["metadata: must be an object, got an array of 0 items"]
        );
    }

    #[test]
    fn preserve_unknown_fields() {
        assert_eq!(
            spec("{instances: 1, extra: {known: yes, whatever: {deep: 1}}}"),
            vec![r#"spec.extra.known: must be a boolean, got string "yes""#]
        );
    }

    #[test]
    fn uncompilable_pattern_is_skipped() {
        assert_eq!(spec("{instances: 1, lookahead: y}"), Vec::<String>::new());
    }

    #[test]
    fn unchecked_rules_lists_present_paths() {
        let crd = crd();
        let manifest = serde_json::json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"instances": 1, "roles": [{"name": "a"}, {"name": "b"}]},
        });
        assert_eq!(
            crd.unchecked_rules(&manifest),
            vec![
                "spec: instances must be positive",
                "spec.roles[0]: rule `self.name != 'root'`",
                "spec.roles[1]: rule `self.name != 'root'`",
            ]
        );
        let bare = serde_json::json!({"spec": {"instances": 1}});
        assert_eq!(
            crd.unchecked_rules(&bare),
            vec!["spec: instances must be positive"]
        );
    }

    #[test]
    fn crd_documents() {
        let stream = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: x}}\n---\n{CRD}");
        assert!(matches!(Crd::from_yaml(&stream), Ok(crd) if crd.kind() == "Widget"));
        assert!(matches!(
            Crd::from_yaml("apiVersion: v1\nkind: ConfigMap\n"),
            Err(CrdError::NotACrd { found }) if found == "ConfigMap (v1)"
        ));
        assert!(matches!(
            Crd::from_yaml("apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\n"),
            Err(CrdError::UnsupportedApiVersion(v)) if v == "apiextensions.k8s.io/v1beta1"
        ));
        assert!(matches!(
            Crd::from_yaml("a: 1\nb: [\nc: 2\n"),
            Err(CrdError::Yaml { line: Some(_), .. })
        ));
    }

    #[test]
    fn manifest_yaml_errors() {
        let crd = crd();
        assert!(matches!(
            crd.validate_yaml("spec:\n  instances: 1\n  instances: 2\n"),
            Err(CrdError::Yaml { line: Some(2), message })
                if message.contains("duplicate entry with key \"instances\"")
        ));
        assert!(matches!(
            crd.validate_yaml("kind: Widget\n---\nkind: Widget\n"),
            Err(CrdError::NotOneDocument(2))
        ));
    }
}
