//! Shared VPC links against the AWS emulator (patched moto, scripts/emulator.sh):
//! twelve APIs on one network use one link; it serves while any of them is left and
//! goes, with its security group, with the last; racing makers converge on one link;
//! AWS's quota stalls the resource with its message.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use privateapi::aws::Owner;
use privateapi::aws::shared_link::{self, DesiredSharedLink};
use privateapi::aws::vpc_link;
use privateapi::reconcile::{self, Mode};

fn uids(owners: &[Owner]) -> BTreeSet<String> {
    owners.iter().map(|o| o.uid.clone()).collect()
}

/// `first` made Ready, and its link filled by made-up users to one place short of
/// its limit: the link and those users.
async fn one_place_left(
    aws: &privateapi::aws::Aws,
    first: &Owner,
    spec: &privateapi::crd::PrivateApiSpec,
) -> (shared_link::ObservedSharedLink, Vec<String>) {
    until_ready(aws, first, spec, 5).await;
    let network = &spec.network;
    let subnets = network.subnet_ids.clone().unwrap_or_default();
    let link = shared_links_of(aws, &network.vpc_id, &subnets).await.remove(0);
    let fakes: Vec<String> = (2..shared_link::MAX_USERS).map(|i| format!("fake-{i}")).collect();
    for fake in &fakes {
        shared_link::add_user(aws, &link.id, fake, &format!("tests/{fake}"))
            .await
            .expect("TagResource");
    }
    (link, fakes)
}

async fn leave_all(aws: &privateapi::aws::Aws, link: &str, users: &[String]) {
    for user in users {
        shared_link::leave(aws, link, user, &format!("tests/{user}"))
            .await
            .expect("UntagResource");
    }
}

#[tokio::test]
async fn twelve_apis_on_one_network_share_one_link_until_the_last_one_goes() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let owners: Vec<Owner> = (0..12).map(|i| owner(&format!("twelve-{i}"))).collect();

    // All at once, as an operator's workers take them.
    let before = aws.stats.snapshot();
    let ready = futures::future::join_all(owners.iter().map(|o| until_ready(&aws, o, &spec, 8))).await;
    let calls = aws.stats.snapshot().since(&before);
    let ids: BTreeSet<String> = ready
        .iter()
        .map(|o| o.resources.vpc_link_id.clone().expect("link id"))
        .collect();
    assert_eq!(ids.len(), 1, "one link for the network: {ids:?}");
    assert_eq!(calls.count("CreateVpcLink"), 1, "made once: {:?}", calls.0);
    let links = shared_links_of(&aws, &vpc, &subnets).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].users, uids(&owners), "every API is a user");
    assert_eq!(
        shared_groups_of(&aws, &vpc).await,
        links[0].security_groups,
        "one shared group"
    );
    for o in &owners {
        assert_eq!(inventory(&aws, o).await, Inventory::one_stack(), "{}", o.name);
    }

    // All but the first deleted: the link stays, serving it, and nothing is to change.
    futures::future::join_all(owners[1..].iter().map(|o| until_gone(&aws, o, &spec, 10))).await;
    let kept = shared_links_of(&aws, &vpc, &subnets).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].id, links[0].id);
    assert_eq!(kept[0].users, uids(&owners[..1]));
    let again = reconcile::converge(&aws, &owners[0], &spec, Mode::Apply)
        .await
        .expect("pass");
    assert!(again.is_ready() && again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(again.resources.vpc_link_id.as_deref(), Some(links[0].id.as_str()));
    assert_eq!(inventory(&aws, &owners[0]).await, Inventory::one_stack());

    // The last one: the link and its group go with it.
    until_gone(&aws, &owners[0], &spec, 10).await;
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);
    assert_eq!(
        shared_groups_of(&aws, &vpc).await,
        Vec::<String>::new(),
        "the shared group is deleted"
    );
    assert_eq!(inventory(&aws, &owners[0]).await, Inventory::default());
}

