//! The alert webhook: each raise and clear POSTed as JSON, in order, by one
//! task, through the HTTP destination connector (reqwest over rustls with
//! ring). Best effort: a failed or slow post is logged and dropped.

use std::pin::Pin;

use anyhow::Context;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::AlertsConfig;
use crate::alerts::{Alert, AlertState, Notifier};
use crate::deliver::http::{HttpConnector, HttpTargetConfig};
use crate::deliver::{Attempt, ConnectorError, Delivery};

/// Notices waiting to be posted; more are dropped (and logged).
const BACKLOG: usize = 256;

/// What is POSTed: the alert's fields and `state`.
#[derive(Debug, Serialize)]
struct Notice {
    #[serde(flatten)]
    alert: Alert,
    state: AlertState,
}

/// The task that posts a webhook's notices.
pub type Posting = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The [`Notifier`] that queues notices for the webhook task.
#[derive(Debug)]
pub struct Webhook {
    notices: mpsc::Sender<Notice>,
}

impl Webhook {
    /// The webhook `config` asks for (`webhook_url`), if any: its notifier
    /// and the task that posts, until `shutdown`.
    ///
    /// # Errors
    /// When the client cannot be built, naming the key.
    pub fn of(
        config: &AlertsConfig,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<(Webhook, Posting)>> {
        let Some(url) = &config.webhook_url else {
            return Ok(None);
        };
        let (webhook, posting) = Webhook::start(url, config.webhook_timeout_secs, shutdown.clone())
            .context("key alerts.webhook_url: cannot build the webhook client")?;
        Ok(Some((webhook, Box::pin(posting))))
    }

    /// Builds the client for `url` and returns the notifier and the task
    /// that posts, until `shutdown`.
    ///
    /// # Errors
    /// When the URL is not valid or the client cannot be built.
    pub fn start(
        url: &str,
        timeout_secs: u64,
        shutdown: CancellationToken,
    ) -> Result<(Webhook, impl Future<Output = ()> + Send + 'static), ConnectorError> {
        let connector = HttpConnector::new(&HttpTargetConfig {
            url: url.to_owned(),
            method: "POST".to_owned(),
            headers: Default::default(),
            bearer_token: None,
            basic_auth: None,
            oauth: None,
            tls: None,
            timeout_secs,
        })?;
        let (notices, receiver) = mpsc::channel(BACKLOG);
        Ok((Webhook { notices }, post_all(connector, receiver, shutdown)))
    }
}

impl Notifier for Webhook {
    fn notify(&self, alert: &Alert, state: AlertState) {
        let notice = Notice {
            alert: alert.clone(),
            state,
        };
        if self.notices.try_send(notice).is_err() {
            tracing::warn!(alert = alert.kind, channel = %alert.channel, "Alert webhook backlog full; notice dropped.");
        }
    }
}

/// Posts each notice in turn until `shutdown` or the notifier is dropped.
async fn post_all(
    mut connector: HttpConnector,
    mut notices: mpsc::Receiver<Notice>,
    shutdown: CancellationToken,
) {
    loop {
        let notice = tokio::select! {
            notice = notices.recv() => notice,
            () = shutdown.cancelled() => None,
        };
        let Some(notice) = notice else { return };
        let body = serde_json::to_vec(&notice).expect("a notice serializes");
        let delivery = Delivery {
            channel: &notice.alert.channel,
            destination: "alert-webhook",
            message_id: 0,
            sequence: 0,
            control_id: None,
            message_type: None,
            content_type: "application/json",
            body: &body,
        };
        match connector.deliver(&delivery).await {
            Attempt::Delivered => {}
            Attempt::Retry { reason, .. } | Attempt::Reject { reason } => tracing::warn!(
                alert = notice.alert.kind,
                channel = %notice.alert.channel,
                %reason,
                "Alert webhook failed."
            ),
        }
    }
}
