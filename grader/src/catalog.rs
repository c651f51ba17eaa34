//! What this grader binary carries: the engine's kinds, each lab's own kinds, and the built-in
//! lab files. A new lab adds its kinds' `register` call and its lab file here, one line each.

use engine::{BuiltinLab, Catalog, Registry};

/// The kinds every command of this binary knows.
pub fn registry() -> Registry {
    let mut r = Registry::builtin();
    ipc_kinds::register(&mut r);
    r
}

/// The built-in labs, the default first.
pub const LABS: &[BuiltinLab] = &[
    BuiltinLab {
        id: "ipc",
        file: "labs/ipc/lab.toml",
        text: include_str!("../../labs/ipc/lab.toml"),
        marks: &[
            "Cargo.toml",
            "listener/src/main.rs",
            "cat-sandbox/src/main.rs",
        ],
    },
    BuiltinLab {
        id: "original",
        file: "labs/ipc/original.toml",
        text: include_str!("../../labs/ipc/original.toml"),
        marks: &["listener.c", "cat.py"],
    },
    BuiltinLab {
        id: "ipc-2b",
        file: "labs/ipc/lab-2b.toml",
        text: include_str!("../../labs/ipc/lab-2b.toml"),
        marks: &["cat-sandbox/src/main.rs"],
    },
    BuiltinLab {
        id: "shm",
        file: "labs/shm/lab.toml",
        text: include_str!("../../labs/shm/lab.toml"),
        marks: &["Cargo.toml", "src/abi.rs"],
    },
    BuiltinLab {
        id: "monitor",
        file: "labs/monitor/lab.toml",
        text: include_str!("../../labs/monitor/lab.toml"),
        marks: &["Cargo.toml", "monitor/src/check.rs"],
    },
    BuiltinLab {
        id: "deputy",
        file: "labs/deputy/lab.toml",
        text: include_str!("../../labs/deputy/lab.toml"),
        marks: &["Cargo.toml", "fsd/src/serve.rs"],
    },
    BuiltinLab {
        id: "proxy",
        file: "labs/proxy/lab.toml",
        text: include_str!("../../labs/proxy/lab.toml"),
        marks: &["Cargo.toml", "src/relay.rs"],
    },
];

pub fn catalog() -> Catalog {
    Catalog {
        registry: registry(),
        labs: LABS.to_vec(),
    }
}
