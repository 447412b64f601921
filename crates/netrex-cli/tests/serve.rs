//! `netrex serve` on a port of its own: every endpoint against `netrex recommend`, bad
//! requests answered 4xx and never crashing it, reloads under concurrent requests losing
//! none, a corrupt model refused while the old one serves, SIGTERM stopping it cleanly.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use support::{ring_file, synthetic, temp};

/// A running server, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(model: &Path, extra: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netrex"))
            .args(["serve", "--model"])
            .arg(model)
            .args(["--addr", "127.0.0.1:0", "--threads", "2"])
            .args(extra.split_whitespace())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        // keep reading stderr so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    /// `(status, body)` of one request.
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: netrex\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, body)
    }

    fn json(&self, path: &str, body: &Value) -> Value {
        let (status, text) = self.call("POST", path, &body.to_string());
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A factorization model of 30 users and 25 items saved in `dir/name`, trained with `seed`.
fn factorization(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let mut text = String::from("user,item\n");
    for u in 0..30 {
        for j in 0..8 {
            text.push_str(&format!("u{u},i{}\n", (u * 3 + j * j) % 25));
        }
    }
    let csv = dir.join(format!("{name}.csv"));
    std::fs::write(&csv, text).unwrap();
    let model = dir.join(name);
    synthetic(&format!(
        "fit --csv {} --dim 8 --epochs 3 --seed {seed} --save {} --json",
        csv.display(),
        model.display()
    ))
    .json();
    model
}

/// Each item's score in `a` is its score in `b` within `tol` (relative to 1 + |b|).
fn same_scores(a: &Value, b: &Value, tol: f64) {
    let scores = |v: &Value| -> Vec<f64> {
        let items = v["items"].as_array().unwrap();
        items.iter().map(|i| i["score"].as_f64().unwrap()).collect()
    };
    for (x, y) in scores(a).into_iter().zip(scores(b)) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} against {y}");
    }
}

