//! Load-balancer groups against the AWS emulator (patched moto, scripts/emulator.sh):
//! six APIs of one group share one ALB and one listener, each with a rule of its own
//! (distinct, stable priorities) matching the header its integration sets; the ALB
//! serves while any member is left and goes, with its listener and security group,
//! with the last; members made at the same moment make one ALB; a lost answer or a
//! crash while joining makes no extra ALB or rule; a member that disagrees on the
//! listener is Stalled.

mod common;

use std::collections::BTreeSet;

use common::*;
use privateapi::aws::lb_group::{self, DesiredLbGroup, ObservedLbGroup, ROUTE_HEADER};
use privateapi::aws::{Aws, Owner, elb, http_api, rest_api};
use privateapi::crd::{ApiType, PrivateApiSpec};
use privateapi::reconcile::{self, Mode};

fn group_spec(vpc: &str, subnets: &[String], group: &str) -> PrivateApiSpec {
    let mut spec = spec(vpc, subnets);
    spec.load_balancer.group = Some(group.to_owned());
    spec
}

/// What AWS holds of the group, as a member sees it.
async fn group_of(aws: &Aws, vpc: &str, group: &str) -> ObservedLbGroup {
    let someone = owner("reader");
    let wanted = DesiredLbGroup::new(vpc, group, &someone, 80, None, Default::default());
    lb_group::observe(aws, &wanted).await.expect("observe the group")
}

/// The ALBs of the group's name in the region (AWS keeps names unique: 0 or 1).
async fn albs_of(aws: &Aws, vpc: &str, group: &str) -> usize {
    let name = lb_group::alb_name(&lb_group::key(vpc, group));
    elb::list_load_balancers(aws)
        .await
        .expect("DescribeLoadBalancers")
        .iter()
        .filter(|lb| lb.arn.contains(&format!("/{name}/")))
        .count()
}

fn uids(owners: &[Owner]) -> BTreeSet<String> {
    owners.iter().map(|o| o.uid.clone()).collect()
}

