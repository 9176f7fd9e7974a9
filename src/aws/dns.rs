//! DNS for the custom domain when the spec names a Route 53 hosted zone
//! (`api.domain.hostedZoneId`): an alias A record from the domain name to the API
//! Gateway domain's regional name, and beside it, at `_privateapi.{name}`, a TXT record
//! naming the PrivateApi that owns it. Route 53 records carry no tags, so, as
//! external-dns does, an A record without our TXT record is someone else's and is
//! never changed.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::Aws;
use super::error::{AwsError, AwsResult, aws_err};

/// Seconds resolvers may keep the ownership record (the alias has no TTL of its own).
const OWNER_TTL: i64 = 300;

/// The record the spec wants: `R` names the domain's regional name and its zone.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRecord<R = String> {
    pub zone_id: String,
    pub name: String,
    pub target: R,
    pub target_zone: R,
    /// The uid of the PrivateApi, written into the ownership record.
    pub owner: String,
}

impl<R> DesiredRecord<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredRecord<S>> {
        Some(DesiredRecord {
            zone_id: self.zone_id.clone(),
            name: self.name.clone(),
            target: f(&self.target)?,
            target_zone: f(&self.target_zone)?,
            owner: self.owner.clone(),
        })
    }
}

/// What a zone holds at one name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRecord {
    pub zone_id: String,
    pub name: String,
    /// The A record's alias: (DNS name, hosted zone), when there is one.
    pub alias: Option<(String, String)>,
    /// An A record that is not an alias (addresses): someone else's.
    pub plain_a: bool,
    /// The ownership record's value, when there is one.
    pub owner: Option<String>,
    /// Whether the ownership record names the PrivateApi that read it.
    pub ours: bool,
}

impl ObservedRecord {
    pub fn is_owned_by(&self, uid: &str) -> bool {
        self.owner.as_deref() == Some(owner_value(uid).as_str())
    }

    /// The record, saying whether it is `uid`'s.
    pub fn judged_for(mut self, uid: &str) -> Self {
        self.ours = self.is_owned_by(uid);
        self
    }

    pub fn exists(&self) -> bool {
        self.alias.is_some() || self.plain_a || self.owner.is_some()
    }

    /// Whether the alias points where `wanted` says.
    pub fn points_at(&self, wanted: &DesiredRecord) -> bool {
        self.alias
            .as_ref()
            .is_some_and(|(target, zone)| same_name(target, &wanted.target) && zone == &wanted.target_zone)
    }
}

/// A record the SDK could not build: what Route 53 would refuse as `InvalidInput`.
fn malformed(e: aws_sdk_route53::error::BuildError) -> AwsError {
    AwsError::Api {
        operation: "ChangeResourceRecordSets",
        code: "InvalidInput".into(),
        message: e.to_string(),
    }
}

pub fn owner_name(name: &str) -> String {
    format!("_privateapi.{name}")
}

pub fn owner_value(uid: &str) -> String {
    format!("\"privateapi-operator uid={uid}\"")
}

/// Route 53's spelling of a name: lower case, a final dot, and `*` as `\052`.
fn fqdn(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase().replace('*', "\\052");
    format!("{name}.")
}

fn same_name(a: &str, b: &str) -> bool {
    fqdn(a) == fqdn(b)
}

/// The alias A record and the ownership TXT record at `name` in `zone_id`.
pub async fn observe(aws: &Aws, zone_id: &str, name: &str) -> AwsResult<ObservedRecord> {
    let marker = owner_name(name);
    let (a, txt) = tokio::try_join!(
        first_record(aws, zone_id, name, RrType::A),
        first_record(aws, zone_id, &marker, RrType::Txt),
    )?;
    Ok(ObservedRecord {
        zone_id: zone_id.to_owned(),
        name: name.to_owned(),
        alias: a.as_ref().and_then(|r| {
            r.alias_target()
                .map(|t| (t.dns_name().to_owned(), t.hosted_zone_id().to_owned()))
        }),
        plain_a: a.as_ref().is_some_and(|r| r.alias_target().is_none()),
        owner: txt.and_then(|r| r.resource_records().first().map(|v| v.value().to_owned())),
        ours: false,
    })
}

/// The record set of `kind` at exactly `name`, if any.
async fn first_record(aws: &Aws, zone_id: &str, name: &str, kind: RrType) -> AwsResult<Option<ResourceRecordSet>> {
    let out = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(fqdn(name))
        .start_record_type(kind.clone())
        .max_items(1)
        .send()
        .await
        .map_err(aws_err("ListResourceRecordSets"))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|r| same_name(r.name(), name) && r.r#type() == &kind)
        .cloned())
}

