//! Routing: which destinations each output goes to, by the destinations'
//! filters.

use crate::config::{RouteFacts, RouteFilter};
use crate::store::{NewOutbound, Payload};

/// A destination as routing sees it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The destination's name.
    pub destination: String,
    /// What it takes.
    pub filter: RouteFilter,
}

/// What routing knows of the inbound message.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    /// MSH-9.1.
    pub message_code: Option<&'a str>,
    /// MSH-9.2.
    pub trigger_event: Option<&'a str>,
    /// MSH-4.1.
    pub sending_facility: Option<&'a str>,
}

/// The outbound entries for `outputs` (content type, payload): one per
/// output and destination whose filter matches.
pub fn route(
    routes: &[Route],
    origin: Origin<'_>,
    outputs: Vec<(String, Payload)>,
) -> Vec<NewOutbound> {
    let mut queued = Vec::new();
    for (content_type, payload) in outputs {
        let facts = RouteFacts {
            message_code: origin.message_code,
            trigger_event: origin.trigger_event,
            sending_facility: origin.sending_facility,
            content_type: &content_type,
        };
        for route in routes.iter().filter(|route| route.filter.matches(&facts)) {
            queued.push(NewOutbound {
                destination: route.destination.clone(),
                content_type: content_type.clone(),
                payload: payload.clone(),
            });
        }
    }
    queued
}
