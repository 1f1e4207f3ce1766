//! Glue between the generated `transformer` export and a [`Plugin`].
//!
//! The instance keeps the configured plugin in a thread-local: a component
//! instance is single-threaded and the host calls `configure` before
//! `transform`. If it does not, the plugin is configured with `{}` first.

use std::cell::RefCell;
use std::sync::Once;

use crate::bindings::exports::hl7wasm::plugin::transformer::Guest;
use crate::bindings::hl7wasm::plugin::types as wit;
use crate::{Plugin, host};

/// Names the [`Plugin`] that `export_plugin!` exports.
pub trait Exports {
    /// The exported plugin type.
    type Plugin: Plugin;
}

thread_local! {
    static CONFIGURED: RefCell<Option<Box<dyn std::any::Any>>> = const { RefCell::new(None) };
}

static PANIC_HOOK: Once = Once::new();

/// Logs a panic's message and location at error level before the instance
/// aborts, so the host can report it as the transform error.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|panic| {
            host::log(host::Level::Error, &format!("plugin panicked: {panic}"));
        }));
    });
}

fn configure<P: Plugin>(config_json: &str) -> Result<(), String> {
    let config: serde_json::Value = if config_json.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(config_json).map_err(|e| format!("config is not valid JSON: {e}"))?
    };
    let plugin = P::configure(config)?;
    CONFIGURED.with(|slot| *slot.borrow_mut() = Some(Box::new(plugin)));
    Ok(())
}

fn with_plugin<P: Plugin, R>(f: impl FnOnce(&P) -> R) -> R {
    let configured = CONFIGURED.with(|slot| slot.borrow().is_some());
    if !configured && let Err(reason) = configure::<P>("{}") {
        panic!("plugin needs configuration: {reason}");
    }
    CONFIGURED.with(|slot| {
        let slot = slot.borrow();
        let plugin = slot
            .as_ref()
            .and_then(|boxed| boxed.downcast_ref::<P>())
            .expect("configured plugin has the exported type");
        f(plugin)
    })
}

impl<T: Exports> Guest for T {
    fn info() -> wit::PluginInfo {
        install_panic_hook();
        T::Plugin::info()
    }

    fn configure(config_json: String) -> Result<(), String> {
        install_panic_hook();
        configure::<T::Plugin>(&config_json)
    }

    fn transform(message: wit::Message) -> Result<wit::Outcome, wit::TransformError> {
        install_panic_hook();
        with_plugin::<T::Plugin, _>(|plugin| plugin.transform(message))
    }
}
