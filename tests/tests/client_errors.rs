//! What `tusk get` prints when the server cannot be reached: the OS cause, once,
//! on one line.

use tusk_tests::{free_port, tusk_err};

#[test]
fn get_from_a_closed_port_names_the_cause_once() {
    let port = free_port();
    let cause = std::net::TcpStream::connect(("127.0.0.1", port))
        .expect_err("nothing listens")
        .to_string();
    let server = format!("127.0.0.1:{port}");
    let stderr = tusk_err(&["get", "--server", &server, "--domain", "d", "k"]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&server), "{stderr}");
    assert_eq!(
        stderr.matches(&cause).count(),
        1,
        "{stderr:?} and {cause:?}"
    );
}