/// Resources joining a link with one place left, all at once: one takes the place,
/// the others find the link full when they join (AWS's users, read again under the
/// operator's lock) and move to a second link. No link past its users' limit (API
/// Gateway refuses a 51st tag; the emulator's 22 links of a 1,000-resource benchmark
/// once held up to 54 users).
#[tokio::test]
async fn racing_joiners_never_fill_a_link_past_its_limit() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let first = owner("full-0");
    let (link, fakes) = one_place_left(&aws, &first, &spec).await;
    let joiners: Vec<Owner> = (1..5).map(|i| owner(&format!("full-{i}"))).collect();
    futures::future::join_all(joiners.iter().map(|o| until_ready(&aws, o, &spec, 8))).await;
    let links = shared_links_of(&aws, &vpc, &subnets).await;
    let sizes: Vec<usize> = links.iter().map(|l| l.users.len()).collect();
    assert_eq!(links.len(), 2, "the full link and one more: {sizes:?}");
    assert_eq!(sizes, [shared_link::MAX_USERS, 3], "oldest first");
    for o in &joiners {
        assert_eq!(inventory(&aws, o).await, Inventory::one_stack(), "{}", o.name);
    }
    leave_all(&aws, &link.id, &fakes).await;
    futures::future::join_all(joiners.iter().chain([&first]).map(|o| until_gone(&aws, o, &spec, 10))).await;
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);
}

/// Joiners that lose the last place on the link their pass chose join the network's
/// next available link in the same pass, instead of failing it and paying for a whole
/// new pass (at N = 1,000 that was 21 extra reads a stack).
#[tokio::test]
async fn joiners_that_lose_the_last_place_join_the_next_link_in_the_same_pass() {
    // Its own region: its two links would count against the test region's quota of
    // ten, which this suite's other tests share at four at a time.
    let factory = factory().await;
    let aws = factory.for_region(Some("eu-north-1")).expect("region");
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let first = owner("next-0");
    let (link, fakes) = one_place_left(&aws, &first, &spec).await;
    // A second link of the network, younger, with one user, available.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = DesiredSharedLink::new(&vpc, &subnets, "fake-second", "tests/fake-second");
    let (next, _) = shared_link::create(&aws, &second, &link.security_groups[0])
        .await
        .expect("CreateVpcLink");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let joiners: Vec<Owner> = (1..5).map(|i| owner(&format!("next-{i}"))).collect();
    let passes =
        futures::future::join_all(joiners.iter().map(|o| reconcile::converge(&aws, o, &spec, Mode::Apply))).await;
    for (o, pass) in joiners.iter().zip(&passes) {
        assert!(
            pass.is_ok(),
            "{}'s first pass failed: {:?}",
            o.name,
            pass.as_ref().err()
        );
    }
    let links = shared_links_of(&aws, &vpc, &subnets).await;
    let sizes: Vec<usize> = links.iter().map(|l| l.users.len()).collect();
    assert_eq!(sizes, [shared_link::MAX_USERS, 4], "the last place, then the next link");
    assert_eq!(links[1].id, next);
    for o in &joiners {
        until_ready(&aws, o, &spec, 8).await;
        assert_eq!(inventory(&aws, o).await, Inventory::one_stack(), "{}", o.name);
    }

    shared_link::leave(&aws, &next, "fake-second", "tests/fake-second")
        .await
        .expect("UntagResource");
    leave_all(&aws, &link.id, &fakes).await;
    futures::future::join_all(joiners.iter().chain([&first]).map(|o| until_gone(&aws, o, &spec, 10))).await;
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);
    assert_eq!(shared_groups_of(&aws, &vpc).await, Vec::<String>::new());
}

