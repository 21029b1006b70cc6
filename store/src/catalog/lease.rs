//! The publish marker: how a publish in progress announces itself to gc.
//!
//! Before it uploads anything, [`Catalog::publish`](super::Catalog::publish) creates
//! `<domain>/versions/<version>/PUBLISHING.json` (create-only) naming its writer, and
//! a background task rewrites it every `renew_every` as a lease, each time
//! conditioned on the ETag of its own last write (so a marker that gc deleted is never
//! brought back). gc judges a marker by the store's own `last_modified` of it: live
//! while younger than its `lease` plus gc's grace, dead after that. Once `MANIFEST.json`
//! is written the publish deletes its marker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::keys::publish_marker_key;
use crate::{ErrorKind, ObjectStore, PutMode, Result, StoreError};

/// How long a publish marker stays live after its last renewal when none is given.
pub const DEFAULT_PUBLISH_LEASE: Duration = Duration::from_secs(60);

/// How [`Catalog::publish_with`](super::Catalog::publish_with) announces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOptions {
    /// How long the marker counts as live after each renewal (gc adds its grace).
    pub lease: Duration,
    /// How often the marker is renewed while the upload runs; well below `lease`.
    pub renew_every: Duration,
}

impl PublishOptions {
    /// A lease of `lease`, renewed every third of it.
    pub fn with_lease(lease: Duration) -> Self {
        PublishOptions {
            lease,
            renew_every: lease / 3,
        }
    }
}

impl Default for PublishOptions {
    /// [`DEFAULT_PUBLISH_LEASE`], renewed every 20 s.
    fn default() -> Self {
        PublishOptions::with_lease(DEFAULT_PUBLISH_LEASE)
    }
}

/// Content of `PUBLISHING.json`. Times are informational: gc goes by the store's
/// `last_modified` of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishMarker {
    /// The domain being published.
    pub domain: String,
    /// The version being published.
    pub version: String,
    /// When the publish started (writer's clock, RFC 3339).
    pub started_at: String,
    /// When the writer last renewed the marker (writer's clock, RFC 3339 with ms).
    pub renewed_at: String,
    /// The lease in milliseconds: live this long after each renewal.
    pub lease_ms: u64,
    /// Who publishes: the actor given to `Catalog::begin_publish` (for a
    /// one-machine publish, the manifest's `actor` writer metadata), else the user.
    pub actor: String,
    /// Host name of the writer.
    pub host: String,
    /// Process id of the writer.
    pub pid: u32,
    /// Random token distinguishing this publish from any other of the same version.
    pub token: String,
}

impl PublishMarker {
    /// The lease this marker declares.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// Who holds it, for messages: `actor on host (pid N)`.
    pub fn holder(&self) -> String {
        format!("{} on {} (pid {})", self.actor, self.host, self.pid)
    }

    fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec_pretty(self).expect("a marker always serializes"))
    }
}

/// Parses a marker read from `key`.
pub(crate) fn parse_marker(key: &str, bytes: &[u8]) -> Result<PublishMarker> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::CorruptDocument {
        key: key.to_string(),
        detail: e.to_string(),
    })
}

/// What the renewal task knows.
#[derive(Debug)]
struct State {
    /// ETag of the marker as last written by this publish.
    etag: String,
    /// Why the marker is no longer ours, once that is known.
    lost: Option<String>,
    /// When the last successful write of the marker was sent (writer's clock).
    written: Instant,
}

/// A publish's marker, created and renewed in the background until [`Lease::confirm`]
/// or [`Lease::release`].
#[derive(Debug)]
pub(super) struct Lease {
    store: Arc<dyn ObjectStore>,
    key: String,
    marker: PublishMarker,
    lease: Duration,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
    lost: watch::Receiver<bool>,
    task: Option<JoinHandle<()>>,
}

