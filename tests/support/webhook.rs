//! A webhook receiver for tests: an HTTP server (axum) standing in for the
//! system outside the engine that alert notices are POSTed to.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

/// The bodies POSTed to the test webhook, in order.
pub type Posts = Arc<Mutex<Vec<Value>>>;

/// Starts an HTTP server that records every POST to `/hook`.
pub async fn webhook() -> (SocketAddr, Posts) {
    let posts = Posts::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(posts): State<Posts>, Json(body): Json<Value>| async move {
                    posts.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, posts)
}

/// The posts for `kind` with `state`.
pub fn posted(posts: &Posts, kind: &str, state: &str) -> Vec<Value> {
    posts
        .lock()
        .unwrap()
        .iter()
        .filter(|post| post["kind"] == kind && post["state"] == state)
        .cloned()
        .collect()
}
