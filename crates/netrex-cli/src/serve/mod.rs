//! `netrex serve`: a saved model held in memory behind HTTP (axum on tokio).
//!
//! `POST /recommend` (one query or `{"queries": [...]}`), `POST /similar-items`, `GET
//! /health`, `GET /metrics` (Prometheus text), `POST /reload` (and SIGHUP) to swap in a model
//! atomically: each request holds the model it started with, so in-flight requests finish on
//! the old one, and a model that fails to load is refused while the old one keeps serving.
//! SIGTERM or Ctrl-C stop taking connections and let the open ones finish.

mod batcher;
mod metrics;
mod served;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::args::ServeArgs;
use crate::Failure;
use batcher::Batcher;
use metrics::Metrics;
use served::{Limits, Plan, Query, Served, SimilarQuery};

/// A request's failure: its status (always 4xx for bad input) and message.
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

/// What every handler shares.
struct App {
    model: RwLock<Arc<Served>>,
    version: AtomicU64,
    // one reload at a time: two racing reloads would number their versions out of order
    reloading: Mutex<()>,
    metrics: Metrics,
    limits: Limits,
    batch: usize,
    search: Batcher,
    /// `--approximate`'s width, kept for reloads.
    approximate: Option<usize>,
}

impl App {
    fn current(&self) -> Arc<Served> {
        self.model.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Loads `dir` (or the served folder again) and swaps it in; the old model keeps serving
    /// if it fails.
    fn reload(&self, dir: Option<PathBuf>) -> Result<Value, ApiError> {
        let _one = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let dir = dir.unwrap_or_else(|| self.current().dir.clone());
        match Served::load(&dir, self.approximate) {
            Ok(served) => {
                let kind = served.kind();
                *self.model.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(served);
                let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
                self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
                Ok(json!({"model": dir.display().to_string(), "kind": kind, "version": version}))
            }
            Err(e) => {
                self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                Err(ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    message: format!(
                        "{}: not loaded, the old model keeps serving: {e}",
                        dir.display()
                    ),
                })
            }
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Counts the request and answers with `result`'s JSON, or its error as `{"error": ...}`.
fn answer(
    app: &App,
    endpoint: &'static str,
    start: Instant,
    result: Result<Value, ApiError>,
) -> Response {
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (e.status, json!({"error": e.message})),
    };
    app.metrics
        .record(endpoint, status.as_u16(), start.elapsed());
    reply(status, body)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("malformed request: {e}")))
}

/// Plans each query (a body holds one, or `{"queries": [...]}`), then waits for those left to
/// the shared exact search; they are all queued before the first wait, so they batch together.
async fn recommend(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let start = Instant::now();
    let served = app.current();
    let planned = (|| {
        let value: Value = parse(&body)?;
        let (queries, many) = match value.get("queries") {
            Some(list) => {
                let queries: Vec<Query> = serde_json::from_value(list.clone())
                    .map_err(|e| ApiError::bad(format!("malformed queries: {e}")))?;
                if queries.is_empty() || queries.len() > app.batch {
                    return Err(ApiError::bad(format!(
                        "a batch holds 1 to {} queries",
                        app.batch
                    )));
                }
                (queries, true)
            }
            None => {
                let q: Query = serde_json::from_value(value)
                    .map_err(|e| ApiError::bad(format!("malformed request: {e}")))?;
                (vec![q], false)
            }
        };
        let plans = queries
            .iter()
            .map(|q| served.recommend(q, app.limits))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((plans, many))
    })();
    let result = match planned {
        Ok((plans, many)) => {
            let pending: Vec<_> = plans
                .into_iter()
                .map(|plan| match plan {
                    Plan::Done(v) => Err(v),
                    Plan::Exact(exact) => Ok(app.search.submit(served.clone(), exact)),
                })
                .collect();
            let mut answers = Vec::with_capacity(pending.len());
            let mut failed = None;
            for p in pending {
                match p {
                    Err(done) => answers.push(done),
                    Ok(waiting) => match batcher::wait(waiting).await {
                        Ok(ranked) => answers.push(served.answer(ranked)),
                        Err(e) => failed = failed.or(Some(e)),
                    },
                }
            }
            match failed {
                Some(e) => Err(e),
                None if many => Ok(json!({ "results": answers })),
                None => Ok(answers.pop().unwrap_or_default()),
            }
        }
        Err(e) => Err(e),
    };
    answer(&app, "recommend", start, result)
}

