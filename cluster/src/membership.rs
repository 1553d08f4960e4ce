//! Keeps Raft membership in step with gossip.
//!
//! - Bootstrap: with `cluster.bootstrap_expect = N`, once N live members are known and none of
//!   them belongs to a Raft group yet, the member with the lowest node id initialises the
//!   group with all of them as voters. Start order does not matter.
//! - On the leader: a live member outside the membership is added as a learner; learners
//!   that have caught up are promoted while voters < `cluster.voters`; a member that stays
//!   dead past `cluster.dead_node_grace_sec` is removed.
//! - Every node publishes its Raft role, whether it is initialised and ready.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chitchat::ChitchatHandle;
use openraft::ChangeMembers;
use shoal_storage::{ClusterNode, NodeId};

use crate::gossip::{Member, keys};
use crate::raft::RaftHandle;

/// Live members as gossip sees them now (self included).
pub async fn live_members(chitchat: &ChitchatHandle) -> Vec<Member> {
    chitchat
        .with_chitchat(|c| {
            let live: BTreeSet<_> = c.live_nodes().cloned().collect();
            c.node_states()
                .iter()
                .filter(|(id, _)| live.contains(*id))
                .filter_map(|(id, st)| {
                    let kv: BTreeMap<String, String> =
                        st.key_values().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    Member::from_state(id.generation_id, &kv)
                })
                .collect()
        })
        .await
}

fn cluster_node(m: &Member) -> ClusterNode {
    ClusterNode { name: m.name.clone(), cluster_addr: m.cluster_addr.clone(), api_addr: m.api_addr.clone() }
}

pub struct Reconciler {
    pub raft: RaftHandle,
    pub chitchat: std::sync::Arc<ChitchatHandle>,
    pub bootstrap_expect: usize,
    pub voters_target: usize,
    pub dead_grace: Duration,
    dead_since: HashMap<NodeId, Instant>,
}

impl Reconciler {
    pub fn new(
        raft: RaftHandle,
        chitchat: std::sync::Arc<ChitchatHandle>,
        bootstrap_expect: usize,
        voters_target: usize,
        dead_grace: Duration,
    ) -> Self {
        Reconciler { raft, chitchat, bootstrap_expect, voters_target, dead_grace, dead_since: HashMap::new() }
    }

    /// One reconciliation round.
    pub async fn tick(&mut self) {
        let initialized = self.raft.is_initialized().await;
        let status = self.raft.status();
        let in_membership = status.nodes.contains_key(&status.node_id);
        let ready = initialized && status.leader.is_some() && in_membership;
        let role = if initialized { status.role } else { "uninitialized" };
        self.chitchat
            .with_chitchat(|c| {
                let st = c.self_node_state();
                st.set(keys::RAFT_ROLE, role);
                st.set(keys::INITIALIZED, initialized);
                st.set(keys::READY, ready);
                st.set(keys::TERM, status.term);
                st.set(keys::APPLIED_INDEX, status.applied_index);
            })
            .await;
        let live = live_members(&self.chitchat).await;
        if !initialized {
            self.maybe_bootstrap(&live).await;
        } else if status.role == "leader" {
            self.reconcile(&live).await;
        }
    }

    async fn maybe_bootstrap(&self, live: &[Member]) {
        if live.iter().any(|m| m.initialized) || live.len() < self.bootstrap_expect {
            return;
        }
        let mut members: Vec<&Member> = live.iter().collect();
        members.sort_by_key(|m| m.node_id);
        if members.first().map(|m| m.node_id) != Some(self.raft.node_id()) {
            return;
        }
        let voters: BTreeMap<NodeId, ClusterNode> =
            members.iter().map(|m| (m.node_id, cluster_node(m))).collect();
        match self.raft.initialize(voters.clone()).await {
            Ok(()) => tracing::info!(voters = ?voters.keys().collect::<Vec<_>>(), "initialised the raft group"),
            Err(e) => tracing::warn!(error = %e, "raft initialisation"),
        }
    }

    async fn reconcile(&mut self, live: &[Member]) {
        let status = self.raft.status();
        let live_ids: BTreeSet<NodeId> = live.iter().map(|m| m.node_id).collect();
        let raft = self.raft.raft().clone();

        // Live members not in the membership join as learners, unless their name is taken
        // by another member (that node refuses to start; it must not be admitted meanwhile).
        let name_taken = |m: &Member| {
            status.nodes.iter().any(|(id, n)| n.name == m.name && *id != m.node_id)
                || live.iter().any(|o| o.name == m.name && o.node_id != m.node_id && o.generation < m.generation)
        };
        for m in live.iter().filter(|m| !status.nodes.contains_key(&m.node_id) && !name_taken(m)) {
            tracing::info!(node = %m.name, node_id = m.node_id, "adding learner");
            if let Err(e) = raft.add_learner(m.node_id, cluster_node(m), false).await {
                tracing::debug!(error = %e, "add learner");
            }
        }

        // Dead members past the grace period are removed.
        let now = Instant::now();
        for id in status.nodes.keys() {
            if live_ids.contains(id) || *id == status.node_id {
                self.dead_since.remove(id);
            } else {
                self.dead_since.entry(*id).or_insert(now);
            }
        }
        let expired: BTreeSet<NodeId> = self
            .dead_since
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= self.dead_grace)
            .map(|(id, _)| *id)
            .collect();
        if !expired.is_empty() {
            tracing::warn!(nodes = ?expired, "removing members dead past the grace period");
            let voters: BTreeSet<NodeId> = status.voters.iter().copied().filter(|v| expired.contains(v)).collect();
            if !voters.is_empty()
                && let Err(e) = raft.change_membership(ChangeMembers::RemoveVoters(voters), false).await
            {
                tracing::debug!(error = %e, "remove voters");
                return;
            }
            match raft.change_membership(ChangeMembers::RemoveNodes(expired.clone()), false).await {
                Ok(_) => {
                    for id in expired {
                        self.dead_since.remove(&id);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "remove nodes"),
            }
            return;
        }

        // Promote caught-up live learners while there are too few voters.
        if status.voters.len() < self.voters_target {
            let metrics = raft.metrics().borrow().clone();
            let last = metrics.last_log_index.unwrap_or(0);
            let caught_up = |id: &NodeId| {
                metrics
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id).cloned().flatten())
                    .is_some_and(|matched| matched.index + 64 >= last)
            };
            let room = self.voters_target - status.voters.len();
            let promote: BTreeSet<NodeId> = status
                .learners
                .iter()
                .filter(|id| live_ids.contains(id) && caught_up(id))
                .take(room)
                .copied()
                .collect();
            if !promote.is_empty() {
                tracing::info!(nodes = ?promote, "promoting learners to voters");
                if let Err(e) = raft.change_membership(ChangeMembers::AddVoterIds(promote), false).await {
                    tracing::debug!(error = %e, "promote");
                }
            }
        }
    }
}
