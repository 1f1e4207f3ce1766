//! One live plugin instance: a store with its limits, and calls into the
//! component with a deadline, the memory guard and stdio capture around
//! each. Any trap leaves the instance unusable; callers drop it.

use wasmtime::{Store, Trap};

use super::bindings::{
    Level, Message, Metadata, Outcome, Plugin, PluginInfo, PluginPre, TransformError,
};
use super::engine::{PluginEngine, deadline_ticks};
use super::failure::{CallFailure, FailureCause};
use super::limits::PluginLimits;
use super::state::{LookupTables, PluginState};

/// A plugin instance with its own store.
pub struct PluginInstance {
    store: Store<PluginState>,
    bindings: Plugin,
    plugin_name: String,
    limits: PluginLimits,
    /// Messages transformed since instantiation.
    pub transformed: u64,
}

impl PluginInstance {
    /// Instantiates `pre` and calls `configure(config_json)`.
    ///
    /// # Errors
    /// A [`CallFailure`] if instantiation or `configure` traps, times out or
    /// `configure` refuses the settings.
    pub fn start(
        engine: &PluginEngine,
        pre: &PluginPre<PluginState>,
        plugin_name: &str,
        limits: &PluginLimits,
        lookups: LookupTables,
        config_json: &str,
    ) -> Result<Self, CallFailure> {
        let mut instance = Self::instantiate(engine, pre, plugin_name, limits, lookups)?;
        let refused = instance.call(|bindings, store| {
            bindings
                .hl7wasm_plugin_transformer()
                .call_configure(store, config_json)
        })?;
        if let Err(reason) = refused {
            return Err(CallFailure::new(
                FailureCause::Config,
                format!("configure refused the settings: {reason}"),
            ));
        }
        Ok(instance)
    }

    /// Calls `info()` on a throwaway instance.
    ///
    /// # Errors
    /// A [`CallFailure`] if instantiation or `info` fails.
    pub fn describe(
        engine: &PluginEngine,
        pre: &PluginPre<PluginState>,
        limits: &PluginLimits,
    ) -> Result<PluginInfo, CallFailure> {
        let mut instance =
            Self::instantiate(engine, pre, "(loading)", limits, LookupTables::default())?;
        instance.call(|bindings, store| bindings.hl7wasm_plugin_transformer().call_info(store))
    }

    fn instantiate(
        engine: &PluginEngine,
        pre: &PluginPre<PluginState>,
        plugin_name: &str,
        limits: &PluginLimits,
        lookups: LookupTables,
    ) -> Result<Self, CallFailure> {
        let mut store = Store::new(engine.engine(), PluginState::new(limits, lookups));
        store.limiter(|state| &mut state.memory);
        // The epoch deadline starts out expired: set it before instantiation
        // too, since start functions run guest code.
        store.set_epoch_deadline(deadline_ticks(limits.deadline()));
        let bindings = match pre.instantiate(&mut store) {
            Ok(bindings) => bindings,
            Err(error) => return Err(classify(&mut store, plugin_name, &error)),
        };
        Ok(PluginInstance {
            store,
            bindings,
            plugin_name: plugin_name.to_string(),
            limits: *limits,
            transformed: 0,
        })
    }

    /// Transforms one message. The output is refused when it exceeds the
    /// output cap.
    ///
    /// # Errors
    /// A [`CallFailure`] when the call traps, times out, exhausts memory or
    /// returns too much; the instance must then be dropped.
    pub fn transform(
        &mut self,
        message: &Message,
        metadata: Metadata,
    ) -> Result<Result<Outcome, TransformError>, CallFailure> {
        self.store.data_mut().set_metadata(metadata);
        let result = self.call(|bindings, store| {
            bindings
                .hl7wasm_plugin_transformer()
                .call_transform(store, message)
        })?;
        self.transformed += 1;
        if let Ok(Outcome::Forward(messages)) = &result {
            let bytes: usize = messages
                .iter()
                .map(|m| m.body.len() + m.content_type.len())
                .sum();
            if bytes > self.limits.output_bytes {
                return Err(CallFailure::new(
                    FailureCause::OutputTooLarge,
                    format!(
                        "output of {bytes} bytes exceeds the limit of {} bytes",
                        self.limits.output_bytes
                    ),
                ));
            }
        }
        Ok(result)
    }

    /// The largest linear memory this instance has grown to, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.store.data().memory.peak_bytes()
    }

    /// Runs one export call with a fresh deadline and collects the plugin's
    /// log and stdio afterwards, whatever the result.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&Plugin, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallFailure> {
        self.store
            .set_epoch_deadline(deadline_ticks(self.limits.deadline()));
        self.store.data_mut().memory.reset();
        let result = f(&self.bindings, &mut self.store);
        let result = result.map_err(|error| classify(&mut self.store, &self.plugin_name, &error));
        if result.is_ok() {
            emit_plugin_output(&mut self.store, &self.plugin_name);
        }
        result
    }
}

/// Turns a wasmtime error into the failure a message is dead-lettered
/// with: a timeout, a memory cap, or a trap whose reason is the plugin's
/// last error-level log line (the SDK logs a panic's message there).
fn classify(
    store: &mut Store<PluginState>,
    plugin_name: &str,
    error: &wasmtime::Error,
) -> CallFailure {
    let last_error = emit_plugin_output(store, plugin_name);
    let state = store.data();
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallFailure::new(
            FailureCause::Timeout,
            "plugin exceeded its deadline and was stopped".to_string(),
        );
    }
    if state.memory.exceeded() {
        return CallFailure::new(
            FailureCause::MemoryLimit,
            format!(
                "plugin exceeded its memory limit of {} bytes",
                state.memory.limit_bytes()
            ),
        );
    }
    let text = match last_error {
        Some(line) => line,
        None => format!("plugin trapped: {error:#}"),
    };
    CallFailure::new(FailureCause::Trap, text)
}

/// Sends what the plugin logged and printed during the call to the engine's
/// log under its name, and returns its last error-level line.
fn emit_plugin_output(store: &mut Store<PluginState>, plugin: &str) -> Option<String> {
    let state = store.data_mut();
    let logged = std::mem::take(&mut state.logged);
    let dropped = std::mem::take(&mut state.logs_dropped);
    let last_error = logged
        .iter()
        .rev()
        .find(|l| l.level == Level::Error)
        .map(|l| l.text.clone());
    for line in &logged {
        let text = line.text.as_str();
        match line.level {
            Level::Trace => tracing::trace!(plugin, text, "Plugin log."),
            Level::Debug => tracing::debug!(plugin, text, "Plugin log."),
            Level::Info => tracing::info!(plugin, text, "Plugin log."),
            Level::Warn => tracing::warn!(plugin, text, "Plugin log."),
            Level::Error => tracing::error!(plugin, text, "Plugin log."),
        }
    }
    if dropped > 0 {
        tracing::warn!(
            plugin,
            dropped,
            "Plugin log lines dropped past the per-call limit."
        );
    }
    for (stream, captured) in [
        ("stdout", state.stdout.drain()),
        ("stderr", state.stderr.drain()),
    ] {
        for text in captured.text.lines().filter(|l| !l.is_empty()) {
            tracing::info!(plugin, stream, text, "Plugin output.");
        }
        if captured.dropped > 0 {
            tracing::warn!(
                plugin,
                stream,
                dropped_bytes = captured.dropped,
                "Plugin output dropped past the limit."
            );
        }
    }
    last_error
}
