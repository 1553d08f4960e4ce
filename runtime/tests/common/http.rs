//! A tiny HTTP/1.1 server for `nk.http_request` tests.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// Serves canned HTTP responses on 127.0.0.1 (port 0) until the test process ends:
/// `/pokemon/dragonite` → JSON, `/slow` → waits 2 s, `/echo` → the request body, else 404.
pub fn http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let header_end = loop {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while buf.len() < header_end + len {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[header_end..].to_vec();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, out): (&str, Vec<u8>) = match path.as_str() {
                    "/pokemon/dragonite" => (
                        "200 OK",
                        br#"{"name":"dragonite","height":22,"weight":2100,"sprites":{"front_default":"https://img/149.png"}}"#.to_vec(),
                    ),
                    "/slow" => {
                        std::thread::sleep(Duration::from_secs(2));
                        ("200 OK", b"late".to_vec())
                    }
                    "/echo" => ("200 OK", body),
                    _ => ("404 Not Found", br#"{"detail":"Not found."}"#.to_vec()),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Test: yes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    out.len()
                );
                let _ = stream.write_all(resp.as_bytes());
                let _ = stream.write_all(&out);
            });
        }
    });
    format!("http://{addr}")
}
