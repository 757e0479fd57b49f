//! `kill_all` stops every server of the process (its own test binary: it would stop the
//! servers of tests running beside it).
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;

use ddiscord_local_servers::{Mosquitto, Redis, kill_all};

#[test]
fn kill_all_stops_every_server() {
    let redis = Redis::start().unwrap();
    let mosquitto = Mosquitto::start().unwrap();
    assert!(redis.pid().is_some() && mosquitto.pid().is_some());
    kill_all();
    assert_eq!((redis.pid(), mosquitto.pid()), (None, None));
    assert!(TcpStream::connect(("127.0.0.1", redis.port())).is_err());
    assert!(TcpStream::connect(("127.0.0.1", mosquitto.port())).is_err());
}
