//! Pulling an image from a registry (the OCI distribution API), without any daemon.
//!
//! The manifest is fetched (and, for an index, the platform's manifest), then the config and the
//! layers in parallel, each checked against its digest as it arrives and kept in the cache under
//! it. The reader then reads an OCI layout made of those cached blobs, like any other archive.
//! A tag is looked up on every pull (one small request); when the registry cannot be reached,
//! the manifest the tag named last time is used instead, so a cached image opens offline.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};

use super::auth::{self, Credentials};
use super::{BlobProgress, BlobState, Opened, Origin, SourceOptions, Transfer};
use crate::archive::{Archive, BlobLoc};
use crate::cache::{Cache, TagRecord, sha256_hex};
use crate::error::{Error, Result};
use crate::format::config::{Descriptor, ImageIndex, ImageManifest, media};
use crate::format::{LayerSource, sha256_digest};
use crate::layer::ParsedLayer;
use crate::warning::{Warning, WarningKind};

/// Manifest types asked for, most wanted first.
const ACCEPT: [&str; 4] = [media::OCI_INDEX, media::DOCKER_LIST, media::OCI_MANIFEST, media::DOCKER_MANIFEST];

/// Blobs downloaded at once.
const PARALLEL_BLOBS: usize = 4;

/// Tries of one request before giving up on a 429, a 5xx or a dropped connection.
const ATTEMPTS: u32 = 4;

/// Largest manifest or index accepted (real ones are a few KiB).
const MANIFEST_LIMIT: usize = 4 << 20;

/// Whether `name` is an image reference (`nginx`, `ghcr.io/a/b:1`, `x@sha256:…`).
pub fn is_reference(name: &str) -> bool {
    !name.is_empty() && Reference::try_from(name).is_ok()
}

/// Pull `name` into the cache (or a temporary folder) and open it as an archive.
pub fn pull(name: &str, options: &SourceOptions, transfer: &Transfer) -> Result<Opened> {
    let reference = Reference::try_from(name).map_err(|e| {
        Error::InvalidArgument(format!(
            "'{name}' is not an image reference ({e}): expected [REGISTRY/]NAME[:TAG|@DIGEST]"
        ))
    })?;
    let (cache, _temporary) = super::working_cache(options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Registry { reference: reference.whole(), detail: format!("cannot start: {e}") })?;
    let mut puller = Puller::new(reference, options, cache, transfer)?;
    runtime.block_on(puller.pull())
}

struct Puller<'a> {
    reference: Reference,
    client: Client,
    auth: RegistryAuth,
    cache: Cache,
    options: &'a SourceOptions,
    transfer: &'a Transfer,
    warnings: Vec<Warning>,
    /// Whether anything came over the network.
    downloaded: bool,
    address: String,
}