#[tokio::test]
async fn racing_makers_converge_on_the_oldest_link_and_the_extra_one_goes() {
    let (vpc, subnets, spec);
    let (_f1, one) = aws().await;
    let (_f2, two) = aws().await;
    (vpc, subnets) = network(&one).await;
    spec = common::spec(&vpc, &subnets);
    let (a, b) = (owner("race-a"), owner("race-b"));

    // Two operator replicas (two clients, nothing shared in the process) take the
    // first pass of a resource each at the same moment.
    let (first_a, first_b) = tokio::join!(
        reconcile::converge(&one, &a, &spec, Mode::Apply),
        reconcile::converge(&two, &b, &spec, Mode::Apply),
    );
    first_a.expect("a's first pass");
    first_b.expect("b's first pass");
    // And a third maker's link appears later (a replica that lost its lease right
    // after CreateVpcLink): its only user is b.
    let group = shared_links_of(&one, &vpc, &subnets).await[0].security_groups[0].clone();
    let late = DesiredSharedLink::new(&vpc, &subnets, &b.uid, &b.key());
    tokio::time::sleep(Duration::from_millis(1100)).await; // a later CreatedDate
    let (extra, _) = shared_link::create(&two, &late, &group).await.expect("CreateVpcLink");
    assert!(shared_links_of(&one, &vpc, &subnets).await.len() >= 2);

    let (ready_a, ready_b) = tokio::join!(until_ready(&one, &a, &spec, 8), until_ready(&two, &b, &spec, 8));
    let links = shared_links_of(&one, &vpc, &subnets).await;
    assert_eq!(links.len(), 1, "converged on one: {links:?}");
    assert_ne!(links[0].id, extra, "the oldest is kept");
    assert_eq!(links[0].users, uids(&[a.clone(), b.clone()]));
    assert_eq!(ready_a.resources.vpc_link_id, Some(links[0].id.clone()));
    assert_eq!(ready_b.resources.vpc_link_id, Some(links[0].id.clone()));
    assert_eq!(shared_groups_of(&one, &vpc).await, [group], "one group, made once");

    futures::future::join_all([until_gone(&one, &a, &spec, 10), until_gone(&two, &b, &spec, 10)]).await;
    assert_eq!(shared_links_of(&one, &vpc, &subnets).await, []);
    assert_eq!(shared_groups_of(&one, &vpc).await, Vec::<String>::new());
}

/// A region no other test (nor scripts/moto/smoke.py) uses, with a quota of 2 links.
const QUOTA_REGION: &str = "eu-central-2";

#[tokio::test]
async fn the_quota_stalls_the_resource_with_aws_s_message_until_a_link_is_free() {
    let factory = factory().await;
    let aws = factory.for_region(Some(QUOTA_REGION)).expect("region");
    set_vpc_link_quota(QUOTA_REGION, Some(2)).await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let api = owner("quota");
    // Two other networks' links fill the region's quota.
    let mut others = Vec::new();
    for i in 0..2 {
        let (other_vpc, other_subnets) = network(&aws).await;
        let other = DesiredSharedLink::new(&other_vpc, &other_subnets, &format!("other-{i}"), "tests/other");
        let group = shared_link::create_group(&aws, &other).await.expect("group");
        others.push(
            shared_link::create(&aws, &other, &group)
                .await
                .expect("CreateVpcLink")
                .0,
        );
    }

    for _ in 0..2 {
        let before = aws.stats.snapshot();
        let error = reconcile::converge(&aws, &api, &spec, Mode::Apply)
            .await
            .expect_err("no room for a link");
        let calls = aws.stats.snapshot().since(&before);
        assert_eq!(error.reason(), "VpcLinkQuota");
        assert!(error.is_terminal(), "Stalled, retried slowly: {error}");
        let message = error.to_string();
        assert!(
            message.contains("There are too many Vpc Links defined for this account. Limit is 2."),
            "{message}"
        );
        assert!(
            message.contains(&format!("2 VPC links (V2) exist in {QUOTA_REGION}")),
            "{message}"
        );
        assert_eq!(calls.count("CreateVpcLink"), 1, "one attempt a pass: {:?}", calls.0);
    }

    // A link freed: the next pass makes the network's link.
    vpc_link::delete(&aws, &others[0]).await.expect("DeleteVpcLink");
    let ready = until_ready(&aws, &api, &spec, 8).await;
    assert!(ready.resources.vpc_link_id.is_some());
    until_gone(&aws, &api, &spec, 10).await;
    vpc_link::delete(&aws, &others[1]).await.expect("DeleteVpcLink");
    set_vpc_link_quota(QUOTA_REGION, None).await;
}

