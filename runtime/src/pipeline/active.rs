//! A channel's plugin stages as they are now, swappable while traffic
//! flows: a new version is started and configured with the stage's
//! settings before it replaces the old one, and the swap is one pointer
//! store. Partition workers pick the new stages up between batches, so a
//! message in flight finishes on the version it started with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use thiserror::Error;

use super::chain::Stage;
use crate::plugin::{CallFailure, PluginVersion, PluginWorker};

/// Why a version was not activated; the running one stays.
#[derive(Debug, Error)]
pub enum ActivateError {
    /// The channel has no stage with this index.
    #[error("the channel has no pipeline stage {0}")]
    NoStage(usize),
    /// The version belongs to another plugin.
    #[error("stage {index} runs plugin {expected}, not {actual}")]
    OtherPlugin {
        /// The stage.
        index: usize,
        /// The plugin the stage runs.
        expected: String,
        /// The plugin of the version offered.
        actual: String,
    },
    /// The version did not start or refused the stage's configuration.
    #[error("{version} does not start with this stage's settings: {failure}")]
    DoesNotStart {
        /// The version's label.
        version: String,
        /// What failed.
        failure: CallFailure,
    },
}

/// The stages of one channel, with a generation that changes on every
/// swap and, per stage, the version the last swap replaced (for a
/// rollback).
pub struct ActiveStages {
    current: RwLock<Arc<Vec<Stage>>>,
    replaced: RwLock<Vec<Option<Arc<PluginVersion>>>>,
    generation: AtomicU64,
}

impl ActiveStages {
    /// The stages a channel starts with.
    pub fn new(stages: Vec<Stage>) -> Self {
        ActiveStages {
            replaced: RwLock::new(vec![None; stages.len()]),
            current: RwLock::new(Arc::new(stages)),
            generation: AtomicU64::new(0),
        }
    }

    /// The version stage `index` ran before its last swap, if it was
    /// swapped.
    pub fn replaced(&self, index: usize) -> Option<Arc<PluginVersion>> {
        self.replaced
            .read()
            .expect("stages lock")
            .get(index)
            .cloned()
            .flatten()
    }

    /// The generation now; it changes whenever a stage is swapped.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The stages now, with their generation.
    pub fn snapshot(&self) -> (u64, Arc<Vec<Stage>>) {
        let current = self.current.read().expect("stages lock");
        (self.generation(), Arc::clone(&current))
    }

    /// Runs `version` in stage `index` from the next batch on, once it has
    /// started and accepted the stage's configuration; returns the version
    /// it replaced (for a rollback).
    ///
    /// # Errors
    /// [`ActivateError`]; the running version then stays.
    pub fn activate(
        &self,
        index: usize,
        version: Arc<PluginVersion>,
    ) -> Result<Arc<PluginVersion>, ActivateError> {
        let stage = self
            .snapshot()
            .1
            .get(index)
            .cloned()
            .ok_or(ActivateError::NoStage(index))?;
        if stage.version.info.name != version.info.name {
            return Err(ActivateError::OtherPlugin {
                index,
                expected: stage.version.info.name.clone(),
                actual: version.info.name.clone(),
            });
        }
        PluginWorker::new(version.clone(), stage.settings.clone())
            .warm_up()
            .map_err(|failure| ActivateError::DoesNotStart {
                version: version.label(),
                failure,
            })?;
        let mut current = self.current.write().expect("stages lock");
        let mut stages = current.as_ref().clone();
        let replaced = std::mem::replace(&mut stages[index].version, version);
        *current = Arc::new(stages);
        self.replaced.write().expect("stages lock")[index] = Some(replaced.clone());
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(replaced)
    }
}