fn ids(answer: &Value, key: &str) -> Vec<String> {
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_endpoint_answers_as_recommend_does() {
    let dir = temp("serve", "endpoints");
    let model = factorization(&dir, "model", 0);
    let server = Server::start(&model, "");
    let m = model.display();
    let cli = |line: &str| synthetic(&format!("recommend --model {m} -k 5 --json {line}")).json();
    let served = server.json("/recommend", &json!({"user": "u3", "k": 5}));
    assert_eq!(ids(&served, "id"), ids(&cli("--user u3"), "item"));
    same_scores(&served, &cli("--user u3"), 1e-5);
    // a new user folded in from their items
    let folded = server.json("/recommend", &json!({"items": ["i1", "i4"], "k": 5}));
    assert_eq!(ids(&folded, "id"), ids(&cli("--items i1,i4"), "item"));
    // a batch answers a list, in order
    let batch = server.json(
        "/recommend",
        &json!({"queries": [{"user": "u3", "k": 5}, {"items": ["i1", "i4"], "k": 5}]}),
    );
    assert_eq!(batch["results"][0], served);
    assert_eq!(batch["results"][1], folded);
    // filters: the deny-list and the allow-list
    let first = ids(&served, "id")[0].clone();
    let denied = server.json(
        "/recommend",
        &json!({"user": "u3", "k": 5, "deny": [first]}),
    );
    assert!(!ids(&denied, "id").contains(&first));
    let allowed = server.json(
        "/recommend",
        &json!({"user": "u3", "k": 5, "allow": ["i2", "i7"], "exclude_seen": false}),
    );
    let mut got = ids(&allowed, "id");
    got.sort();
    assert_eq!(got, ["i2", "i7"]);
    let similar = server.json("/similar-items", &json!({"item": "i4", "k": 5}));
    assert_eq!(ids(&similar, "id"), ids(&cli("--similar-to i4"), "item"));
    let (status, health) = server.call("GET", "/health", "");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(
        (health["status"].as_str(), health["version"].as_u64()),
        (Some("ok"), Some(1))
    );
    let (status, metrics) = server.call("GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("netrex_requests_total{endpoint=\"recommend\",status=\"200\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("netrex_request_seconds_bucket{le=\"+Inf\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("netrex_model_version 1"), "{metrics}");
}

#[test]
fn bad_requests_get_4xx_and_the_server_keeps_serving() {
    let dir = temp("serve", "bad");
    let model = factorization(&dir, "model", 0);
    let server = Server::start(&model, "--max-body 2000 --max-k 50 --max-batch 4");
    let oversized = format!("{{\"items\": [{}]}}", vec!["\"i1\""; 500].join(","));
    let post = |body: &'static str| ("POST", "/recommend", body);
    let bad = [
        post(""),
        post("{"),
        post("[]"),
        post("{}"),
        post(r#"{"user": "nobody"}"#),
        post(r#"{"user": true}"#),
        post(r#"{"user": "u1", "k": 0}"#),
        post(r#"{"user": "u1", "k": 51}"#),
        post(r#"{"user": "u1", "k": -3}"#),
        post(r#"{"items": ["zzz"]}"#),
        post(r#"{"user": "u1", "deny": ["zzz"]}"#),
        post(r#"{"user": "u1", "colour": 1}"#),
        post(r#"{"queries": []}"#),
        post(r#"{"queries": [{}, {}, {}, {}, {}]}"#),
        ("POST", "/recommend", oversized.as_str()),
        ("POST", "/similar-items", r#"{"item": "zzz"}"#),
        (
            "POST",
            "/similar-items",
            r#"{"item": "i1", "similarity": "l7"}"#,
        ),
        ("POST", "/reload", r#"{"model": 3}"#),
        ("GET", "/recommend", ""),
        ("GET", "/nowhere", ""),
    ];
    for (method, path, body) in bad {
        let (status, text) = server.call(method, path, body);
        assert!(
            (400..500).contains(&status),
            "{method} {path} {body:?}: {status} {text}"
        );
        if status == 400 || status == 404 && path != "/nowhere" {
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
            assert!(v["error"].is_string(), "{text}");
        }
    }
    server.json("/recommend", &json!({"user": "u1"}));
}

#[test]
fn reloads_under_concurrent_requests_lose_none_and_a_corrupt_model_is_refused() {
    let dir = temp("serve", "reload");
    let (a, b) = (factorization(&dir, "a", 0), factorization(&dir, "b", 1));
    // a copy of the model with its tensor file cut short
    let corrupt = dir.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    for file in ["model.json", "model.safetensors"] {
        std::fs::copy(a.join(file), corrupt.join(file)).unwrap();
    }
    let tensors = std::fs::read(a.join("model.safetensors")).unwrap();
    std::fs::write(
        corrupt.join("model.safetensors"),
        &tensors[..tensors.len() / 2],
    )
    .unwrap();

    let server = Server::start(&a, "");
    let failures = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (server, failures) = (&server, &failures);
            s.spawn(move || {
                for r in 0..40 {
                    let body = json!({"user": format!("u{}", (t * 7 + r) % 30), "k": 5});
                    let (status, _) = server.call("POST", "/recommend", &body.to_string());
                    if status != 200 {
                        failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
        for i in 0..10 {
            let to = if i % 2 == 0 { &b } else { &a };
            server.json("/reload", &json!({"model": to.display().to_string()}));
        }
        let (status, text) = server.call(
            "POST",
            "/reload",
            &json!({"model": corrupt.display().to_string()}).to_string(),
        );
        assert_eq!(status, 422, "{text}");
    });
    assert_eq!(failures.into_inner(), 0);
    // the last good model (a) still serves, at version 1 + 10 reloads
    let health: Value = serde_json::from_str(&server.call("GET", "/health", "").1).unwrap();
    assert_eq!(health["version"], 11);
    assert_eq!(health["model"], a.display().to_string());
    let (_, metrics) = server.call("GET", "/metrics", "");
    assert!(
        metrics.contains("netrex_reloads_refused_total 1"),
        "{metrics}"
    );
    // an empty body re-reads the served folder
    server.json("/reload", &json!({}));
    let (status, _) = server.call("POST", "/reload", "");
    assert_eq!(status, 200);
}

#[test]
fn a_sequence_model_answers_histories_and_sigterm_stops_the_server() {
    let dir = temp("serve", "sequence");
    let file = ring_file(&dir, 40, 10, 20);
    let model = dir.join("model");
    synthetic(&format!(
        "fit --sequences {} --model sasrec --dim 8 --max-epochs 2 --patience 2 --save {} --json",
        file.display(),
        model.display()
    ))
    .json();
    let mut server = Server::start(&model, "");
    // the history encoded, then retrieved through the index: `recommend`'s ranking and scores
    for history in ["3,4,5", "7", "1,2,3,4,5,6,7,8,9,10,11,12"] {
        let items: Vec<&str> = history.split(',').collect();
        let served = server.json("/recommend", &json!({"items": items, "k": 5}));
        let m = model.display();
        let cli = synthetic(&format!(
            "recommend --model {m} --items {history} -k 5 --json"
        ))
        .json();
        assert_eq!(ids(&served, "id"), ids(&cli, "item"));
        same_scores(&served, &cli, 1e-4);
    }
    // with a deny-list the same search runs on the request's own thread
    let denied = server.json(
        "/recommend",
        &json!({"items": ["3"], "k": 3, "deny": ["4"]}),
    );
    assert!(!ids(&denied, "id").contains(&"4".to_owned()));
    assert_eq!(ids(&denied, "id").len(), 3);
    let (status, _) = server.call("POST", "/recommend", "{\"user\": \"1\"}");
    assert_eq!(status, 400);
    let (status, _) = server.call("POST", "/similar-items", "{\"item\": \"3\"}");
    assert_eq!(status, 400);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn concurrent_queries_searched_together_answer_as_each_alone() {
    let dir = temp("serve", "batched");
    let model = factorization(&dir, "m", 2);
    let server = Server::start(&model, "");
    let body = |u: usize| json!({"user": format!("u{u}"), "k": 3 + u % 5});
    let alone: Vec<Value> = (0..30)
        .map(|u| server.json("/recommend", &body(u)))
        .collect();
    let together: Vec<Vec<Value>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let server = &server;
                s.spawn(move || {
                    (0..30)
                        .map(|u| server.json("/recommend", &body(u)))
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // the same items; scores to rounding (a batch's product may sum in another order)
    for answers in &together {
        for (a, b) in answers.iter().zip(&alone) {
            assert_eq!(ids(a, "id"), ids(b, "id"));
            same_scores(a, b, 1e-5);
        }
    }
    // every exact query went through a search, however they were grouped
    let (_, metrics) = server.call("GET", "/metrics", "");
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
            .parse()
            .unwrap()
    };
    assert_eq!(counter("netrex_searched_queries_total"), 30 * 9);
    assert!(counter("netrex_searches_total") <= 30 * 9);
}

#[test]
fn an_approximate_server_answers_from_the_saved_graph_and_refuses_a_stale_one() {
    let dir = temp("serve", "hnsw");
    let (a, b) = (factorization(&dir, "a", 3), factorization(&dir, "b", 4));
    let start = |model: &Path| {
        Command::new(env!("CARGO_BIN_EXE_netrex"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--approximate",
                "32",
                "--model",
            ])
            .arg(model)
            .output()
            .unwrap()
    };
    // no graph saved yet: the server does not start, and says what to run
    let refused = start(&a);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("netrex index"));
    let built = synthetic(&format!(
        "index --model {} --m 4 --ef-construction 20",
        a.display()
    ));
    assert!(
        built.ok && built.stdout.contains("indexed 25 items"),
        "{}",
        built.stderr
    );

    let approximate = Server::start(&a, "--approximate 64");
    let exact = Server::start(&a, "");
    let health: Value = serde_json::from_str(&approximate.call("GET", "/health", "").1).unwrap();
    assert_eq!(health["search"], json!({"method": "hnsw", "ef": 64}));
    // 25 items and a width of 64: the graph reaches every item, so the answer is exact
    for u in 0..30 {
        for body in [
            json!({"user": format!("u{u}"), "k": 5}),
            json!({"user": format!("u{u}"), "k": 4, "deny": ["i1", "i2"]}),
            json!({"items": ["i3", "i7"], "k": 3}),
        ] {
            let (x, y) = (
                approximate.json("/recommend", &body),
                exact.json("/recommend", &body),
            );
            assert_eq!(ids(&x, "id"), ids(&y, "id"), "{body}");
        }
    }
    // b's folder with a's graph: built from other vectors, refused; a keeps serving
    std::fs::copy(a.join("hnsw.bin"), b.join("hnsw.bin")).unwrap();
    let (status, text) = approximate.call(
        "POST",
        "/reload",
        &json!({"model": b.display().to_string()}).to_string(),
    );
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("other item vectors"), "{text}");
    approximate.json("/recommend", &json!({"user": "u1"}));
    // a graph file cut short is a typed error too
    let bytes = std::fs::read(a.join("hnsw.bin")).unwrap();
    std::fs::write(b.join("hnsw.bin"), &bytes[..bytes.len() / 3]).unwrap();
    let cut = start(&b);
    assert!(!cut.status.success());
    assert!(String::from_utf8_lossy(&cut.stderr).contains("corrupt index"));
}
