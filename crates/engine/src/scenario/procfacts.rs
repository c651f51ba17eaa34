//! Facts a scenario reads from /proc: whether a Unix socket is listening at a path (seen from
//! the network namespace of the process that should serve it). Reads only; never follows a path
//! a student controls.

/// `__SO_ACCEPTCON`: the socket is listening.
const ACCEPTING: u32 = 0x0001_0000;

/// Whether `/proc/<pid>/net/unix` (the namespace `pid` lives in) lists a listening socket bound
/// to `path`.
pub fn unix_listening(pid: i32, path: &str) -> bool {
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/unix")) else {
        return false;
    };
    listening_in(&table, path)
}

/// The same, on the text of a `net/unix` table.
pub fn listening_in(table: &str, path: &str) -> bool {
    table.lines().skip(1).any(|line| {
        // Num RefCount Protocol Flags Type St Inode Path
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() >= 8
            && fields[7] == path
            && u32::from_str_radix(fields[3], 16).is_ok_and(|flags| flags & ACCEPTING != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_listening_socket_at_that_path_counts() {
        let table = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/x.sock\n\
            0000000000000000: 00000002 00000000 00000000 0001 03 12346 /run/y.sock\n";
        assert!(listening_in(table, "/run/x.sock"));
        assert!(
            !listening_in(table, "/run/y.sock"),
            "connected, not listening"
        );
        assert!(!listening_in(table, "/run/z.sock"));
    }
}
