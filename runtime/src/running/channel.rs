//! One running channel: its processing side (pipeline and delivery
//! workers) and its source, started together and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::ChannelContext;
use crate::config::{ChannelConfig, Config, SourceConfig};
use crate::ingest::{ChannelRuntime, FileReader, HttpSource, Listener};
use crate::pipeline::{ChannelPipeline, Processing};
use crate::tls::TlsEndpoint;

/// A channel's workers and source, with what stops them.
pub(crate) struct RunningChannel {
    /// Its processing side.
    pub pipeline: Arc<ChannelPipeline>,
    /// Where its MLLP or HTTP source listens (none for a file source).
    pub address: Option<SocketAddr>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl RunningChannel {
    /// Starts `channel`'s workers, then its source. `processing` is the
    /// channel's checked processing side (see [`Processing::check`]).
    ///
    /// # Errors
    /// Names the channel and what could not start: a run state that cannot
    /// be read, TLS files, a listener that cannot bind. Whatever had
    /// started is stopped again.
    pub async fn start(
        config: &Config,
        channel: &ChannelConfig,
        processing: Processing,
        context: &ChannelContext,
    ) -> anyhow::Result<RunningChannel> {
        let stop = context.shared.shutdown.child_token();
        let mut tasks = JoinSet::new();
        let started = async {
            let pipeline = processing.spawn(channel, &context.shared, stop.clone(), &mut tasks)?;
            let address =
                start_source(config, channel, &pipeline, context, &stop, &mut tasks).await?;
            Ok((pipeline, address))
        };
        match started.await {
            Ok((pipeline, address)) => Ok(RunningChannel {
                pipeline,
                address,
                stop,
                tasks,
            }),
            Err(error) => {
                stop.cancel();
                join_all(&mut tasks).await;
                context.shared.tls.remove_channel(&channel.name);
                Err(error)
            }
        }
    }

    /// Closes the source, lets the messages in flight finish and waits for
    /// every worker to end; the channel's TLS files are forgotten.
    pub async fn stop(mut self, context: &ChannelContext) {
        self.stop.cancel();
        join_all(&mut self.tasks).await;
        context.shared.tls.remove_channel(self.pipeline.name());
    }

    /// Waits for the workers after the engine's shutdown was signalled.
    pub async fn finish(mut self) {
        join_all(&mut self.tasks).await;
    }
}

/// Waits for every task of `tasks` to end.
async fn join_all(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

/// Starts `channel`'s source, which stops when `stop` is cancelled, and
/// returns where it listens.
async fn start_source(
    config: &Config,
    channel: &ChannelConfig,
    pipeline: &Arc<ChannelPipeline>,
    context: &ChannelContext,
    stop: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<Option<SocketAddr>> {
    let name = &channel.name;
    let shared = &context.shared;
    let profile = config.profile_for(channel).map_err(anyhow::Error::msg)?;
    let source = channel.source.clone();
    let source_tls = source
        .tls()
        .map(|settings| {
            shared
                .tls
                .load(TlsEndpoint::Channel(name.clone()), settings)
        })
        .transpose()
        .with_context(|| format!("channel \"{name}\": key source.tls"))?;
    let runtime = Arc::new(ChannelRuntime {
        name: name.clone(),
        config: channel.clone(),
        profile,
        limits: source.limits(),
        mllp_release2: matches!(&source, SourceConfig::Mllp(mllp) if mllp.mllp_release2),
        store: shared.store.clone(),
        metrics: shared.metrics.clone(),
        signals: shared.wakers.channel(name),
        ack_ids: context.ack_ids.clone(),
        control: pipeline.control.clone(),
        shutdown: stop.child_token(),
    });
    Ok(match source {
        SourceConfig::Mllp(source) => {
            let listen = source.listen_address().map_err(anyhow::Error::msg)?;
            let listener = Listener::bind(runtime, listen, source_tls, source.max_connections)
                .await
                .with_context(|| {
                    format!("channel \"{name}\": cannot start its MLLP listener on {listen}")
                })?;
            let address = listener.local_addr();
            tasks.spawn(listener.run());
            Some(address)
        }
        SourceConfig::Http(source) => {
            let http = HttpSource::bind(runtime, &source, source_tls)
                .await
                .with_context(|| format!("channel \"{name}\": cannot start its HTTP source"))?;
            let address = http.local_addr();
            tasks.spawn(http.run());
            Some(address)
        }
        SourceConfig::File(source) => {
            let reader = FileReader::new(runtime, source)
                .with_context(|| format!("channel \"{name}\": cannot start its file source"))?;
            tasks.spawn(reader.run());
            None
        }
    })
}