fn alias_record(wanted: &DesiredRecord) -> AwsResult<ResourceRecordSet> {
    let alias = AliasTarget::builder()
        .hosted_zone_id(&wanted.target_zone)
        .dns_name(&wanted.target)
        .evaluate_target_health(false)
        .build()
        .map_err(malformed)?;
    ResourceRecordSet::builder()
        .name(fqdn(&wanted.name))
        .r#type(RrType::A)
        .alias_target(alias)
        .build()
        .map_err(malformed)
}

fn owner_record(name: &str, value: &str) -> AwsResult<ResourceRecordSet> {
    let value = ResourceRecord::builder().value(value).build().map_err(malformed)?;
    ResourceRecordSet::builder()
        .name(fqdn(&owner_name(name)))
        .r#type(RrType::Txt)
        .ttl(OWNER_TTL)
        .resource_records(value)
        .build()
        .map_err(malformed)
}

fn change(action: ChangeAction, record: ResourceRecordSet) -> AwsResult<Change> {
    Change::builder()
        .action(action)
        .resource_record_set(record)
        .build()
        .map_err(malformed)
}

async fn submit(aws: &Aws, zone_id: &str, changes: Vec<Change>, comment: &str) -> AwsResult<()> {
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .comment(comment)
        .build()
        .map_err(malformed)?;
    aws.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(aws_err("ChangeResourceRecordSets"))?;
    Ok(())
}

/// Writes the alias and the ownership record in one batch (Route 53 applies a batch
/// whole or not at all).
pub async fn upsert(aws: &Aws, wanted: &DesiredRecord) -> AwsResult<()> {
    let changes = vec![
        change(
            ChangeAction::Upsert,
            owner_record(&wanted.name, &owner_value(&wanted.owner))?,
        )?,
        change(ChangeAction::Upsert, alias_record(wanted)?)?,
    ];
    submit(aws, &wanted.zone_id, changes, "privateapi-operator").await
}

/// Deletes our alias and ownership record as they are (a delete must name the
/// record's current values).
pub async fn delete(aws: &Aws, observed: &ObservedRecord) -> AwsResult<()> {
    let mut changes = Vec::new();
    if let Some((target, zone)) = &observed.alias {
        let current = DesiredRecord {
            zone_id: observed.zone_id.clone(),
            name: observed.name.clone(),
            target: target.clone(),
            target_zone: zone.clone(),
            owner: String::new(),
        };
        changes.push(change(ChangeAction::Delete, alias_record(&current)?)?);
    }
    if let Some(value) = &observed.owner {
        changes.push(change(ChangeAction::Delete, owner_record(&observed.name, value)?)?);
    }
    if changes.is_empty() {
        return Ok(());
    }
    match submit(aws, &observed.zone_id, changes, "privateapi-operator").await {
        // Already gone (an earlier delete whose answer was lost).
        Err(e) if e.code() == Some("InvalidChangeBatch") => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_as_route_53_spells_them() {
        assert_eq!(fqdn("API.example.com"), "api.example.com.");
        assert_eq!(fqdn("*.example.com"), "\\052.example.com.");
        assert!(same_name(
            "d-abc.execute-api.eu-west-1.amazonaws.com.",
            "d-abc.execute-api.eu-west-1.amazonaws.com"
        ));
    }

    #[test]
    fn only_our_ownership_record_makes_a_record_ours() {
        let mut observed = ObservedRecord {
            zone_id: "Z1".into(),
            name: "api.example.com".into(),
            alias: Some(("d-1.example".into(), "Z2".into())),
            plain_a: false,
            owner: Some(owner_value("uid-1")),
            ours: false,
        };
        assert!(observed.is_owned_by("uid-1"));
        assert!(!observed.is_owned_by("uid-2"));
        observed.owner = None;
        assert!(!observed.is_owned_by("uid-1") && observed.exists());
        let wanted = DesiredRecord {
            zone_id: "Z1".into(),
            name: "api.example.com".into(),
            target: "d-1.example".into(),
            target_zone: "Z2".into(),
            owner: "uid-1".into(),
        };
        assert!(observed.points_at(&wanted));
        assert!(!observed.points_at(&DesiredRecord {
            target_zone: "Z3".into(),
            ..wanted
        }));
    }
}