async fn similar(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let start = Instant::now();
    let served = app.current();
    let result = parse::<SimilarQuery>(&body).and_then(|q| served.similar(&q, app.limits));
    answer(&app, "similar-items", start, result)
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let start = Instant::now();
    let served = app.current();
    let body = json!({
        "status": "ok",
        "model": served.dir.display().to_string(),
        "kind": served.kind(),
        "search": served.search(),
        "version": app.version.load(Ordering::SeqCst),
    });
    answer(&app, "health", start, Ok(body))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let mut text = app.metrics.render(app.version.load(Ordering::SeqCst));
    let batches = app.search.batches.load(Ordering::Relaxed);
    let batched = app.search.batched.load(Ordering::Relaxed);
    text.push_str(&format!(
        "# HELP netrex_searches_total Exact searches run (queries waiting together share one).\n# TYPE netrex_searches_total counter\nnetrex_searches_total {batches}\n# HELP netrex_searched_queries_total Queries those searches answered.\n# TYPE netrex_searched_queries_total counter\nnetrex_searched_queries_total {batched}\n"
    ));
    app.metrics
        .record("metrics", 200, std::time::Duration::ZERO);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn reload(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let start = Instant::now();
    let dir = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(None)
    } else {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Reload {
            model: Option<PathBuf>,
        }
        parse::<Reload>(&body).map(|r| r.model)
    };
    let worker = app.clone();
    let result = match dir {
        Ok(dir) => tokio::task::spawn_blocking(move || worker.reload(dir))
            .await
            .unwrap_or_else(|e| Err(ApiError::bad(format!("the reload stopped: {e}")))),
        Err(e) => Err(e),
    };
    answer(&app, "reload", start, result)
}

/// Runs `netrex serve` until SIGTERM or Ctrl-C.
pub(crate) fn serve(args: ServeArgs) -> Result<(), Failure> {
    let served = Served::load(&args.model, args.approximate)?;
    let addr: SocketAddr = args
        .addr
        .parse()
        .map_err(|e| format!("--addr {}: {e}", args.addr))?;
    let app = Arc::new(App {
        model: RwLock::new(Arc::new(served)),
        version: AtomicU64::new(1),
        reloading: Mutex::new(()),
        metrics: Metrics::default(),
        limits: Limits {
            k: args.max_k,
            items: args.max_items,
        },
        batch: args.max_batch,
        search: Batcher::start(args.max_batch.clamp(1, 256))?,
        approximate: args.approximate,
    });
    let router = Router::new()
        .route("/recommend", post(recommend))
        .route("/similar-items", post(similar))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/reload", post(reload))
        .layer(DefaultBodyLimit::max(args.max_body))
        .with_state(app.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.unwrap_or_else(crate::plan::cpus).max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr()?;
        eprintln!(
            "netrex serve: listening on http://{local} ({} model {})",
            app.current().kind(),
            args.model.display()
        );
        tokio::spawn(reload_on_hangup(app.clone()));
        axum::serve(listener, router)
            .with_graceful_shutdown(terminated())
            .await?;
        eprintln!("netrex serve: stopped");
        Ok::<(), Failure>(())
    })
}

/// SIGHUP re-reads the served folder.
async fn reload_on_hangup(app: Arc<App>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangups.recv().await.is_some() {
        let worker = app.clone();
        let result = tokio::task::spawn_blocking(move || worker.reload(None)).await;
        match result {
            Ok(Ok(v)) => eprintln!("netrex serve: SIGHUP: reloaded {v}"),
            Ok(Err(e)) => eprintln!("netrex serve: SIGHUP: {}", e.message),
            Err(e) => eprintln!("netrex serve: SIGHUP: the reload stopped: {e}"),
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
