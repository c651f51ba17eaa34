//! Who may read the litterbox: a set of uids, shared by the query loop and the admin thread.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Policy(Arc<Mutex<HashSet<u32>>>);

impl Policy {
    /// `--reader <uid>` any number of times.
    pub fn from_args(mut args: impl Iterator<Item = String>) -> Result<Policy, String> {
        let mut readers = HashSet::new();
        while let Some(a) = args.next() {
            match (a.as_str(), args.next()) {
                ("--reader", Some(uid)) => {
                    readers.insert(
                        uid.parse()
                            .map_err(|_| format!("--reader wants a numeric uid, not {uid:?}"))?,
                    );
                }
                _ => {
                    return Err(format!(
                        "unknown argument {a:?}: usage: permd [--reader UID]..."
                    ));
                }
            }
        }
        Ok(Policy(Arc::new(Mutex::new(readers))))
    }

    pub fn is_reader(&self, uid: u32) -> bool {
        self.0.lock().map(|r| r.contains(&uid)).unwrap_or(false)
    }

    pub fn set(&self, uid: u32, reader: bool) {
        if let Ok(mut r) = self.0.lock() {
            if reader {
                r.insert(uid);
            } else {
                r.remove(&uid);
            }
        }
    }
}
