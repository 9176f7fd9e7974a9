//! Counts every AWS call by service and operation, through an SDK interceptor, so
//! tests and benchmarks can say "0 writes on a steady-state reconcile" and the
//! metrics endpoint can show what the operator costs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default)]
pub struct CallStats {
    calls: Mutex<BTreeMap<(String, String), u64>>,
    outcomes: Mutex<BTreeMap<(String, String, &'static str), u64>>,
}

/// A copy of the counters at one moment; subtract two to get what happened between.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallSnapshot(pub BTreeMap<(String, String), u64>);

impl CallStats {
    pub fn record(&self, service: &str, operation: &str) {
        let mut calls = crate::sync::lock(&self.calls);
        *calls.entry((service.to_owned(), operation.to_owned())).or_default() += 1;
    }

    pub fn record_outcome(&self, service: &str, operation: &str, outcome: &'static str) {
        let mut outcomes = crate::sync::lock(&self.outcomes);
        *outcomes
            .entry((service.to_owned(), operation.to_owned(), outcome))
            .or_default() += 1;
    }

    /// Finished calls by (service, operation, outcome), for the metrics endpoint.
    pub fn outcomes(&self) -> BTreeMap<(String, String, &'static str), u64> {
        crate::sync::lock(&self.outcomes).clone()
    }

    pub fn snapshot(&self) -> CallSnapshot {
        CallSnapshot(crate::sync::lock(&self.calls).clone())
    }
}

/// Reads never change anything; everything else counts as a write.
pub fn is_read(operation: &str) -> bool {
    ["Describe", "Get", "List"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

impl CallSnapshot {
    /// Calls made since `earlier`.
    pub fn since(&self, earlier: &CallSnapshot) -> CallSnapshot {
        let mut out = BTreeMap::new();
        for (key, count) in &self.0 {
            let before = earlier.0.get(key).copied().unwrap_or(0);
            if *count > before {
                out.insert(key.clone(), count - before);
            }
        }
        CallSnapshot(out)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn reads(&self) -> u64 {
        self.0.iter().filter(|((_, op), _)| is_read(op)).map(|(_, n)| n).sum()
    }

    pub fn writes(&self) -> u64 {
        self.total() - self.reads()
    }

    /// The mutating operations, e.g. `["ECS.UpdateService"]`, for messages.
    pub fn write_operations(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|((_, op), _)| !is_read(op))
            .map(|((svc, op), n)| format!("{svc}.{op}×{n}"))
            .collect()
    }

    pub fn count(&self, operation: &str) -> u64 {
        self.0
            .iter()
            .filter(|((_, op), _)| op == operation)
            .map(|(_, n)| n)
            .sum()
    }
}

#[derive(Clone, Debug)]
pub struct CountingInterceptor(Arc<CallStats>);

impl CountingInterceptor {
    pub fn new(stats: Arc<CallStats>) -> Self {
        CountingInterceptor(stats)
    }
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "privateapi::CallCounter"
    }

    // Not read_before_execution: client-level interceptors run that hook before the
    // operation's configuration (which holds its name) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            self.0.record(meta.service(), meta.name());
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let outcome = match context.output_or_error() {
                Some(Ok(_)) => "ok",
                Some(Err(err)) if err.as_operation_error().is_some() => "aws_error",
                _ => "transport_error",
            };
            self.0.record_outcome(meta.service(), meta.name(), outcome);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_reads_and_writes() {
        let stats = CallStats::default();
        let before = stats.snapshot();
        stats.record("ECS", "DescribeServices");
        stats.record("ECS", "UpdateService");
        stats.record("APIGateway", "GetRestApis");
        let delta = stats.snapshot().since(&before);
        assert_eq!(delta.reads(), 2);
        assert_eq!(delta.writes(), 1);
        assert_eq!(delta.write_operations(), vec!["ECS.UpdateService×1"]);
    }
}
