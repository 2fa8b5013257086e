//! Child processes that cannot outlive the tests: servers the harness starts.
//!
//! Every server runs under a small `sh` guard that reads its standard input and kills the server
//! when that input closes. The harness holds the write end, so the server stops when the guard is
//! dropped and also when the test binary exits without dropping it (a shared server in a
//! `static`, or a crash). Output goes to a log file the harness can print.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to become ready before the harness gives up.
const STARTUP_LIMIT: Duration = Duration::from_secs(90);

/// A running server process; killed when dropped.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Guarded {
    /// Spawns `program args...` under the guard, with stdout and stderr sent to `log`.
    pub fn spawn(command: Command, log: &Path) -> Guarded {
        let program = command.get_program().to_owned();
        let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
        let out = File::create(log).expect("create log file");
        let err = out.try_clone().expect("clone log file");

        let script = r#""$@" </dev/null & p=$!; read -r _; kill "$p" 2>/dev/null; wait "$p""#;
        let mut guard = Command::new("sh");
        guard
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&program)
            .args(&args);
        for (k, v) in command.get_envs() {
            match v {
                Some(v) => guard.env(k, v),
                None => guard.env_remove(k),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            guard.current_dir(dir);
        }

        let mut child = guard
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program:?}: {e}"));
        let stdin = child.stdin.take();
        Guarded {
            child,
            stdin,
            log: log.to_owned(),
        }
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the guard (and so the server) has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits until `GET path` on `addr` answers 200, panicking with the log if the server exits
    /// or never gets there.
    pub fn wait_ready(&mut self, addr: &str, path: &str) {
        let start = Instant::now();
        while http_status(addr, path) != Some(200) {
            if self.exited() {
                panic!(
                    "server exited before it was ready; its log:\n{}",
                    self.log()
                );
            }
            if start.elapsed() > STARTUP_LIMIT {
                panic!(
                    "server not ready after {STARTUP_LIMIT:?}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// The status of a plain `GET path` to `addr`, or `None` if nothing answers.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let _ = stream.shutdown(Shutdown::Write);

    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()
}
