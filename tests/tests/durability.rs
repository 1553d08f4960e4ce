//! SIGKILL and restart lose no acknowledged write.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use shoal_tests::{Auth, TestNode, token_user_id};

#[tokio::test]
async fn sigkill_under_write_load_loses_no_acknowledged_write() {
    let mut node = TestNode::start(&[]).await.unwrap();
    let c = node.client();
    let (token, _) = c.login_custom("durable-user").await;
    let uid = token_user_id(&token);
    c.json("PUT", "/v2/account", Auth::Bearer(&token), json!({"display_name":"Durable"})).await.ok();
    // A logout before the crash must hold after it.
    let (gone, gone_refresh) = c.login_custom("logged-out-user").await;
    c.json("POST", "/v2/session/logout", Auth::Bearer(&gone), json!({"token": gone, "refresh_token": gone_refresh})).await.ok();

    // Eight writers write distinct keys as fast as they can; each records what was acked.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (c, token, acked) = (c.clone(), token.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let key = format!("w{w}-{i}");
                let body = json!({"objects":[{"collection":"dur","key":key,"value":format!("{{\"i\":{i}}}")}]});
                let req = c.http.put(format!("{}/v2/storage", c.base)).bearer_auth(&token).json(&body).send();
                let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(5), req).await else { break };
                if !resp.status().is_success() {
                    break;
                }
                let Ok(v) = resp.json::<serde_json::Value>().await else { break };
                acked.lock().unwrap().push((key, v["acks"][0]["version"].as_str().unwrap_or_default().to_string()));
            }
        }));
    }
    // Kill once a good number of writes were acknowledged.
    shoal_tests::wait_until(Duration::from_secs(60), "200 acknowledged writes", || {
        let n = acked.lock().unwrap().len();
        async move { n >= 200 }
    })
    .await
    .unwrap();
    node.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    node.spawn().await.unwrap();

    // Every acknowledged write is there with the acknowledged version.
    let ids: Vec<_> = acked.iter().map(|(k, _)| json!({"collection":"dur","key":k,"user_id":uid})).collect();
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(100) {
        let r = c.json("POST", "/v2/storage", Auth::Bearer(&token), json!({"object_ids": chunk})).await.ok();
        for o in r["objects"].as_array().cloned().unwrap_or_default() {
            found.insert(o["key"].as_str().unwrap().to_string(), o["version"].as_str().unwrap().to_string());
        }
    }
    for (k, v) in &acked {
        assert_eq!(found.get(k), Some(v), "acknowledged write {k} lost or changed after SIGKILL");
    }
    let acc = c.call("GET", "/v2/account", Auth::Bearer(&token), None).await.ok();
    assert_eq!(acc["user"]["display_name"], "Durable");
    c.call("GET", "/v2/account", Auth::Bearer(&gone), None).await.assert_error(401, 16, "Auth token invalid");
    eprintln!("{} acknowledged writes survived SIGKILL", acked.len());
}
