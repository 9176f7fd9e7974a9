//! Fault injection for tests: fail the N-th mutating AWS call before it is sent (a
//! crash before the call) or after AWS answered (a lost response: the change
//! happened, the operator never heard). Inert unless armed.
//!
//! Compiled only with the `test-faults` feature (tests/engine.rs arms it; `make test`
//! builds with it): the operator's release build has no fault interceptor.

use std::sync::Mutex;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use super::stats::is_read;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call never reaches AWS.
    FailBeforeSend,
    /// AWS acts on the call, the answer is lost.
    LoseResponse,
}

#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    armed: Option<(u64, Fault)>,
    writes: u64,
    injected: Vec<String>,
}

impl Faults {
    /// Fail the `nth` mutating call from now on (1-based), once.
    pub fn arm(&self, nth: u64, fault: Fault) {
        let mut s = crate::sync::lock(&self.state);
        s.armed = Some((nth, fault));
        s.writes = 0;
    }

    pub fn disarm(&self) {
        crate::sync::lock(&self.state).armed = None;
    }

    /// Operations a fault was injected into so far.
    pub fn injected(&self) -> Vec<String> {
        crate::sync::lock(&self.state).injected.clone()
    }

    fn on_send(&self, operation: &str) -> Option<Fault> {
        if is_read(operation) {
            return None;
        }
        let mut s = crate::sync::lock(&self.state);
        let (nth, fault) = s.armed?;
        s.writes += 1;
        if s.writes != nth {
            return None;
        }
        s.armed = None;
        s.injected.push(format!("{operation}: {fault:?}"));
        Some(fault)
    }
}

#[derive(Clone, Debug)]
struct Doomed;

impl Storable for Doomed {
    type Storer = StoreReplace<Self>;
}

#[derive(Clone, Debug)]
pub struct FaultInterceptor(pub Arc<Faults>);

impl Intercept for FaultInterceptor {
    fn name(&self) -> &'static str {
        "privateapi::FaultInjector"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.load::<Metadata>().map(|m| m.name().to_owned()) else {
            return Ok(());
        };
        match self.0.on_send(&operation) {
            Some(Fault::FailBeforeSend) => Err(format!("injected fault: {operation} not sent").into()),
            Some(Fault::LoseResponse) => {
                cfg.interceptor_state().store_put(Doomed);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Doomed>().is_some() {
            let operation = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_default();
            return Err(format!("injected fault: response of {operation} lost").into());
        }
        Ok(())
    }
}
