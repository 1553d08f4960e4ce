//! `storage-write`: replicated storage-object writes (`PUT /v2/storage`), one user per
//! client, clients spread over the nodes, each client cycling over 1,000 keys of its own.
//! `storage-read`: `POST /v2/storage` reads of one object each, of objects the clients wrote
//! before the window (every user 10), through every node.

use std::sync::Arc;

use serde_json::json;

use crate::load::{self, Load};
use crate::{http, report};

/// Objects each reader wrote before the read window.
const READ_KEYS: u64 = 10;

pub async fn write(nodes: usize, load: Load) -> anyhow::Result<report::Result> {
    let (bases, _cluster) = crate::start(nodes, &[]).await?;
    let tokens = Arc::new(http::sessions(&bases, "bench-user", load.clients, 32).await?);
    let (client, bases) = (http::client(load.clients), Arc::new(bases));
    let run = load::run(load, move |i, n| {
        let base = &bases[i % bases.len()];
        let body = json!({"objects":[{"collection":"bench","key":format!("k{}", n % 1000),"value":format!("{{\"c\":{i},\"n\":{n}}}")}]});
        http::send_ok(client.put(format!("{base}/v2/storage")).bearer_auth(&tokens[i]).json(&body))
    })
    .await;
    Ok(run.result("storage-write", nodes))
}

pub async fn read(nodes: usize, load: Load) -> anyhow::Result<report::Result> {
    let (bases, _cluster) = crate::start(nodes, &[]).await?;
    let tokens = http::sessions(&bases, "bench-reader", load.clients, 32).await?;
    let client = http::client(load.clients);
    for (i, token) in tokens.iter().enumerate() {
        let objects: Vec<_> = (0..READ_KEYS)
            .map(|k| json!({"collection": "bench", "key": format!("r{k}"), "value": format!("{{\"reader\":{i},\"key\":{k}}}")}))
            .collect();
        let req = client.put(format!("{}/v2/storage", bases[i % bases.len()])).bearer_auth(token).json(&json!({"objects": objects}));
        http::send(req).await.map_err(|e| anyhow::anyhow!("writing the objects to read: {e}"))?;
    }
    let users: Arc<Vec<(String, String)>> =
        Arc::new(tokens.into_iter().map(|t| (shoal_tests::token_user_id(&t), t)).collect());
    let bases = Arc::new(bases);
    let run = load::run(load, move |i, n| {
        let (base, (user_id, token)) = (&bases[(i + n as usize) % bases.len()], &users[i]);
        let body = json!({"object_ids": [{"collection": "bench", "key": format!("r{}", n % READ_KEYS), "user_id": user_id}]});
        let req = client.post(format!("{base}/v2/storage")).bearer_auth(token).json(&body);
        async move {
            let body = http::send(req).await?;
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| "bad json".to_string())?;
            match v["objects"].as_array().map(Vec::len) {
                Some(1) => Ok(()),
                _ => Err("object missing".into()),
            }
        }
    })
    .await;
    Ok(run.result("storage-read", nodes))
}
