//! `server_killer N`: asks the running server to stop N worker threads. The server decides
//! whether to obey (it checks the caller's uid with the kernel); this program only asks and
//! reports the answer.
//!
//! Exit status: 0 the server stopped the threads, 1 the server refused, 2 usage error,
//! 3 no server answered.

use crate::{rendezvous, wire};
use rustix::fd::AsFd;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketType};
use std::process::ExitCode;
use std::time::Duration;

pub fn main_with_args(args: &[String]) -> ExitCode {
    let n = match args {
        [n] => match n.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                eprintln!("server_killer: N must be a whole number of at least 1, not `{n}`");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: server_killer N   (stop N of the server's worker threads)");
            return ExitCode::from(2);
        }
    };
    let path = rendezvous::socket_path();
    let answer = (|| -> Result<wire::Received, String> {
        let addr = SocketAddrUnix::new(&path).map_err(|e| e.to_string())?;
        let sock = rustix::net::socket(AddressFamily::UNIX, SocketType::SEQPACKET, None)
            .map_err(|e| e.to_string())?;
        rustix::net::connect(&sock, &addr).map_err(|e| e.to_string())?;
        wire::send(sock.as_fd(), &wire::kill(n), &[]).map_err(|e| e.to_string())?;
        rustix::net::sockopt::set_socket_timeout(
            &sock,
            rustix::net::sockopt::Timeout::Recv,
            Some(Duration::from_secs(10)),
        )
        .map_err(|e| e.to_string())?;
        wire::recv(sock.as_fd(), false)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the server closed the connection".to_string())
    })();
    let reply = match answer {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "server_killer: no server answered on {}: {e}",
                path.display()
            );
            return ExitCode::from(3);
        }
    };
    if let Some((stopped, left)) = wire::parse_killed(&reply.bytes) {
        println!("stopped {stopped} worker thread(s), {left} left");
        ExitCode::SUCCESS
    } else if let Some(reason) = wire::parse_err(&reply.bytes) {
        eprintln!("server_killer: {reason}");
        ExitCode::from(1)
    } else {
        eprintln!("server_killer: the server's answer is not the lab's protocol");
        ExitCode::from(3)
    }
}