#[tokio::test]
async fn a_stack_with_its_own_link_moves_to_the_shared_one_and_its_old_link_goes() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let mut spec = spec(&vpc, &subnets);
    let api = owner("migrate");
    spec.vpc_link.shared = false;
    let own = until_ready(&aws, &api, &spec, 5).await;
    let own_link = own.resources.vpc_link_id.clone().expect("own link");
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);

    spec.vpc_link.shared = true;
    let moved = until_ready(&aws, &api, &spec, 6).await;
    let links = shared_links_of(&aws, &vpc, &subnets).await;
    assert_eq!(links.len(), 1);
    assert_eq!(moved.resources.vpc_link_id, Some(links[0].id.clone()));
    assert_ne!(moved.resources.vpc_link_id, Some(own_link));
    assert_eq!(
        vpc_link::observe(&aws, &api).await.expect("GetVpcLinks"),
        [],
        "its own link is gone"
    );
    // Its own link group goes too, once its link's ENIs let go of it (a second in
    // the emulator): two groups of its own and the shared one.
    let deadline = std::time::Instant::now() + AWS_WAIT_LIMIT;
    while inventory(&aws, &api).await != Inventory::one_stack() && std::time::Instant::now() < deadline {
        tokio::time::sleep(AWS_WAIT_POLL).await;
        reconcile::converge(&aws, &api, &spec, Mode::Apply).await.expect("pass");
    }
    assert_eq!(inventory(&aws, &api).await, Inventory::one_stack());
    until_gone(&aws, &api, &spec, 10).await;
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);
}

/// Every write of a resource joining (and later leaving) a link another API made,
/// with its answer lost or never sent: the next passes converge with the one link,
/// both APIs its users, and nothing left of the second once it is deleted.
#[cfg(feature = "test-faults")]
#[tokio::test]
async fn lost_answers_and_crashes_while_joining_or_leaving_make_no_extra_link() {
    use privateapi::aws::Fault;

    let (factory, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let first = owner("join-first");
    until_ready(&aws, &first, &spec, 5).await;
    let link = shared_links_of(&aws, &vpc, &subnets).await[0].id.clone();

    // How many writes joining makes.
    let probe = owner("join-probe");
    let before = aws.stats.snapshot();
    until_ready(&aws, &probe, &spec, 5).await;
    let writes = aws.stats.snapshot().since(&before).writes();
    until_gone(&aws, &probe, &spec, 10).await;

    let faults = factory.faults();
    for fault in [Fault::LoseResponse, Fault::FailBeforeSend] {
        for nth in 1..=writes {
            let joiner = owner(&format!("join-{nth}"));
            faults.arm(nth, fault);
            let deadline = std::time::Instant::now() + AWS_WAIT_LIMIT;
            let injected = faults.injected().len();
            while faults.injected().len() == injected && std::time::Instant::now() < deadline {
                let _ = reconcile::converge(&aws, &joiner, &spec, Mode::Apply).await;
                tokio::time::sleep(AWS_WAIT_POLL).await;
            }
            faults.disarm();
            until_ready(&aws, &joiner, &spec, 6).await;
            let links = shared_links_of(&aws, &vpc, &subnets).await;
            assert_eq!(links.len(), 1, "after {:?}: {links:?}", faults.injected().last());
            assert_eq!(links[0].id, link);
            assert_eq!(links[0].users, uids(&[first.clone(), joiner.clone()]));
            // Leaving, interrupted the same way.
            faults.arm(nth.min(6), fault);
            let _ = reconcile::teardown(&aws, &joiner, &spec, Mode::Apply).await;
            faults.disarm();
            until_gone(&aws, &joiner, &spec, 10).await;
            let links = shared_links_of(&aws, &vpc, &subnets).await;
            assert_eq!(links.len(), 1, "teardown after {:?}", faults.injected().last());
            assert_eq!(links[0].users, uids(std::slice::from_ref(&first)));
        }
    }
    until_gone(&aws, &first, &spec, 10).await;
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);
}