impl<'a> Puller<'a> {
    fn new(reference: Reference, options: &'a SourceOptions, cache: Cache, transfer: &'a Transfer) -> Result<Self> {
        let host = reference.resolve_registry().to_string();
        let mut plain_http: Vec<String> = options.insecure_registries.clone();
        if is_loopback(&host) {
            plain_http.push(host.clone());
        }
        let http = plain_http.contains(&host);
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain_http),
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: concat!("layerscope/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        // reqwest builds on rustls without a default crypto provider: layerscope names ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::try_from(config).map_err(|e| Error::Registry {
            reference: reference.whole(),
            detail: format!("cannot set up HTTP: {e}"),
        })?;
        let (credentials, problems) = auth::credentials(reference.registry());
        let mut warnings: Vec<Warning> =
            problems.into_iter().map(|p| Warning::image(WarningKind::SourceNotice, p)).collect();
        let auth = match credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { user, password, .. } => {
                if http && !is_loopback(&host) {
                    warnings.push(Warning::image(
                        WarningKind::SourceNotice,
                        format!("credentials for {host} are sent over plain HTTP (--insecure-registry)"),
                    ));
                }
                RegistryAuth::Basic(user, password)
            }
        };
        let address = format!("{}://{host}", if http { "http" } else { "https" });
        Ok(Puller { reference, client, auth, cache, options, transfer, warnings, downloaded: false, address })
    }

    fn name(&self) -> String {
        self.reference.whole()
    }

    fn fail(&self, detail: impl Into<String>) -> Error {
        Error::Registry { reference: self.name(), detail: detail.into() }
    }

    async fn pull(&mut self) -> Result<Opened> {
        self.transfer.step(format!("resolving {}", self.name()));
        let (mut bytes, mut digest) = self.top_manifest().await?;
        let top_digest = digest.clone();
        let mut platform = None;
        // An index names one manifest per platform (indexes may nest, rarely more than once).
        for _ in 0..self.options.limits.index_depth {
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| Error::bad_json(&digest, "OCI manifest or index", &e))?;
            if value.get("manifests").is_none() {
                break;
            }
            let index: ImageIndex =
                serde_json::from_value(value).map_err(|e| Error::bad_json(&digest, "OCI image index", &e))?;
            let chosen = crate::format::oci::choose_in_index(&index, &self.options.selection, &self.name())?.clone();
            platform.clone_from(&chosen.platform);
            self.transfer.step(format!(
                "fetching the manifest for {}",
                chosen.platform.as_ref().map_or("the image".to_string(), ToString::to_string)
            ));
            bytes = self.manifest_by_digest(&chosen.digest).await?;
            digest = chosen.digest;
        }
        let manifest: ImageManifest =
            serde_json::from_slice(&bytes).map_err(|e| Error::bad_json(&digest, "OCI image manifest", &e))?;
        if manifest.layers.is_empty() && manifest.config.is_none() {
            return Err(self.fail(format!("{digest} is not an image manifest (an index nested too deeply?)")));
        }
        let config =
            manifest.config.clone().ok_or_else(|| self.fail(format!("the manifest {digest} has no config")))?;
        let mut wanted = vec![("config".to_string(), config)];
        for (i, layer) in manifest.layers.iter().enumerate() {
            wanted.push((format!("layer {i}"), layer.clone()));
        }
        let fetched = self.fetch_blobs(&wanted).await?;
        let mut blobs = Vec::with_capacity(fetched.len());
        let mut parsed = Vec::new();
        for (digest, loc, layer) in fetched {
            if let Some(layer) = layer {
                parsed.push((digest.clone(), layer));
            }
            blobs.push((digest, loc));
        }

        let mut entries = Vec::with_capacity(blobs.len() + 3);
        let ref_name = self.name();
        let mut descriptor = serde_json::json!({
            "mediaType": manifest.media_type.as_deref().unwrap_or(media::OCI_MANIFEST),
            "digest": digest,
            "size": bytes.len(),
            "annotations": { "org.opencontainers.image.ref.name": ref_name },
        });
        if let Some(p) = &platform {
            let mut platform = serde_json::json!({ "os": p.os, "architecture": p.architecture });
            if let Some(v) = &p.variant {
                platform["variant"] = serde_json::json!(v);
            }
            descriptor["platform"] = platform;
        }
        let index = serde_json::json!({ "schemaVersion": 2, "manifests": [descriptor] });
        let document = |bytes: Vec<u8>| BlobLoc::memory(Arc::from(bytes));
        entries.push(("oci-layout".to_string(), document(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()), None));
        entries.push(("index.json".to_string(), document(index.to_string().into_bytes()), None));
        entries.push((format!("blobs/sha256/{}", hex(&digest)), document(bytes), Some(digest.clone())));
        for (digest, loc) in blobs {
            entries.push((format!("blobs/sha256/{}", hex(&digest)), loc, Some(digest)));
        }
        let origin = Origin {
            kind: "registry",
            reference: self.name(),
            address: Some(self.address.clone()),
            manifest_digest: Some(top_digest),
            from_cache: !self.downloaded,
            container: None,
        };
        Ok(Opened {
            archive: Archive::composed(format!("registry://{}", self.name()), entries),
            origin,
            selection: crate::format::Selection {
                image: None,
                platform: self.options.selection.platform.clone(),
                index: None,
            },
            warnings: std::mem::take(&mut self.warnings),
            cacheable: self.options.cache.is_some(),
            from_registry: true,
            parsed,
            top_layer: None,
        })
    }

    /// The manifest (or index) the reference names: by digest from the cache when it is there,
    /// else from the registry; a tag the registry cannot be asked about comes from the cache.
    async fn top_manifest(&mut self) -> Result<(Vec<u8>, String)> {
        if let Some(digest) = self.reference.digest().map(str::to_string) {
            let bytes = self.manifest_by_digest(&digest).await?;
            return Ok((bytes, digest));
        }
        let tag = self.reference.tag().unwrap_or("latest").to_string();
        let (registry, repository) = (self.reference.registry().to_string(), self.reference.repository().to_string());
        let fetched = self.with_retries(|| self.client.pull_manifest_raw(&self.reference, &self.auth, &ACCEPT)).await;
        match fetched {
            Ok((bytes, digest)) => {
                self.check_manifest(&bytes, &digest)?;
                let _ = self.cache.put_blob(&digest, &bytes);
                let media_type = media_type_of(&bytes);
                let record = TagRecord { digest: digest.clone(), media_type, fetched: now() };
                let _ = self.cache.store_tag(&registry, &repository, &tag, &record);
                Ok((bytes.to_vec(), digest))
            }
            Err(Failure::Unreachable(why)) => {
                let cached = self.cache.tag(&registry, &repository, &tag).and_then(|record| {
                    let bytes = self.cached_blob(&record.digest)?;
                    Some((bytes, record))
                });
                let Some((bytes, record)) = cached else {
                    return Err(self.fail(format!("cannot reach the registry at {}: {why}", self.address)));
                };
                self.warnings.push(Warning::image(
                    WarningKind::SourceNotice,
                    format!(
                        "the registry at {} cannot be reached ({why}); used the manifest the tag named {}",
                        self.address,
                        ago(record.fetched)
                    ),
                ));
                Ok((bytes, record.digest))
            }
            Err(failure) => Err(self.explain(failure, "the manifest")),
        }
    }

    async fn manifest_by_digest(&mut self, digest: &str) -> Result<Vec<u8>> {
        if sha256_hex(digest).is_none() {
            return Err(self.fail(format!("'{digest}' is not a sha256 digest")));
        }
        if let Some(bytes) = self.cached_blob(digest) {
            return Ok(bytes);
        }
        let by_digest = self.reference.clone_with_digest(digest.to_string());
        let (bytes, _) = self
            .with_retries(|| self.client.pull_manifest_raw(&by_digest, &self.auth, &ACCEPT))
            .await
            .map_err(|f| self.explain(f, &format!("the manifest {digest}")))?;
        self.check_manifest(&bytes, digest)?;
        self.downloaded = true;
        let _ = self.cache.put_blob(digest, &bytes);
        Ok(bytes.to_vec())
    }

    fn check_manifest(&self, bytes: &[u8], digest: &str) -> Result<()> {
        if bytes.len() > MANIFEST_LIMIT {
            return Err(self.fail(format!("the manifest is {} bytes, more than a manifest can be", bytes.len())));
        }
        let actual = sha256_digest(bytes);
        if actual != digest {
            return Err(self.fail(format!("the manifest hashes to {actual}, not to its digest {digest}")));
        }
        Ok(())
    }

    /// A small cached blob (a manifest), read whole.
    fn cached_blob(&self, digest: &str) -> Option<Vec<u8>> {
        let (path, len) = self.cache.blob(digest)?;
        if len > MANIFEST_LIMIT as u64 {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        (sha256_digest(&bytes) == digest).then_some(bytes)
    }

    /// Every blob in `wanted`, from the cache or downloaded into it, opened.
    async fn fetch_blobs(&mut self, wanted: &[(String, Descriptor)]) -> Result<Vec<Fetched>> {
        let mut progress = Vec::with_capacity(wanted.len());
        let mut missing_bytes = 0u64;
        for (label, desc) in wanted {
            if sha256_hex(&desc.digest).is_none() {
                return Err(self.fail(format!("{label} has an invalid digest '{}'", desc.digest)));
            }
            let size = u64::try_from(desc.size.unwrap_or(0)).unwrap_or(0);
            let p = Arc::new(BlobProgress::new(label.clone(), desc.digest.clone(), size));
            if self.cache.blob(&desc.digest).is_some() {
                p.set(BlobState::Cached);
            } else {
                missing_bytes = missing_bytes.saturating_add(size);
            }
            progress.push(p);
        }
        if let Ok(mut blobs) = self.transfer.blobs.lock() {
            blobs.clone_from(&progress);
        }
        if missing_bytes > 0 {
            self.check_space(missing_bytes)?;
            self.downloaded = true;
            self.transfer.step(format!("downloading {} from {}", crate::text::size(missing_bytes), self.address));
        }
        let this = &*self;
        let results: Vec<Result<Fetched>> = futures_util::stream::iter(wanted.iter().zip(&progress).enumerate())
            .map(|(n, ((label, desc), p))| async move {
                let (digest, loc) = this.blob(label, desc, p).await?;
                // Entry 0 is the config; the layers follow in order.
                let layer = match n.checked_sub(1) {
                    Some(index) => this.read_ahead(index, desc, &loc).await,
                    None => None,
                };
                Ok((digest, loc, layer))
            })
            .buffered(PARALLEL_BLOBS)
            .collect()
            .await;
        results.into_iter().collect()
    }

    fn check_space(&self, needed: u64) -> Result<()> {
        let root = self.cache.root();
        let _ = std::fs::create_dir_all(root);
        if let Some(free) = crate::limits::free_space(root) {
            let reserve = self.options.limits.spill_reserve;
            if free < needed.saturating_add(reserve) {
                return Err(self.fail(format!(
                    "its blobs need {} but {} has {} free (and {} is kept free); \
                     prune the cache (layerscope cache prune) or choose another with --cache-dir",
                    crate::text::size(needed),
                    root.display(),
                    crate::text::size(free),
                    crate::text::size(reserve)
                )));
            }
        }
        Ok(())
    }

    /// Read layer `index` now that its blob is in (while the others still download), unless the
    /// cache holds its records already; a layer that fails here is read again, and its error
    /// reported, by the loader.
    async fn read_ahead(&self, index: usize, desc: &Descriptor, loc: &BlobLoc) -> Option<ParsedLayer> {
        let options = self.options.read_ahead?;
        let cacheable = self.options.cache.is_some();
        if cacheable && self.cache.has_records(&desc.digest, options.verify) {
            return None;
        }
        let source = LayerSource {
            entry: format!("blobs/sha256/{}", hex(&desc.digest)),
            blob: Some(loc.clone()),
            blob_digest: Some(desc.digest.clone()),
            media_type: desc.media_type.clone(),
            diff_id: None,
            urls: desc.urls.clone(),
        };
        let cache = self.cache.clone();
        let digest = desc.digest.clone();
        tokio::task::spawn_blocking(move || {
            let parsed = crate::layer::read_layer(index, &source, None, &options).ok()?;
            if cacheable {
                // A cache that cannot be written only costs the next open a read.
                let _ = cache.store_records(&digest, &parsed);
            }
            Some(parsed)
        })
        .await
        .ok()
        .flatten()
    }

    /// One blob, from the cache or downloaded, checked, stored and opened.
    async fn blob(&self, label: &str, desc: &Descriptor, progress: &BlobProgress) -> Result<(String, BlobLoc)> {
        let open = |path: std::path::PathBuf, len: u64| {
            File::open(&path).map(|f| BlobLoc::file(f, len)).map_err(|e| Error::io(path, e))
        };
        if let Some((path, len)) = self.cache.blob(&desc.digest) {
            progress.set(BlobState::Cached);
            return Ok((desc.digest.clone(), open(path, len)?));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.download(desc, progress).await {
                Ok(path) => {
                    progress.set(BlobState::Done);
                    let len = progress.total;
                    return Ok((desc.digest.clone(), open(path, len)?));
                }
                Err(Download::Cancelled) => return Err(Error::Cancelled),
                Err(Download::Fatal(e)) => return Err(e),
                Err(Download::Failed(failure)) => {
                    if attempt >= ATTEMPTS || !failure.retryable() {
                        return Err(self.explain(failure, &format!("{label} ({})", desc.digest)));
                    }
                    progress.done.store(0, std::sync::atomic::Ordering::Relaxed);
                    self.transfer.unless_cancelled(tokio::time::sleep(backoff(attempt))).await;
                }
            }
        }
    }

    async fn download(
        &self,
        desc: &Descriptor,
        progress: &BlobProgress,
    ) -> std::result::Result<std::path::PathBuf, Download> {
        let fatal = |e: std::io::Error| Download::Fatal(Error::io(self.cache.root().join("tmp"), e));
        let expected = progress.total;
        let oci = OciDescriptor {
            media_type: desc.media_type.clone().unwrap_or_default(),
            digest: desc.digest.clone(),
            size: i64::try_from(expected).unwrap_or(i64::MAX),
            ..OciDescriptor::default()
        };
        self.client.store_auth_if_needed(self.reference.resolve_registry(), &self.auth).await;
        let mut stream = self
            .transfer
            .unless_cancelled(self.client.pull_blob_stream(&self.reference, &oci))
            .await
            .ok_or(Download::Cancelled)?
            .map_err(|e| Download::Failed(classify(&e)))?;
        let mut file = self.cache.temp_file().map_err(fatal)?;
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        progress.set(BlobState::Downloading);
        while let Some(chunk) = self.transfer.unless_cancelled(stream.next()).await.ok_or(Download::Cancelled)? {
            let chunk = chunk.map_err(|e| Download::Failed(Failure::Dropped(e.to_string())))?;
            received += chunk.len() as u64;
            if received > expected {
                return Err(Download::Fatal(self.fail(format!(
                    "the registry sends more than the {expected} bytes the manifest gives for {}",
                    desc.digest
                ))));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).map_err(fatal)?;
            progress.done.store(received, std::sync::atomic::Ordering::Relaxed);
        }
        if received != expected {
            return Err(Download::Failed(Failure::Dropped(format!(
                "the download of {} stopped after {received} of {expected} bytes",
                desc.digest
            ))));
        }
        let actual = crate::text::digest(&hasher.finalize());
        if actual != desc.digest {
            return Err(Download::Fatal(
                self.fail(format!("the blob {} hashes to {actual}: the registry sent other bytes", desc.digest)),
            ));
        }
        self.cache.commit_blob(file, &desc.digest).map_err(fatal)
    }

    /// Run a request, again after a pause when it failed in a way that may pass.
    async fn with_retries<T, F, Fut>(&self, mut request: F) -> std::result::Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = oci_client::errors::Result<T>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(answer) = self.transfer.unless_cancelled(request()).await else { return Err(Failure::Cancelled) };
            match answer {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let failure = classify(&e);
                    if attempt >= ATTEMPTS || !failure.retryable() {
                        return Err(failure);
                    }
                    self.transfer.unless_cancelled(tokio::time::sleep(backoff(attempt))).await;
                }
            }
        }
    }

    /// A failure as a sentence that says what to do.
    fn explain(&self, failure: Failure, what: &str) -> Error {
        if matches!(failure, Failure::Cancelled) {
            return Error::Cancelled;
        }
        let registry = self.reference.registry();
        let repository = self.reference.repository();
        let detail = match failure {
            Failure::Unauthorized => format!(
                "the registry {registry} refused {what} of {repository} (401 unauthorized): the repository is \
                 private or does not exist; log in with `docker login {registry}` or `podman login {registry}`"
            ),
            Failure::Forbidden(m) => format!(
                "the registry {registry} denied access to {repository} (403 forbidden{}): the credentials \
                 found do not allow pulling it",
                tail(&m)
            ),
            Failure::NotFound(m) => {
                format!("{what} is not in the registry (404 not found{}): check the name and the tag", tail(&m))
            }
            Failure::Token(m) => format!("the token service of {registry} refused the credentials: {m}"),
            Failure::Unreachable(m) => format!("cannot reach the registry at {}: {m}", self.address),
            Failure::Throttled(m) => format!("the registry kept answering 429 too many requests{}", tail(&m)),
            Failure::Server(code, m) => format!("the registry failed with HTTP {code}{}", tail(&m)),
            Failure::Dropped(m) | Failure::Other(m) => format!("fetching {what}: {m}"),
            Failure::Cancelled => "cancelled".into(),
        };
        self.fail(crate::text::one_line(&detail))
    }
}

