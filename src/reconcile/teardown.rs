//! Deletion, in reverse dependency order, without ever waiting inside a pass:
//! REST APIs → VPC links (until gone) → ECS service (until INACTIVE) → task
//! definitions → listener → target group → ALB (until gone) → security groups
//! (until their ENIs are released) → IAM roles and cluster.
//!
//! Everything is found by ownership tags or owner-derived names, whatever the spec
//! says now, so a crash half-way (or a spec edited before deletion) leaves nothing.

use crate::aws::ecs;
use crate::aws::elb;
use crate::aws::error::Disposition;
use crate::aws::iam::{self, RoleKind};
use crate::aws::rest_api;
use crate::aws::security_group;
use crate::aws::vpc_link::{self, LinkState};
use crate::aws::{Aws, AwsError, AwsResult, Owner};
use crate::crd::PrivateApiSpec;
use crate::error::Result;

use super::desired;
use super::{Change, Mode, Run, Verb};

/// What a teardown pass did and what it still waits for.
#[derive(Debug, Default)]
pub struct TeardownOutcome {
    pub changes: Vec<Change>,
    /// Empty when nothing of the resource remains in AWS.
    pub waiting_for: Vec<String>,
}

impl TeardownOutcome {
    pub fn is_done(&self) -> bool {
        self.waiting_for.is_empty()
    }
}

pub async fn teardown(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, mode: Mode) -> Result<TeardownOutcome> {
    let mut run = Run::new(aws, mode);
    let mut waiting = Vec::new();

    // Our cluster, and the spec's cluster if it names one: the service lives in either.
    let own_cluster = owner.resource_name("", 255);
    let mut clusters = vec![own_cluster.clone()];
    if let Some(c) = &spec.service.cluster {
        clusters.insert(0, c.name.clone());
    }
    let service_name = desired::service_name(owner);
    let roles: Vec<String> = [RoleKind::Execution, RoleKind::Task]
        .into_iter()
        .map(|k| iam::desired(owner, k, &Default::default(), "").name)
        .collect();

    let (apis, links, groups, lb) = tokio::try_join!(
        rest_api::find(aws, owner),
        vpc_link::observe(aws, owner),
        security_group::observe(aws, owner, None),
        async { not_ours_is_none(elb::observe(aws, owner).await.map(Some)).map(Option::unwrap_or_default) },
    )?;

    // 1. REST APIs (their stages and deployments go with them).
    for id in &apis {
        run.write(Change::new(Verb::Delete, "RestApi", id, ""), rest_api::delete(aws, id))
            .await?;
    }

    // 2. VPC links; AWS refuses while an integration still references one.
    for link in &links {
        if link.state != LinkState::Deleting {
            run.write(
                Change::new(Verb::Delete, "VpcLink", &link.id, ""),
                vpc_link::delete(aws, &link.id),
            )
            .await?;
        }
        waiting.push(format!("VPC link {} to be deleted", link.id));
    }

    // 3. The ECS service: scaled in and deleted in one call, then DRAINING → INACTIVE.
    let mut service_gone = true;
    for cluster in &clusters {
        let found = match not_ours_is_none(ecs::observe_service(aws, owner, cluster, &service_name).await) {
            Ok(found) => found,
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(svc) = found {
            service_gone = false;
            if svc.status == "ACTIVE" {
                let change = Change::new(Verb::Delete, "EcsService", &service_name, "scale to 0 and delete");
                run.write(change, ecs::delete_service(aws, cluster, &service_name))
                    .await?;
            }
            waiting.push(format!("ECS service {service_name} to drain"));
        }
    }

    if service_gone {
        // 4. Task definitions: every ACTIVE revision of our family.
        let family = desired::task_family(owner);
        for arn in ecs::list_task_definitions(aws, &family).await? {
            let change = Change::new(
                Verb::Delete,
                "TaskDefinition",
                arn.rsplit('/').next().unwrap_or(&arn),
                "deregister",
            );
            run.write(change, ecs::deregister_task_definition(aws, &arn)).await?;
        }

        // 5. Listener → target group → ALB.
        for listener in &lb.listeners {
            let change = Change::new(Verb::Delete, "Listener", format!("HTTP:{}", listener.port), "");
            run.write(change, elb::delete_listener(aws, &listener.arn)).await?;
        }
        if let Some(tg) = &lb.target_group {
            run.write(
                Change::new(Verb::Delete, "TargetGroup", elb::name(owner), ""),
                elb::delete_target_group(aws, &tg.arn),
            )
            .await?;
        }
        if let Some(alb) = &lb.load_balancer {
            run.write(
                Change::new(Verb::Delete, "LoadBalancer", elb::name(owner), ""),
                elb::delete_load_balancer(aws, &alb.arn),
            )
            .await?;
            waiting.push(format!("ALB {} to be deleted", elb::name(owner)));
        }
    }

    // 6. Security groups, once nothing with an ENI in them remains. Rules between
    //    our groups are revoked first: a referenced group cannot be deleted.
    if waiting.is_empty() {
        for group in &groups {
            for rule in &group.rules {
                let change = Change::new(Verb::Update, "SecurityGroup", &group.id, format!("revoke {rule}"));
                run.write(change, security_group::revoke(aws, &group.id, rule)).await?;
            }
        }
        for group in &groups {
            let change = Change::new(
                Verb::Delete,
                "SecurityGroup",
                &group.id,
                format!("{} group", group.role),
            );
            match run.write(change, security_group::delete(aws, &group.id)).await {
                Ok(_) => {}
                // ENIs of deleted tasks, ALB nodes or link endpoints linger for minutes.
                Err(e) if e.disposition() == Disposition::Wait => {
                    waiting.push(format!("security group {} to be released ({})", group.id, e.message()));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    // 7. Roles and the cluster we created.
    if waiting.is_empty() {
        for role in &roles {
            if let Some(found) = iam_owned(aws, owner, role).await? {
                run.write(
                    Change::new(Verb::Delete, "IamRole", &found, ""),
                    iam::delete(aws, &found),
                )
                .await?;
            }
        }
        let cluster = ecs::DesiredCluster {
            name: own_cluster.clone(),
            managed: true,
            tags: Default::default(),
        };
        let ours = not_ours_is_none(ecs::observe_cluster(aws, owner, &cluster).await)?.is_some();
        if ours {
            match run
                .write(
                    Change::new(Verb::Delete, "EcsCluster", &own_cluster, ""),
                    ecs::delete_cluster(aws, &own_cluster),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.disposition() == Disposition::Wait => {
                    waiting.push(format!("ECS cluster {own_cluster} to be empty ({})", e.message()));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    Ok(TeardownOutcome {
        changes: run.changes,
        waiting_for: waiting,
    })
}

/// Something with our name that is not ours is, for deletion, not there at all.
fn not_ours_is_none<T>(result: AwsResult<Option<T>>) -> AwsResult<Option<T>> {
    match result {
        Err(AwsError::Conflict(message)) => {
            tracing::warn!("left alone: {message}");
            Ok(None)
        }
        other => other,
    }
}

/// The role's name if it exists and is ours.
async fn iam_owned(aws: &Aws, owner: &Owner, name: &str) -> Result<Option<String>> {
    let probe = iam::DesiredRole {
        kind: RoleKind::Task,
        name: name.to_owned(),
        tags: Default::default(),
        managed_policies: Vec::new(),
        inline_policies: Default::default(),
    };
    Ok(not_ours_is_none(iam::observe(aws, owner, &probe).await)?.map(|r| r.name))
}
