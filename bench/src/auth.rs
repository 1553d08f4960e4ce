//! `auth-device`: `POST /v2/account/authenticate/device?create=true` with the server key,
//! on one node. First with a fresh device id per request (`auth-device-create`: a new
//! account, a replicated write, and a session token each), then the ids created so far are
//! authenticated again (`auth-device-existing`: a lookup and a session token each).

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::load::{self, Load};
use crate::{http, report};

/// Both phases, in order: create, then existing.
pub async fn run(load: Load) -> anyhow::Result<[report::Result; 2]> {
    let (bases, _node) = crate::start(1, &[]).await?;
    let url: Arc<str> = format!("{}/v2/account/authenticate/device?create=true", bases[0]).into();
    let client = http::client(load.clients);
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let authenticate = {
        let (client, url) = (client.clone(), url.clone());
        move |id: &str| {
            let req = client.post(&*url).basic_auth("defaultkey", Some("")).json(&json!({ "id": id }));
            async move {
                let body = http::send(req).await?;
                let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| "bad json".to_string())?;
                v["token"].as_str().map(|_| ()).ok_or_else(|| "no token".to_string())
            }
        }
    };
    let create = {
        let (authenticate, created) = (authenticate.clone(), created.clone());
        load::run(load, move |i, n| {
            let id = format!("bench-device-{i:04}-{n:010}");
            let (authenticate, created) = (authenticate.clone(), created.clone());
            async move {
                authenticate(&id).await?;
                created.lock().expect("created ids").push(id);
                Ok(())
            }
        })
        .await
        .result("auth-device-create", 1)
    };
    let clients = load.clients as u64;
    let existing = load::run(load, move |i, n| {
        let id = {
            let ids = created.lock().expect("created ids");
            (!ids.is_empty()).then(|| ids[((n * clients + i as u64) % ids.len() as u64) as usize].clone())
        };
        let authenticate = authenticate.clone();
        async move { authenticate(&id.ok_or("no id created")?).await }
    })
    .await
    .result("auth-device-existing", 1);
    Ok([create, existing])
}