/// A blob's digest, where it is, and for a layer its records when read ahead.
type Fetched = (String, BlobLoc, Option<ParsedLayer>);

enum Download {
    Cancelled,
    /// Not worth retrying (bad bytes, a full disk).
    Fatal(Error),
    Failed(Failure),
}

/// What went wrong with a request, as far as what to do next goes.
#[derive(Debug)]
enum Failure {
    Unauthorized,
    Forbidden(String),
    NotFound(String),
    Token(String),
    Unreachable(String),
    Throttled(String),
    Server(u16, String),
    Dropped(String),
    Other(String),
    Cancelled,
}

impl Failure {
    fn retryable(&self) -> bool {
        matches!(self, Failure::Throttled(_) | Failure::Server(..) | Failure::Dropped(_))
    }
}

fn classify(e: &OciDistributionError) -> Failure {
    match e {
        OciDistributionError::UnauthorizedError { .. } => Failure::Unauthorized,
        OciDistributionError::AuthenticationFailure(m) => Failure::Token(short(m)),
        OciDistributionError::ImageManifestNotFoundError(m) => Failure::NotFound(short(m)),
        OciDistributionError::RegistryError { envelope, .. } => {
            let message = envelope.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::NameUnknown
                        | OciErrorCode::ManifestUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                Failure::NotFound(short(&message))
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::Denied)) {
                Failure::Forbidden(short(&message))
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::Unauthorized)) {
                Failure::Unauthorized
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::Toomanyrequests)) {
                Failure::Throttled(short(&message))
            } else {
                Failure::Other(short(&message))
            }
        }
        OciDistributionError::ServerError { code, message, .. } => match code {
            401 => Failure::Unauthorized,
            403 => Failure::Forbidden(short(message)),
            404 => Failure::NotFound(short(message)),
            429 => Failure::Throttled(short(message)),
            c if *c >= 500 => Failure::Server(*c, short(message)),
            c => Failure::Other(format!("HTTP {c}{}", tail(&short(message)))),
        },
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            // The innermost cause says it ("Connection refused"); the outer ones repeat the URL.
            let mut cause: &dyn std::error::Error = e;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            let why = if e.is_timeout() { format!("timed out ({cause})") } else { cause.to_string() };
            Failure::Unreachable(short(&why))
        }
        OciDistributionError::RequestError(e) if e.is_body() || e.is_decode() || e.is_request() => {
            Failure::Dropped(short(&source_chain(e)))
        }
        OciDistributionError::DigestError(e) => Failure::Other(short(&e.to_string())),
        other => Failure::Other(short(&other.to_string())),
    }
}