/// The route header each integration of the member's API sets.
async fn headers_of(aws: &Aws, outcome: &reconcile::Outcome) -> Vec<String> {
    if let Some(id) = &outcome.resources.rest_api_id {
        let api = rest_api::observe_resources(aws, id)
            .await
            .expect("GetResources")
            .expect("the API");
        let key = format!("integration.request.header.{ROUTE_HEADER}");
        return [api.root, api.proxy]
            .into_iter()
            .map(|r| {
                let integration = r.and_then(|r| r.integration).expect("an integration");
                integration.request_parameters.get(&key).cloned().unwrap_or_default()
            })
            .collect();
    }
    let id = outcome.resources.http_api_id.as_ref().expect("an API");
    let details = http_api::observe_details(aws, id)
        .await
        .expect("GetIntegrations")
        .expect("the API");
    let key = format!("overwrite:header.{ROUTE_HEADER}");
    details
        .integrations
        .iter()
        .map(|i| i.request_parameters.get(&key).cloned().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn six_members_share_one_alb_and_listener_each_with_its_own_rule_until_the_last_goes() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let rest = group_spec(&vpc, &subnets, "six");
    let mut http = rest.clone();
    http.api.api_type = ApiType::Http;
    let owners: Vec<Owner> = (0..6).map(|i| owner(&format!("six-{i}"))).collect();
    // Five REST APIs and one HTTP API.
    let spec_of = |i: usize| if i == 5 { &http } else { &rest };

    let ready = futures::future::join_all(
        owners
            .iter()
            .enumerate()
            .map(|(i, o)| until_ready(&aws, o, spec_of(i), 8)),
    )
    .await;
    assert_eq!(albs_of(&aws, &vpc, "six").await, 1, "one ALB for the group");
    let group = group_of(&aws, &vpc, "six").await;
    let alb = group.load_balancer.clone().expect("the group's ALB");
    assert_eq!(group.users, uids(&owners), "every member is a user of the ALB");
    assert_eq!(group.listeners.len(), 1, "{:?}", group.listeners);
    assert!(group.listeners[0].not_found, "the default action is the fixed 404");
    assert_eq!(group.rules.len(), 6, "{:?}", group.rules);
    let priorities: BTreeSet<i32> = group.rules.iter().map(|r| r.priority).collect();
    assert_eq!(priorities.len(), 6, "distinct priorities: {:?}", group.rules);
    let sg = group.security_group.clone().expect("the group's security group");
    assert_eq!(alb.security_groups, std::slice::from_ref(&sg.id));
    for (i, (o, outcome)) in owners.iter().zip(&ready).enumerate() {
        let r = &outcome.resources;
        assert_eq!(r.load_balancer_arn.as_deref(), Some(alb.arn.as_str()), "{}", o.name);
        let rule = group
            .rules
            .iter()
            .find(|rule| Some(&rule.arn) == r.listener_rule_arn.as_ref())
            .unwrap_or_else(|| panic!("{}'s rule in its status: {r:?}", o.name));
        assert_eq!(Some(rule.priority), r.listener_rule_priority);
        assert_eq!(rule.route.as_deref(), Some(o.key().as_str()));
        assert_eq!(
            rule.forwards_to,
            [r.target_group_arn.clone().expect("its target group")]
        );
        // REST: `ANY /` and `ANY /{proxy+}`, a static value in quotes; HTTP: its one
        // integration, the value as it is.
        let want = match i {
            5 => vec![o.key()],
            _ => vec![format!("'{}'", o.key()); 2],
        };
        assert_eq!(headers_of(&aws, outcome).await, want, "{}", o.name);
    }
    // In sync: no step, the priorities kept.
    for (i, o) in owners.iter().enumerate() {
        let again = Box::pin(reconcile::converge(&aws, o, spec_of(i), Mode::Apply))
            .await
            .expect("pass");
        assert!(
            again.is_ready() && again.changes.is_empty(),
            "{}: {:?}",
            o.name,
            again.changes
        );
    }

    // All but the first deleted: the ALB stays, serving it with its rule.
    futures::future::join_all(
        owners[1..]
            .iter()
            .enumerate()
            .map(|(i, o)| until_gone(&aws, o, spec_of(i + 1), 10)),
    )
    .await;
    let kept = group_of(&aws, &vpc, "six").await;
    assert_eq!(kept.load_balancer.as_ref().map(|l| &l.arn), Some(&alb.arn));
    assert_eq!(kept.users, uids(&owners[..1]));
    assert_eq!(kept.rules.len(), 1, "{:?}", kept.rules);
    assert_eq!(
        kept.rules[0].arn,
        ready[0].resources.listener_rule_arn.clone().expect("rule")
    );
    assert_eq!(Some(kept.rules[0].priority), ready[0].resources.listener_rule_priority);
    let again = Box::pin(reconcile::converge(&aws, &owners[0], &rest, Mode::Apply))
        .await
        .expect("pass");
    assert!(again.is_ready() && again.changes.is_empty(), "{:?}", again.changes);

    // The last one: listener, ALB and security group go with it.
    until_gone(&aws, &owners[0], &rest, 10).await;
    assert_eq!(albs_of(&aws, &vpc, "six").await, 0);
    let gone = group_of(&aws, &vpc, "six").await;
    assert_eq!(gone.load_balancer, None);
    assert_eq!(gone.security_group, None, "the group's security group is deleted");
    assert_eq!(inventory(&aws, &owners[0]).await, Inventory::default());
}

#[tokio::test]
async fn two_members_made_at_the_same_moment_make_one_alb() {
    let (_f1, one) = aws().await;
    let (_f2, two) = aws().await;
    let (vpc, subnets) = network(&one).await;
    let spec = group_spec(&vpc, &subnets, "race");
    let (a, b) = (owner("race-a"), owner("race-b"));

    // Two operator replicas (two clients) take the first pass of a member each.
    let (first_a, first_b) = tokio::join!(
        Box::pin(reconcile::converge(&one, &a, &spec, Mode::Apply)),
        Box::pin(reconcile::converge(&two, &b, &spec, Mode::Apply)),
    );
    // One of them may meet the other's group or ALB half made: its next pass goes on.
    drop((first_a, first_b));
    let (ready_a, ready_b) = tokio::join!(until_ready(&one, &a, &spec, 8), until_ready(&two, &b, &spec, 8));
    assert_eq!(albs_of(&one, &vpc, "race").await, 1);
    let group = group_of(&one, &vpc, "race").await;
    assert_eq!(group.users, uids(&[a.clone(), b.clone()]));
    assert_eq!(group.rules.len(), 2, "{:?}", group.rules);
    assert_ne!(
        ready_a.resources.listener_rule_priority,
        ready_b.resources.listener_rule_priority
    );
    assert_eq!(ready_a.resources.load_balancer_arn, ready_b.resources.load_balancer_arn);

    futures::future::join_all([until_gone(&one, &a, &spec, 10), until_gone(&two, &b, &spec, 10)]).await;
    assert_eq!(albs_of(&one, &vpc, "race").await, 0);
    assert_eq!(group_of(&one, &vpc, "race").await.security_group, None);
}

#[tokio::test]
async fn a_member_that_disagrees_on_the_listener_is_stalled() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = group_spec(&vpc, &subnets, "agree");
    let first = owner("agree-first");
    until_ready(&aws, &first, &spec, 8).await;

    let mut other = spec.clone();
    other.load_balancer.listener_port = 8080;
    let odd = owner("agree-odd");
    let error = Box::pin(reconcile::converge(&aws, &odd, &other, Mode::Apply))
        .await
        .expect_err("the group listens on 80");
    assert_eq!(error.reason(), "LoadBalancerGroupMismatch");
    assert!(error.is_terminal(), "Stalled: {error}");
    assert!(error.to_string().contains("HTTP:80"), "{error}");
    let group = group_of(&aws, &vpc, "agree").await;
    assert_eq!(group.users, uids(std::slice::from_ref(&first)), "it did not join");
    assert_eq!(group.listeners.len(), 1);
    assert_eq!(group.listeners[0].port, 80, "the listener is left as the group has it");

    until_gone(&aws, &odd, &other, 10).await;
    until_gone(&aws, &first, &spec, 10).await;
    assert_eq!(albs_of(&aws, &vpc, "agree").await, 0);
}