/// The drift check reads the shared link in the region inventory: a user tag removed
/// behind the operator's back (or the link PENDING) is seen without a full pass, and
/// the full pass that follows puts the tag back.
#[tokio::test]
async fn the_drift_check_sees_a_lost_user_tag_and_the_full_pass_rejoins() {
    use privateapi::aws::inventory::Inventory;
    use privateapi::reconcile::drift::Probe;

    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let (a, b) = (owner("drift-a"), owner("drift-b"));
    let ids_a = until_ready(&aws, &a, &spec, 5).await.resources;
    until_ready(&aws, &b, &spec, 5).await;
    let inventory = Inventory::load(&aws).await.expect("inventory");
    let found = Box::pin(reconcile::drift::check(
        &aws,
        &inventory,
        &a,
        &spec,
        &ids_a,
        Probe::Stage,
    ))
    .await
    .expect("check");
    assert!(found.is_empty(), "{found:?}");

    let link = shared_links_of(&aws, &vpc, &subnets).await[0].id.clone();
    aws.apigwv2
        .untag_resource()
        .resource_arn(format!("arn:aws:apigateway:{REGION}::/vpclinks/{link}"))
        .tag_keys(shared_link::user_tag(&a.uid))
        .send()
        .await
        .expect("UntagResource");
    let inventory = Inventory::load(&aws).await.expect("inventory");
    let found = Box::pin(reconcile::drift::check(
        &aws,
        &inventory,
        &a,
        &spec,
        &ids_a,
        Probe::Stage,
    ))
    .await
    .expect("check");
    assert!(found.iter().any(|f| f.what.contains("join")), "{found:?}");

    let repaired = until_ready(&aws, &a, &spec, 3).await;
    assert_eq!(repaired.resources.vpc_link_id, Some(link.clone()));
    assert_eq!(
        shared_links_of(&aws, &vpc, &subnets).await[0].users,
        uids(&[a.clone(), b.clone()])
    );
    futures::future::join_all([until_gone(&aws, &a, &spec, 10), until_gone(&aws, &b, &spec, 10)]).await;
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);
}