/// An error and its causes on one line (reqwest's own message is only "error sending request").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// A registry's message, one line and bounded (it is untrusted and may be an HTML page).
fn short(message: &str) -> String {
    crate::text::cut(&crate::text::one_line(message.trim()), 200)
}

fn tail(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(": {message}") }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.saturating_sub(1).min(4))
}

fn hex(digest: &str) -> &str {
    sha256_hex(digest).unwrap_or_default()
}

fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// Hosts reached over plain HTTP without being asked: this machine only.
fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `3 minutes ago`, for a cached tag.
fn ago(then: u64) -> String {
    let seconds = now().saturating_sub(then);
    let (n, unit) = match seconds {
        s if s < 60 => return "less than a minute ago".into(),
        s if s < 120 => (s, "second"),
        s if s < 7200 => (s / 60, "minute"),
        s if s < 2 * 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{} ago", crate::text::plural(usize::try_from(n).unwrap_or(usize::MAX), unit, &format!("{unit}s")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "localhost:5000", "127.0.0.1:5000", "127.0.0.2", "[::1]:5000", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["docker.io", "10.0.0.1:5000", "localhost.example.com", "ghcr.io:443"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn references() {
        assert!(is_reference("nginx"));
        assert!(is_reference("ghcr.io/a/b:1.2"));
        assert!(is_reference("127.0.0.1:5000/busybox:latest"));
        assert!(!is_reference("Upper/Case"));
        assert!(!is_reference(""));
        // Docker Hub's normalisation, as the engines do it.
        let hub = Reference::try_from("nginx").unwrap();
        assert_eq!(hub.whole(), "docker.io/library/nginx:latest");
        assert_eq!(hub.resolve_registry(), "index.docker.io");
        assert_eq!(Reference::try_from("acme/app:1").unwrap().whole(), "docker.io/acme/app:1");
    }

    #[test]
    fn backoff_grows_and_stops() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(9), Duration::from_secs(8));
    }
}
