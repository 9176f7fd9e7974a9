//! Optional leader election on a `coordination.k8s.io/v1` Lease, so that two
//! replicas never act at once: the standby waits until the holder stops renewing
//! (or releases the lease on shutdown), then takes over.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tracing::{info, warn};

use crate::error::Result;

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub duration: Duration,
    /// How often the holder renews (well below `duration`).
    pub renew_every: Duration,
}

pub struct LeaderElection {
    api: Api<Lease>,
    config: LeaseConfig,
}

/// What the current lease says, as far as taking it is concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Holder {
    Nobody,
    Us,
    Other(String),
    /// Held by someone who stopped renewing.
    Expired(String),
}

/// Pure: who holds `lease` at `now`, from our point of view.
pub fn holder(lease: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Holder {
    let Some(spec) = lease else { return Holder::Nobody };
    let Some(holder) = spec.holder_identity.as_deref().filter(|h| !h.is_empty()) else {
        return Holder::Nobody;
    };
    if holder == identity {
        return Holder::Us;
    }
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()).map(|t| t.0);
    match renewed {
        Some(at) if at + SignedDuration::from_secs(seconds) > now => Holder::Other(holder.to_owned()),
        _ => Holder::Expired(holder.to_owned()),
    }
}

impl LeaderElection {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        LeaderElection {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    fn spec(&self, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.duration.as_secs() as i32),
            acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// One attempt: true when we hold the lease afterwards. Races end in a 409
    /// (resourceVersion precondition), which simply means "not us".
    pub async fn try_acquire(&self) -> Result<bool> {
        let name = &self.config.name;
        let current = self.api.get_opt(name).await?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: Some(self.spec(None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e.into()),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = match holder(Some(&spec), &self.config.identity, Timestamp::now()) {
            Holder::Other(_) => return Ok(false),
            Holder::Us => self.spec(spec.acquire_time.clone(), transitions),
            Holder::Nobody | Holder::Expired(_) => self.spec(None, transitions + 1),
        };
        lease.spec = Some(next);
        match self.api.replace(name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until this replica leads.
    pub async fn acquire(&self) -> Result<()> {
        let mut announced = false;
        loop {
            match self.try_acquire().await {
                Ok(true) => {
                    info!(lease = %self.config.name, identity = %self.config.identity, "acquired leadership");
                    return Ok(());
                }
                Ok(false) if !announced => {
                    info!(lease = %self.config.name, "another replica leads; standing by");
                    announced = true;
                }
                Ok(false) => {}
                Err(e) => warn!(error = %e, "lease not readable; retrying"),
            }
            tokio::time::sleep(self.config.renew_every).await;
        }
    }

    /// Renews until it fails for longer than the lease lasts; returns then
    /// (leadership is lost: the caller must stop acting).
    pub async fn keep(&self) {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_every).await;
            match self.try_acquire().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => {
                    warn!("another replica took the lease");
                    return;
                }
                Err(e) => warn!(error = %e, "lease renewal failed"),
            }
            if last_renewal.elapsed() >= self.config.duration {
                warn!("lease expired without renewal");
                return;
            }
        }
    }

    /// Gives the lease up (on shutdown) so a standby takes over at once.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.config.identity.as_str())
        {
            spec.holder_identity = None;
            spec.renew_time = None;
            if let Err(e) = self
                .api
                .replace(&self.config.name, &PostParams::default(), &lease)
                .await
            {
                warn!(error = %e, "could not release the lease");
            } else {
                info!("released leadership");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed_secs_ago: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(
                Timestamp::now() - SignedDuration::from_secs(renewed_secs_ago),
            )),
            lease_duration_seconds: Some(duration),
            ..Default::default()
        }
    }

    #[test]
    fn fresh_lease_of_another_is_respected() {
        assert_eq!(
            holder(Some(&spec("b", 3, 15)), "a", Timestamp::now()),
            Holder::Other("b".into())
        );
    }

    #[test]
    fn stale_lease_can_be_taken() {
        assert_eq!(
            holder(Some(&spec("b", 20, 15)), "a", Timestamp::now()),
            Holder::Expired("b".into())
        );
    }

    #[test]
    fn own_and_empty_leases() {
        assert_eq!(holder(Some(&spec("a", 3, 15)), "a", Timestamp::now()), Holder::Us);
        assert_eq!(holder(None, "a", Timestamp::now()), Holder::Nobody);
        let released = LeaseSpec {
            holder_identity: None,
            ..spec("b", 1, 15)
        };
        assert_eq!(holder(Some(&released), "a", Timestamp::now()), Holder::Nobody);
    }
}