/// The last user of a network's link deletes the link's security group while another
/// resource, which read the group before it went, makes a new link with it (AWS
/// protects a group from deletion only once a link uses it): that link goes again,
/// the group is made again, and no link is left on a deleted group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_made_on_a_group_deleted_meanwhile_is_made_again() {
    let proxy = Proxy::start(&endpoint(), None);
    // The held attempt ends when the proxy lets go (HOLD), well before its timeout.
    const HOLD: u64 = 45;
    let via = factory_at(&proxy.url, Duration::from_secs(3 * HOLD)).await;
    let via = via.for_region(None).expect("region");
    let (_f, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    let spec = spec(&vpc, &subnets);
    let (a, b) = (owner("reaped-a"), owner("reaped-b"));
    until_ready(&direct, &a, &spec, 8).await;
    let links = shared_links_of(&direct, &vpc, &subnets).await;
    let group = links[0].security_groups[0].clone();

    // a leaves its link (its last user); b's pass then finds no link but the group,
    // and its CreateVpcLink is held (the first attempt is never forwarded) while a's
    // teardown ends and deletes the group; then the SDK sends it again.
    proxy
        .config(serde_json::json!({
            "error_rate": 1.0, "error_kinds": ["timeout"], "hold_seconds": HOLD,
            "faults_on": "all", "faults_ops": ["CreateVpcLink"], "fault_budget": 1,
        }))
        .await;
    while !shared_links_of(&direct, &vpc, &subnets).await.is_empty() {
        let pass = reconcile::teardown(&direct, &a, &spec, Mode::Apply).await;
        assert!(!pass.expect("a's teardown pass").is_done(), "a went with its group");
    }
    assert_eq!(shared_groups_of(&direct, &vpc).await, std::slice::from_ref(&group));
    let pass = tokio::spawn({
        let (via, b, spec) = (via.clone(), b.clone(), spec.clone());
        async move { reconcile::converge(&via, &b, &spec, Mode::Apply).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while proxy.stats().await.0["injected"]["timeout"] != 1 {
        assert!(std::time::Instant::now() < deadline, "b's pass made no CreateVpcLink");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = std::time::Instant::now();
    until_gone(&direct, &a, &spec, 10).await;
    assert!(
        held.elapsed() < Duration::from_secs(HOLD),
        "a's teardown outlasted the hold: raise HOLD"
    );
    assert_eq!(
        shared_groups_of(&direct, &vpc).await,
        Vec::<String>::new(),
        "a reaped the group"
    );
    let first = pass.await.expect("b's first pass");
    if let Err(e) = first {
        assert!(!e.is_terminal(), "a terminal error: {e}");
    }
    let sent: u64 = proxy
        .stats()
        .await
        .calls()
        .iter()
        .filter(|c| c.1 == "CreateVpcLink")
        .map(|c| c.2)
        .sum();
    assert_eq!(sent, 2, "the held CreateVpcLink was sent again");

    let ready = until_ready(&via, &b, &spec, 8).await;
    let links = shared_links_of(&direct, &vpc, &subnets).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(ready.resources.vpc_link_id.as_ref(), Some(&links[0].id));
    let groups = shared_groups_of(&direct, &vpc).await;
    assert_eq!(groups, links[0].security_groups, "the link's group exists");
    assert_ne!(groups, [group]);

    until_gone(&via, &b, &spec, 10).await;
    assert_eq!(shared_links_of(&direct, &vpc, &subnets).await, []);
    assert_eq!(shared_groups_of(&direct, &vpc).await, Vec::<String>::new());
}

/// What a maker that crashed between its CreateVpcLink and the check of the group
/// leaves when the group was deleted before the link was made: a link on a deleted
/// group, with that maker as its user. Its next pass deletes that link and makes the
/// network's link and group again; nothing of the lost link is left.
#[tokio::test]
async fn a_link_left_on_a_deleted_group_by_a_crash_goes_and_is_made_again() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let b = owner("lost-group");
    let wanted = DesiredSharedLink::new(&vpc, &subnets, &b.uid, &b.key());
    let group = shared_link::create_group(&aws, &wanted)
        .await
        .expect("the network's group");
    privateapi::aws::security_group::delete(&aws, &group)
        .await
        .expect("DeleteSecurityGroup");
    let (lost, _) = shared_link::create(&aws, &wanted, &group).await.expect("CreateVpcLink");

    let ready = until_ready(&aws, &b, &spec, 8).await;
    let links = shared_links_of(&aws, &vpc, &subnets).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_ne!(links[0].id, lost);
    assert_eq!(ready.resources.vpc_link_id.as_ref(), Some(&links[0].id));
    assert_eq!(shared_groups_of(&aws, &vpc).await, links[0].security_groups);

    until_gone(&aws, &b, &spec, 10).await;
    assert_eq!(shared_links_of(&aws, &vpc, &subnets).await, []);
    assert_eq!(shared_groups_of(&aws, &vpc).await, Vec::<String>::new());
}
