#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The listener over real TCP: probes, metrics, readiness changes, a taken address, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

async fn get(addr: SocketAddr, path: &str) -> String {
    ddiscord_testkit::http_get(addr, path).await.unwrap()
}

#[tokio::test]
async fn probes_metrics_and_shutdown() {
    let ready = Arc::new(AtomicBool::new(false));
    let flag = ready.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = ddiscord_ops::serve(
        "127.0.0.1:0".parse().unwrap(),
        move || {
            let ready = flag.load(Ordering::Relaxed);
            async move {
                if ready {
                    Ok(())
                } else {
                    Err("joining the consumer group".into())
                }
            }
        },
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    assert!(get(addr, "/healthz").await.starts_with("HTTP/1.0 200"));
    let not_ready = get(addr, "/readyz").await;
    assert!(not_ready.starts_with("HTTP/1.0 503"), "{not_ready}");
    assert!(
        not_ready.ends_with("joining the consumer group"),
        "{not_ready}"
    );
    ready.store(true, Ordering::Relaxed);
    let now_ready = get(addr, "/readyz").await;
    assert!(now_ready.starts_with("HTTP/1.0 200"), "{now_ready}");

    metrics::counter!("ddiscord_ops_test_total", "shard" => "3").increment(7);
    let text = get(addr, "/metrics").await;
    assert!(text.starts_with("HTTP/1.0 200"), "{text}");
    assert!(
        text.contains("ddiscord_ops_test_total{shard=\"3\"} 7"),
        "{text}"
    );

    // A second listener on the same address is refused with an error naming it.
    let err = ddiscord_ops::serve(addr, || async { Ok(()) }, std::future::pending())
        .await
        .unwrap_err();
    assert_eq!(err.addr, addr);
    assert!(err.to_string().contains("DDISCORD_HTTP_ADDR"), "{err}");

    stop.send(()).unwrap();
    server.stopped().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