/// Every write of a member joining a group another member made, with its answer
/// lost or never sent: the next passes converge with one ALB and one rule each, and
/// nothing of the joiner is left once it is deleted (its leaving interrupted too).
#[cfg(feature = "test-faults")]
#[tokio::test]
async fn lost_answers_and_crashes_while_joining_make_no_extra_alb_or_rule() {
    use privateapi::aws::Fault;

    let (factory, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = group_spec(&vpc, &subnets, "faults");
    let first = owner("faults-first");
    until_ready(&aws, &first, &spec, 8).await;

    // How many writes joining makes.
    let probe = owner("faults-probe");
    let before = aws.stats.snapshot();
    until_ready(&aws, &probe, &spec, 8).await;
    let writes = aws.stats.snapshot().since(&before).writes();
    until_gone(&aws, &probe, &spec, 10).await;

    let faults = factory.faults();
    for fault in [Fault::LoseResponse, Fault::FailBeforeSend] {
        for nth in 1..=writes {
            let joiner = owner(&format!("faults-{nth}"));
            faults.arm(nth, fault);
            let deadline = std::time::Instant::now() + AWS_WAIT_LIMIT;
            let injected = faults.injected().len();
            while faults.injected().len() == injected && std::time::Instant::now() < deadline {
                let _ = Box::pin(reconcile::converge(&aws, &joiner, &spec, Mode::Apply)).await;
                tokio::time::sleep(AWS_WAIT_POLL).await;
            }
            faults.disarm();
            until_ready(&aws, &joiner, &spec, 8).await;
            let group = group_of(&aws, &vpc, "faults").await;
            let after = faults.injected().last().cloned();
            assert_eq!(albs_of(&aws, &vpc, "faults").await, 1, "after {after:?}");
            assert_eq!(group.rules.len(), 2, "one rule each after {after:?}: {:?}", group.rules);
            assert_eq!(group.users, uids(&[first.clone(), joiner.clone()]), "after {after:?}");
            // Leaving, interrupted the same way.
            faults.arm(nth.min(4), fault);
            let _ = Box::pin(reconcile::teardown(&aws, &joiner, &spec, Mode::Apply)).await;
            faults.disarm();
            until_gone(&aws, &joiner, &spec, 10).await;
            let group = group_of(&aws, &vpc, "faults").await;
            assert_eq!(group.rules.len(), 1, "teardown after {:?}", faults.injected().last());
            assert_eq!(group.users, uids(std::slice::from_ref(&first)));
        }
    }
    until_gone(&aws, &first, &spec, 10).await;
    assert_eq!(albs_of(&aws, &vpc, "faults").await, 0);
}
