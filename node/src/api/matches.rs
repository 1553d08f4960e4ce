//! `GET /v2/match` (N `api_match.go ListMatches`): matches across the cluster, through the
//! same listing `nk.match_list` uses.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use shoal_proto::{MatchInfo, MatchListQuery, Status, json};

use crate::api::ApiResult;
use crate::api::extract::{Params, Session};
use crate::core::Core;

pub fn routes() -> Router<Core> {
    Router::new().route("/v2/match", get(list_matches))
}

/// `api.ListMatchesRequest`, as hooks see it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListMatchesRequest {
    #[serde(deserialize_with = "json::opt_int32::deserialize", skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::opt_bool::deserialize", skip_serializing_if = "Option::is_none")]
    pub authoritative: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(deserialize_with = "json::opt_int32::deserialize", skip_serializing_if = "Option::is_none")]
    pub min_size: Option<i32>,
    #[serde(deserialize_with = "json::opt_int32::deserialize", skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// `api.Match`.
#[derive(Debug, Clone, Serialize)]
pub struct MatchOut {
    pub match_id: String,
    #[serde(skip_serializing_if = "json::is_false")]
    pub authoritative: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "json::is_zero_i32")]
    pub size: i32,
    #[serde(skip_serializing_if = "json::is_zero_i32")]
    pub tick_rate: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub handler_name: String,
}

impl From<MatchInfo> for MatchOut {
    fn from(m: MatchInfo) -> Self {
        MatchOut { match_id: m.match_id, authoritative: m.authoritative, label: m.label, size: m.size, tick_rate: m.tick_rate, handler_name: m.handler_name }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MatchList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<MatchOut>,
}

async fn list_matches(State(core): State<Core>, s: Session, q: Params) -> ApiResult<MatchList> {
    let req = ListMatchesRequest {
        limit: q.int32("limit")?,
        authoritative: q.bool("authoritative")?,
        label: q.get("label").map(str::to_string),
        min_size: q.int32("min_size")?,
        max_size: q.int32("max_size")?,
        query: q.get("query").map(str::to_string),
    };
    hooked!(core, s.ctx(), "ListMatches", req, |r| {
        let limit = r.limit.unwrap_or(1);
        if !(1..=100).contains(&limit) {
            return Err(Status::invalid("Invalid limit - limit must be between 1 and 100.").into());
        }
        if r.min_size.is_some_and(|n| n < 0) || r.max_size.is_some_and(|n| n < 0) || r.min_size.zip(r.max_size).is_some_and(|(a, b)| a > b) {
            return Err(Status::invalid("Invalid size range - min_size and max_size must be >= 0, min_size <= max_size.").into());
        }
        let rt = core.realtime.get().ok_or_else(|| Status::unavailable("Realtime layer not ready."))?;
        let query = MatchListQuery {
            limit: limit as usize,
            authoritative: r.authoritative,
            label: r.label.clone(),
            min_size: r.min_size,
            max_size: r.max_size,
            query: r.query.clone(),
        };
        MatchList { matches: rt.match_list(&query).await?.into_iter().map(MatchOut::from).collect() }
    })
}
