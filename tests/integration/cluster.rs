//! Several `sonica serve` nodes on one real Redis Cluster (started here):
//! what one node adds, the others recognise, search and delete; and a
//! master killed under them fails over without losing an acknowledged
//! track. Skipped, saying so, when `redis-server` is not installed.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::audio;
use crate::redis_cluster::RedisCluster;
use crate::server::{wav_bytes, Part, Server};

const RATE: u32 = 22_050;

/// One 3-master cluster shared by the tests that do not break it; each
/// test keeps its own key namespace.
pub fn shared_cluster() -> Option<&'static RedisCluster> {
    static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
    CLUSTER.get_or_init(|| RedisCluster::start(3, 0)).as_ref()
}

/// A node of the library `ns` on `cluster`, with its own data folder
/// (search indexes) and songs folder under `root`.
pub fn node(root: &std::path::Path, cluster: &RedisCluster, ns: &str, extra: &[&str]) -> Server {
    let urls = cluster.urls();
    let mut args = vec!["--cluster", urls.as_str()];
    args.extend_from_slice(extra);
    Server::start_with_env(root, &args, &[("SONICA_CLUSTER_NAMESPACE", ns)])
}

fn titled_upload(srv: &Server, name: &str, title: &str, bytes: &[u8]) -> u32 {
    let r = srv.post_form(
        "/tracks",
        &[Part::file("file", name, bytes), Part::text("title", title)],
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_u64().unwrap() as u32
}

fn searched(srv: &Server, q: &str) -> Vec<u64> {
    srv.get(&format!("/search?q={q}&limit=10")).json["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|h| h["id"].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn two_nodes_share_one_library() {
    let Some(cluster) = shared_cluster() else { return };
    let ns = format!("two-nodes-{}", std::process::id());
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(da.path(), cluster, &ns, &[]);
    let b = node(db.path(), cluster, &ns, &[]);

    // Upload to A, recognise on B.
    let song = audio::song(18_001, 30.0, RATE);
    let bytes = wav_bytes(da.path(), "up.wav", &song, RATE);
    let id = titled_upload(&a, "up.wav", "Zanzibar Nocturne", &bytes);
    assert_eq!(a.wait_final(id)["status"], "READY");
    let ready_at = Instant::now();
    // B reads the shared record at once.
    assert_eq!(b.get(&format!("/tracks/{id}")).json["status"], "READY");

    // Text search on B finds what A added within a second of READY.
    let mut found_after = None;
    while ready_at.elapsed() < Duration::from_secs(5) {
        if searched(&b, "zanzibar").contains(&u64::from(id)) {
            found_after = Some(ready_at.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let found_after = found_after.expect("B's search never found A's track");
    assert!(
        found_after <= Duration::from_secs(1),
        "B's search found it after {found_after:?}"
    );

    let clip = wav_bytes(db.path(), "clip.wav", &audio::slice(&song, RATE, 8.0, 6.0), RATE);
    let m = b.recognize("clip.wav", &clip);
    assert_eq!(m.status, 200, "{}", m.json);
    assert_eq!(m.json["match"]["id"], id, "B recognises A's upload: {}", m.json);
    assert_eq!(b.get("/health").json["tracks"], 1);

    // An upload on B gets an id of its own.
    let other = wav_bytes(db.path(), "other.wav", &audio::song(18_002, 30.0, RATE), RATE);
    let id2 = titled_upload(&b, "other.wav", "Quokka Serenade", &other);
    assert_ne!(id, id2);
    assert_eq!(b.wait_final(id2)["status"], "READY");

    // Delete on B: gone on A, from the records, recognition and search.
    assert_eq!(b.delete(&format!("/tracks/{id}"), &[]).status, 200);
    assert_eq!(a.get(&format!("/tracks/{id}")).status, 404);
    a.eventually("A to forget the deleted track", 5, |a| {
        a.recognize("clip.wav", &clip).json["match"].is_null() && !searched(a, "zanzibar").contains(&u64::from(id))
    });
    a.eventually("A to count B's track", 5, |a| a.get("/health").json["tracks"] == 1);
}

/// A master dies with a replica present: the replica takes over, nothing
/// acknowledged is lost, and recognition goes on.
#[test]
fn a_master_dies_and_recognition_goes_on() {
    let Some(mut cluster) = RedisCluster::start(3, 1) else {
        return;
    };
    let ns = format!("failover-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), &cluster, &ns, &[]);
    let mut songs = Vec::new();
    for i in 0..4u32 {
        let song = audio::song(18_100 + i, 25.0, RATE);
        let bytes = wav_bytes(dir.path(), &format!("s{i}.wav"), &song, RATE);
        let id = titled_upload(&a, &format!("s{i}.wav"), &format!("Song {i}"), &bytes);
        assert_eq!(a.wait_final(id)["status"], "READY");
        songs.push((id, song));
    }
    cluster.kill_a_master();

    // Every acknowledged track is still there and recognised, on the
    // running node and on one started after the failover.
    let late = tempfile::tempdir().unwrap();
    let b = node(late.path(), &cluster, &ns, &[]);
    for srv in [&a, &b] {
        for (id, song) in &songs {
            assert_eq!(srv.get(&format!("/tracks/{id}")).json["status"], "READY", "track {id}");
            let clip = wav_bytes(dir.path(), "c.wav", &audio::slice(song, RATE, 5.0, 6.0), RATE);
            let m = srv.recognize("c.wav", &clip);
            assert_eq!(m.json["match"]["id"], *id, "{}", m.json);
        }
    }
    // And the library still takes uploads.
    let more = wav_bytes(dir.path(), "more.wav", &audio::song(18_199, 25.0, RATE), RATE);
    let id = titled_upload(&a, "more.wav", "After", &more);
    assert_eq!(a.wait_final(id)["status"], "READY");
    assert_eq!(b.get("/health").json["tracks"], 5);
}