impl Lease {
    /// Creates the marker of `version` of `domain` (create-only), naming `actor`
    /// (else the user), and starts renewing it.
    pub(super) async fn acquire(
        store: &Arc<dyn ObjectStore>,
        domain: &str,
        version: &str,
        actor: Option<&str>,
        options: &PublishOptions,
    ) -> Result<Lease> {
        let key = publish_marker_key(domain, version);
        let now = SystemTime::now();
        let marker = PublishMarker {
            domain: domain.to_string(),
            version: version.to_string(),
            started_at: crate::version_id::rfc3339(now),
            renewed_at: rfc3339_millis(now),
            lease_ms: u64::try_from(options.lease.as_millis()).unwrap_or(u64::MAX),
            actor: actor_or_user(actor),
            host: host_name(),
            pid: std::process::id(),
            token: token(now),
        };
        let sent = Instant::now();
        let meta = match store.put(&key, marker.to_bytes(), PutMode::Create).await {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::Conflict => {
                // Best effort: name the other writer.
                let holder = match store.get(&key).await {
                    Ok(got) => parse_marker(&key, &got.bytes)
                        .map(|m| format!(" ({}, since {})", m.holder(), m.started_at))
                        .unwrap_or_default(),
                    Err(_) => String::new(),
                };
                return Err(StoreError::Conflict {
                    key,
                    detail: format!(
                        "version {version} of domain {domain} is being published by another writer{holder} (or one died doing so); use a new version id"
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        let state = Arc::new(Mutex::new(State {
            etag: meta.etag,
            lost: None,
            written: sent,
        }));
        let (stop, stop_rx) = watch::channel(false);
        let (lost_tx, lost) = watch::channel(false);
        let renewer = Renewer {
            store: Arc::clone(store),
            key: key.clone(),
            marker: marker.clone(),
            state: Arc::clone(&state),
            every: options.renew_every.max(Duration::from_millis(1)),
        };
        let task = tokio::spawn(renewer.run(stop_rx, lost_tx));
        tracing::debug!(key = %key, lease = ?options.lease, "publish marker created");
        Ok(Lease {
            store: Arc::clone(store),
            key,
            marker,
            lease: options.lease,
            state,
            stop,
            lost,
            task: Some(task),
        })
    }

    /// The marker's key.
    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// Resolves once a renewal finds the marker gone or replaced (it never resolves
    /// while the marker is ours); returns the error that says so.
    pub(super) async fn lost(&self) -> StoreError {
        let mut lost = self.lost.clone();
        if lost.wait_for(|l| *l).await.is_err() {
            // The renewer stopped without losing the marker.
            std::future::pending::<()>().await;
        }
        self.lost_error()
    }

    fn lost_error(&self) -> StoreError {
        let why = self
            .state
            .lock()
            .expect("lease state lock")
            .lost
            .clone()
            .unwrap_or_default();
        StoreError::Conflict {
            key: self.key.clone(),
            detail: format!(
                "the publish marker of version {} of domain {} is no longer this publish's ({why}); a gc judged the publish dead and may have deleted its shards; nothing was committed, publish again",
                self.marker.version, self.marker.domain
            ),
        }
    }

    /// Stops the background renewals and renews once more, conditioned on this
    /// publish's last write, so the marker is provably still ours and fresh. Returns
    /// its new ETag. Fails when the lease ran out since the last successful write
    /// (renewals kept failing): a gc may have judged the publish dead meanwhile.
    pub(super) async fn confirm(&mut self) -> Result<String> {
        self.stop_renewing().await;
        let (etag, lost, since) = {
            let state = self.state.lock().expect("lease state lock");
            (
                state.etag.clone(),
                state.lost.is_some(),
                state.written.elapsed(),
            )
        };
        if lost {
            return Err(self.lost_error());
        }
        if since >= self.lease {
            return Err(StoreError::Conflict {
                key: self.key.clone(),
                detail: format!(
                    "the publish marker of version {} of domain {} could not be renewed for {since:.1?}, longer than its lease of {:?}; a gc may have judged the publish dead; nothing was committed, publish again",
                    self.marker.version, self.marker.domain, self.lease
                ),
            });
        }
        let sent = Instant::now();
        match renew(self.store.as_ref(), &self.key, &self.marker, etag).await {
            Ok(etag) => {
                self.state.lock().expect("lease state lock").written = sent;
                Ok(etag)
            }
            Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound) => {
                self.state.lock().expect("lease state lock").lost = Some(e.to_string());
                Err(self.lost_error())
            }
            Err(e) => Err(e),
        }
    }

    /// Stops renewing and deletes the marker, unless it is known to be no longer
    /// ours. Best effort: a marker left behind only delays gc of its directory until
    /// its lease runs out.
    pub(super) async fn release(mut self) {
        self.stop_renewing().await;
        if self.state.lock().expect("lease state lock").lost.is_some() {
            return;
        }
        if let Err(e) = self.store.delete(&self.key).await {
            tracing::warn!(key = %self.key, error = %e, "could not delete the publish marker; gc removes it once its lease runs out");
        }
    }

    /// Asks the renewer to stop and waits for it, so no renewal is in flight after.
    async fn stop_renewing(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A publish future dropped mid-way: stop renewing, so the lease runs out.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The background task that renews a marker.
struct Renewer {
    store: Arc<dyn ObjectStore>,
    key: String,
    marker: PublishMarker,
    state: Arc<Mutex<State>>,
    every: Duration,
}

impl Renewer {
    async fn run(self, mut stop: watch::Receiver<bool>, lost: watch::Sender<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let etag = self.state.lock().expect("lease state lock").etag.clone();
            let sent = Instant::now();
            match renew(self.store.as_ref(), &self.key, &self.marker, etag).await {
                Ok(etag) => {
                    let mut state = self.state.lock().expect("lease state lock");
                    state.etag = etag;
                    state.written = sent;
                }
                Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound) => {
                    tracing::warn!(key = %self.key, error = %e, "publish marker lost");
                    self.state.lock().expect("lease state lock").lost = Some(e.to_string());
                    let _ = lost.send(true);
                    return;
                }
                // The lease outlives a few failed renewals; the next one may succeed.
                Err(e) => {
                    tracing::warn!(key = %self.key, error = %e, "could not renew the publish marker")
                }
            }
        }
    }
}

/// Rewrites the marker with a new `renewed_at`, only if it still has ETag `etag`.
async fn renew(
    store: &dyn ObjectStore,
    key: &str,
    marker: &PublishMarker,
    etag: String,
) -> Result<String> {
    let renewed = PublishMarker {
        renewed_at: rfc3339_millis(SystemTime::now()),
        ..marker.clone()
    };
    let meta = store
        .put(key, renewed.to_bytes(), PutMode::UpdateIf(etag))
        .await?;
    Ok(meta.etag)
}

fn rfc3339_millis(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// `actor` when given and not empty, else `$USER`, else `unknown`.
fn actor_or_user(actor: Option<&str>) -> String {
    actor
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Best-effort host name, else `unknown`.
fn host_name() -> String {
    crate::host::host_name().unwrap_or_else(|| "unknown".to_string())
}

/// 16 hex digits from the clock, the process id and a counter.
fn token(now: SystemTime) -> String {
    format!("{:016x}", crate::version_id::unique_bits(now))
}
