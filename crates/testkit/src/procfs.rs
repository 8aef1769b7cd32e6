//! What sockets a process holds, read from Linux `/proc` (no tools, no privileges needed for
//! our own children).

use std::io;

/// The sockets a process holds, by inode, and which of them listen on TCP (v4 or v6).
#[derive(Debug, Clone, Default)]
pub struct Sockets {
    /// Every socket among the process's open file descriptors.
    pub held: Vec<String>,
    /// Those of `held` in the TCP LISTEN state.
    pub listening: Vec<String>,
}

/// The sockets process `pid` holds (`/proc/<pid>/fd`) and those of them that listen on TCP
/// (state `0A` in `/proc/net/tcp` and `/proc/net/tcp6`).
pub fn sockets(pid: u32) -> io::Result<Sockets> {
    let listening_anywhere: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|row| {
                    let cols: Vec<&str> = row.split_whitespace().collect();
                    (cols.get(3) == Some(&"0A")).then(|| cols.get(9).map(|s| (*s).to_owned()))?
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut held = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = std::fs::read_link(fd?.path()) else {
            continue; // closed meanwhile
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        {
            held.push(inode.to_owned());
        }
    }
    let listening = held
        .iter()
        .filter(|s| listening_anywhere.contains(s))
        .cloned()
        .collect();
    Ok(Sockets { held, listening })
}
